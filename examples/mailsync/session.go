package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// session runs the sync once, or again and again with -watch.
type session struct {
	o      *options
	cfg    mailaccess.Config
	src    mailaccess.Mailbox
	syncer mailaccess.Sync
	// fresh returns a Sync over a new connection to the source, and its
	// closer; -watch uses it for passes over a source that pushes.
	fresh  func(ctx context.Context) (mailaccess.Sync, func() error, error)
	prog   *progress
	stdout io.Writer
	stderr io.Writer
}

// once runs one sync pass with the progress display around it.
func (s *session) once(ctx context.Context) (*mailaccess.SyncReport, error) {
	return s.pass(ctx, s.syncer)
}

func (s *session) pass(ctx context.Context, sy mailaccess.Sync) (*mailaccess.SyncReport, error) {
	s.prog.begin()
	rep, err := sy.Run(ctx)
	s.prog.end()
	return rep, err
}

// again runs a later pass of -watch. Over a source that pushes (IMAP), the
// long-lived Mailbox keeps its IDLE connection, and each pass logs in
// afresh, as separate runs would, so it sees the server's current state
// whatever the sessions of the long-lived Mailbox have cached. Over a
// polled source (POP3, Maildir) the same Mailbox is used: POP3 allows one
// session per maildrop, and its Watch ends the session at every poll, so
// the next pass logs in again anyway.
func (s *session) again(ctx context.Context) (*mailaccess.SyncReport, error) {
	if !s.src.Capabilities().Has(mailaccess.CapPush) || s.fresh == nil {
		return s.once(ctx)
	}
	sy, closeSrc, err := s.fresh(ctx)
	if err != nil {
		return nil, err
	}
	defer closeSrc()
	return s.pass(ctx, sy)
}

// loop runs the first pass and, with -watch, the following ones; it
// returns the exit status.
func (s *session) loop(ctx context.Context) int {
	rep, err := s.once(ctx)
	if !s.o.watch || err != nil || ctx.Err() != nil || reportErrors(rep) > 0 {
		return s.finish(ctx, rep, err)
	}
	s.summary(rep)
	return s.watch(ctx, rep)
}

// finish prints the report of the last pass and the error, if any, and
// returns the exit status.
func (s *session) finish(ctx context.Context, rep *mailaccess.SyncReport, err error) int {
	if rep != nil {
		s.summary(rep)
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(s.stderr, "mailsync: interrupted; %s is consistent and the next run resumes where this one stopped\n", s.o.to)
		return exitInterrupted
	case err != nil:
		s.details(strings.Split(err.Error(), "\n"))
		fmt.Fprintln(s.stderr, "mailsync:", describeError(err, s.cfg))
		return exitError
	}
	if n := reportErrors(rep); n > 0 {
		s.details(rep.Total().Errors)
		first := rep.Total().Errors[0]
		fmt.Fprintf(s.stderr, "mailsync: %d errors, first: %s; run again to retry\n", n, describeError(fmt.Errorf("%s", first), s.cfg))
		return exitError
	}
	return exitOK
}

// summary prints a report: one line of text, or JSON on stdout with -json
// (one line per pass with -watch).
func (s *session) summary(rep *mailaccess.SyncReport) {
	if s.o.json {
		b, err := json.Marshal(rep)
		if err == nil {
			fmt.Fprintf(s.stdout, "%s\n", b)
		}
		fmt.Fprintln(s.stderr, "mailsync:", rep.String())
		return
	}
	fmt.Fprintln(s.stdout, "mailsync:", rep.String())
}

// details prints every error line with -v (the final message shows only
// the first).
func (s *session) details(lines []string) {
	if !s.o.verbose {
		return
	}
	for _, l := range lines {
		fmt.Fprintln(s.stderr, "mailsync: error:", describeError(fmt.Errorf("%s", l), s.cfg))
	}
}

func reportErrors(rep *mailaccess.SyncReport) int {
	if rep == nil {
		return 0
	}
	return len(rep.Total().Errors)
}

// watch waits for changes on the synced folders and runs a pass after each
// burst of them (debounced), until ctx ends or watching fails for good.
func (s *session) watch(ctx context.Context, first *mailaccess.SyncReport) int {
	var folders []string
	for _, f := range first.Folders {
		folders = append(folders, f.Folder)
	}
	if len(folders) == 0 {
		for _, f := range s.o.folders {
			if !strings.Contains(f, "*") {
				folders = append(folders, f)
			}
		}
	}
	if len(folders) == 0 {
		folders = []string{driver.NewConfig(s.cfg).DefaultFolder()}
	}

	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	changed := make(chan struct{}, 1)
	failed := make(chan error, len(folders))
	log := driver.NewConfig(s.cfg).Log()
	for _, f := range folders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev, err := range s.src.Watch(wctx, f, &mailaccess.WatchOptions{PollInterval: s.o.poll}) {
				if err != nil {
					if wctx.Err() == nil {
						failed <- err
					}
					return
				}
				log.Debug("mailsync: change", "kind", ev.Kind.String(), "folder", ev.Folder, "ids", len(ev.IDs), "push", ev.Push)
				select {
				case changed <- struct{}{}:
				default: // a pass is already due
				}
			}
		}()
	}
	mode := "polling every " + s.o.poll.String()
	if s.src.Capabilities().Has(mailaccess.CapPush) {
		mode = "push (IDLE)"
	}
	fmt.Fprintf(s.stderr, "mailsync: watching %s (%s); Ctrl-C to stop\n", strings.Join(folders, ", "), mode)

	// A catch-up pass right away covers mail that arrived before the
	// watches took their baseline, unless it arrived after that pass
	// listed the folder: so a safety pass also runs every -poll with push
	// (a no-op pass costs an IMAP STATUS per folder) and every 5×-poll
	// without (the watch itself polls every -poll). No message waits
	// longer than that, even if no event ever names it.
	timer := time.NewTimer(s.o.debounce)
	every := 5 * s.o.poll
	if s.src.Capabilities().Has(mailaccess.CapPush) {
		every = s.o.poll
	}
	rescanT := time.NewTicker(every)
	defer rescanT.Stop()
	rescan := rescanT.C
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(s.stderr, "mailsync: stopped")
			return exitOK
		case err := <-failed:
			fmt.Fprintln(s.stderr, "mailsync: watch:", describeError(err, s.cfg))
			return exitError
		case <-changed:
			timer.Reset(s.o.debounce)
		case <-rescan:
			timer.Reset(0)
		case <-timer.C:
			rep, err := s.again(ctx)
			if ctx.Err() != nil {
				return s.finish(ctx, rep, err)
			}
			if rep != nil && (changedSomething(rep) || err != nil) {
				s.summary(rep)
			}
			if err != nil {
				// Keep watching: the next change retries, from the
				// committed state.
				s.details(strings.Split(err.Error(), "\n"))
				fmt.Fprintln(s.stderr, "mailsync:", describeError(err, s.cfg))
			}
		}
	}
}

// changedSomething reports whether a pass did anything worth a line.
func changedSomething(rep *mailaccess.SyncReport) bool {
	t := rep.Total()
	return t.New+t.Updated+t.Deleted+t.SourceDeleted+len(t.Errors)+len(t.Notes) > 0
}
