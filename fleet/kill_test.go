//go:build unix

package fleet_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/mailaccess/go-mailaccess/fleet"
	"github.com/mailaccess/go-mailaccess/fleet/internal/demo"
	"github.com/mailaccess/go-mailaccess/fleet/internal/testdb"
	"github.com/mailaccess/go-mailaccess/fleet/sqlstate"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

// Environment of a worker process of the kill test (the test binary
// re-executed).
const (
	envWorker   = "MAILFLEET_KILLTEST_WORKER"
	envDSN      = "MAILFLEET_KILLTEST_DSN"
	envStore    = "MAILFLEET_KILLTEST_STORE"
	envActivity = "MAILFLEET_KILLTEST_ACTIVITY"
)

// Timing of the kill test's fleet: short leases so takeovers are quick.
const (
	killLeaseTTL    = 3 * time.Second
	killMaxSyncTime = 4 * time.Second
	killSlowdown    = 8 * time.Millisecond
)

func TestMain(m *testing.M) {
	if os.Getenv(envWorker) == "1" {
		os.Exit(killWorker())
	}
	if os.Getenv(envRescueWorker) == "1" {
		os.Exit(rescueWorker())
	}
	os.Exit(m.Run())
}

// monotonic is CLOCK_MONOTONIC in nanoseconds: one clock for every
// process of the machine, so the workers' activity can be compared.
func monotonic() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}

