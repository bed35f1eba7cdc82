//go:build unix

package fleet_test

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/fleet"
	"github.com/mailaccess/go-mailaccess/fleet/internal/demo"
	"github.com/mailaccess/go-mailaccess/fleet/internal/testdb"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// flakyFront is a TCP front for a server: while broken, it closes every
// connection at once (a server that is down behind its load balancer);
// otherwise it relays to the server.
type flakyFront struct {
	ln     net.Listener
	broken atomic.Bool
	wg     sync.WaitGroup
}

func startFlakyFront(t *testing.T, target string) *flakyFront {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fr := &flakyFront{ln: ln}
	fr.wg.Add(1)
	go func() {
		defer fr.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if fr.broken.Load() {
				c.Close()
				continue
			}
			fr.wg.Add(1)
			go func() {
				defer fr.wg.Done()
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go func() { io.Copy(s, c); s.(*net.TCPConn).CloseWrite() }()
				io.Copy(c, s)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); fr.wg.Wait() })
	return fr
}

// fixedBackoff is a River retry policy with a known, jitter-free
// schedule: attempt n is retried backoff[n-1] after it started.
type fixedBackoff struct{ backoff []time.Duration }

func (p fixedBackoff) NextRetry(job *rivertype.JobRow) time.Time {
	return job.AttemptedAt.Add(p.backoff[min(job.Attempt, len(p.backoff))-1])
}

// failedAwaitingRetry reports whether j's last attempt failed and j
// waits for its retry: River marks it retryable, or available at once
// with a scheduled time ahead when the retry is due sooner than its
// scheduler's next run.
func failedAwaitingRetry(j *rivertype.JobRow) bool {
	return (j.State == rivertype.JobStateRetryable || j.State == rivertype.JobStateAvailable) &&
		j.Attempt > 0 && len(j.Errors) == j.Attempt
}

// retrySetup starts a POP3 account behind a broken front and a fleet for
// it, and returns them.
func retrySetup(t *testing.T, tdb testdb.DB) (*fleet.Fleet, *flakyFront, fleet.Account, [][]byte, string) {
	t.Helper()
	back := mailtest.NewStore()
	var sent [][]byte
	for i := range 5 {
		raw := demo.Message("flaky", i, 400)
		back.Add(mailaccess.Inbox, raw)
		sent = append(sent, raw)
	}
	srv := pop3test.Start(t, back.Open(mailtest.ProfileIMAP), &pop3test.Options{User: "flaky", Password: demo.Password, NoSTLS: true})
	front := startFlakyFront(t, net.JoinHostPort(srv.Host(), itoa(srv.Port())))
	front.broken.Store(true)
	t.Setenv(demo.PasswordEnv, demo.Password)
	host, port, _ := net.SplitHostPort(front.ln.Addr().String())
	cfg := mailaccess.Config{Scheme: "pop3", Host: host, Port: atoi(port), User: "flaky", TLS: mailaccess.TLSInsecurePlaintext}
	acct := fleet.Account{ID: "flaky", URL: cfg.URL(), Credential: "env:" + demo.PasswordEnv, Interval: time.Hour}
	storeURL := "file://" + t.TempDir()
	f := newFleet(t, tdb, storeURL, &fleet.Options{LeaseTTL: 5 * time.Second, MaxSyncTime: 20 * time.Second})
	require.NoError(t, f.Add(context.Background(), acct))
	require.NoError(t, f.Migrate(context.Background(), tdb.DSN))
	return f, front, acct, sent, storeURL
}

