// Command mailsync copies a mail account into a local Maildir tree, the job
// of mbsync, getmail or fetchmail, through go-mailaccess: the same command
// works for POP3, IMAP and Maildir sources, only the URL changes.
//
// Usage:
//
//	export MAILSYNC_PASSWORD=secret
//	mailsync -from imaps://alice@imap.example.org -to ~/Mail
//	mailsync -from imaps://alice@imap.example.org -to ~/Mail -folders '*'
//	mailsync -from pop3s://alice@pop.example.org -to ~/Mail -delete after-download
//	mailsync -from pop3://alice@localhost -to ~/Mail -ca dovecot-ca.pem
//	mailsync -config account.json -to ~/Mail -watch
//
// The password is read from the MAILSYNC_PASSWORD environment variable, or
// from the "password" field of the -config file; it is never a flag (flags
// show in ps and in shell history) and never printed.
//
// Flags:
//
//	-from URL        source mailbox: pop3://, pop3s://, imap://, imaps://, maildir://
//	                 (the path of an imap:// URL names the default folder)
//	-to DIR          destination Maildir root (created if missing)
//	-config FILE     a JSON mailaccess.Config (scheme, host, port, user, password,
//	                 tls, ca_file, ...); -from and the other flags override it
//	-folders LIST    folders to copy, comma-separated; "*" matches any run of
//	                 characters, so "*" alone is every folder (default INBOX)
//	-delete POLICY   what happens on the source once a message is stored:
//	                 never (default), after-download, or after=DURATION (e.g. after=720h)
//	-ca FILE         trust the extra CA certificates in this PEM file
//	-insecure        allow plaintext authentication on an unencrypted connection
//	-watch           keep running and sync again as mail arrives (IMAP IDLE, or polling)
//	-poll D          with -watch, how often to poll a source that cannot push
//	                 (default 1m); a safety pass also runs every D with push,
//	                 every 5×D without
//	-debounce D      with -watch, wait D after the last change before a pass (default 1s)
//	-json            print the final report as JSON on standard output
//	-v               log what happens to standard error
//	-trace FILE      write the protocol exchange, credentials redacted, to FILE
//
// # What it does
//
// Each source folder becomes a Maildir++ folder under DIR: INBOX is DIR
// itself (DIR/cur, DIR/new, DIR/tmp) and a folder "Archive/2024" becomes
// DIR/.Archive.2024, the layout Dovecot, Courier, mutt and mbsync read. Each
// message file holds the message's bytes exactly as the server sent them.
// The sync is incremental: its state is kept in DIR/mailaccess-sync/, so a
// second run transfers only what is new, and two runs on the same DIR at
// once are refused.
//
// A message is deleted from the source (with -delete) only after its file
// and directory are fsynced and the sync state that records it is
// committed. Ctrl-C (SIGINT or SIGTERM) stops at once and leaves DIR
// consistent: the next run resumes where this one stopped.
//
// On a terminal, a progress bar on standard error shows the folder, the
// messages and megabytes done and the rate; otherwise a progress line is
// written every few seconds, plus one line per completed folder. A one-line
// summary ends the run (on standard error with -json). With -watch, each
// later pass that changed something prints its own summary (or JSON line).
//
// # Exit status
//
// 0 when everything was copied; 1 on any error, with a one-line message
// (including messages that could not be stored this time: run again to
// retry them); 2 for bad flags; 130 when interrupted.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

// passwordEnv names the environment variable the password is read from.
const passwordEnv = "MAILSYNC_PASSWORD"

// Exit statuses.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// options are the parsed command line.
type options struct {
	from, to, configFile string
	folders              []string
	retention            mailsync.Retention
	caFile               string
	insecure             bool
	watch                bool
	poll                 time.Duration
	debounce             time.Duration
	json                 bool
	verbose              bool
	traceFile            string
}

