package main

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
)

// TestDovecot runs mailsync against a real Dovecot over every URL scheme,
// verifying TLS with -ca: the Maildir must hold exactly the server's
// messages (as Dovecot sends them: corpus.Normalize of what was stored),
// and a second run must transfer nothing. It skips without Dovecot, except
// under CI=true.
func TestDovecot(t *testing.T) {
	s := dovecottest.Start(t, nil)
	caFile := filepath.Join(t.TempDir(), "dovecot-ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600))

	var msgs [][]byte
	var want []digest
	for _, m := range corpus.EdgeCases() {
		msgs = append(msgs, m.Raw)
	}
	for m := range corpus.Generate(42, 30) {
		msgs = append(msgs, m.Raw)
	}
	for _, m := range msgs {
		want = append(want, digestOf(corpus.Normalize(m)))
	}
	slices.Sort(want)

	// Every user is added before the first login: Dovecot re-reads its
	// passwd-file only when the file's mtime changes, so a user added in
	// the same second as a login that loaded the file may not be seen.
	users := map[string][][]byte{
		"syncpop3": msgs, "syncpop3s": msgs, "syncimap": msgs, "syncimaps": msgs,
		"syncdelete": msgs, "syncuntrusted": msgs[:1], "syncwrongpw": msgs[:1],
	}
	for u, m := range users {
		require.NoError(t, s.AddUser(u, testPassword, m))
	}

	for _, tc := range []struct {
		scheme, addr string
		extra        []string
	}{
		{"pop3", s.POP3Addr, nil},   // STLS, verified with -ca
		{"pop3s", s.POP3SAddr, nil}, // implicit TLS
		{"imap", s.IMAPAddr, nil},   // STARTTLS
		{"imaps", s.IMAPSAddr, []string{"-folders", "*"}},
	} {
		t.Run(tc.scheme, func(t *testing.T) {
			user := "sync" + tc.scheme
				dir := t.TempDir()
			env := map[string]string{passwordEnv: testPassword}
			args := append([]string{"-from", tc.scheme + "://" + user + "@" + tc.addr, "-to", dir, "-ca", caFile, "-json"}, tc.extra...)

			r := mailsync(t, env, args...)
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			assert.Equal(t, len(msgs), r.report(t).Total().New)
			assert.Equal(t, want, maildirMessages(t, dir), "the Maildir holds exactly the server's messages, byte for byte")
			assert.NotContains(t, r.stdout+r.stderr, testPassword)

			r = mailsync(t, env, args...)
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			assert.Equal(t, 0, r.report(t).Total().New, "a second run transfers nothing")
			assert.Equal(t, want, maildirMessages(t, dir))
		})
	}

	t.Run("pop3 delete after download", func(t *testing.T) {
		user := "syncdelete"
		dir := t.TempDir()
		env := map[string]string{passwordEnv: testPassword}
		args := []string{"-from", "pop3s://" + user + "@" + s.POP3SAddr, "-to", dir, "-ca", caFile, "-delete", "after-download", "-json"}
		r := mailsync(t, env, args...)
		require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
		assert.Equal(t, len(msgs), r.report(t).Total().SourceDeleted)
		assert.Equal(t, want, maildirMessages(t, dir))
		// What is left on the server: nothing.
		assert.Empty(t, maildirMessages(t, s.MaildirPath(user)), "the server's maildrop is empty")
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		user := "syncuntrusted"
		r := mailsync(t, map[string]string{passwordEnv: testPassword}, "-from", "imaps://"+user+"@"+s.IMAPSAddr, "-to", t.TempDir())
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "certificate")
	})

	t.Run("wrong password", func(t *testing.T) {
		user := "syncwrongpw"
		r := mailsync(t, map[string]string{passwordEnv: "not-" + testPassword}, "-from", "imap://"+user+"@"+s.IMAPAddr, "-to", t.TempDir(), "-ca", caFile)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "authentication failed")
		assert.NotContains(t, r.stderr, testPassword)
	})
}
