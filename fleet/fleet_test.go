package fleet_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/fleet"
	"github.com/mailaccess/go-mailaccess/fleet/blobstore"
	"github.com/mailaccess/go-mailaccess/fleet/internal/demo"
	"github.com/mailaccess/go-mailaccess/fleet/internal/testdb"
	"github.com/mailaccess/go-mailaccess/fleet/sqlstate"
	_ "github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	_ "github.com/mailaccess/go-mailaccess/pop3"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newFleet(t *testing.T, tdb testdb.DB, store string, opts *fleet.Options) *fleet.Fleet {
	t.Helper()
	ctx := context.Background()
	db, dialect, err := sqlstate.OpenDB(ctx, tdb.DSN)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	if dialect == sqlstate.SQLite {
		db.SetMaxOpenConns(1)
	}
	st, err := sqlstate.New(ctx, db, &sqlstate.Options{Dialect: dialect, History: true})
	require.NoError(t, err)
	var o fleet.Options
	if opts != nil {
		o = *opts
	}
	o.Store = store
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	f, err := fleet.New(ctx, st, &o)
	require.NoError(t, err)
	return f
}

// stored reads every message stored for account id in the blob store.
func stored(t *testing.T, storeURL, id string) [][]byte {
	t.Helper()
	ctx := context.Background()
	st, err := blobstore.Open(ctx, storeURL, &blobstore.Options{Prefix: id + "/"})
	require.NoError(t, err)
	defer st.Close()
	var out [][]byte
	for m, err := range st.List(ctx, mailaccess.Inbox, nil) {
		require.NoError(t, err)
		rc, err := m.Open(ctx)
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		out = append(out, b)
	}
	return out
}

func sortBytes(b [][]byte) [][]byte {
	b = append([][]byte(nil), b...)
	sort.Slice(b, func(i, j int) bool { return bytes.Compare(b[i], b[j]) < 0 })
	return b
}

func TestRegistryRefusesSecretsAndBadInput(t *testing.T) {
	f := newFleet(t, testdb.SQLite(t), "file://"+t.TempDir(), nil)
	ctx := context.Background()
	err := f.Add(ctx, fleet.Account{ID: "a", URL: "imaps://me:hunter2@imap.example.com"})
	require.ErrorIs(t, err, mailaccess.ErrInvalid)
	assert.NotContains(t, err.Error(), "hunter2")
	assert.Contains(t, err.Error(), "credential")
	for _, a := range []fleet.Account{
		{ID: "../x", URL: "imaps://me@imap.example.com"},
		{ID: "ok", URL: "imaps://me@imap.example.com", Credential: "file:/etc/shadow"},
		{ID: "ok", URL: "imaps://me@imap.example.com", Credential: "env:"},
		{ID: "ok", URL: "imaps://me@imap.example.com", Retention: "sometimes"},
	} {
		assert.ErrorIs(t, f.Add(ctx, a), mailaccess.ErrInvalid, "%+v", a)
	}
	require.NoError(t, f.Add(ctx, fleet.Account{ID: "ok", URL: "imaps://me@imap.example.com", Credential: "env:X", Interval: time.Hour}))
	list, err := f.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "imap.example.com", list[0].Host)
	assert.Equal(t, time.Hour, list[0].Interval)
	require.NoError(t, f.Remove(ctx, "ok"))
	require.ErrorIs(t, f.Remove(ctx, "ok"), mailaccess.ErrNotFound)
}