// killWorker is a worker process: it runs the fleet on River until
// SIGTERM, writing a line to its activity file when it starts syncing an
// account (lease held) and when it ends (lease not yet released). The
// writes go to the page cache, which survives a SIGKILL.
func killWorker() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	act, err := os.OpenFile(os.Getenv(envActivity), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var mu sync.Mutex
	record := func(kind, acct string, token int64) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(act, "%s %s %d %d %d\n", kind, acct, token, monotonic(), os.Getpid())
	}
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
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := fleet.New(ctx, st, &fleet.Options{
		Store:       os.Getenv(envStore),
		LeaseTTL:    killLeaseTTL,
		MaxSyncTime: killMaxSyncTime,
		HostLimit:   func(string) int { return 6 },
		Holder:      "worker-" + strconv.Itoa(os.Getpid()),
		Logger:      logger,
		Hooks: fleet.Hooks{
			SyncStart: func(acct string, token int64) { record("start", acct, token) },
			SyncEnd:   func(acct string, token int64, _ *mailaccess.SyncReport, _ error) { record("end", acct, token) },
			// A slow network or store: each message takes a few
			// milliseconds more, so that kills land in the middle of
			// syncs and of their commits.
			Progress: func(string, mailsync.Progress) { time.Sleep(killSlowdown) },
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	err = f.Run(ctx, dsn, &fleet.RunOptions{Workers: 6, EnqueueEvery: 300 * time.Millisecond,
		PollInterval: 200 * time.Millisecond, SoftStop: 10 * time.Second, ClientID: "worker-" + strconv.Itoa(os.Getpid())})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// proc is one worker process of the test.
type proc struct {
	cmd    *exec.Cmd
	died   int64 // monotonic time after the process was reaped
	killed bool
}

// TestKillWorkersAtRandom syncs 50 accounts (25 IMAP, 25 POP3 with
// retention after-download) on in-process servers with worker processes
// that are SIGKILLed at random moments many times, while new mail keeps
// arriving; then lets the fleet converge and checks that every message
// of every account is stored exactly once, that the POP3 maildrops were
// emptied only of stored mail, and that no account was ever synced by
// two workers at once: neither by the lease history in the database nor
// by the workers' own record of when they were syncing what.
func TestKillWorkersAtRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("kills worker processes for a minute or two")
	}
	t.Run("postgres-3-workers", func(t *testing.T) { killTest(t, testdb.Postgres(t), 3, 14) })
	t.Run("sqlite-1-worker", func(t *testing.T) { killTest(t, testdb.SQLite(t), 1, 8) })
}

func killTest(t *testing.T, tdb testdb.DB, workers, kills int) {
	t.Setenv(demo.PasswordEnv, demo.Password)
	srv, err := demo.Start(demo.Options{IMAP: 25, POP3: 25, Messages: 40, Size: 1500, Retention: "after-download"})
	require.NoError(t, err)
	defer srv.Close()
	dir := t.TempDir()
	storeURL := "file://" + filepath.Join(dir, "mail")
	ctx := context.Background()

	// The registry, and River's tables, before any worker starts.
	f := newFleet(t, tdb, storeURL, &fleet.Options{LeaseTTL: killLeaseTTL, MaxSyncTime: killMaxSyncTime})
	for _, a := range srv.Accounts() {
		a.Interval = time.Second
		require.NoError(t, f.Add(ctx, a))
	}
	require.NoError(t, f.Migrate(ctx, tdb.DSN))

	var mu sync.Mutex
	var procs []*proc
	start := func(slot int) *proc {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), envWorker+"=1", envDSN+"="+tdb.DSN, envStore+"="+storeURL,
			envActivity+"="+filepath.Join(dir, "activity.log"))
		logf, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("worker-%d.log", slot)), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		require.NoError(t, err)
		cmd.Stdout, cmd.Stderr = logf, logf
		require.NoError(t, cmd.Start())
		logf.Close()
		p := &proc{cmd: cmd}
		mu.Lock()
		procs = append(procs, p)
		mu.Unlock()
		return p
	}
	running := make([]*proc, workers)
	for i := range running {
		running[i] = start(i)
	}
	defer func() {
		for _, p := range running {
			if p.cmd.ProcessState == nil {
				p.cmd.Process.Kill()
				p.cmd.Wait()
			}
		}
		if t.Failed() {
			for i := range workers {
				if b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("worker-%d.log", i))); err == nil {
					t.Logf("worker %d log (tail):\n%s", i, tail(string(b), 3000))
				}
			}
		}
	}()

	// New mail keeps arriving while workers are killed.
	accounts := srv.Accounts()
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	for k := range kills {
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		for range 5 {
			require.NoError(t, srv.Deliver(accounts[rng.IntN(len(accounts))].ID, 5+rng.IntN(20)))
		}
		// Kill a worker in the middle of a sync: wait (a few seconds at
		// most) until one is, and prefer it.
		i := rng.IntN(workers)
		for wait := time.Now().Add(5 * time.Second); time.Now().Before(wait); time.Sleep(20 * time.Millisecond) {
			busy := syncing(filepath.Join(dir, "activity.log"))
			found := false
			for _, j := range rng.Perm(workers) {
				if busy[running[j].cmd.Process.Pid] {
					i, found = j, true
					break
				}
			}
			if found {
				time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
				break
			}
		}
		p := running[i]
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
		p.cmd.Wait()
		p.died, p.killed = monotonic(), true
		t.Logf("kill %d: worker %d (pid %d)", k+1, i, p.cmd.Process.Pid)
		running[i] = start(i)
	}

	// Converge: everything stored, the POP3 maildrops emptied.
	converged := func() (bool, string) {
		for _, a := range accounts {
			if got, want := len(stored(t, storeURL, a.ID)), len(srv.Sent(a.ID)); got != want {
				return false, fmt.Sprintf("%s: %d of %d stored", a.ID, got, want)
			}
			if n := srv.OnServer(a.ID); n > 0 {
				return false, fmt.Sprintf("%s: %d still on the POP3 server", a.ID, n)
			}
		}
		return true, ""
	}
	deadline := time.Now().Add(4 * time.Minute)
	for {
		ok, why := converged()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fleet did not converge after the kills: %s", why)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Graceful stop.
	for _, p := range running {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	}
	for i, p := range running {
		err := p.cmd.Wait()
		p.died = monotonic()
		assert.NoError(t, err, "worker %d must stop cleanly on SIGTERM", i)
	}

	// Exactly once.
	for _, a := range accounts {
		assert.Equal(t, sortBytes(srv.Sent(a.ID)), sortBytes(stored(t, storeURL, a.ID)), "account %s: every message stored exactly once", a.ID)
	}

	// Never two workers at once: the lease history...
	hist, err := f.State().History(ctx)
	require.NoError(t, err)
	tenures := 0
	for i := 1; i < len(hist); i++ {
		prev, cur := hist[i-1], hist[i]
		if prev.Name != cur.Name {
			continue
		}
		tenures++
		assert.False(t, cur.Acquired.Before(prev.End()), "lease %s: token %d acquired at %v before token %d ended at %v",
			cur.Name, cur.Token, cur.Acquired, prev.Token, prev.End())
	}
	// ...and what the workers did, on one clock.
	checkActivity(t, filepath.Join(dir, "activity.log"), procs)
	t.Logf("%d kills, %d lease tenures, %d accounts converged", kills, tenures+1, len(accounts))
}