// parseFlags parses args; it returns an error already reported to stderr
// (with the usage) when they are wrong.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("mailsync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.from, "from", "", "source mailbox `URL` (pop3://, pop3s://, imap://, imaps://, maildir://); password from $"+passwordEnv)
	fs.StringVar(&o.to, "to", "", "destination Maildir `dir`ectory")
	fs.StringVar(&o.configFile, "config", "", "JSON mailaccess.Config `file` (flags override it)")
	folders := fs.String("folders", "", "comma-separated folder `patterns` to copy, \"*\" for all (default: the URL's folder, else INBOX)")
	del := fs.String("delete", "never", "`policy` for deleting from the source once stored: never, after-download or after=DURATION")
	fs.StringVar(&o.caFile, "ca", "", "PEM `file` of extra CA certificates to trust")
	fs.BoolVar(&o.insecure, "insecure", false, "allow plaintext authentication on an unencrypted connection")
	fs.BoolVar(&o.watch, "watch", false, "keep running and sync again as mail arrives")
	fs.DurationVar(&o.poll, "poll", time.Minute, "with -watch, poll `interval` for sources that cannot push (a safety pass runs every interval with push, 5× without)")
	fs.DurationVar(&o.debounce, "debounce", time.Second, "with -watch, wait this `duration` after the last change before syncing")
	fs.BoolVar(&o.json, "json", false, "print the final report as JSON on standard output")
	fs.BoolVar(&o.verbose, "v", false, "log to standard error")
	fs.StringVar(&o.traceFile, "trace", "", "write the protocol exchange (credentials redacted) to `file`")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mailsync -from URL -to DIR [flags]\n"+
			"       mailsync -config FILE -to DIR [flags]\n"+
			"Copies a mailbox into a Maildir tree; run again to copy only what is new.\n"+
			"The password is read from $%s (or the config file).\n\nFlags:\n", passwordEnv)
		fs.PrintDefaults()
	}
	usage := func(format string, a ...any) (*options, error) {
		err := fmt.Errorf(format, a...)
		fmt.Fprintln(stderr, "mailsync:", err)
		fs.Usage()
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, err // flag printed the error and the usage
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	if o.from == "" && o.configFile == "" {
		return usage("-from URL (or -config FILE) is required")
	}
	if o.to == "" {
		return usage("-to DIR is required")
	}
	r, err := mailsync.ParseRetention(*del)
	if err != nil {
		return usage("-delete: %v", err)
	}
	o.retention = r
	for _, f := range strings.Split(*folders, ",") {
		if f = strings.TrimSpace(f); f != "" {
			o.folders = append(o.folders, f)
		}
	}
	if *folders != "" && len(o.folders) == 0 {
		return usage("-folders %q names no folder", *folders)
	}
	if o.poll <= 0 || o.debounce < 0 {
		return usage("-poll must be positive and -debounce not negative")
	}
	return o, nil
}

// run is the whole program: it parses args, reads the password through
// env, writes the report to stdout and progress, logs and errors to stderr,
// and returns the exit status. Cancelling ctx is Ctrl-C.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	cfg, err := o.config(env)
	if err != nil {
		fmt.Fprintln(stderr, "mailsync:", err)
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "mailsync:", describeError(err, cfg))
		return exitError
	}

	var logger *slog.Logger
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg.Logger = logger
	}
	if o.traceFile != "" {
		f, err := os.Create(o.traceFile)
		if err != nil {
			return fail(fmt.Errorf("trace: %w", err))
		}
		defer f.Close()
		cfg.Trace = f
	}

	dst, err := maildir.Open(o.to, &maildir.Options{Logger: logger})
	if err != nil {
		return fail(err)
	}
	defer dst.Close()

	src, err := mailaccess.Open(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "mailsync: interrupted before anything was copied")
			return exitInterrupted
		}
		return fail(err)
	}
	defer src.Close()

	folders := o.folders
	if len(folders) == 0 {
		folders = []string{driver.NewConfig(cfg).DefaultFolder()}
	}
	prog := newProgress(stderr, isTerminal(stderr), time.Now)
	opts := &mailsync.Options{
		Folders:   folders,
		Account:   account(cfg),
		Retention: o.retention,
		Progress:  prog.update,
		Logger:    logger,
	}
	syncer, err := mailsync.New(src, dst, opts)
	if err != nil {
		return fail(err)
	}

	s := &session{o: o, cfg: cfg, src: src, syncer: syncer, prog: prog, stdout: stdout, stderr: stderr,
		fresh: func(ctx context.Context) (mailaccess.Sync, func() error, error) {
			mb, err := mailaccess.Open(ctx, cfg)
			if err != nil {
				return nil, nil, err
			}
			sy, err := mailsync.New(mb, dst, opts)
			if err != nil {
				mb.Close()
				return nil, nil, err
			}
			return sy, mb.Close, nil
		}}
	return s.loop(ctx)
}

