package mailsync_test

import (
	"context"
	"fmt"
	"io"
	"iter"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// TestSyncNoAllocationFromClaimedCount: a server whose STAT or STATUS
// claims 2^31-1 messages (issue 10 item 14) while it lists three. The
// listing grows with what arrives; nothing is sized from the claim.
func TestSyncNoAllocationFromClaimedCount(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfilePOP3)
	raws := seed(t, fake, 3, 30)
	src := &counting{Mailbox: fake, status: func(st mailaccess.FolderStatus) mailaccess.FolderStatus {
		st = pop3Like(st)
		st.Messages = math.MaxInt32
		return st
	}}
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	s, err := mailsync.New(src, dst, nil)
	require.NoError(t, err)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = s.Run(ctx)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "bytes allocated by a sync of three small messages")
	requireExactlyOnce(t, dir, raws)
}

// gapBatch gives a source a batch read, on top of its Open, that leaves
// out the IDs skip returns true for and reports success: a driver with a
// gap in its accounting (the go-imap FETCH routing bug of issue 10 item
// 2 did exactly this).
type gapBatch struct {
	mailaccess.Mailbox
	skip func(mailaccess.ID) bool
}

func (g gapBatch) OpenAll(ctx context.Context, folder string, ids []mailaccess.ID, fn func(mailaccess.ID, io.Reader) error) error {
	for _, id := range ids {
		if g.skip(id) {
			continue
		}
		rc, err := g.Mailbox.Open(ctx, folder, id, nil)
		if err != nil {
			return err
		}
		err = fn(id, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// TestSyncBatchGapIsAccountedFor: a batch read that silently leaves a
// message out no longer passes as success with the message missing: the
// engine opens what was not delivered on its own and stores it.
func TestSyncBatchGapIsAccountedFor(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfileIMAP)
	raws := seed(t, fake, 12, 31)
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	src := gapBatch{fake, func(id mailaccess.ID) bool { return id == "4" || id == "9" }}
	s, err := mailsync.New(src, dst, nil)
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, 12, rep.Total().New)
	requireExactlyOnce(t, dir, raws)
}

// TestSyncBatchGapThatFailsIsAnError: a message the batch read leaves out
// and that cannot be opened on its own either is an error naming it; the
// others are stored, and (delete-after-download) nothing is deleted.
func TestSyncBatchGapThatFailsIsAnError(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfilePOP3)
	raws := seed(t, fake, 6, 32)
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	src := gapBatch{&counting{Mailbox: fake, status: pop3Like}, func(id mailaccess.ID) bool { return id == "5" }}
	fake.FailNth(mailtest.OpOpen, 6, fmt.Errorf("withheld: %w", mailaccess.ErrProtocol)) // the five delivered, then 5's own Open
	s, err := mailsync.New(src, dst, &mailsync.Options{Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, mailaccess.ErrProtocol)
	assert.Contains(t, err.Error(), "message 5:")
	assert.Equal(t, 5, rep.Total().New)
	assert.Equal(t, 1, rep.Total().Skipped)
	assert.Zero(t, rep.Total().SourceDeleted, "no deletion after a pass that stored less than it listed")
	assert.Len(t, fake.Messages("INBOX"), 6)
	fake.ClearFaults()
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Total().New, "the next run stores the one left")
	requireExactlyOnce(t, dir, raws)
	assert.Empty(t, fake.Messages("INBOX"))
}

// TestSyncMessageGoneBeforeDownload: a message expunged between the
// listing and its download is reported as gone (a note), not stored, and
// not an error; the next pass does not look for it again.
func TestSyncMessageGoneBeforeDownload(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfileIMAP)
	raws := seed(t, fake, 5, 33)
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	src := &counting{Mailbox: fake}
	src.list = func(seq iter.Seq2[mailaccess.Message, error]) iter.Seq2[mailaccess.Message, error] {
		return func(yield func(mailaccess.Message, error) bool) {
			for m, err := range seq {
				if !yield(m, err) {
					return
				}
			}
			fake.Expunge("INBOX", "2") // another client, after the listing
		}
	}
	s, err := mailsync.New(src, dst, nil)
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, rep.Total().New)
	assert.Equal(t, 1, rep.Total().Skipped)
	assert.Contains(t, strings.Join(rep.Total().Notes, "\n"), "deleted from the source before they could be downloaded (2)")
	requireExactlyOnce(t, dir, append(raws[:1:1], raws[2:]...))
	src.list = nil
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Total().New+rep.Total().Skipped)
}
