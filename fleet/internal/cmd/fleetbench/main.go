// Command fleetbench measures the fleet: accounts synced per minute with
// 1, 2 and 4 worker processes against in-process IMAP and POP3 servers,
// side by side with what users run today (a shell loop running mbsync or
// mpop once per account, on the same servers and the same mail), and the
// cost of an idle fleet (CPU and memory per thousand accounts with
// nothing new).
//
//	go run ./internal/cmd/fleetbench -db "$MAILFLEET_TEST_POSTGRES"   # from fleet/; .ci/postgres starts one
//	go run ./internal/cmd/fleetbench -accounts 100 -messages 300 -workers 1,2,4 -idle 1000
//
// Every fleet run starts on a fresh schema and fresh Maildirs (one per
// account, the destination mbsync and mpop write too); its time runs from
// the start of the worker processes to the moment the registry shows
// every account synced. The servers run in this process and share the
// machine's cores with the workers and the peers alike. It takes the
// whole machine for a few minutes: do not run it beside other work.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/mailaccess/go-mailaccess/fleet"
	"github.com/mailaccess/go-mailaccess/fleet/internal/demo"
	"github.com/mailaccess/go-mailaccess/fleet/sqlstate"
	_ "github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	_ "github.com/mailaccess/go-mailaccess/pop3"
)

func main() {
	worker := flag.Bool("worker", false, "run as a worker process (internal)")
	dsn := flag.String("db", os.Getenv("MAILFLEET_TEST_POSTGRES"), "PostgreSQL URL (several worker processes need it)")
	store := flag.String("store", "", "worker: destination (internal)")
	accounts := flag.Int("accounts", 100, "accounts (half IMAP, half POP3)")
	messages := flag.Int("messages", 300, "messages per account")
	size := flag.Int("size", 3000, "approximate message size in bytes")
	workersFlag := flag.String("workers", "1,2,4", "worker process counts to measure")
	perProc := flag.Int("concurrency", 8, "accounts one worker process syncs at once")
	idle := flag.Int("idle", 1000, "accounts of the idle-fleet measurement (0 skips it)")
	idleWindow := flag.Duration("idle-window", 60*time.Second, "how long the idle fleet is measured")
	idleInterval := flag.Duration("idle-interval", 20*time.Second, "sync interval of the idle accounts during the measurement")
	peers := flag.Bool("peers", true, "measure the mbsync and mpop loops")
	flag.Parse()
	if *worker {
		os.Exit(runWorker(*dsn, *store, *perProc))
	}
	if *dsn == "" {
		fmt.Fprintln(os.Stderr, "fleetbench: -db (or MAILFLEET_TEST_POSTGRES) must name a PostgreSQL database: run .ci/postgres")
		os.Exit(2)
	}
	var counts []int
	for _, s := range strings.Split(*workersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "fleetbench: -workers %q\n", *workersFlag)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	if err := bench(*dsn, *accounts, *messages, *size, counts, *perProc, *peers, *idle, *idleWindow, *idleInterval); err != nil {
		fmt.Fprintln(os.Stderr, "fleetbench:", err)
		os.Exit(1)
	}
}