// TestFailingAccountRetriedWithConfiguredBackoff: an account whose server
// is down fails its sync job with a temporary error, which the fleet hands
// to River as a failure (not a snooze, not a cancellation), and River
// schedules each retry by RunOptions.RetryPolicy: the test reads the
// schedule River records (attempted_at, scheduled_at, errors) after each
// failed attempt, never the wall clock. Once the server is back, the next
// retry stores the mail and the registry counts the failures.
func TestFailingAccountRetriedWithConfiguredBackoff(t *testing.T) {
	tdb := testdb.SQLite(t)
	f, front, acct, sent, storeURL := retrySetup(t, tdb)
	policy := fixedBackoff{backoff: []time.Duration{1500 * time.Millisecond, 2500 * time.Millisecond, 3500 * time.Millisecond}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() {
		runErr <- f.Run(ctx, tdb.DSN, &fleet.RunOptions{Workers: 1, EnqueueEvery: 200 * time.Millisecond,
			PollInterval: 100 * time.Millisecond, RetryPolicy: policy})
	}()

	// A snapshot of the job as River records it after each failure.
	const failures = 3
	seen := map[int]*rivertype.JobRow{}
	require.Eventually(t, func() bool {
		jobs, err := listSyncJobs(f, tdb)
		if err != nil {
			return false
		}
		for _, j := range jobs {
			if failedAwaitingRetry(j) && seen[j.Attempt] == nil {
				seen[j.Attempt] = j
				if j.Attempt == failures {
					front.broken.Store(false) // the server is back
				}
			}
		}
		return len(seen) == failures
	}, 2*time.Minute, 20*time.Millisecond, "the job is retried after each of %d failures", failures)
	var done *rivertype.JobRow
	require.Eventually(t, func() bool {
		jobs, err := listSyncJobs(f, tdb)
		if err == nil && len(jobs) == 1 && jobs[0].State == rivertype.JobStateCompleted {
			done = jobs[0]
		}
		return done != nil
	}, 2*time.Minute, 50*time.Millisecond, "the retry after the server came back completes")
	cancel()
	require.NoError(t, <-runErr)

	for n := 1; n <= failures; n++ {
		j := seen[n]
		require.NotNil(t, j.AttemptedAt)
		assert.WithinDuration(t, j.AttemptedAt.Add(policy.backoff[n-1]), j.ScheduledAt, time.Millisecond,
			"attempt %d: River scheduled the retry by the configured policy", n)
		require.Len(t, j.Errors, n, "attempt %d: one error per failed attempt", n)
		assert.Contains(t, j.Errors[n-1].Error, `account "flaky"`, "River's record names the account")
		assert.NotContains(t, j.Errors[n-1].Error, demo.Password)
		if n < failures {
			assert.False(t, seen[n+1].AttemptedAt.Before(j.ScheduledAt), "attempt %d ran before its scheduled time", n+1)
		}
	}
	assert.Equal(t, failures+1, done.Attempt)
	assert.False(t, done.AttemptedAt.Before(seen[failures].ScheduledAt), "the last retry ran before its scheduled time")
	assert.Len(t, done.Errors, failures)

	st, err := f.Get(context.Background(), acct.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(failures), st.Failures)
	assert.Equal(t, int64(failures+1), st.Syncs)
	assert.Empty(t, st.LastError, "the last sync succeeded")
	assert.Equal(t, sortBytes(sent), sortBytes(stored(t, storeURL, acct.ID)))
}

// TestFailingAccountRetriedWithDefaultBackoff: without a RetryPolicy, a
// failed sync is retried on River's default schedule: 1 s ±10% after
// the first failure, as River records it.
func TestFailingAccountRetriedWithDefaultBackoff(t *testing.T) {
	tdb := testdb.SQLite(t)
	f, _, _, _, _ := retrySetup(t, tdb)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() {
		runErr <- f.Run(ctx, tdb.DSN, &fleet.RunOptions{Workers: 1, EnqueueEvery: 200 * time.Millisecond, PollInterval: 100 * time.Millisecond})
	}()
	var j *rivertype.JobRow
	require.Eventually(t, func() bool {
		jobs, err := listSyncJobs(f, tdb)
		if err == nil && len(jobs) == 1 && failedAwaitingRetry(jobs[0]) {
			j = jobs[0]
		}
		return j != nil
	}, time.Minute, 20*time.Millisecond, "the failed job is scheduled for a retry")
	cancel()
	require.NoError(t, <-runErr)
	require.Len(t, j.Errors, 1)
	// River computes the retry time and records the error in the same
	// step; the margin covers the clock reads between the two.
	d := j.ScheduledAt.Sub(j.Errors[0].At)
	assert.GreaterOrEqual(t, d, 900*time.Millisecond-50*time.Millisecond, "retry scheduled %v after the failure", d)
	assert.LessOrEqual(t, d, 1100*time.Millisecond+50*time.Millisecond, "retry scheduled %v after the failure", d)
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
