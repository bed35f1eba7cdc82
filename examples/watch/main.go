// Command watch prints the changes of one mailbox folder as they happen,
// whatever the protocol: IMAP pushes them with IDLE, POP3 and IMAP servers
// without IDLE are polled, and the program shows which of the two it got.
//
// Usage:
//
//	MAILWATCH_PASSWORD=secret watch -url imaps://alice@imap.example.org/INBOX
//	MAILWATCH_PASSWORD=secret watch -url pop3s://alice@pop.example.org -poll 30s
//	watch -url maildir:///home/alice/Mail
//
// The password comes from the MAILWATCH_PASSWORD environment variable,
// never from a flag (flags show in ps and shell history). Flags:
//
//	-url URL      the mailbox (imap://, imaps://, pop3://, pop3s://, maildir://, mem://)
//	-folder NAME  the folder to watch (default: the URL's folder, else INBOX)
//	-poll D       how often to poll when the server cannot push (default 1m)
//	-ca FILE      trust the extra CA certificates in this PEM file
//	-insecure     allow plaintext authentication on an unencrypted connection
//
// The first line says whether changes are pushed or polled; then each event
// is one line — its kind, folder, the message IDs it names, the folder's
// message count and whether it was pushed — and, for new mail, one more line
// per message with its decoded From and Subject, read with FetchHeader
// (IMAP and POP3 fetch only the header, not the body):
//
//	watching INBOX at imaps://alice@imap.example.org/INBOX: push (IDLE)
//	new INBOX ids=[4812] count=37 push
//	  4812: From: Zoë Martin <zoe@example.org> Subject: Réunion de jeudi
//
// Ctrl-C (SIGINT or SIGTERM) stops it; it exits 0 then, 1 on an error (such
// as a connection that could not be restored), 2 on bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	_ "github.com/mailaccess/go-mailaccess/imap" // imap://, imaps://
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	_ "github.com/mailaccess/go-mailaccess/mailaccess/maildir" // maildir://
	_ "github.com/mailaccess/go-mailaccess/pop3"               // pop3://, pop3s://
)

// passwordEnv names the environment variable the password is read from.
const passwordEnv = "MAILWATCH_PASSWORD"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole program: it parses args, reads the password through env,
// writes events to stdout and errors to stderr, and returns the exit status.
// It returns when ctx is cancelled (status 0) or the watch fails.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rawURL := fs.String("url", "", "mailbox `URL`, e.g. imaps://user@host/INBOX (password from $"+passwordEnv+")")
	folder := fs.String("folder", "", "`folder` to watch (default: the URL's folder, else INBOX)")
	poll := fs.Duration("poll", time.Minute, "poll `interval` when the server cannot push")
	caFile := fs.String("ca", "", "PEM `file` of extra CA certificates to trust")
	insecure := fs.Bool("insecure", false, "allow plaintext authentication on an unencrypted connection")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: watch -url URL [-folder NAME] [-poll D] [-ca FILE] [-insecure]\n"+
			"Prints one line per change of a mailbox folder until Ctrl-C. Password from $%s.\n", passwordEnv)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *rawURL == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "watch: -url is required and no arguments are taken")
		fs.Usage()
		return 2
	}
	if *poll <= 0 {
		fmt.Fprintln(stderr, "watch: -poll must be positive")
		return 2
	}
	cfg, err := mailaccess.ParseURL(*rawURL)
	if err != nil {
		fmt.Fprintln(stderr, "watch:", err)
		return 2
	}
	if pw := env(passwordEnv); pw != "" {
		cfg.Password = mailaccess.Secret(pw)
	}
	if *caFile != "" {
		cfg.CAFile = *caFile
	}
	if *insecure && driver.NewConfig(cfg).EffectiveTLS() != mailaccess.TLSImplicit {
		// imaps:// and pop3s:// are encrypted from the start: nothing to allow.
		cfg.TLS = mailaccess.TLSInsecurePlaintext
	}
	name := *folder
	if name == "" {
		name = driver.NewConfig(cfg).DefaultFolder()
	}

	mb, err := mailaccess.Open(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "watch:", err)
		return 1
	}
	defer mb.Close()

	mode := "poll every " + poll.String()
	if mb.Capabilities().Has(mailaccess.CapPush) {
		mode = "push (IDLE)"
	}
	fmt.Fprintf(stdout, "watching %s at %s: %s\n", name, cfg.URL(), mode)

	for ev, err := range mb.Watch(ctx, name, &mailaccess.WatchOptions{PollInterval: *poll}) {
		if err != nil {
			if ctx.Err() != nil {
				return 0 // Ctrl-C
			}
			fmt.Fprintln(stderr, "watch:", err)
			return 1
		}
		fmt.Fprintln(stdout, formatEvent(ev))
		if ev.Kind == mailaccess.EventNew {
			for _, id := range ev.IDs {
				fmt.Fprintln(stdout, describe(ctx, mb, ev.Folder, id))
			}
		}
	}
	return 0
}

// formatEvent renders an event as "KIND FOLDER ids=[...] count=N push|poll".
func formatEvent(ev mailaccess.Event) string {
	var b strings.Builder
	b.WriteString(ev.Kind.String())
	b.WriteString(" ")
	b.WriteString(ev.Folder)
	if len(ev.IDs) > 0 {
		ids := make([]string, len(ev.IDs))
		for i, id := range ev.IDs {
			ids[i] = string(id)
		}
		fmt.Fprintf(&b, " ids=[%s]", strings.Join(ids, " "))
	}
	if ev.Count > 0 || ev.Kind == mailaccess.EventExpunge {
		fmt.Fprintf(&b, " count=%d", ev.Count)
	}
	if ev.Push {
		b.WriteString(" push")
	} else {
		b.WriteString(" poll")
	}
	return b.String()
}

// describe returns "  ID: From: ... Subject: ..." for a new message, read
// through FetchHeader, or the reason it could not be read (the message may
// already be gone again).
func describe(ctx context.Context, mb mailaccess.Mailbox, folder string, id mailaccess.ID) string {
	h, err := mb.FetchHeader(ctx, folder, id)
	if err != nil {
		return fmt.Sprintf("  %s: (header unavailable: %v)", id, err)
	}
	from := make([]string, 0, 1)
	for _, a := range h.From() {
		if a.Name != "" {
			from = append(from, a.Name+" <"+a.Addr+">") // decoded, unlike Address.String
		} else {
			from = append(from, a.Addr)
		}
	}
	return fmt.Sprintf("  %s: From: %s Subject: %s", id, oneLine(strings.Join(from, ", ")), oneLine(h.Subject()))
}

// oneLine keeps a header value on one output line: control characters
// (a decoded encoded-word may hold CR or LF) become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
