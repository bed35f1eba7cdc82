package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
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

	users := map[string][][]byte{
		"syncpop3": msgs, "syncpop3s": msgs, "syncimap": msgs, "syncimaps": msgs,
		"syncdelete": msgs, "syncuntrusted": msgs[:1], "syncwrongpw": msgs[:1],
		"syncfolders": msgs[:3], "syncwatch": msgs[:2],
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

			r := runMailsync(t, env, args...)
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			assert.Equal(t, len(msgs), r.report(t).Total().New)
			assert.Equal(t, want, maildirMessages(t, dir), "the Maildir holds exactly the server's messages, byte for byte")
			assert.NotContains(t, r.stdout+r.stderr, testPassword)

			r = runMailsync(t, env, args...)
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
		r := runMailsync(t, env, args...)
		require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
		assert.Equal(t, len(msgs), r.report(t).Total().SourceDeleted)
		assert.Equal(t, want, maildirMessages(t, dir))
		// What is left on the server: nothing.
		assert.Empty(t, maildirMessages(t, s.MaildirPath(user)), "the server's maildrop is empty")
	})

	t.Run("imap nested folders", func(t *testing.T) {
		user := "syncfolders"
		ctx := context.Background()
		host, port, err := net.SplitHostPort(s.IMAPSAddr)
		require.NoError(t, err)
		portN, err := strconv.Atoi(port)
		require.NoError(t, err)
		mb, err := mailaccess.Open(ctx, mailaccess.Config{Scheme: "imaps", Host: host, Port: portN,
			User: user, Password: testPassword, TLSConfig: s.TLSConfig()})
		require.NoError(t, err)
		fs, err := mb.Folders(ctx)
		require.NoError(t, err)
		require.NotEmpty(t, fs)
		delim := fs[0].Delimiter
		nested := "Archive" + delim + "2024"
		require.NoError(t, mailaccess.CreateFolder(ctx, mb, "Archive"))
		require.NoError(t, mailaccess.CreateFolder(ctx, mb, nested))
		var archived []digest
		for m := range corpus.Generate(9, 3) {
			_, err := mb.Append(ctx, nested, bytes.NewReader(m.Raw), nil)
			require.NoError(t, err)
			archived = append(archived, digestOf(corpus.Normalize(m.Raw)))
		}
		slices.Sort(archived)
		require.NoError(t, mb.Close())

		dir := t.TempDir()
		env := map[string]string{passwordEnv: testPassword}
		args := []string{"-from", "imaps://" + user + "@" + s.IMAPSAddr, "-to", dir, "-ca", caFile, "-folders", "*", "-json"}
		r := runMailsync(t, env, args...)
		require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
		assert.Equal(t, 6, r.report(t).Total().New)
		assert.Len(t, maildirMessages(t, dir), 3, "INBOX")
		assert.Equal(t, archived, maildirMessages(t, filepath.Join(dir, ".Archive.2024")), "%s is the Maildir++ folder .Archive.2024", nested)
		assert.Empty(t, maildirMessages(t, filepath.Join(dir, ".Archive")))

		r = runMailsync(t, env, args...)
		require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
		assert.Equal(t, 0, r.report(t).Total().New)
	})

	t.Run("imap watch", func(t *testing.T) {
		user := "syncwatch"
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var stdout, stderr syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"-from", "imap://" + user + "@" + s.IMAPAddr, "-to", dir, "-ca", caFile,
				"-watch", "-debounce", "50ms", "-poll", "1h", "-json", "-v"}, envWith(map[string]string{passwordEnv: testPassword}), &stdout, &stderr)
		}()
		defer func() {
			if t.Failed() {
				t.Logf("stderr:\n%s", stderr.String())
			}
		}()
		waitFor(t, "the watch to start", func() bool { return strings.Contains(stderr.String(), "watching INBOX") })
		assert.Contains(t, stderr.String(), "push (IDLE)")
		assert.Len(t, maildirMessages(t, dir), 2)

		// With -poll 1h only the catch-up pass at start and IDLE events
		// can bring mail in: deliver messages until IDLE has reported one
		// (the first may arrive before the IDLE connection is ready), then
		// every delivered message must reach the Maildir.
		var delivered []digest
		for i := 0; i < 20 && !strings.Contains(stderr.String(), `msg="mailsync: change" kind=new`); i++ {
			extra := []byte(fmt.Sprintf("From: a@example.org\r\nSubject: pushed %d\r\nMessage-ID: <pushed-%d@example.org>\r\n\r\nnew\r\n", i, i))
			require.NoError(t, s.AddMessages(user, [][]byte{extra}))
			delivered = append(delivered, digestOf(extra))
			time.Sleep(300 * time.Millisecond) // pacing only; nothing is asserted on time
		}
		require.Contains(t, stderr.String(), `msg="mailsync: change" kind=new`, "IDLE reported new mail")
		waitFor(t, "the new messages in the Maildir", func() bool { return len(maildirMessages(t, dir)) == 2+len(delivered) })
		for _, d := range delivered {
			assert.Contains(t, maildirMessages(t, dir), d)
		}
		waitFor(t, "the passes' reports", func() bool { return totalNew(t, stdout.String()) == 2+len(delivered) })
		cancel()
		select {
		case code := <-done:
			assertStopped(t, code, stderr.String())
		case <-time.After(30 * time.Second):
			t.Fatal("mailsync -watch did not stop")
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		user := "syncuntrusted"
		r := runMailsync(t, map[string]string{passwordEnv: testPassword}, "-from", "imaps://"+user+"@"+s.IMAPSAddr, "-to", t.TempDir())
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "certificate")
	})

	t.Run("wrong password", func(t *testing.T) {
		user := "syncwrongpw"
		r := runMailsync(t, map[string]string{passwordEnv: "not-" + testPassword}, "-from", "imap://"+user+"@"+s.IMAPAddr, "-to", t.TempDir(), "-ca", caFile)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "authentication failed")
		assert.NotContains(t, r.stderr, testPassword)
	})
}

// totalNew sums the new messages of the JSON reports in out, one per line.
func totalNew(t *testing.T, out string) int {
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var rep mailaccess.SyncReport
		if l != "" && assert.NoError(t, json.Unmarshal([]byte(l), &rep)) {
			n += rep.Total().New
		}
	}
	return n
}