// TestSyncAccountRecordsStatusAndMetrics syncs IMAP and POP3 accounts one
// by one and checks the registry's status and the Prometheus metrics.
func TestSyncAccountRecordsStatusAndMetrics(t *testing.T) {
	t.Setenv(demo.PasswordEnv, demo.Password)
	srv, err := demo.Start(demo.Options{IMAP: 2, POP3: 2, Messages: 15, Retention: "after-download"})
	require.NoError(t, err)
	defer srv.Close()
	storeURL := "file://" + t.TempDir()
	reg := prometheus.NewRegistry()
	f := newFleet(t, testdb.SQLite(t), storeURL, &fleet.Options{Registerer: reg})
	ctx := context.Background()
	for _, a := range srv.Accounts() {
		require.NoError(t, f.Add(ctx, a))
	}
	for _, a := range srv.Accounts() {
		rep, err := f.SyncAccount(ctx, a.ID)
		require.NoError(t, err, a.ID)
		assert.Equal(t, 15, rep.Total().New)
		assert.ElementsMatch(t, srv.Sent(a.ID), stored(t, storeURL, a.ID))
		st, err := f.Get(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, int64(15), st.Messages)
		assert.Positive(t, st.Bytes)
		assert.Zero(t, st.Backlog)
		assert.False(t, st.LastSuccess.IsZero())
		assert.Empty(t, st.LastError)
		assert.True(t, st.NextDue.After(st.LastSuccess), "next due after the interval")
		if n := srv.OnServer(a.ID); n >= 0 {
			assert.Zero(t, n, "POP3 retention after-download emptied the maildrop")
		}
	}
	assert.Equal(t, 4.0, testutil.ToFloat64(counter(t, reg, "mailfleet_syncs_total", "ok")))
	// A wrong password is recorded as the account's last error.
	t.Setenv(demo.PasswordEnv, "wrong")
	_, err = f.SyncAccount(ctx, "imap-000")
	require.ErrorIs(t, err, mailaccess.ErrAuth)
	st, err := f.Get(ctx, "imap-000")
	require.NoError(t, err)
	assert.NotEmpty(t, st.LastError)
	assert.Equal(t, int64(1), st.Failures)
	assert.NotContains(t, st.LastError, "wrong")
}

func counter(t *testing.T, reg *prometheus.Registry, name, result string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetValue() == result {
					return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x"}, func() float64 { return m.Counter.GetValue() })
				}
			}
		}
	}
	t.Fatalf("metric %s{%s} not found", name, result)
	return nil
}

// TestHostLimitBusy: with a per-host limit of one, a second sync of an
// account on the same host is refused as busy while the first holds the
// slot.
func TestHostLimitBusy(t *testing.T) {
	t.Setenv(demo.PasswordEnv, demo.Password)
	srv, err := demo.Start(demo.Options{IMAP: 2, Messages: 3})
	require.NoError(t, err)
	defer srv.Close()
	started, release := make(chan struct{}), make(chan struct{})
	f := newFleet(t, testdb.SQLite(t), "file://"+t.TempDir(), &fleet.Options{
		HostLimit: func(string) int { return 1 },
		Hooks: fleet.Hooks{SyncStart: func(acct string, _ int64) {
			if acct == "imap-000" {
				close(started)
				<-release
			}
		}},
	})
	ctx := context.Background()
	for _, a := range srv.Accounts() {
		require.NoError(t, f.Add(ctx, a))
	}
	done := make(chan error)
	go func() { _, err := f.SyncAccount(ctx, "imap-000"); done <- err }()
	<-started
	_, err = f.SyncAccount(ctx, "imap-001")
	require.ErrorIs(t, err, fleet.ErrBusy)
	assert.Contains(t, err.Error(), "limit")
	_, err = f.SyncAccount(ctx, "imap-000")
	require.True(t, errors.Is(err, fleet.ErrBusy), "the account itself is busy too: %v", err)
	close(release)
	require.NoError(t, <-done)
	_, err = f.SyncAccount(ctx, "imap-001")
	require.NoError(t, err)
}