// syncing returns the pids that have started a sync and not ended it.
func syncing(path string) map[int]bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	open := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		fs := strings.Fields(line)
		if len(fs) != 5 {
			continue
		}
		k := fs[1] + "/" + fs[4] + "/" + fs[2]
		if fs[0] == "start" {
			pid, _ := strconv.Atoi(fs[4])
			open[k] = pid
		} else {
			delete(open, k)
		}
	}
	out := map[int]bool{}
	for _, pid := range open {
		out[pid] = true
	}
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// checkActivity reads the workers' activity lines and checks that, per
// account, each sync (start to end, or to the worker's death when it was
// killed mid-sync) ends before the next begins, with growing tokens.
func checkActivity(t *testing.T, path string, procs []*proc) {
	t.Helper()
	deaths := map[int]int64{}
	for _, p := range procs {
		deaths[p.cmd.Process.Pid] = p.died
	}
	type span struct {
		pid        int
		token      int64
		start, end int64
	}
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	open := map[string]*span{} // account/pid/token -> span
	byAcct := map[string][]*span{}
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 5 {
			continue // a line cut by SIGKILL
		}
		lines++
		token, _ := strconv.ParseInt(fs[2], 10, 64)
		at, _ := strconv.ParseInt(fs[3], 10, 64)
		pid, _ := strconv.Atoi(fs[4])
		k := fs[1] + "/" + fs[4] + "/" + fs[2]
		switch fs[0] {
		case "start":
			sp := &span{pid: pid, token: token, start: at, end: -1}
			open[k] = sp
			byAcct[fs[1]] = append(byAcct[fs[1]], sp)
		case "end":
			if sp := open[k]; sp != nil {
				sp.end = at
				delete(open, k)
			}
		}
	}
	require.NoError(t, sc.Err())
	require.Positive(t, lines, "workers recorded no activity")
	killedMidSync := 0
	for _, sp := range open {
		d, ok := deaths[sp.pid]
		require.True(t, ok, "activity of an unknown process %d", sp.pid)
		sp.end = d
		killedMidSync++
	}
	for acct, spans := range byAcct {
		sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
		for i := 1; i < len(spans); i++ {
			prev, cur := spans[i-1], spans[i]
			assert.LessOrEqual(t, prev.end, cur.start, "account %s synced by two workers at once: pid %d (token %d) until %d, pid %d (token %d) from %d",
				acct, prev.pid, prev.token, prev.end, cur.pid, cur.token, cur.start)
			assert.Greater(t, cur.token, prev.token, "account %s: tokens must grow", acct)
		}
	}
	t.Logf("activity: %d syncs recorded, %d cut by a kill", lines/2, killedMidSync)
	assert.Positive(t, killedMidSync, "no kill landed in the middle of a sync: the test proved nothing")
}
