package imap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// openAllBatch is how many messages one OpenAll batch covers at most; the
// UIDs of a batch are also split so that no command line exceeds 1000
// octets.
const openAllBatch = 1024

// maxBatchFailures bounds how many failed messages one OpenAll error lists.
const maxBatchFailures = 10

// Fixed parts of the commands of a batch, for the set's room.
var (
	openAllRoom, _ = setRoom(len("UID FETCH  (UID RFC822.SIZE BODY.PEEK[])"))
	searchRoom, _  = setRoom(len("UID SEARCH RETURN (ALL) UID "))
)

// OpenAll streams the raw bytes of several messages of folder, in batches
// of up to 1024 IDs, instead of one round trip per message as
// [Mailbox.Open] costs. fn is called once per message in the order the
// server sends them (ascending UID as a rule); its reader is valid only
// during the call, and what fn leaves unread is read and discarded.
//
// Each batch takes three steps on one connection:
//
//  1. UID FETCH ids (UID RFC822.SIZE): which of the messages still exist,
//     their sizes and positions. A message absent from the answer has been
//     expunged: it is skipped, fn is not called for it, and no error is
//     reported for it (ask Status or List if you need to know).
//  2. UID FETCH existing (UID RFC822.SIZE BODY.PEEK[]): the bodies. Each
//     reader handed to fn is verified like Open's: where io.EOF would come,
//     it returns an error wrapping [mailaccess.ErrProtocol] if the body's
//     length is not the message's RFC822.SIZE. A response whose UID comes
//     after the body (legal, and sent by some servers) is delivered like
//     any other, identified by its sequence number and checked against its
//     UID when the body ends.
//  3. For every ID of step 1 that step 2 did not deliver, UID SEARCH UID
//     tells whether it is gone meanwhile (skipped) or still there (an
//     error naming it: the server withheld a message).
//
// So every ID asked for is delivered, skipped because it no longer exists,
// or named in the error OpenAll returns. A message the server answers NIL
// or an empty body for, or whose body fails verification after fn
// returned, is not an error of fn: OpenAll delivers the rest of the batch
// and then stops with an error naming each such message (wrapping
// [mailaccess.ErrProtocol]).
//
// If fn returns an error, OpenAll stops and returns it; the connection is
// closed rather than drained. IDs must all carry the folder's current
// UIDVALIDITY ([mailaccess.ErrUIDValidity] otherwise, before a body is
// fetched). A cancelled ctx, or a server silent for Config.CommandTimeout
// while the driver waits for it, ends OpenAll promptly. The sync engine
// ([mailsync.New]) uses this method when the source has it.
func (m *Mailbox) OpenAll(ctx context.Context, folder string, ids []mailaccess.ID, fn func(id mailaccess.ID, r io.Reader) error) error {
	folder, err := m.folderName(folder)
	if err != nil {
		return m.opErr("open all", folder, err)
	}
	epoch, uids, err := parseIDs(ids)
	if err != nil {
		return m.opErr("open all", folder, err)
	}
	for _, set := range uidChunks(uids, openAllRoom, openAllBatch) {
		// No overall timeout: a batch may be large. An idle timer catches
		// a server that stops sending.
		err := m.doTimeout(ctx, "open all", folder, selRead, 0, func(c *conn) error {
			b := &batch{ctx: ctx, m: m, c: c, folder: folder, epoch: epoch, fn: fn, idle: newIdleTimer(c, m.cfg.CommandTimeoutOrDefault())}
			defer b.idle.stop()
			return m.underEpoch(c, folder, selRead, epoch, func() error { return b.run(setUIDs(set)) })
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// idleTimer closes the connection when the server keeps the driver
// waiting longer than its duration; it runs only while the driver waits.
type idleTimer struct {
	t *time.Timer
	d time.Duration
}

func newIdleTimer(c *conn, d time.Duration) *idleTimer {
	t := time.AfterFunc(d, c.kill)
	t.Stop()
	return &idleTimer{t: t, d: d}
}

func (t *idleTimer) start() { t.t.Reset(t.d) }
func (t *idleTimer) stop()  { t.t.Stop() }

// batch is one OpenAll batch on one connection.
type batch struct {
	ctx    context.Context
	m      *Mailbox
	c      *conn
	folder string
	epoch  uint32
	fn     func(mailaccess.ID, io.Reader) error
	idle   *idleTimer

	sizes     map[imap.UID]int64 // step 1: the messages that exist
	delivered map[imap.UID]bool  // handed to fn, or failed (in failures)
	failures  []error
	fnErr     error // fn's error: stop at once
}

func (b *batch) run(uids []imap.UID) error {
	defer b.c.sem.track(nil)
	if err := b.locate(uids); err != nil {
		return err
	}
	present := make([]imap.UID, 0, len(b.sizes))
	for u := range b.sizes {
		present = append(present, u)
	}
	slices.Sort(present)
	b.delivered = make(map[imap.UID]bool, len(present))
	var refused error // a NO to a body FETCH: the accounting decides
	for _, set := range uidChunks(present, openAllRoom, 0) {
		err := b.fetchBodies(set)
		if b.fnErr != nil {
			return b.fnErr
		}
		if err != nil {
			var ie *imap.Error
			if !errors.As(err, &ie) {
				return err
			}
			refused = err
		}
	}
	if err := b.account(present, refused); err != nil {
		return err
	}
	if len(b.failures) > 0 {
		return batchError(b.failures)
	}
	return nil
}

// locate runs step 1: the sizes of the messages that exist and their
// sequence numbers, tracked from then on through EXPUNGE responses. If
// messages are expunged while it runs, the positions may be stale: it asks
// again.
func (b *batch) locate(uids []imap.UID) error {
	for attempt := 0; ; attempt++ {
		if attempt == 3 {
			return fmt.Errorf("messages keep being expunged while their positions are read: %w", mailaccess.ErrTemporary)
		}
		before := b.c.sem.expungeCount()
		sizes := make(map[imap.UID]int64, len(uids))
		seqs := map[imap.UID]uint32{}
		asked := make(map[imap.UID]bool, len(uids))
		for _, u := range uids {
			asked[u] = true
		}
		for _, set := range uidChunks(uids, openAllRoom, 0) {
			b.idle.start()
			fs := startFetch(b.c, set, &imap.FetchOptions{UID: true, RFC822Size: true})
			for fm, _ := fs.Next(); fm != nil; fm, _ = fs.Next() {
				var (
					uid  imap.UID
					size int64 = noSize
				)
				for item := fm.Next(); item != nil; item = fm.Next() {
					switch it := item.(type) {
					case imapclient.FetchItemDataUID:
						uid = it.UID
					case imapclient.FetchItemDataRFC822Size:
						size = it.Size
					}
				}
				if !asked[uid] {
					continue
				}
				seqs[uid] = fm.SeqNum
				if size != noSize {
					sizes[uid] = size
				}
			}
			err := fs.Close()
			b.idle.stop()
			if err != nil {
				return err
			}
		}
		if b.c.sem.expungeCount() != before {
			continue
		}
		for u := range seqs {
			if _, ok := sizes[u]; !ok {
				return msgErr("message %s: the server listed it without the RFC822.SIZE asked for: %w", MakeID(b.epoch, uint32(u)), mailaccess.ErrProtocol)
			}
		}
		sm := &seqMap{m: make(map[uint32]imap.UID, len(seqs))}
		for u, s := range seqs {
			sm.m[s] = u
		}
		b.sizes = sizes
		b.c.sem.track(sm)
		return nil
	}
}

// fetchBodies runs step 2 for one set.
func (b *batch) fetchBodies(set imap.UIDSet) error {
	b.idle.start()
	fs := startFetch(b.c, set, &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	for fm, _ := fs.Next(); fm != nil; fm, _ = fs.Next() {
		b.idle.stop()
		if err := b.deliver(fm); err != nil {
			// fn failed: stop now, closing the connection instead of
			// reading the rest of the batch (the pool discards it).
			b.fnErr = err
			b.c.broken.Store(true)
			b.c.raw.Close()
			fs.Close()
			return err
		}
		b.idle.start()
	}
	err := fs.Close()
	b.idle.stop()
	return err
}

// deliver hands the body of one FETCH response to fn (a response without
// one, such as a flag change of another session, is passed over). It
// returns only fn's error; failures of the message are recorded.
func (b *batch) deliver(fm *imapclient.FetchMessageData) error {
	var (
		uid  imap.UID
		size int64 = noSize
	)
	for item := fm.Next(); item != nil; item = fm.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			uid = it.UID
		case imapclient.FetchItemDataRFC822Size:
			size = it.Size
		case imapclient.FetchItemDataBodySection:
			if it.Section == nil || it.Section.Specifier != imap.PartSpecifierNone || len(it.Section.Part) > 0 || it.Section.Partial != nil {
				continue
			}
			return b.deliverBody(fm, uid, size, b.c.literal(it.Literal))
		}
	}
	return nil
}

func (b *batch) deliverBody(fm *imapclient.FetchMessageData, uid imap.UID, size int64, lit imap.LiteralReader) error {
	target, uidSeen := uid, uid != 0
	if !uidSeen {
		// The body came before the UID: the position says whose it is,
		// and the UID after the body must confirm it.
		u, ok := b.c.sem.lookup(fm.SeqNum)
		if !ok {
			b.fail(msgErr("a body came for message number %d before its UID, and no message asked for is at that number: %w", fm.SeqNum, mailaccess.ErrProtocol))
			return nil
		}
		target = u
	}
	known, asked := b.sizes[target]
	if !asked || b.delivered[target] {
		return nil // not asked for, or a second copy: passed over
	}
	id := MakeID(b.epoch, uint32(target))
	what := "message " + string(id)
	if size != noSize && size != known {
		b.failMsg(target, msgErr("%s: the server reported two sizes for the message, %d and %d: %w", what, known, size, mailaccess.ErrProtocol))
		return nil
	}
	if lit == nil {
		// NIL. The rest of the response is there already (no literal).
		body := &checkedBody{m: b.m, what: what, fm: fm, wantUID: target, uidSeen: uidSeen, rfcSize: known}
		if err := body.readTrailer(); err != nil {
			b.failMsg(target, err)
			return nil
		}
		if !body.uidSeen {
			b.fail(msgErr("a NIL body came for message number %d without a UID: %w", fm.SeqNum, mailaccess.ErrProtocol))
			return nil
		}
		if known != 0 {
			b.failMsg(target, nilBodyErr(what, known))
			return nil
		}
		b.delivered[target] = true
		return b.fn(id, bytes.NewReader(nil))
	}
	body := &checkedBody{m: b.m, op: "open all", folder: b.folder, what: what, fm: fm, lit: lit,
		wantUID: target, uidSeen: uidSeen, rfcSize: known}
	body.idle, body.connFail = b.idle, b.connFail
	b.delivered[target] = true
	if err := b.fn(id, body); err != nil {
		return err
	}
	// Read what fn left, so that the message is verified even then.
	if _, err := io.Copy(io.Discard, body); err != nil {
		b.failures = append(b.failures, err)
	}
	return nil
}

// connFail says why the connection failed under a body: the context
// ended, the server kept the driver waiting too long (the idle timer), or
// what the server did.
func (b *batch) connFail(err error) error {
	if b.c.killed.Load() {
		if b.ctx.Err() != nil {
			return b.ctx.Err()
		}
		return errCommandTimeout
	}
	return b.c.connErr(err)
}

// failMsg records a failure of the message uid (which counts as accounted
// for).
func (b *batch) failMsg(uid imap.UID, err error) {
	b.delivered[uid] = true
	b.fail(err)
}

func (b *batch) fail(err error) {
	b.failures = append(b.failures, b.m.opErr("open all", b.folder, err))
}

// account runs step 3: every message step 1 found and step 2 did not
// deliver must be gone now; those still there are an error.
func (b *batch) account(present []imap.UID, refused error) error {
	var missing []imap.UID
	for _, u := range present {
		if !b.delivered[u] {
			missing = append(missing, u)
		}
	}
	if len(missing) == 0 {
		if refused != nil {
			b.m.cfg.Log().Info("imap: the server refused part of a body FETCH, but every message is accounted for", "folder", b.folder, "err", refused)
		}
		return nil
	}
	var still []imap.UID
	for _, set := range uidChunks(missing, searchRoom, 0) {
		b.idle.start()
		d, err := b.c.c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
		b.idle.stop()
		if err != nil {
			return fmt.Errorf("checking whether %d undelivered messages still exist: %w", len(missing), err)
		}
		for _, u := range d.AllUIDs() {
			if set.Contains(u) {
				still = append(still, u)
			}
		}
	}
	if len(still) == 0 {
		return nil // expunged since step 1
	}
	slices.Sort(still)
	still = slices.Compact(still)
	names := make([]string, 0, min(len(still), maxBatchFailures))
	for _, u := range still[:min(len(still), maxBatchFailures)] {
		names = append(names, string(MakeID(b.epoch, uint32(u))))
	}
	more := ""
	if len(still) > maxBatchFailures {
		more = fmt.Sprintf(" and %d more", len(still)-maxBatchFailures)
	}
	err := msgErr("the server did not send the body of message(s) %s%s, which still exist: %w", strings.Join(names, ", "), more, mailaccess.ErrProtocol)
	if refused != nil {
		err = fmt.Errorf("%w (the FETCH was answered: %v)", err, refused)
	}
	return err
}

// batchError joins the failures of messages of one batch (the first few).
func batchError(failures []error) error {
	if len(failures) == 1 {
		return failures[0]
	}
	errs := failures[:min(len(failures), maxBatchFailures)]
	if len(failures) > maxBatchFailures {
		errs = append(slices.Clone(errs), fmt.Errorf("and %d more messages failed: %w", len(failures)-maxBatchFailures, mailaccess.ErrProtocol))
	}
	return errors.Join(errs...)
}
