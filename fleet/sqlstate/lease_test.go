package sqlstate_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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

// fakeClock is a clock the test moves by hand: the store's Options.Now.
type fakeClock struct{ us atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.us.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.UnixMicro(c.us.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.us.Add(d.Microseconds()) }

func open(t *testing.T, tdb testdb.DB, opts *sqlstate.Options) (*sqlstate.Store, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	db, dialect, err := sqlstate.OpenDB(ctx, tdb.DSN)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	var o sqlstate.Options
	if opts != nil {
		o = *opts
	}
	o.Dialect = dialect
	st, err := sqlstate.New(ctx, db, &o)
	require.NoError(t, err)
	return st, db
}

func TestAcquireExcludesUntilExpiryAndBumpsToken(t *testing.T) {
	testdb.Each(t, func(t *testing.T, tdb testdb.DB) {
		ctx := context.Background()
		clock := newClock()
		st, _ := open(t, tdb, &sqlstate.Options{Now: clock.Now, History: true})
		manual := &sqlstate.LeaseOptions{Holder: "A", TTL: time.Minute, RenewEvery: -1}

		a, err := st.Acquire(ctx, "acct", manual)
		require.NoError(t, err)
		assert.Equal(t, int64(1), a.Token())

		_, err = st.Acquire(ctx, "acct", &sqlstate.LeaseOptions{Holder: "B", TTL: time.Minute, RenewEvery: -1})
		require.ErrorIs(t, err, sqlstate.ErrLeaseHeld)
		require.ErrorIs(t, err, mailaccess.ErrLocked)
		assert.Contains(t, err.Error(), "A holds it")

		// A renewal moves the expiry: 50 s + 50 s is past the first
		// expiry but within the renewed one.
		clock.Advance(50 * time.Second)
		require.NoError(t, a.Renew(ctx))
		clock.Advance(50 * time.Second)
		_, err = st.Acquire(ctx, "acct", &sqlstate.LeaseOptions{Holder: "B", TTL: time.Minute, RenewEvery: -1})
		require.ErrorIs(t, err, sqlstate.ErrLeaseHeld, "renewed lease must still be held")

		// Past the renewed expiry B takes over with the next token, and A
		// learns it lost the lease.
		clock.Advance(11 * time.Second)
		b, err := st.Acquire(ctx, "acct", &sqlstate.LeaseOptions{Holder: "B", TTL: time.Minute, RenewEvery: -1})
		require.NoError(t, err)
		assert.Equal(t, int64(2), b.Token())
		require.ErrorIs(t, a.Renew(ctx), sqlstate.ErrLeaseLost)
		require.ErrorIs(t, a.Check(ctx), sqlstate.ErrLeaseLost)
		select {
		case <-a.Done():
		default:
			t.Fatal("a lost lease must close Done")
		}

		// A release hands the lease over at once.
		require.NoError(t, b.Release(ctx))
		c, err := st.Acquire(ctx, "acct", &sqlstate.LeaseOptions{Holder: "C", TTL: time.Minute, RenewEvery: -1})
		require.NoError(t, err)
		assert.Equal(t, int64(3), c.Token())
		require.NoError(t, c.Release(ctx))

		hist, err := st.History(ctx)
		require.NoError(t, err)
		require.Len(t, hist, 3)
		assertNoOverlap(t, hist)
		assert.Equal(t, []string{"A", "B", "C"}, []string{hist[0].Holder, hist[1].Holder, hist[2].Holder})
		assert.True(t, hist[0].Released.IsZero(), "A never released: it lost the lease")
		assert.False(t, hist[1].Released.IsZero())
	})
}

// assertNoOverlap checks that, per lease name, each token's tenure ends
// before the next token's begins.
func assertNoOverlap(t *testing.T, hist []sqlstate.HistoryEntry) {
	t.Helper()
	for i := 1; i < len(hist); i++ {
		prev, cur := hist[i-1], hist[i]
		if prev.Name != cur.Name {
			continue
		}
		assert.Greater(t, cur.Token, prev.Token)
		assert.False(t, cur.Acquired.Before(prev.End()), "%s: token %d (%s) acquired at %v before token %d (%s) ended at %v",
			cur.Name, cur.Token, cur.Holder, cur.Acquired, prev.Token, prev.Holder, prev.End())
	}
}

func TestLostLeaseCancelsContext(t *testing.T) {
	testdb.Each(t, func(t *testing.T, tdb testdb.DB) {
		ctx := context.Background()
		clock := newClock()
		st, _ := open(t, tdb, &sqlstate.Options{Now: clock.Now})
		a, err := st.Acquire(ctx, "acct", &sqlstate.LeaseOptions{Holder: "A", TTL: time.Minute, RenewEvery: -1})
		require.NoError(t, err)
		actx, cancel := a.Context(ctx)
		defer cancel()
		clock.Advance(2 * time.Minute)
		_, err = st.Acquire(ctx, "acct", &sqlstate.LeaseOptions{Holder: "B", TTL: time.Minute, RenewEvery: -1})
		require.NoError(t, err)
		require.ErrorIs(t, a.Renew(ctx), sqlstate.ErrLeaseLost)
		select {
		case <-actx.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the lease's context was not cancelled when the lease was lost")
		}
		require.ErrorIs(t, context.Cause(actx), sqlstate.ErrLeaseLost)
	})
}

// TestLeaseLostWhenRenewalsFail: a worker that cannot reach the database
// gives the lease up once its TTL has passed since the last renewal,
// without waiting to hear from the database.
func TestLeaseLostWhenRenewalsFail(t *testing.T) {
	testdb.Each(t, func(t *testing.T, tdb testdb.DB) {
		ctx := context.Background()
		st, db := open(t, tdb, nil)
		l, err := st.Acquire(ctx, "acct", &sqlstate.LeaseOptions{TTL: 300 * time.Millisecond, RenewEvery: 50 * time.Millisecond})
		require.NoError(t, err)
		require.NoError(t, db.Close()) // the worker's database is gone
		select {
		case <-l.Done():
		case <-time.After(20 * time.Second):
			t.Fatal("a lease that cannot be renewed must end after its TTL")
		}
		require.ErrorIs(t, l.Err(), sqlstate.ErrLeaseLost)
	})
}

func TestBackgroundRenewalKeepsLease(t *testing.T) {
	testdb.Each(t, func(t *testing.T, tdb testdb.DB) {
		ctx := context.Background()
		st, _ := open(t, tdb, nil)
		l, err := st.Acquire(ctx, "acct", &sqlstate.LeaseOptions{Holder: "A", TTL: 400 * time.Millisecond, RenewEvery: 50 * time.Millisecond})
		require.NoError(t, err)
		defer l.Release(ctx)
		first := l.Expires()
		// Wait for the expiry to move twice (renewals happened), then
		// check that nobody else can take the lease.
		require.Eventually(t, func() bool { return l.Expires().After(first.Add(100 * time.Millisecond)) }, 20*time.Second, 10*time.Millisecond)
		_, err = st.Acquire(ctx, "acct", &sqlstate.LeaseOptions{Holder: "B", TTL: time.Minute})
		require.ErrorIs(t, err, sqlstate.ErrLeaseHeld)
		require.NoError(t, l.Err())
	})
}

func TestFencedSaveRejectsOldToken(t *testing.T) {
	testdb.Each(t, func(t *testing.T, tdb testdb.DB) {
		ctx := context.Background()
		clock := newClock()
		st, _ := open(t, tdb, &sqlstate.Options{Now: clock.Now})
		manual := func(h string) *sqlstate.LeaseOptions {
			return &sqlstate.LeaseOptions{Holder: h, TTL: time.Minute, RenewEvery: -1}
		}
		a, err := st.Acquire(ctx, "acct", manual("A"))
		require.NoError(t, err)
		require.NoError(t, a.State().Save(ctx, "k", []byte("from A")))
		clock.Advance(2 * time.Minute)
		// Expired, not yet taken: still no Save.
		require.ErrorIs(t, a.State().Save(ctx, "k", []byte("late A")), sqlstate.ErrLeaseLost)
		b, err := st.Acquire(ctx, "acct", manual("B"))
		require.NoError(t, err)
		got, err := b.State().Load(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, "from A", string(got))
		require.NoError(t, b.State().Save(ctx, "k", []byte("from B")))
		require.ErrorIs(t, a.State().Save(ctx, "k", []byte("stale A")), sqlstate.ErrLeaseLost)
		_, err = a.State().Lock(ctx)
		require.ErrorIs(t, err, sqlstate.ErrLeaseLost)
		got, err = st.Load(ctx, "acct", "k")
		require.NoError(t, err)
		assert.Equal(t, "from B", string(got))
	})
}

// pausingState blocks the first Save until resumed, as a worker paused by
// the scheduler (or a stop-the-world pause, or a partition) would be in
// the middle of committing.
type pausingState struct {
	mailsync.StateStore
	once           sync.Once
	paused, resume chan struct{}
}

func (p *pausingState) Save(ctx context.Context, key string, data []byte) error {
	p.once.Do(func() {
		close(p.paused)
		<-p.resume
	})
	return p.StateStore.Save(ctx, key, data)
}

// recordingSource counts the deletes a worker sends to the source.
type recordingSource struct {
	mailaccess.Mailbox
	deletes atomic.Int64
}

func (r *recordingSource) Delete(ctx context.Context, folder string, ids ...mailaccess.ID) error {
	r.deletes.Add(int64(len(ids)))
	return r.Mailbox.Delete(ctx, folder, ids...)
}

func (r *recordingSource) Commit(ctx context.Context) error { return mailaccess.Commit(ctx, r.Mailbox) }

// TestPausedWorkerPastLeaseCannotCommitOrDelete is the fencing guarantee:
// worker A is paused inside its first state commit past the end of its
// lease; worker B takes the account over, stores everything and deletes
// it from the server (retention after-download); A resumes and can
// neither commit nor delete anything, and every message is stored exactly
// once.
func TestPausedWorkerPastLeaseCannotCommitOrDelete(t *testing.T) {
	testdb.Each(t, func(t *testing.T, tdb testdb.DB) {
		ctx := context.Background()
		clock := newClock()
		st, _ := open(t, tdb, &sqlstate.Options{Now: clock.Now, History: true})

		store := mailtest.NewStore()
		const n = 40
		var want [][]byte
		for i := range n {
			raw := fmt.Appendf(nil, "Message-ID: <m%d@example.com>\r\nSubject: %d\r\n\r\nbody %d\r\n", i, i, i)
			want = append(want, raw)
			store.Add(mailaccess.Inbox, raw)
		}
		dir := t.TempDir()
		worker := func(name string, state mailsync.StateStore) (mailaccess.Sync, *recordingSource) {
			src := &recordingSource{Mailbox: store.Open(mailtest.ProfilePOP3)}
			dst, err := maildir.Open(dir, nil)
			require.NoError(t, err)
			t.Cleanup(func() { dst.Close() })
			s, err := mailsync.New(src, dst, &mailsync.Options{State: state, Account: "acct",
				Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}, BatchSize: 10, Concurrency: 4})
			require.NoError(t, err)
			return s, src
		}

		a, err := st.Acquire(ctx, "acct", &sqlstate.LeaseOptions{Holder: "A", TTL: time.Minute, RenewEvery: -1})
		require.NoError(t, err)
		pause := &pausingState{StateStore: a.State(), paused: make(chan struct{}), resume: make(chan struct{})}
		syncA, srcA := worker("A", pause)
		actx, cancelA := a.Context(ctx)
		defer cancelA()
		var errA error
		doneA := make(chan struct{})
		go func() {
			defer close(doneA)
			_, errA = syncA.Run(actx)
		}()
		<-pause.paused // A is inside its first Save, holding stored but uncommitted messages

		clock.Advance(2 * time.Minute) // A's lease expires while A is paused
		b, err := st.Acquire(ctx, "acct", &sqlstate.LeaseOptions{Holder: "B", TTL: time.Minute, RenewEvery: -1})
		require.NoError(t, err, "B must take over the expired lease")
		syncB, srcB := worker("B", b.State())
		rep, err := syncB.Run(ctx)
		require.NoError(t, err)
		assert.Equal(t, n, rep.Total().SourceDeleted, "B deletes what it stored")
		require.NoError(t, b.Release(ctx))

		close(pause.resume)
		<-doneA
		require.ErrorIs(t, errA, sqlstate.ErrLeaseLost, "A's commit must be refused")
		assert.Zero(t, srcA.deletes.Load(), "A must not delete anything from the server")
		assert.Equal(t, int64(n), srcB.deletes.Load())
		assert.Empty(t, store.Messages(mailaccess.Inbox), "B's deletes took effect")

		// Every message exactly once in the destination.
		dst, err := maildir.Open(dir, nil)
		require.NoError(t, err)
		defer dst.Close()
		var got [][]byte
		for m, err := range dst.List(ctx, mailaccess.Inbox, nil) {
			require.NoError(t, err)
			rc, err := m.Open(ctx)
			require.NoError(t, err)
			var buf bytes.Buffer
			_, err = buf.ReadFrom(rc)
			rc.Close()
			require.NoError(t, err)
			got = append(got, buf.Bytes())
		}
		assert.ElementsMatch(t, want, got, "each message stored exactly once")

		hist, err := st.History(ctx)
		require.NoError(t, err)
		assertNoOverlap(t, hist)
	})
}

func TestDeleteScopeRefusesHeldLease(t *testing.T) {
	testdb.Each(t, func(t *testing.T, tdb testdb.DB) {
		ctx := context.Background()
		st, _ := open(t, tdb, nil)
		l, err := st.Acquire(ctx, "acct", nil)
		require.NoError(t, err)
		require.NoError(t, l.State().Save(ctx, "k", []byte("x")))
		require.ErrorIs(t, st.DeleteScope(ctx, "acct"), sqlstate.ErrLeaseHeld)
		require.NoError(t, l.Release(ctx))
		require.NoError(t, st.DeleteScope(ctx, "acct"))
		got, err := st.Load(ctx, "acct", "k")
		require.NoError(t, err)
		assert.Nil(t, got)
	})
}

func TestOpenDBRefusesMemoryAndRedacts(t *testing.T) {
	_, _, err := sqlstate.OpenDB(context.Background(), "sqlite::memory:")
	require.ErrorIs(t, err, mailaccess.ErrInvalid)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err = sqlstate.OpenDB(ctx, "postgres://u:hunter2secret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2secret")
	assert.False(t, errors.Is(err, mailaccess.ErrInvalid))
}