// TestRunOnRiver works every account through River on each database:
// the leader's enqueuer inserts the due accounts' jobs and the workers
// sync them all; stopping the runner is graceful.
func TestRunOnRiver(t *testing.T) {
	testdb.Each(t, func(t *testing.T, tdb testdb.DB) {
		t.Setenv(demo.PasswordEnv, demo.Password)
		srv, err := demo.Start(demo.Options{IMAP: 4, POP3: 4, Messages: 10})
		require.NoError(t, err)
		defer srv.Close()
		storeURL := "file://" + t.TempDir()
		f := newFleet(t, tdb, storeURL, &fleet.Options{LeaseTTL: 5 * time.Second, MaxSyncTime: 20 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for _, a := range srv.Accounts() {
			require.NoError(t, f.Add(ctx, a))
		}
		runErr := make(chan error, 1)
		go func() {
			runErr <- f.Run(ctx, tdb.DSN, &fleet.RunOptions{Workers: 4, EnqueueEvery: 200 * time.Millisecond, PollInterval: 100 * time.Millisecond, SoftStop: 5 * time.Second})
		}()
		require.Eventually(t, func() bool {
			list, err := f.List(context.Background())
			if err != nil {
				return false
			}
			for _, s := range list {
				if s.LastSuccess.IsZero() {
					return false
				}
			}
			return true
		}, 2*time.Minute, 100*time.Millisecond)
		cancel()
		require.NoError(t, <-runErr)
		for _, a := range srv.Accounts() {
			assert.Equal(t, sortBytes(srv.Sent(a.ID)), sortBytes(stored(t, storeURL, a.ID)), a.ID)
		}
	})
}

// TestGracefulStopLeavesNoHalfCommittedBatch stops a worker in the middle
// of a long sync (its soft-stop time too short to finish), on an IMAP
// account (the batch fetch is cancelled under a body being read, which
// once tripped a data race in the imap driver) and on a POP3 account: the
// sync is cancelled and commits what it stored, so every message in the
// store is recorded in the committed state; the next run stores the rest,
// none twice.
func TestGracefulStopLeavesNoHalfCommittedBatch(t *testing.T) {
	for _, proto := range []string{"imap", "pop3"} {
		t.Run(proto, func(t *testing.T) { testGracefulStop(t, proto) })
	}
}

func testGracefulStop(t *testing.T, proto string) {
	t.Setenv(demo.PasswordEnv, demo.Password)
	opts := demo.Options{Messages: 600}
	if proto == "imap" {
		opts.IMAP = 1
	} else {
		opts.POP3 = 1
	}
	srv, err := demo.Start(opts)
	require.NoError(t, err)
	defer srv.Close()
	acct := proto + "-000"
	storeURL := "file://" + t.TempDir()
	tdb := testdb.SQLite(t)
	midway := make(chan struct{})
	var once sync.Once
	f := newFleet(t, tdb, storeURL, &fleet.Options{Hooks: fleet.Hooks{Progress: func(_ string, p mailsync.Progress) {
		time.Sleep(2 * time.Millisecond) // a slow network
		if p.Messages >= 100 {
			once.Do(func() { close(midway) })
		}
	}}})
	ctx, cancel := context.WithCancel(context.Background())
	for _, a := range srv.Accounts() {
		require.NoError(t, f.Add(ctx, a))
	}
	runErr := make(chan error, 1)
	go func() {
		runErr <- f.Run(ctx, tdb.DSN, &fleet.RunOptions{Workers: 1, EnqueueEvery: 100 * time.Millisecond, PollInterval: 100 * time.Millisecond, SoftStop: 10 * time.Millisecond})
	}()
	select {
	case <-midway:
	case err := <-runErr:
		t.Fatalf("Run returned before the sync got midway: %v", err)
	}
	cancel()
	require.NoError(t, <-runErr)

	got := stored(t, storeURL, acct)
	require.NotEmpty(t, got)
	require.Less(t, len(got), 600, "the stop must have cut the sync")
	st, err := mailsync.ReadFolderState(context.Background(), scopeReader{f.State(), "acct:" + acct}, acct, "INBOX")
	require.NoError(t, err)
	require.NotNil(t, st)
	assert.Equal(t, len(got), st.Messages, "every stored message is recorded in committed state")

	// The next run finishes the account, storing nothing twice.
	_, err = f.SyncAccount(context.Background(), acct)
	require.NoError(t, err)
	assert.Equal(t, sortBytes(srv.Sent(acct)), sortBytes(stored(t, storeURL, acct)))
}

// scopeReader reads the records of one scope of the fleet's state store
// as a mailsync.StateStore (it saves nothing).
type scopeReader struct {
	st    *sqlstate.Store
	scope string
}

func (r scopeReader) Lock(context.Context) (func() error, error) {
	return nil, errors.New("scopeReader: read only")
}
func (r scopeReader) Load(ctx context.Context, key string) ([]byte, error) {
	return r.st.Load(ctx, r.scope, key)
}
func (r scopeReader) Save(context.Context, string, []byte) error {
	return errors.New("scopeReader: read only")
}
