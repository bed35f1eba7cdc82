package mailsync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// v2FixtureRaw is message i of the sources of testdata/v2state.json.
func v2FixtureRaw(account string, i int) []byte {
	return fmt.Appendf(nil, "From: a@example.org\r\nSubject: %[1]s %[2]d\r\nMessage-ID: <%[1]s-%[2]d@example.org>\r\n\r\nBody %[2]d.\r\n", account, i)
}

// v2FixtureSources rebuilds the sources the fixture was synced from: an
// IMAP-like fake with 12 messages (every fourth unflagged, then \Seen,
// \Seen \Flagged, $Label1) and a POP3-like one with 8.
func v2FixtureSources() (imapSrc, popSrc *mailtest.Mailbox, raws [][]byte) {
	imapSrc = mailtest.New(mailtest.ProfileIMAP)
	for i := range 12 {
		var flags []mailaccess.Flag
		switch i % 4 {
		case 1:
			flags = []mailaccess.Flag{mailaccess.FlagSeen}
		case 2:
			flags = []mailaccess.Flag{mailaccess.FlagSeen, mailaccess.FlagFlagged}
		case 3:
			flags = []mailaccess.Flag{"$Label1"}
		}
		raws = append(raws, v2FixtureRaw("imap", i))
		imapSrc.Add("INBOX", raws[len(raws)-1], flags...)
	}
	popSrc = mailtest.New(mailtest.ProfilePOP3)
	for i := range 8 {
		raws = append(raws, v2FixtureRaw("pop3", i))
		popSrc.Add("INBOX", raws[len(raws)-1])
	}
	return imapSrc, popSrc, raws
}

// TestSyncUpgradesVersion2State: a Maildir synced by the engine of the
// previous release, whose state records are version 2 (one JSON record
// per folder holding every message; testdata/v2state.json, written at
// commit e482eb4 from the sources v2FixtureSources rebuilds), is synced on
// without storing anything twice: a no-op IMAP resync decides from the old
// head and writes nothing; the first pass that changes anything rewrites
// the record in this version's format, after which passes read only the
// head for new mail.
func TestSyncUpgradesVersion2State(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join("testdata", "v2state.json"))
	require.NoError(t, err)
	var files map[string]string
	require.NoError(t, json.Unmarshal(b, &files))
	dir := t.TempDir()
	openDst(t, dir, nil).Close() // the Maildir's directories
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	}
	imapSrc, popSrc, raws := v2FixtureSources()
	requireExactlyOnce(t, dir, raws)
	dst := openDst(t, dir, nil)
	ss, err := dst.SyncState()
	require.NoError(t, err)
	for account, n := range map[string]int{"imap": 12, "pop3": 8} {
		rec, err := mailsync.LoadStateForTest(ctx, ss, account, "INBOX")
		require.NoError(t, err)
		require.Equal(t, 2, rec.Version, account)
		require.Len(t, rec.Msgs, n, account)
	}
	run := func(src mailaccess.Mailbox, account string) *mailaccess.SyncReport {
		t.Helper()
		s, err := mailsync.New(src, dst, &mailsync.Options{Account: account})
		require.NoError(t, err)
		rep, err := s.Run(ctx)
		require.NoError(t, err)
		return rep
	}

	rep := run(imapSrc, "imap")
	assert.Zero(t, rep.Total().New+rep.Total().Updated)
	rec, err := mailsync.LoadStateForTest(ctx, ss, "imap", "INBOX")
	require.NoError(t, err)
	assert.Equal(t, 2, rec.Version, "a no-op writes nothing")

	// Changes: two new messages, flags changed on two.
	msgs := imapSrc.Messages("INBOX")
	require.True(t, imapSrc.SetFlagsDirect("INBOX", msgs[0].ID, mailaccess.AddFlags, mailaccess.FlagAnswered))
	require.True(t, imapSrc.SetFlagsDirect("INBOX", msgs[2].ID, mailaccess.RemoveFlags, mailaccess.FlagFlagged))
	for i := 12; i < 14; i++ {
		raws = append(raws, v2FixtureRaw("imap", i))
		imapSrc.Add("INBOX", raws[len(raws)-1])
	}
	rep = run(imapSrc, "imap")
	assert.Equal(t, 2, rep.Total().New)
	assert.Equal(t, 2, rep.Total().Updated)
	rec, err = mailsync.LoadStateForTest(ctx, ss, "imap", "INBOX")
	require.NoError(t, err)
	assert.Equal(t, 3, rec.Version)
	require.Len(t, rec.Msgs, 14)
	for _, m := range rec.Msgs {
		assert.NotZero(t, m.UID, "entry %s records its UID", m.Src)
	}
	requireFlagsMatch(t, imapSrc, dst)

	// POP3: the version 2 listing digest is not this version's; the full
	// pass finds nothing new and rewrites the record.
	rep = run(popSrc, "pop3")
	assert.Zero(t, rep.Total().New)
	rec, err = mailsync.LoadStateForTest(ctx, ss, "pop3", "INBOX")
	require.NoError(t, err)
	assert.Equal(t, 3, rec.Version)
	assert.Len(t, rec.Msgs, 8)

	// From now on new mail costs the head alone.
	counted := &keyLoads{StateStore: ss}
	for _, c := range []struct {
		src     *mailtest.Mailbox
		account string
	}{{imapSrc, "imap"}, {popSrc, "pop3"}} {
		raws = append(raws, v2FixtureRaw(c.account, 20))
		c.src.Add("INBOX", raws[len(raws)-1])
		s, err := mailsync.New(c.src, dst, &mailsync.Options{Account: c.account, State: counted})
		require.NoError(t, err)
		rep, err := s.Run(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Total().New, c.account)
		keys, _ := counted.reset()
		assert.Empty(t, recordsRead(keys), c.account)
	}
	requireExactlyOnce(t, dir, raws)
}