// config builds the source configuration: the -config file, then the -from
// URL over it, then the password from the environment, -ca and -insecure.
func (o *options) config(env func(string) string) (mailaccess.Config, error) {
	var cfg mailaccess.Config
	if o.configFile != "" {
		b, err := os.ReadFile(o.configFile)
		if err != nil {
			return cfg, fmt.Errorf("-config: %w", err)
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			// json errors quote at most a type or field name, never a value.
			return cfg, fmt.Errorf("-config %s: %w", o.configFile, err)
		}
	}
	if o.from != "" {
		u, err := mailaccess.ParseURL(o.from)
		if err != nil {
			return cfg, fmt.Errorf("-from: %w", err)
		}
		cfg = overlay(cfg, u)
	}
	if pw := env(passwordEnv); pw != "" {
		cfg.Password = mailaccess.Secret(pw)
	}
	if o.caFile != "" {
		cfg.CAFile = o.caFile
	}
	if o.insecure && driver.NewConfig(cfg).EffectiveTLS() != mailaccess.TLSImplicit {
		// imaps:// and pop3s:// are encrypted from the first byte: there
		// is no plaintext to allow, and the flag is harmless there.
		cfg.TLS = mailaccess.TLSInsecurePlaintext
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	if driver.NewConfig(cfg).IsNetwork() && cfg.Password == "" && cfg.Token == nil {
		return cfg, fmt.Errorf("no password: set $%s (or \"password\" in the -config file)", passwordEnv)
	}
	return cfg, nil
}

// overlay returns base with every field set in u replacing base's.
// Switching scheme with the URL starts from the URL's connection settings:
// a pop3s:// URL over an imap config does not keep the IMAP port.
func overlay(base, u mailaccess.Config) mailaccess.Config {
	if u.Scheme != base.Scheme {
		base.Port, base.TLS, base.Folder, base.Path = 0, "", "", ""
	}
	base.Scheme = u.Scheme
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&base.Host, u.Host)
	set(&base.User, u.User)
	set(&base.Auth, u.Auth)
	set(&base.CAFile, u.CAFile)
	set(&base.Path, u.Path)
	set(&base.Folder, u.Folder)
	if u.Port != 0 {
		base.Port = u.Port
	}
	if u.TLS != "" {
		base.TLS = u.TLS
	}
	if u.Password != "" {
		base.Password = u.Password
	}
	if u.DialTimeout != 0 {
		base.DialTimeout = u.DialTimeout
	}
	if u.CommandTimeout != 0 {
		base.CommandTimeout = u.CommandTimeout
	}
	if u.MaxConns != 0 {
		base.MaxConns = u.MaxConns
	}
	if u.Require != 0 {
		base.Require = u.Require
	}
	for k, v := range u.Options {
		if base.Options == nil {
			base.Options = map[string]string{}
		}
		base.Options[k] = v
	}
	return base
}

// account names the source in the sync state: protocol, user and server
// (or path), so several accounts can share one Maildir and switching
// between pop3:// and pop3s:// (or a port) keeps the state.
func account(cfg mailaccess.Config) string {
	where := cfg.Host
	if !driver.NewConfig(cfg).IsNetwork() {
		where = cfg.Path
	}
	return driver.NewConfig(cfg).Protocol() + ":" + cfg.User + "@" + where
}

// describeError turns an error into the one-line message printed, with a
// hint for the common cases. The password never appears: drivers do not
// put it in errors, and as a second line of defence any occurrence of it is
// replaced.
func describeError(err error, cfg mailaccess.Config) string {
	msg := err.Error()
	switch {
	case errors.Is(err, mailaccess.ErrAuth):
		msg += " (check the user name and $" + passwordEnv + ")"
	case errors.Is(err, mailaccess.ErrInsecure):
		msg += " (-insecure allows it)"
	case errors.Is(err, mailaccess.ErrLocked):
		msg += " (another program is using the mailbox; try again later)"
	}
	if pw := string(cfg.Password); len(pw) >= 3 {
		msg = strings.ReplaceAll(msg, pw, "REDACTED")
	}
	// errors.Join puts one error per line: show the first, count the rest.
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	msg = strings.Join(strings.Fields(lines[0]), " ")
	if len(lines) > 1 {
		msg += fmt.Sprintf(" (and %d more errors; -v shows them)", len(lines)-1)
	}
	return msg
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
