package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

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

// floorIMAPIncr is the floor of an incremental IMAP sync: what a client
// that already knows the folder's last UIDNEXT and HIGHESTMODSEQ must ask
// at least, with go-imap v2's client and nothing else: LOGIN, EXAMINE
// (CONDSTORE), the new messages' metadata (UID FETCH minUID:* (UID FLAGS
// RFC822.SIZE INTERNALDATE)), the flag changes (UID FETCH 1:* (UID FLAGS)
// (CHANGEDSINCE m)), the new messages' bodies to io.Discard, LOGOUT. It
// writes nothing. It reports the new messages as Messages and the other
// changed ones as Updated.
func floorIMAPIncr(ctx context.Context, addr, user, pass string, minUID uint32, changedSince uint64) (childResult, error) {
	var res childResult
	if minUID == 0 || changedSince == 0 {
		return res, errors.New("the incremental floor needs the UIDNEXT and HIGHESTMODSEQ before the change step")
	}
	c, done, err := loginIMAPWire(ctx, addr, user, pass)
	if err != nil {
		return res, err
	}
	defer done()
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true, CondStore: true}).Wait(); err != nil {
		return res, fmt.Errorf("imap examine: %w", err)
	}
	var fresh imap.UIDSet
	fresh.AddRange(imap.UID(minUID), 0)
	newMsgs, err := c.Fetch(fresh, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true}).Collect()
	if err != nil {
		return res, fmt.Errorf("imap fetch new: %w", err)
	}
	isNew := map[imap.UID]bool{}
	for _, m := range newMsgs {
		if uint32(m.UID) >= minUID {
			isNew[m.UID] = true
		}
	}
	all := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
	changed, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, ChangedSince: changedSince}).Collect()
	if err != nil {
		return res, fmt.Errorf("imap fetch changed since: %w", err)
	}
	for _, m := range changed {
		if !isNew[m.UID] {
			res.Updated++
		}
	}
	fetch := c.Fetch(fresh, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		for item := msg.Next(); item != nil; item = msg.Next() {
			if body, ok := item.(imapclient.FetchItemDataBodySection); ok && body.Literal != nil {
				n, err := io.Copy(io.Discard, body.Literal)
				if err != nil {
					fetch.Close()
					return res, fmt.Errorf("imap fetch body: %w", err)
				}
				res.Bytes += n
				res.Messages++
			}
		}
	}
	if err := fetch.Close(); err != nil {
		return res, fmt.Errorf("imap fetch bodies: %w", err)
	}
	if res.Messages != len(isNew) {
		return res, fmt.Errorf("imap: %d new messages listed, %d bodies read", len(isNew), res.Messages)
	}
	c.Logout()
	return res, nil
}

// floorPOP3Incr is the floor of an incremental POP3 sync: a client that
// knows its last n messages are new (POP3 lists new mail last): connect,
// USER/PASS, UIDL, RETR of those n (pipelined), QUIT, with
// internal/pop3wire. It writes nothing and reports the messages read.
func floorPOP3Incr(ctx context.Context, addr, user, pass string, n int) (childResult, error) {
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
	if len(uids) < n {
		return res, fmt.Errorf("pop3 uidl: %d messages, fewer than the %d new", len(uids), n)
	}
	nums := make([]int, 0, n)
	for _, u := range uids[len(uids)-n:] {
		nums = append(nums, u.Num)
	}
	err = c.RetrAll(ctx, nums, func(_ int, body io.Reader) error {
		m, err := io.Copy(io.Discard, body)
		res.Bytes += m
		res.Messages++
		return err
	})
	if err != nil {
		return res, fmt.Errorf("pop3 retr: %w", err)
	}
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
