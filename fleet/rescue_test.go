//go:build unix

package fleet_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/fleet"
	"github.com/mailaccess/go-mailaccess/fleet/internal/demo"
	"github.com/mailaccess/go-mailaccess/fleet/internal/testdb"
	"github.com/mailaccess/go-mailaccess/fleet/sqlstate"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

// Environment of the worker process of the rescue test (the test binary
// re-executed), besides envDSN and envStore.
const (
	envRescueWorker = "MAILFLEET_RESCUETEST_WORKER"
	envRescueAfter  = "MAILFLEET_RESCUETEST_DIE_AFTER"
)

// Timing of the rescue test's fleet: River rescues a running job after
// MaxSyncTime + 2×LeaseTTL.
const (
	rescueLeaseTTL    = time.Second
	rescueMaxSyncTime = 2 * time.Second
	rescueMessages    = 60
	rescueDieAfter    = 25
)

// rescueWorker is the worker that dies: it runs the fleet on River and
// SIGKILLs itself in the middle of its first sync, once it has stored
// some messages, holding the account's lease and River's job.
func rescueWorker() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	dsn := os.Getenv(envDSN)
	db, dialect, err := sqlstate.OpenDB(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if dialect == sqlstate.SQLite {
		db.SetMaxOpenConns(1)
	}
	st, err := sqlstate.New(ctx, db, &sqlstate.Options{Dialect: dialect, History: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var dieAfter int
	fmt.Sscan(os.Getenv(envRescueAfter), &dieAfter)
	f, err := fleet.New(ctx, st, &fleet.Options{
		Store:       os.Getenv(envStore),
		LeaseTTL:    rescueLeaseTTL,
		MaxSyncTime: rescueMaxSyncTime,
		Holder:      "dying-worker",
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Hooks: fleet.Hooks{Progress: func(_ string, p mailsync.Progress) {
			if p.Messages >= dieAfter {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := f.Run(ctx, dsn, &fleet.RunOptions{Workers: 1, EnqueueEvery: 200 * time.Millisecond,
		PollInterval: 100 * time.Millisecond, ClientID: "dying-worker"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 3 // it was meant to die
}

// syncJobs returns River's rows of the fleet's sync jobs, oldest first,
// read through River's own client.
func syncJobs(t *testing.T, f *fleet.Fleet, tdb testdb.DB) []*rivertype.JobRow {
	t.Helper()
	jobs, err := listSyncJobs(f, tdb)
	require.NoError(t, err)
	return jobs
}

// listSyncJobs is syncJobs for a condition of require.Eventually (which
// must not stop the test from its goroutine).
func listSyncJobs(f *fleet.Fleet, tdb testdb.DB) ([]*rivertype.JobRow, error) {
	ctx := context.Background()
	params := river.NewJobListParams().Kinds(fleet.SyncArgs{}.Kind())
	if f.State().Dialect() == sqlstate.Postgres {
		pool, err := pgxpool.New(ctx, tdb.DSN)
		if err != nil {
			return nil, err
		}
		defer pool.Close()
		c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: quietLogger()})
		if err != nil {
			return nil, err
		}
		res, err := c.JobList(ctx, params)
		if err != nil {
			return nil, err
		}
		return res.Jobs, nil
	}
	c, err := river.NewClient(riversqlite.New(f.State().DB()), &river.Config{Logger: quietLogger()})
	if err != nil {
		return nil, err
	}
	res, err := c.JobList(ctx, params)
	if err != nil {
		return nil, err
	}
	return res.Jobs, nil
}

// TestStuckJobRescued: a worker process dies (SIGKILL) in the middle of
// a sync, holding the account's lease and River's running job, after
// storing part of the mail. Another worker takes the job over only after
// River's rescuer found it stuck (MaxSyncTime + 2×LeaseTTL after the dead
// worker's attempt, when the dead worker's lease has expired), syncs the
// account exactly once more, and every message is stored exactly once: no
// second job, no second sync, nothing lost, nothing twice.
func TestStuckJobRescued(t *testing.T) {
	testdb.Each(t, func(t *testing.T, tdb testdb.DB) {
		t.Setenv(demo.PasswordEnv, demo.Password)
		srv, err := demo.Start(demo.Options{IMAP: 1, Messages: rescueMessages, Size: 800})
		require.NoError(t, err)
		defer srv.Close()
		acct := srv.Accounts()[0]
		acct.Interval = time.Hour
		dir := t.TempDir()
		storeURL := "file://" + filepath.Join(dir, "mail")

		var mu sync.Mutex
		var starts []int64 // tokens of the syncs this (surviving) worker starts
		f := newFleet(t, tdb, storeURL, &fleet.Options{
			LeaseTTL: rescueLeaseTTL, MaxSyncTime: rescueMaxSyncTime, Holder: "rescuing-worker",
			Hooks: fleet.Hooks{SyncStart: func(_ string, token int64) {
				mu.Lock()
				starts = append(starts, token)
				mu.Unlock()
			}},
		})
		ctx := context.Background()
		require.NoError(t, f.Add(ctx, acct))
		require.NoError(t, f.Migrate(ctx, tdb.DSN))

		// The worker that dies.
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envRescueWorker+"=1", envDSN+"="+tdb.DSN, envStore+"="+storeURL,
			fmt.Sprintf("%s=%d", envRescueAfter, rescueDieAfter))
		out, err := cmd.CombinedOutput()
		ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		require.True(t, ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL, "the worker must die by SIGKILL mid-sync: %v\n%s", err, out)

		// What it left: a running job, a lease not released, part of the mail.
		jobs := syncJobs(t, f, tdb)
		require.Len(t, jobs, 1)
		dead := jobs[0]
		require.Equal(t, rivertype.JobStateRunning, dead.State, "the dead worker's job is still running")
		require.Equal(t, 1, dead.Attempt)
		require.Equal(t, []string{"dying-worker"}, dead.AttemptedBy)
		require.NotNil(t, dead.AttemptedAt)
		leases, err := f.State().Leases(ctx, "acct:")
		require.NoError(t, err)
		require.Len(t, leases, 1)
		assert.Equal(t, "dying-worker", leases[0].Holder, "the dead worker never released its lease")
		partial := len(stored(t, storeURL, acct.ID))
		require.GreaterOrEqual(t, partial, rescueDieAfter-1, "the dead worker stored part of the mail")
		require.Less(t, partial, rescueMessages)

		// The surviving worker.
		runCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		runErr := make(chan error, 1)
		go func() {
			runErr <- f.Run(runCtx, tdb.DSN, &fleet.RunOptions{Workers: 2, EnqueueEvery: 200 * time.Millisecond,
				PollInterval: 100 * time.Millisecond, ClientID: "rescuing-worker"})
		}()
		require.Eventually(t, func() bool {
			jobs, err := listSyncJobs(f, tdb)
			if err != nil {
				return false
			}
			for _, j := range jobs {
				if j.ID == dead.ID {
					return j.State == rivertype.JobStateCompleted
				}
			}
			return false
		}, 3*time.Minute, 100*time.Millisecond, "the stuck job is rescued and completed")
		// A few enqueuer rounds more: nothing else is inserted or run.
		time.Sleep(time.Second)
		cancel()
		require.NoError(t, <-runErr)

		jobs = syncJobs(t, f, tdb)
		for _, j := range jobs {
			t.Logf("job %d: %s, attempt %d by %v", j.ID, j.State, j.Attempt, j.AttemptedBy)
		}
		require.Len(t, jobs, 1, "no second job for the account")
		job := jobs[0]
		assert.Equal(t, rivertype.JobStateCompleted, job.State)
		assert.Equal(t, 2, job.Attempt, "one attempt by the dead worker, one by the rescuer's")
		assert.Equal(t, []string{"dying-worker", "rescuing-worker"}, job.AttemptedBy)
		require.Len(t, job.Errors, 1)
		assert.Contains(t, job.Errors[0].Error, "Stuck job rescued")
		rescueAfter := rescueMaxSyncTime + 2*rescueLeaseTTL
		assert.False(t, job.Errors[0].At.Before(dead.AttemptedAt.Add(rescueAfter)),
			"rescued at %v, before MaxSyncTime + 2×LeaseTTL (%v) after the dead attempt at %v", job.Errors[0].At, rescueAfter, dead.AttemptedAt)

		mu.Lock()
		require.Len(t, starts, 1, "the account is synced exactly once more")
		mu.Unlock()
		hist, err := f.State().History(ctx)
		require.NoError(t, err)
		var tenures []sqlstate.HistoryEntry
		for _, h := range hist {
			if h.Name == "acct:"+acct.ID {
				tenures = append(tenures, h)
			}
		}
		require.Len(t, tenures, 2)
		assert.Equal(t, "dying-worker", tenures[0].Holder)
		assert.Equal(t, "rescuing-worker", tenures[1].Holder)
		assert.Equal(t, starts[0], tenures[1].Token)
		assert.Greater(t, tenures[1].Token, tenures[0].Token)
		assert.False(t, tenures[1].Acquired.Before(tenures[0].End()), "taken over before the dead worker's lease expired")

		st, err := f.Get(ctx, acct.ID)
		require.NoError(t, err)
		assert.Equal(t, int64(1), st.Syncs, "one sync recorded: the dead worker's never ended")
		assert.Zero(t, st.Failures)
		assert.False(t, st.LastSuccess.IsZero())
		assert.Equal(t, sortBytes(srv.Sent(acct.ID)), sortBytes(stored(t, storeURL, acct.ID)), "every message stored exactly once")
	})
}
