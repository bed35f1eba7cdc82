// Command mailfleet syncs many mail accounts on one or many machines: an
// account registry, state and leases in SQL (SQLite embedded, or
// PostgreSQL), jobs on River, mail in object storage or local files.
//
// With no arguments it demonstrates itself: it starts in-process IMAP and
// POP3 servers with a few accounts, keeps its registry in
// ./mailfleet-data/fleet.db (SQLite) and the mail in
// ./mailfleet-data/mail (local files), syncs every account with progress
// bars, prints the registry's status, and goes on syncing new mail as it
// arrives until Ctrl-C:
//
//	go run ./cmd/mailfleet                                  # the demo, nothing to install
//	go run ./cmd/mailfleet -db postgres://user@host/fleet   # the demo on PostgreSQL
//
// For real accounts:
//
//	export ACME_PASSWORD=…
//	mailfleet -db postgres://fleet@db/fleet -store s3://archive?region=eu-west-1 \
//	    add -id acme -url imaps://support@imap.acme.example -credential env:ACME_PASSWORD
//	mailfleet -db postgres://fleet@db/fleet -store s3://archive?region=eu-west-1 run -workers 20 -metrics :9464
//	mailfleet -db postgres://fleet@db/fleet list
//	mailfleet -db postgres://fleet@db/fleet status acme
//	mailfleet -db postgres://fleet@db/fleet remove acme
//
// Run as many "run" processes as wanted, on as many machines: they share
// the accounts through the database, one worker per account at a time.
//
// Global flags (before the command): -db (default
// sqlite:./mailfleet-data/fleet.db, or $MAILFLEET_DB), -store (default
// file://…/mailfleet-data/mail, or $MAILFLEET_STORE; maildir:///path for a
// Maildir per account), -v (debug logs).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	_ "gocloud.dev/blob/azureblob" // azblob://
	_ "gocloud.dev/blob/gcsblob"   // gs://
	_ "gocloud.dev/blob/s3blob"    // s3://

	"github.com/mailaccess/go-mailaccess/fleet"
	"github.com/mailaccess/go-mailaccess/fleet/internal/demo"
	"github.com/mailaccess/go-mailaccess/fleet/sqlstate"
	_ "github.com/mailaccess/go-mailaccess/imap"
	_ "github.com/mailaccess/go-mailaccess/pop3"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env holds what every command needs.
