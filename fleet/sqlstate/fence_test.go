package sqlstate_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/fleet/internal/testdb"
	"github.com/mailaccess/go-mailaccess/fleet/sqlstate"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// loseAtFence makes the lease lost (run) at the moment the engine asks
// the fence, the last moment before a delete: after the state that
// records the deletions was committed under the lease.
type loseAtFence struct {
	mailsync.StateFencer
	lose func()
}

func (l loseAtFence) Fence(ctx context.Context) error {
	l.lose()
	return l.StateFencer.Fence(ctx)
}

// TestLeaseFencesDeletesFromTheSource (item 4): the lease's state store
// is a mailsync.StateFencer; a worker whose lease is taken over between
// its last state commit and its delete (a pause, a slow network) is
// stopped by the engine right before the delete reaches the server, with
// ErrLeaseLost, and nothing is deleted. (The fleet used to wrap the source
// for this; the engine's fence replaces the wrapper.)
func TestLeaseFencesDeletesFromTheSource(t *testing.T) {
	testdb.Each(t, func(t *testing.T, tdb testdb.DB) {
		ctx := context.Background()
		clock := newClock()
		st, _ := open(t, tdb, &sqlstate.Options{Now: clock.Now})
		store := mailtest.NewStore()
		const n = 8
		for i := range n {
			store.Add(mailaccess.Inbox, fmt.Appendf(nil, "Message-ID: <f%d@example.com>\r\nSubject: %d\r\n\r\nbody %d\r\n", i, i, i))
		}
		a, err := st.Acquire(ctx, "acct", &sqlstate.LeaseOptions{Holder: "A", TTL: time.Minute, RenewEvery: -1})
		require.NoError(t, err)
		fencer, ok := a.State().(mailsync.StateFencer)
		require.True(t, ok, "the lease's state store fences")
		state := loseAtFence{StateFencer: fencer, lose: func() {
			clock.Advance(2 * time.Minute)
			_, err := st.Acquire(ctx, "acct", &sqlstate.LeaseOptions{Holder: "B", TTL: time.Minute, RenewEvery: -1})
			require.NoError(t, err, "B takes the expired lease over")
		}}
		src := &recordingSource{Mailbox: store.Open(mailtest.ProfilePOP3)}
		dst, err := maildir.Open(t.TempDir(), nil)
		require.NoError(t, err)
		defer dst.Close()
		s, err := mailsync.New(src, dst, &mailsync.Options{State: state, Account: "acct",
			Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
		require.NoError(t, err)
		rep, err := s.Run(ctx)
		require.ErrorIs(t, err, sqlstate.ErrLeaseLost)
		assert.Equal(t, n, rep.Total().New, "stored and committed under the lease")
		assert.Zero(t, rep.Total().SourceDeleted)
		assert.Zero(t, src.deletes.Load(), "no delete reached the server")
		assert.Len(t, store.Messages(mailaccess.Inbox), n)
		assert.NotContains(t, strings.Join(rep.Total().Notes, "\n"), "resuming", "a refusal of the fence is final: no pass is retried")
	})
}
