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
	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

func genRaws(seed int64, n int) [][]byte {
	var raws [][]byte
	for m := range corpus.Generate(seed, n) {
		raws = append(raws, m.Raw)
	}
	return raws
}

// legacyState rewrites a saved state record into version 1 as the engine
// wrote it before IMAP IDs carried their epoch: source IDs that are bare
// UIDs ("17" for "1732900000.17").
func legacyState(t *testing.T, dst *maildir.Store, key string) {
	t.Helper()
	ctx := context.Background()
	ss, err := dst.SyncState()
	require.NoError(t, err)
	account, folder, _ := strings.Cut(key, "\n")
	require.NoError(t, mailsync.WriteLegacyStateForTest(ctx, ss, account, folder, 1, func(src string) string {
		_, uid, ok := strings.Cut(src, ".")
		require.True(t, ok, "an epoch ID: %v", src)
		return uid
	}))
}

// TestSyncUpgradesBareUIDState (issue 10 item 3): a state record of the
// previous format, whose IMAP source IDs are bare UIDs, is upgraded to the
// driver's epoch IDs by the next run without downloading or storing
// anything again; only new mail is fetched.
func TestSyncUpgradesBareUIDState(t *testing.T) {
	ctx := context.Background()
	raws := genRaws(35, 9)
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "pw", Messages: raws[:8]})
	dir := t.TempDir()
	run := func() (*counting, *mailaccess.SyncReport) {
		client, err := imap.Dial(ctx, srv.Config("u", "pw"))
		require.NoError(t, err)
		defer client.Close()
		dst := openDst(t, dir, nil)
		defer dst.Close()
		src := &counting{Mailbox: client}
		s, err := mailsync.New(countingBatch{src}, dst, &mailsync.Options{Account: "a"})
		require.NoError(t, err)
		rep, err := s.Run(ctx)
		require.NoError(t, err)
		return src, rep
	}
	_, rep := run()
	require.Equal(t, 8, rep.Total().New)
	before := storedFiles(t, dir)
	dst := openDst(t, dir, nil)
	legacyState(t, dst, "a\nINBOX")
	dst.Close()

	_, err := srv.Append("u", "INBOX", raws[8], nil)
	require.NoError(t, err)
	src, rep := run()
	assert.Equal(t, 1, rep.Total().New, "only the new message is stored")
	assert.Equal(t, int64(1), src.opens.Load(), "only the new message is downloaded")
	assert.Contains(t, strings.Join(rep.Total().Notes, "\n"), "state upgraded: 8 stored messages")
	requireExactlyOnce(t, dir, raws)
	after := storedFiles(t, dir)
	for name := range before {
		assert.Contains(t, after, name, "stored files keep their names")
	}
	fresh := openDst(t, dir, nil)
	rec := loadStateRec(t, fresh, "a", "INBOX")
	require.Len(t, rec.Msgs, 9)
	for _, m := range rec.Msgs {
		assert.Contains(t, m.Src, ".", "recorded under the driver's epoch ID")
	}
	src, rep = run()
	assert.Zero(t, rep.Total().New)
	assert.Zero(t, src.opens.Load())
}

// recreate deletes folder on the server and creates it again with raws:
// a new UIDVALIDITY, and UIDs from 1 again.
func recreate(t *testing.T, srv *imaptest.Server, folder string, raws [][]byte) {
	t.Helper()
	ctx := context.Background()
	other, err := imap.Dial(ctx, srv.Config("u", "pw"))
	require.NoError(t, err)
	defer other.Close()
	before, err := other.Status(ctx, folder)
	require.NoError(t, err)
	require.NoError(t, mailaccess.DeleteFolder(ctx, other, folder))
	require.NoError(t, mailaccess.CreateFolder(ctx, other, folder))
	for _, r := range raws {
		_, err := srv.Append("u", folder, r, nil)
		require.NoError(t, err)
	}
	after, err := other.Status(ctx, folder)
	require.NoError(t, err)
	require.NotEqual(t, before.UIDValidity, after.UIDValidity, "the server gives the new folder a new UIDVALIDITY")
}

// TestSyncFolderRecreatedDuringPass (issue 10 item 3): the folder is
// deleted and re-created with other messages between the engine's Status
// and its listing, or between its listing and its deletes
// (delete-after-download). The new folder's messages take UIDs the state
// knows: they must be downloaded, not taken for the stored ones, and
// nothing may be deleted from the new folder; the report says what
// happened.
func TestSyncFolderRecreatedDuringPass(t *testing.T) {
	for _, when := range []string{"after status", "before delete"} {
		t.Run(when, func(t *testing.T) {
			ctx := context.Background()
			raws := genRaws(36, 5)
			old, fresh := raws[:3:3], raws[3:]
			srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "pw"})
			client, err := imap.Dial(ctx, srv.Config("u", "pw"))
			require.NoError(t, err)
			defer client.Close()
			require.NoError(t, mailaccess.CreateFolder(ctx, client, "Work"))
			for _, r := range old {
				_, err := srv.Append("u", "Work", r, nil)
				require.NoError(t, err)
			}
			dir := t.TempDir()
			dst := openDst(t, dir, nil)
			s, err := mailsync.New(client, dst, &mailsync.Options{Folders: []string{"Work"}})
			require.NoError(t, err)
			_, err = s.Run(ctx)
			require.NoError(t, err)

			// A new session, as a later run has: no folder selected yet.
			fresher, err := imap.Dial(ctx, srv.Config("u", "pw"))
			require.NoError(t, err)
			defer fresher.Close()
			var fired atomic.Bool
			src := &counting{Mailbox: fresher}
			if when == "after status" {
				src.status = func(st mailaccess.FolderStatus) mailaccess.FolderStatus {
					if !fired.Swap(true) {
						recreate(t, srv, "Work", fresh)
					}
					return st
				}
				// Something to do, so that the pass lists; it goes with
				// the old folder.
				_, err := srv.Append("u", "Work", genRaws(37, 1)[0], nil)
				require.NoError(t, err)
			} else {
				src.onDelete = func(string, []mailaccess.ID) {
					if !fired.Swap(true) {
						recreate(t, srv, "Work", fresh)
					}
				}
			}
			s, err = mailsync.New(src, dst, &mailsync.Options{Folders: []string{"Work"},
				Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}, Retry: mailsync.Retry{Backoff: 1}})
			require.NoError(t, err)
			rep, err := s.Run(ctx)
			require.NoError(t, err)
			require.True(t, fired.Load())
			notes := strings.Join(rep.Total().Notes, "\n")
			assert.Contains(t, notes, "UIDVALIDITY changed")
			assert.Contains(t, notes, "nothing is deleted from it")
			st, err := client.Status(ctx, "Work")
			require.NoError(t, err)
			assert.Equal(t, len(fresh), st.Messages, "nothing deleted from the new folder")
			requireExactlyOnce(t, dir+"/.Work", append(old, fresh...))
		})
	}
}