type env struct {
	stdout, stderr io.Writer
	dsn, store     string
	log            *slog.Logger
	level          *slog.LevelVar
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mailfleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := "mailfleet-data"
	dsn := fs.String("db", envOr("MAILFLEET_DB", ""), "database: postgres://… or sqlite:PATH (default sqlite:./mailfleet-data/fleet.db)")
	store := fs.String("store", envOr("MAILFLEET_STORE", ""), "where mail goes: a bucket URL (file://, s3://, gs://, azblob://, mem://) or maildir:///path (default file://./mailfleet-data/mail)")
	verbose := fs.Bool("v", false, "debug logs")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mailfleet [-db URL] [-store URL] [-v] [demo|add|remove|list|status|run] [flags]")
		fmt.Fprintln(stderr, "With no command, runs the demo on in-process servers.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	e := &env{stdout: stdout, stderr: stderr, dsn: *dsn, store: *store, level: new(slog.LevelVar)}
	if e.dsn == "" || e.store == "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			fmt.Fprintf(stderr, "mailfleet: %v\n", err)
			return 1
		}
		abs, _ := filepath.Abs(dataDir)
		if e.dsn == "" {
			e.dsn = "sqlite:" + filepath.Join(abs, "fleet.db")
		}
		if e.store == "" {
			e.store = "file://" + filepath.ToSlash(filepath.Join(abs, "mail"))
		}
	}
	if *verbose {
		e.level.Set(slog.LevelDebug)
	}
	e.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: e.level}))
	cmd, rest := "demo", []string(nil)
	if fs.NArg() > 0 {
		cmd, rest = fs.Arg(0), fs.Args()[1:]
	}
	var err error
	switch cmd {
	case "demo":
		err = e.demo(ctx, rest)
	case "add":
		err = e.add(ctx, rest)
	case "remove":
		err = e.remove(ctx, rest)
	case "list":
		err = e.list(ctx, rest)
	case "status":
		err = e.status(ctx, rest)
	case "run":
		err = e.runWorkers(ctx, rest)
	default:
		fmt.Fprintf(stderr, "mailfleet: unknown command %q\n", cmd)
		fs.Usage()
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailfleet %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// open opens the database, the state store and the fleet.
func (e *env) open(ctx context.Context, o fleet.Options) (*fleet.Fleet, func(), error) {
	db, dialect, err := sqlstate.OpenDB(ctx, e.dsn)
	if err != nil {
		return nil, nil, err
	}
	if dialect == sqlstate.SQLite {
		// SQLite serialises writers; one connection per process keeps
		// River's and the fleet's transactions from tripping over each
		// other (River's SQLite driver asks for it).
		db.SetMaxOpenConns(1)
	}
	st, err := sqlstate.New(ctx, db, &sqlstate.Options{Dialect: dialect, Logger: e.log})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	o.Store = e.store
	if o.Logger == nil {
		o.Logger = e.log
	}
	f, err := fleet.New(ctx, st, &o)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return f, func() { db.Close() }, nil
}

func (e *env) add(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("add", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var a fleet.Account
	var folders string
	fs.StringVar(&a.ID, "id", "", "account ID (letters, digits, . _ -)")
	fs.StringVar(&a.URL, "url", "", "source URL without password, e.g. imaps://me@imap.example.com")
	fs.StringVar(&a.Credential, "credential", "", "where the secret comes from: env:VAR, token-env:VAR, cmd:COMMAND, token-cmd:COMMAND")
	fs.StringVar(&folders, "folders", "", "comma-separated folders or patterns (default INBOX)")
	fs.StringVar(&a.Retention, "retention", "", "POP3 retention: never, after-download, after=720h")
	fs.DurationVar(&a.Interval, "interval", fleet.DefaultInterval, "how often to sync")
	fs.BoolVar(&a.Disabled, "disabled", false, "register without syncing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if folders != "" {
		a.Folders = strings.Split(folders, ",")
	}
	f, closeDB, err := e.open(ctx, fleet.Options{})
	if err != nil {
		return err
	}
	defer closeDB()
	if err := f.Add(ctx, a); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added %s\n", a.ID)
	return nil
}

func (e *env) remove(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("want one account ID")
	}
	f, closeDB, err := e.open(ctx, fleet.Options{})
	if err != nil {
		return err
	}
	defer closeDB()
	if err := f.Remove(ctx, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "removed %s (its stored mail is kept)\n", args[0])
	return nil
}

func (e *env) list(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	asJSON := fs.Bool("json", false, "JSON output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, closeDB, err := e.open(ctx, fleet.Options{})
	if err != nil {
		return err
	}
	defer closeDB()
	list, err := f.List(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	printTable(e.stdout, list)
	return nil
}

func (e *env) status(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return e.list(ctx, nil)
	}
	f, closeDB, err := e.open(ctx, fleet.Options{})
	if err != nil {
		return err
	}
	defer closeDB()
	for _, id := range args {
		s, err := f.Get(ctx, id)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			return err
		}
	}
	return nil
}

// printTable prints the registry as a table.
func printTable(w io.Writer, list []fleet.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tSOURCE\tMESSAGES\tBYTES\tBACKLOG\tLAST SUCCESS\tNEXT DUE\tLAST ERROR")
	for _, s := range list {
		last := "never"
		if !s.LastSuccess.IsZero() {
			last = s.LastSuccess.Local().Format("15:04:05")
		}
		state := s.NextDue.Local().Format("15:04:05")
		if s.Holder != "" {
			state = "syncing"
		}
		if s.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", s.ID, s.URL, s.Messages, s.Bytes, s.Backlog, last, state, oneLine(s.LastError, 60))
	}
	tw.Flush()
}

func oneLine(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// runWorkers is the production worker: run until SIGTERM or Ctrl-C.
func (e *env) runWorkers(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	workers := fs.Int("workers", 10, "accounts this process syncs at once")
	metrics := fs.String("metrics", "", "serve Prometheus metrics on this address (e.g. :9464)")
	hostLimit := fs.Int("host-limit", 8, "accounts of one server host the whole fleet syncs at once (0: no limit)")
	leaseTTL := fs.Duration("lease", time.Minute, "account lease TTL: a dead worker's accounts are taken over after it")
	maxSync := fs.Duration("max-sync", 10*time.Minute, "longest single sync of one account (longer ones continue in the next job)")
	bars := fs.Bool("progress", isTerminal(e.stderr), "progress bars (default on a terminal)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o := fleet.Options{HostLimit: func(string) int { return *hostLimit }, LeaseTTL: *leaseTTL, MaxSyncTime: *maxSync}
	return e.serve(ctx, o, *workers, *metrics, *bars, nil)
}

// serve runs the fleet's workers with metrics and progress bars until ctx
// ends.
func (e *env) serve(ctx context.Context, o fleet.Options, workers int, metricsAddr string, bars bool, ready func(f *fleet.Fleet)) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	o.Registerer = reg
	var p *progress
	if bars {
		p = newProgress(e.stderr)
		defer p.wait()
		o.Hooks = p.hooks()
		e.level.Set(max(e.level.Level(), slog.LevelWarn)) // logs would scroll the bars away
	}
	f, closeDB, err := e.open(ctx, o)
	if err != nil {
		return err
	}
	defer closeDB()
	if metricsAddr != "" {
		ln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(ln)
		defer hs.Close()
		e.log.Info("mailfleet: metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	}
	return f.Run(ctx, e.dsn, &fleet.RunOptions{Workers: workers, Ready: func() {
		if ready != nil {
			ready(f)
		}
	}})
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// demo starts in-process servers, registers their accounts and runs the
// fleet on them until ctx ends (or, with -once, until every account was
// synced once).
func (e *env) demo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	nIMAP := fs.Int("imap", 3, "IMAP accounts")
	nPOP3 := fs.Int("pop3", 3, "POP3 accounts")
	msgs := fs.Int("messages", 200, "messages per account")
	once := fs.Bool("once", false, "exit once every account was synced")
	metrics := fs.String("metrics", "", "serve Prometheus metrics on this address (e.g. :9464)")
	bars := fs.Bool("progress", isTerminal(e.stderr), "progress bars (default on a terminal)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := demo.Start(demo.Options{IMAP: *nIMAP, POP3: *nPOP3, Messages: *msgs})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(e.stdout, "mailfleet demo: %d IMAP and %d POP3 accounts on in-process servers\n  registry and state: %s\n  mail: %s\n",
		*nIMAP, *nPOP3, redact(e.dsn), e.store)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o := fleet.Options{
		Credentials: srv.Credentials, // the demo's passwords come from the program
		LeaseTTL:    15 * time.Second,
		MaxSyncTime: 2 * time.Minute,
	}
	return e.serve(ctx, o, 6, *metrics, *bars, func(f *fleet.Fleet) {
		for _, a := range srv.Accounts() {
			a.Credential = "callback"
			a.Interval = 10 * time.Second
			if err := f.Add(ctx, a); err != nil {
				e.log.Error("mailfleet demo: add", "account", a.ID, "err", err)
				cancel()
				return
			}
		}
		go e.watchDemo(ctx, f, srv, *once, cancel)
	})
}

// watchDemo prints the registry once every account was synced, then
// delivers new mail now and then; with once it stops the demo instead.
func (e *env) watchDemo(ctx context.Context, f *fleet.Fleet, srv *demo.Servers, once bool, stop func()) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	printed := false
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		list, err := f.List(ctx)
		if err != nil || len(list) == 0 {
			continue
		}
		if printed {
			if n%25 == 0 { // every 5 s, mail arrives somewhere
				srv.Deliver(list[n/25%len(list)].ID, 3)
			}
			continue
		}
		all := true
		for _, s := range list {
			if s.LastSuccess.IsZero() {
				all = false
			}
		}
		if !all {
			continue
		}
		printed = true
		fmt.Fprintln(e.stdout)
		printTable(e.stdout, list)
		if once {
			stop()
			return
		}
		fmt.Fprintln(e.stdout, "\nNew mail arrives every few seconds and is synced as accounts fall due; Ctrl-C stops.")
		fmt.Fprintln(e.stdout, "In another terminal: go run ./cmd/mailfleet list")
	}
}

// redact hides a database URL's password.
func redact(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.Index(dsn[i+3:], "@"); at >= 0 {
			userinfo := dsn[i+3 : i+3+at]
			if u, _, ok := strings.Cut(userinfo, ":"); ok {
				return dsn[:i+3] + u + ":xxxxx" + dsn[i+3+at:]
			}
		}
	}
	return dsn
}
