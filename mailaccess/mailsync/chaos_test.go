package mailsync_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// Regressions found by the chaos property test (internal/chaostest).

// TestSyncRenumberedBeforeDelete: with delete-after-download, the server
// renumbers the folder (a new UIDVALIDITY, the same messages: a server
// that rebuilt its index) between the engine's storing and its deletes.
// The delete is refused (the IDs are of the old epoch); the records were
// marked as being deleted. The next pass re-identifies the stored
// messages by Message-ID and size, those records included, so nothing is
// stored twice, and nothing is deleted from the renumbered folder in that
// pass; a later run deletes them once shown to be the messages stored.
// A message without a Message-ID is re-identified by its content (chaos
// seed 157890).
func TestSyncRenumberedBeforeDelete(t *testing.T) {
	ctx := context.Background()
	raws := append(genRaws(38, 4), []byte("From: a@example.org\r\nSubject: no Message-ID\r\n\r\nbody\r\n"))
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "pw"})
	client, err := imap.Dial(ctx, srv.Config("u", "pw"))
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, mailaccess.CreateFolder(ctx, client, "Work"))
	for _, r := range raws {
		_, err := srv.Append("u", "Work", r, nil)
		require.NoError(t, err)
	}
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	var fired atomic.Bool
	src := &counting{Mailbox: client}
	src.onDelete = func(string, []mailaccess.ID) {
		if !fired.Swap(true) {
			recreate(t, srv, "Work", raws)
		}
	}
	opts := &mailsync.Options{Folders: []string{"Work"}, Account: "a",
		Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}, Retry: mailsync.Retry{Backoff: 1}}
	s, err := mailsync.New(src, dst, opts)
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	require.True(t, fired.Load())
	notes := strings.Join(rep.Total().Notes, "\n")
	assert.Contains(t, notes, "UIDVALIDITY changed")
	assert.Contains(t, notes, "all 5 stored messages re-identified")
	requireExactlyOnce(t, dir+"/.Work", raws)
	st, err := client.Status(ctx, "Work")
	require.NoError(t, err)
	assert.Equal(t, len(raws), st.Messages, "nothing deleted from the renumbered folder in that run")

	// The next run proves the re-identified messages and deletes them.
	s, err = mailsync.New(client, dst, opts)
	require.NoError(t, err)
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(raws), rep.Total().SourceDeleted)
	assert.Zero(t, rep.Total().New)
	requireExactlyOnce(t, dir+"/.Work", raws)
	st, err = client.Status(ctx, "Work")
	require.NoError(t, err)
	assert.Zero(t, st.Messages)
}

// TestSyncPOP3SharedUIDLBecomesUnique: two messages share a UIDL (popa3d
// gives messages with the same leading header lines one), so the engine
// stores them by content; then one of them is deleted from the maildrop
// by another client, and the other's UIDL is unique: a stable ID the
// state does not know. It is the message stored by content, not a new
// one: it is not stored again, and with delete-after-download it is
// deleted once its identity is proven (chaos seeds 95475, 260265: a UIDL
// recycled within one session, unique again in the next).
func TestSyncPOP3SharedUIDLBecomesUnique(t *testing.T) {
	for _, ret := range []mailsync.RetentionPolicy{mailsync.KeepOnServer, mailsync.DeleteAfterDownload} {
		t.Run(mailsync.Retention{Policy: ret}.String(), func(t *testing.T) {
			backing := mailtest.New(mailtest.ProfileMaildir)
			raws := seed(t, backing, 4, 39)
			srv := pop3test.Start(t, backing, &pop3test.Options{IDs: dupUIDLs})
			dir := t.TempDir()
			rep, err := pop3Run(t, srv, dir, mailsync.Options{})
			require.NoError(t, err)
			require.Equal(t, 4, rep.Total().New)
			require.Equal(t, 1, backing.Expunge("INBOX", "3"), "another client deletes one of the two")

			rep, err = pop3Run(t, srv, dir, mailsync.Options{Retention: mailsync.Retention{Policy: ret}})
			require.NoError(t, err)
			assert.Zero(t, rep.Total().New, "the message whose UIDL became unique is not stored again")
			requireExactlyOnce(t, dir, raws)
			if ret == mailsync.DeleteAfterDownload {
				assert.Equal(t, 3, rep.Total().SourceDeleted)
				assert.Empty(t, backing.Messages("INBOX"))
			}
			rep, err = pop3Run(t, srv, dir, mailsync.Options{})
			require.NoError(t, err)
			assert.Zero(t, rep.Total().New)
			requireExactlyOnce(t, dir, raws)
		})
	}
}

