package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/emersion/go-imap/v2"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/pop3wire"
)

// The floors: what the cheapest possible client, or no client at all,
// pays for the same result. A sync is measured against them ("vs wire",
// "vs floor" in the table), never against a figure written down by hand.

// statusFloorOptions are the STATUS items a no-op resync needs to decide
// that nothing changed: the count, the next UID, the UIDVALIDITY and the
// CONDSTORE HIGHESTMODSEQ. (The imap driver also asks UNSEEN; the floor
// leaves out what a no-op can do without.)
var statusFloorOptions = &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, HighestModSeq: true}

// floorIMAPStatus is the floor of an IMAP no-op resync: connect, LOGIN,
// STATUS INBOX, LOGOUT, with go-imap v2's client and nothing else. Like
// the imap driver's Close it sends LOGOUT without waiting for the
// server's BYE. It reports the folder's message count as Messages.
func floorIMAPStatus(ctx context.Context, addr, user, pass string) (childResult, error) {
	var res childResult
	c, done, err := loginIMAPWire(ctx, addr, user, pass)
	if err != nil {
		return res, err
	}
	defer done()
	d, err := c.Status("INBOX", statusFloorOptions).Wait()
	if err != nil {
		return res, fmt.Errorf("imap status: %w", err)
	}
	if d.NumMessages == nil || d.UIDNext == 0 || d.UIDValidity == 0 || d.HighestModSeq == 0 {
		return res, fmt.Errorf("imap status: answer lacks MESSAGES, UIDNEXT, UIDVALIDITY or HIGHESTMODSEQ: %+v", d)
	}
	res.Messages = int(*d.NumMessages)
	c.Logout()
	return res, nil
}

// floorPOP3UIDL is the floor of a POP3 no-op resync: connect, USER/PASS,
// UIDL, QUIT (waiting for its answer, which releases the maildrop), with
// internal/pop3wire. It reports the number of UIDL lines as Messages.
func floorPOP3UIDL(ctx context.Context, addr, user, pass string) (childResult, error) {
	var res childResult
	c, err := pop3wire.Dial(ctx, addr, nil, nil)
	if err != nil {
		return res, fmt.Errorf("pop3 dial: %w", err)
	}
	defer c.Close()
	if err := c.Login(ctx, user, pass); err != nil {
		return res, fmt.Errorf("pop3 login: %w", err)
	}
	uids, err := c.UIDL(ctx)
	if err != nil {
		return res, fmt.Errorf("pop3 uidl: %w", err)
	}
	res.Messages = len(uids)
	if err := c.Quit(ctx); err != nil {
		return res, fmt.Errorf("pop3 quit: %w", err)
	}
	return res, nil
}

// prepareChildJob does a job's untimed preparation in the child (for
// floor-disk: building the corpus in memory) and returns the job itself,
// which childMain times and profiles.
func prepareChildJob(_ context.Context, spec childSpec) (func(context.Context) (childResult, error), error) {
	if spec.Kind != kindFloorDisk {
		return func(ctx context.Context) (childResult, error) { return runChildJob(ctx, spec) }, nil
	}
	if spec.Dir == "" || spec.N < 1 {
		return nil, errors.New("floor-disk needs an output directory and a message count")
	}
	msgs := make([][]byte, 0, spec.N)
	for m := range corpus.Generate(spec.Seed, spec.N) {
		msgs = append(msgs, corpus.Normalize(m.Raw))
	}
	// Return the garbage of the generation to the system, so that the
	// timed part starts with only the corpus resident.
	runtime.GC()
	debug.FreeOSMemory()
	// Restart the peak RSS (VmHWM) here: the job's figure is what writing
	// from the corpus held in memory takes, not what generating it took
	// (runJob takes this child's own figure for floor-disk).
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return func(ctx context.Context) (childResult, error) { return floorDisk(ctx, spec.Dir, msgs) }, nil
}
