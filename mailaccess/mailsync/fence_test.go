package mailsync_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// errFenced is what fencingState's Fence returns once fenced off.
var errFenced = errors.New("lease lost")

// fencingState is a StateStore with Fence: it allows allow more Fence
// calls (-1: any number), then fences this process off.
type fencingState struct {
	memState
	allow  atomic.Int64
	fences atomic.Int64
}

var _ mailsync.StateFencer = (*fencingState)(nil)

func (f *fencingState) Fence(context.Context) error {
	f.fences.Add(1)
	if n := f.allow.Load(); n >= 0 {
		if n == 0 {
			return errFenced
		}
		f.allow.Add(-1)
	}
	return nil
}

// TestSyncFencedOffStoreStopsDeletes (item 4): a state store that fences
// the sync off the source (a worker that lost its lease) stops every
// deletion right before it is sent, and the commit of deferred deletions
// right before it is made; its error ends the run, and nothing is deleted
// from the source. With the fence open, it is consulted before each
// delete and commit.
func TestSyncFencedOffStoreStopsDeletes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		allow int64 // Fence calls that pass
	}{
		{"before the delete", 0},
		{"between the delete and its commit", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := mailtest.New(mailtest.ProfilePOP3)
			raws := seed(t, fake, 6, 61)
			src := &counting{Mailbox: fake, status: pop3Like}
			st := &fencingState{}
			st.allow.Store(tc.allow)
			dstFake := mailtest.New(mailtest.ProfileIMAP)
			s, err := mailsync.New(src, dstFake, &mailsync.Options{State: st,
				Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
			require.NoError(t, err)
			rep, err := s.Run(ctx)
			require.ErrorIs(t, err, errFenced)
			assert.Contains(t, err.Error(), "the state store fenced this sync off the source")
			assert.Equal(t, 6, rep.Total().New, "the messages are stored")
			assert.Zero(t, rep.Total().SourceDeleted)
			assert.Equal(t, tc.allow, src.deletes.Load(), "a delete is sent only while the fence is open")
			// The handle ends like a POP3 session without QUIT: marks sent
			// before the fence closed are discarded, and Close says so.
			if err := fake.Close(); tc.allow > 0 {
				require.ErrorIs(t, err, mailaccess.ErrDeletesDiscarded)
			} else {
				require.NoError(t, err)
			}
			assert.Len(t, fake.Store.Messages(mailaccess.Inbox), len(raws), "nothing deleted on the server")

			// The fence open again (the lease regained): the next run
			// deletes them, consulting the fence before the delete and
			// before the commit.
			fresh := &counting{Mailbox: fake.Store.Open(mailtest.ProfilePOP3), status: pop3Like}
			st.allow.Store(-1)
			st.fences.Store(0)
			s, err = mailsync.New(fresh, dstFake, &mailsync.Options{State: st,
				Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
			require.NoError(t, err)
			rep, err = s.Run(ctx)
			require.NoError(t, err)
			assert.Zero(t, rep.Total().New, "nothing stored twice")
			assert.Equal(t, 6, rep.Total().SourceDeleted)
			assert.Empty(t, fake.Store.Messages(mailaccess.Inbox))
			assert.Equal(t, int64(2), st.fences.Load(), "one Fence before the delete, one before the commit")
		})
	}
}