// TestSyncPOP3ListedSizeChanges: a server whose LIST sizes change
// between sessions (estimates, such as Exchange's; read with
// opt.size-check=at-least) lists a stored message with another size. It
// is the same message, shown by its header and content: it is not stored
// again, and with delete-after-download it is deleted (chaos seed 666831:
// a LIST size that lied once made the message be stored twice).
func TestSyncPOP3ListedSizeChanges(t *testing.T) {
	for _, ret := range []mailsync.RetentionPolicy{mailsync.KeepOnServer, mailsync.DeleteAfterDownload} {
		t.Run(mailsync.Retention{Policy: ret}.String(), func(t *testing.T) {
			backing := mailtest.New(mailtest.ProfileMaildir)
			raws := seed(t, backing, 4, 40)
			exact := pop3test.Start(t, backing, nil)
			dir := t.TempDir()
			rep, err := pop3Run(t, exact, dir, mailsync.Options{})
			require.NoError(t, err)
			require.Equal(t, 4, rep.Total().New)

			estimating := pop3test.Start(t, backing, &pop3test.Options{SizeDelta: -10})
			cfg := estimating.Config(pop3test.DefaultUser, pop3test.DefaultPassword)
			cfg.Options = map[string]string{"size-check": "at-least"}
			rep, err = syncWith(t, cfg, dir, mailsync.Options{Account: "acct", Retention: mailsync.Retention{Policy: ret}})
			require.NoError(t, err)
			assert.Zero(t, rep.Total().New, "a stored message listed with another size is not stored again")
			requireExactlyOnce(t, dir, raws)
			if ret == mailsync.DeleteAfterDownload {
				assert.Equal(t, 4, rep.Total().SourceDeleted)
				assert.Empty(t, backing.Messages("INBOX"))
			}
		})
	}
}

// TestSyncPOP3UIDLsRenumbered: a server that derives UIDLs from message
// numbers (RFC 1939 forbids it; some do) gives every message after a
// deleted one the UIDL of the message before it. Each is recognised by
// its content as the message stored, not stored again, and deleted with
// delete-after-download once shown to be the one stored (chaos seed
// 537249: two messages' UIDLs exchanged).
func TestSyncPOP3UIDLsRenumbered(t *testing.T) {
	for _, ret := range []mailsync.RetentionPolicy{mailsync.KeepOnServer, mailsync.DeleteAfterDownload} {
		t.Run(mailsync.Retention{Policy: ret}.String(), func(t *testing.T) {
			backing := mailtest.New(mailtest.ProfileMaildir)
			raws := seed(t, backing, 5, 41)
			byNumber := func(id mailaccess.ID) string {
				for i, m := range backing.Messages("INBOX") {
					if m.ID == id {
						return fmt.Sprintf("n%d", i+1)
					}
				}
				return "gone"
			}
			srv := pop3test.Start(t, backing, &pop3test.Options{IDs: byNumber})
			dir := t.TempDir()
			rep, err := pop3Run(t, srv, dir, mailsync.Options{})
			require.NoError(t, err)
			require.Equal(t, 5, rep.Total().New)
			require.Equal(t, 1, backing.Expunge("INBOX", backing.Messages("INBOX")[1].ID), "another client deletes the second message")

			rep, err = pop3Run(t, srv, dir, mailsync.Options{Retention: mailsync.Retention{Policy: ret}})
			require.NoError(t, err)
			assert.Zero(t, rep.Total().New, "renumbered messages are not stored again")
			requireExactlyOnce(t, dir, raws)
			if ret == mailsync.DeleteAfterDownload {
				assert.Equal(t, 4, rep.Total().SourceDeleted)
				assert.Empty(t, backing.Messages("INBOX"))
			}
			rep, err = pop3Run(t, srv, dir, mailsync.Options{})
			require.NoError(t, err)
			assert.Zero(t, rep.Total().New)
			requireExactlyOnce(t, dir, raws)
		})
	}
}

// syncWith runs one sync from the POP3 server of cfg into the Maildir dir.
func syncWith(t *testing.T, cfg mailaccess.Config, dir string, o mailsync.Options) (*mailaccess.SyncReport, error) {
	t.Helper()
	ctx := context.Background()
	client, err := pop3.Dial(ctx, cfg)
	require.NoError(t, err)
	defer client.Close()
	dst := openDst(t, dir, nil)
	defer dst.Close()
	s, err := mailsync.New(client, dst, &o)
	require.NoError(t, err)
	return s.Run(ctx)
}

// TestSyncPOP3UIDLReusedKeepOnServer: keep-on-server, another client
// deletes a stored message and the server gives its UIDL to a new message
// of another size (RFC 1939 forbids it; some servers do): the listing has
// the same UIDLs as the last run's, but not the same messages. The no-op
// check must not take it for an unchanged maildrop: the new message is
// stored.
func TestSyncPOP3UIDLReusedKeepOnServer(t *testing.T) {
	backing := mailtest.New(mailtest.ProfileMaildir)
	first := []byte("Subject: first\r\nMessage-ID: <first@x>\r\n\r\nfirst\r\n")
	second := []byte("Subject: second\r\nMessage-ID: <second@x>\r\n\r\nthe second, longer message\r\n")
	backing.Add("INBOX", first)
	srv := pop3test.Start(t, backing, &pop3test.Options{IDs: func(mailaccess.ID) string { return "reused" }})
	dir := t.TempDir()
	rep, err := pop3Run(t, srv, dir, mailsync.Options{})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Total().New)
	require.Equal(t, 1, backing.Expunge("INBOX", backing.Messages("INBOX")[0].ID))
	backing.Add("INBOX", second)

	rep, err = pop3Run(t, srv, dir, mailsync.Options{})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Total().New, "the new message under the reused UIDL is stored")
	requireExactlyOnce(t, dir, [][]byte{first, second})
}
