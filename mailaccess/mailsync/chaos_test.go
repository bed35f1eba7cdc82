package mailsync_test

import (
	"context"
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