func runWorker(dsn, store string, concurrency int) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, dialect, err := sqlstate.OpenDB(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	st, err := sqlstate.New(ctx, db, &sqlstate.Options{Dialect: dialect})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	f, err := fleet.New(ctx, st, &fleet.Options{Store: store, Logger: logger, HostLimit: func(string) int { return 0 }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := f.Run(ctx, dsn, &fleet.RunOptions{Workers: concurrency, EnqueueEvery: 500 * time.Millisecond, PollInterval: 200 * time.Millisecond}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// schema makes a fresh schema and returns a URL using it.
func schema(base, name string) (string, error) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.Exec("DROP SCHEMA IF EXISTS " + name + " CASCADE"); err != nil {
		return "", err
	}
	if _, err := db.Exec("CREATE SCHEMA " + name); err != nil {
		return "", err
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + name, nil
}

type procs []*exec.Cmd

func startWorkers(n int, dsn, store string, concurrency int, logDir string) (procs, error) {
	var ps procs
	for i := range n {
		cmd := exec.Command(os.Args[0], "-worker", "-db", dsn, "-store", store, "-concurrency", strconv.Itoa(concurrency))
		cmd.Env = append(os.Environ(), demo.PasswordEnv+"="+demo.Password)
		lf, err := os.Create(filepath.Join(logDir, fmt.Sprintf("worker-%d.log", i)))
		if err != nil {
			return ps, err
		}
		cmd.Stdout, cmd.Stderr = lf, lf
		if err := cmd.Start(); err != nil {
			return ps, err
		}
		lf.Close()
		ps = append(ps, cmd)
	}
	return ps, nil
}

func (ps procs) stop() {
	for _, p := range ps {
		p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range ps {
		p.Wait()
	}
}

// openFleet opens the fleet of a schema for the bench's own queries.
func openFleet(ctx context.Context, dsn, store string) (*fleet.Fleet, func(), error) {
	db, dialect, err := sqlstate.OpenDB(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	st, err := sqlstate.New(ctx, db, &sqlstate.Options{Dialect: dialect})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	f, err := fleet.New(ctx, st, &fleet.Options{Store: store, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	if err := f.Migrate(ctx, dsn); err != nil {
		db.Close()
		return nil, nil, err
	}
	return f, func() { db.Close() }, nil
}

// waitSynced waits until every account has syncs >= want and returns.
func waitSynced(ctx context.Context, f *fleet.Fleet, n int, minSyncs int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		list, err := f.List(ctx)
		if err != nil {
			return err
		}
		done := 0
		for _, s := range list {
			if s.Syncs >= minSyncs && !s.LastSuccess.IsZero() && s.Backlog == 0 {
				done++
			}
		}
		if done == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d accounts synced after %s", done, n, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func bench(base string, nAccounts, nMsgs, size int, counts []int, perProc int, withPeers bool, idle int, idleWindow, idleInterval time.Duration) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "fleetbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fmt.Printf("fleetbench: %d accounts (%d IMAP, %d POP3) × %d messages of ~%d bytes; work dir %s\n",
		nAccounts, nAccounts/2, nAccounts-nAccounts/2, nMsgs, size, work)
	srv, err := demo.Start(demo.Options{IMAP: nAccounts / 2, POP3: nAccounts - nAccounts/2, Messages: nMsgs, Size: size})
	if err != nil {
		return err
	}
	defer srv.Close()
	accounts := srv.Accounts()

	type row struct {
		name string
		secs float64
		note string
	}
	var rows []row
	if withPeers {
		imapSecs, popSecs, err := peerLoops(ctx, work, srv, nMsgs)
		if err != nil {
			return err
		}
		rows = append(rows, row{"mbsync loop (IMAP accounts only)", imapSecs, fmt.Sprintf("%d accounts", nAccounts/2)},
			row{"mpop loop (POP3 accounts only)", popSecs, fmt.Sprintf("%d accounts", nAccounts-nAccounts/2)})
	}
	for _, w := range counts {
		dsn, err := schema(base, fmt.Sprintf("fleetbench_w%d", w))
		if err != nil {
			return err
		}
		store := "maildir://" + filepath.Join(work, fmt.Sprintf("fleet-w%d", w))
		f, closeDB, err := openFleet(ctx, dsn, store)
		if err != nil {
			return err
		}
		for _, a := range accounts {
			a.Interval = 24 * time.Hour
			if err := f.Add(ctx, a); err != nil {
				closeDB()
				return err
			}
		}
		start := time.Now()
		ps, err := startWorkers(w, dsn, store, perProc, work)
		if err != nil {
			closeDB()
			return err
		}
		err = waitSynced(ctx, f, len(accounts), 1, 15*time.Minute)
		secs := time.Since(start).Seconds()
		ps.stop()
		closeDB()
		if err != nil {
			return err
		}
		rows = append(rows, row{fmt.Sprintf("fleet, %d worker process(es) × %d", w, perProc), secs, fmt.Sprintf("%d accounts", len(accounts))})
		fmt.Printf("  fleet with %d workers: %.2f s\n", w, secs)
	}
	fmt.Println()
	fmt.Println("| job | accounts | seconds | accounts/min |")
	fmt.Println("|---|---|---|---|")
	for _, r := range rows {
		n, _ := strconv.Atoi(strings.Fields(r.note)[0])
		fmt.Printf("| %s | %d | %.2f | %.0f |\n", r.name, n, r.secs, float64(n)/r.secs*60)
	}
	if withPeers && len(rows) > 2 {
		peerSecs := rows[0].secs + rows[1].secs
		fmt.Printf("\nBoth loops together: %.2f s for %d accounts (%.0f accounts/min).\n", peerSecs, nAccounts, float64(nAccounts)/peerSecs*60)
		for _, r := range rows[2:] {
			fmt.Printf("%s: %.1f× the loops' rate\n", r.name, peerSecs/r.secs)
		}
	}
	srv.Close()
	if idle > 0 {
		return idleCost(ctx, base, work, idle, idleWindow, idleInterval, perProc)
	}
	return nil
}

// peerLoops runs mbsync once per IMAP account and mpop once per POP3
// account, each loop a shell loop as users write it, and returns their
// times. It checks that every message arrived.
func peerLoops(ctx context.Context, work string, srv *demo.Servers, nMsgs int) (float64, float64, error) {
	var mbsync, mpop strings.Builder
	mbsync.WriteString("set -e\n")
	mpop.WriteString("set -e\n")
	var dirs []string
	for _, a := range srv.Accounts() {
		u := strings.SplitN(strings.TrimPrefix(strings.TrimPrefix(a.URL, "imap://"), "pop3://"), "?", 2)[0]
		user, hostport, _ := strings.Cut(u, "@")
		host, port, _ := strings.Cut(hostport, ":")
		dir := filepath.Join(work, "peer", a.ID)
		for _, sub := range []string{"new", "cur", "tmp"} {
			if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
				return 0, 0, err
			}
		}
		dirs = append(dirs, dir)
		rc := filepath.Join(work, "peer", a.ID+".rc")
		if strings.HasPrefix(a.URL, "imap://") {
			cfg := fmt.Sprintf("FSync yes\n\nIMAPAccount a\nHost %s\nPort %s\nUser %s\nPass %s\nSSLType None\nAuthMechs LOGIN\n\nIMAPStore far\nAccount a\n\nMaildirStore near\nInbox %s\n\nChannel a\nFar :far:\nNear :near:\nPatterns INBOX\nCreate Near\nSyncState *\n",
				host, port, user, demo.Password, dir)
			if err := os.WriteFile(rc, []byte(cfg), 0o600); err != nil {
				return 0, 0, err
			}
			fmt.Fprintf(&mbsync, "mbsync -c %s -q a\n", rc)
		} else {
			cfg := fmt.Sprintf("defaults\n\naccount a\nhost %s\nport %s\ntls off\nauth user\nuser %s\npassword %s\ndelivery maildir %s\nkeep on\nonly_new on\nreceived_header off\nuidls_file %s\n\naccount default : a\n",
				host, port, user, demo.Password, dir, dir+".uidls")
			if err := os.WriteFile(rc, []byte(cfg), 0o600); err != nil {
				return 0, 0, err
			}
			fmt.Fprintf(&mpop, "mpop -C %s -q a\n", rc)
		}
	}
	run := func(script string) (float64, error) {
		start := time.Now()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
		cmd.Env = append(os.Environ(), "HOME="+work)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("peer loop: %w: %s", err, out)
		}
		return time.Since(start).Seconds(), nil
	}
	imapSecs, err := run(mbsync.String())
	if err != nil {
		return 0, 0, err
	}
	popSecs, err := run(mpop.String())
	if err != nil {
		return 0, 0, err
	}
	for _, d := range dirs {
		n := 0
		for _, sub := range []string{"new", "cur"} {
			es, _ := os.ReadDir(filepath.Join(d, sub))
			n += len(es)
		}
		if n != nTotal(srv, filepath.Base(d), nMsgs) {
			return 0, 0, fmt.Errorf("peer stored %d messages for %s, want %d", n, filepath.Base(d), nMsgs)
		}
	}
	fmt.Printf("  mbsync loop: %.2f s, mpop loop: %.2f s\n", imapSecs, popSecs)
	return imapSecs, popSecs, nil
}

func nTotal(srv *demo.Servers, id string, def int) int {
	if n := len(srv.Sent(id)); n > 0 {
		return n
	}
	return def
}

// idleCost measures a fleet of n accounts with nothing new: after an
// initial sync, every account is synced every interval for window, and
// the worker's and PostgreSQL's CPU time and the worker's memory are read
// from /proc.
func idleCost(ctx context.Context, base, work string, n int, window, interval time.Duration, perProc int) error {
	srv, err := imaptest.NewServer(nil)
	if err != nil {
		return err
	}
	defer srv.Close()
	var accounts []fleet.Account
	for i := range n {
		id := fmt.Sprintf("idle-%04d", i)
		if err := srv.AddUser(imaptest.User{Name: id, Password: demo.Password, Messages: [][]byte{demo.Message(id, 0, 2000), demo.Message(id, 1, 2000)}}); err != nil {
			return err
		}
		cfg := srv.Config(id, "")
		accounts = append(accounts, fleet.Account{ID: id, URL: cfg.URL(), Credential: "env:" + demo.PasswordEnv, Interval: interval})
	}
	dsn, err := schema(base, "fleetbench_idle")
	if err != nil {
		return err
	}
	store := "maildir://" + filepath.Join(work, "idle")
	f, closeDB, err := openFleet(ctx, dsn, store)
	if err != nil {
		return err
	}
	defer closeDB()
	for _, a := range accounts {
		if err := f.Add(ctx, a); err != nil {
			return err
		}
	}
	ps, err := startWorkers(1, dsn, store, perProc, work)
	if err != nil {
		return err
	}
	defer ps.stop()
	if err := waitSynced(ctx, f, n, 1, 15*time.Minute); err != nil {
		return err
	}
	syncs := func() int64 {
		list, _ := f.List(ctx)
		var t int64
		for _, s := range list {
			t += s.Syncs
		}
		return t
	}
	pid := ps[0].Process.Pid
	s0, w0, p0 := syncs(), cpuOf(pid), postgresCPU()
	time.Sleep(window)
	s1, w1, p1 := syncs(), cpuOf(pid), postgresCPU()
	rss, hwm := memOf(pid)
	done := s1 - s0
	if done == 0 {
		return fmt.Errorf("idle: no sync ran in %s", window)
	}
	workerPer1000 := (w1 - w0) / float64(done) * 1000
	pgPer1000 := (p1 - p0) / float64(done) * 1000
	fmt.Printf("\nIdle fleet: %d accounts, nothing new, synced every %s, measured for %s: %d no-op syncs.\n", n, interval, window, done)
	fmt.Println("| per 1,000 no-op account syncs | worker CPU s | PostgreSQL CPU s | worker RSS MiB (peak) |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| | %.2f | %.2f | %.1f (%.1f) |\n", workerPer1000, pgPer1000, rss/1024, hwm/1024)
	fmt.Printf("At a 5-minute interval 1,000 idle accounts cost %.1f%% of one core (worker) + %.1f%% (PostgreSQL).\n",
		workerPer1000/300*100, pgPer1000/300*100)
	return nil
}

// cpuOf returns a process's user+system CPU seconds.
func cpuOf(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	fs := strings.Fields(s[i+2:])
	if len(fs) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(fs[11], 64)
	k, _ := strconv.ParseFloat(fs[12], 64)
	return (u + k) / 100 // USER_HZ
}

// postgresCPU sums the CPU seconds of every postgres process.
func postgresCPU() float64 {
	ents, _ := os.ReadDir("/proc")
	var t float64
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.HasPrefix(string(comm), "postgres") {
			t += cpuOf(pid)
		}
	}
	return t
}

// memOf returns a process's resident and peak resident memory in KiB.
func memOf(pid int) (rss, hwm float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		fs := strings.Fields(line)
		if len(fs) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(fs[1], 64)
		switch fs[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			hwm = v
		}
	}
	return rss, hwm
}
