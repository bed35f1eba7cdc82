package imap

import (
	"context"
	"errors"
	"iter"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// Watch defaults: those every driver uses (package driver).
const (
	DefaultIdleRefresh  = driver.DefaultIdleRefresh
	DefaultPollInterval = driver.DefaultPollInterval
	DefaultMaxBackoff   = driver.DefaultMaxBackoff
	// maxPendingFlags bounds the flag changes remembered between two
	// rounds; beyond it one EventFlags without IDs is reported.
	maxPendingFlags = 10000
)

// errStopped ends a watch whose consumer stopped iterating.
var errStopped = errors.New("imap: watch stopped by consumer")

// Watch reports changes to folder until ctx ends. It runs on a connection
// of its own, outside the pool, so that IDLE (which holds go-imap's write
// lock) never blocks other calls on the Mailbox.
//
// With IDLE (CapPush) the server pushes EXISTS, EXPUNGE and FETCH FLAGS;
// each round stops IDLE, turns them into events (EventNew carries the IDs
// of the new messages, fetched with UID FETCH uidnext:* (UID); EventExpunge
// carries the new count, not IDs: IMAP reports expunges by sequence number
// only; EventFlags carries the IDs; every ID carries the folder's
// UIDVALIDITY), then IDLEs again. IDLE is restarted every
// WatchOptions.IdleRefresh (default 9 minutes). Most servers (Dovecot
// among them) report at the start of IDLE what changed since the previous
// command; a server that holds such a change back until the next one (as
// go-imap's in-memory server does, and some Cyrus releases did) has it
// reported when IDLE is restarted at the latest: late, never lost. Lower
// IdleRefresh if that delay matters. Without IDLE it polls with NOOP every
// PollInterval (Event.Push false).
//
// If the connection drops it reconnects with exponential backoff (up to
// MaxBackoff), yields EventReconnect and catches up: EventNew for every UID
// at or above the last known UIDNEXT, EventExpunge if messages disappeared,
// EventFlags for messages changed meanwhile (CONDSTORE only). If
// UIDVALIDITY changed, the catch-up EventNew lists every message of the
// folder, all IDs being new.
func (m *Mailbox) Watch(ctx context.Context, folder string, opts *mailaccess.WatchOptions) iter.Seq2[mailaccess.Event, error] {
	return func(yield func(mailaccess.Event, error) bool) {
		folder, err := m.folderName(folder)
		if err != nil {
			yield(mailaccess.Event{}, m.opErr("watch", folder, err))
			return
		}
		o := driver.WatchDefaults(opts)
		w := &watcher{m: m, folder: folder, o: o, yield: yield, notify: make(chan struct{}, 1)}
		w.run(ctx)
	}
}

type watcher struct {
	m      *Mailbox
	folder string
	o      mailaccess.WatchOptions
	yield  func(mailaccess.Event, error) bool
	push   bool

	// what is known of the folder
	known       bool
	uidValidity uint32
	uidNext     imap.UID
	count       uint32
	modSeq      uint64

	// pending unilateral data, filled by go-imap's reader goroutine
	mu        sync.Mutex
	exists    bool
	expunged  int
	flagUIDs  []imap.UID
	flagSeqs  []uint32
	flagsLost bool
	notify    chan struct{}
}

func (w *watcher) signal() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *watcher) handler() *imapclient.UnilateralDataHandler {
	return &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				w.mu.Lock()
				w.exists = true
				w.mu.Unlock()
				w.signal()
			}
		},
		Expunge: func(uint32) {
			w.mu.Lock()
			w.expunged++
			w.mu.Unlock()
			w.signal()
		},
		Fetch: func(msg *imapclient.FetchMessageData) {
			var (
				uid      imap.UID
				hasFlags bool
			)
			for item := msg.Next(); item != nil; item = msg.Next() {
				switch it := item.(type) {
				case imapclient.FetchItemDataUID:
					uid = it.UID
				case imapclient.FetchItemDataFlags:
					hasFlags = true
				}
			}
			if !hasFlags {
				return // e.g. the last message answering "UID n:*"
			}
			w.mu.Lock()
			switch {
			case len(w.flagUIDs)+len(w.flagSeqs) >= maxPendingFlags:
				w.flagsLost = true
			case uid != 0:
				w.flagUIDs = append(w.flagUIDs, uid)
			default:
				w.flagSeqs = append(w.flagSeqs, msg.SeqNum)
			}
			w.mu.Unlock()
			w.signal()
		},
	}
}

// permanent reports errors that reconnecting cannot fix.
// permanent reports errors that end a watch instead of a reconnection,
// by the rule every driver's watch follows.
func permanent(err error) bool { return driver.Permanent(err) }

func (w *watcher) closed() bool {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	return w.m.closed
}

func (w *watcher) run(ctx context.Context) {
	backoff := driver.Backoff{Max: w.o.MaxBackoff}
	failures := 0
	first := true
	for {
		if ctx.Err() != nil {
			w.yield(mailaccess.Event{}, ctx.Err())
			return
		}
		if w.closed() {
			w.yield(mailaccess.Event{}, w.m.opErr("watch", w.folder, mailaccess.ErrClosed))
			return
		}
		c, err := w.connect(ctx)
		if err == nil {
			failures = 0
			backoff.Reset()
			if !first && !w.yield(mailaccess.Event{Kind: mailaccess.EventReconnect, Folder: w.folder, Count: int(c.numMessages())}, nil) {
				w.release(c)
				return
			}
			first = false
			stop := context.AfterFunc(ctx, c.kill)
			err = w.catchUp(c)
			if err == nil {
				if w.m.hooks.watchReady != nil {
					w.m.hooks.watchReady(c.raw)
				}
				err = w.loop(ctx, c)
			}
			stop()
			w.release(c)
			if errors.Is(err, errStopped) {
				return
			}
		}
		if ctx.Err() != nil {
			w.yield(mailaccess.Event{}, ctx.Err())
			return
		}
		if permanent(err) {
			w.yield(mailaccess.Event{}, w.m.opErr("watch", w.folder, err))
			return
		}
		failures++
		delay := backoff.Next()
		w.m.cfg.Log().Info("imap: watch connection lost; reconnecting", "folder", w.folder, "err", err, "attempt", failures, "backoff", delay)
		if w.o.MaxRetries > 0 && failures > w.o.MaxRetries {
			w.yield(mailaccess.Event{}, w.m.opErr("watch", w.folder, err))
			return
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			w.yield(mailaccess.Event{}, ctx.Err())
			return
		case <-t.C:
		}
	}
}

// connect dials the watch connection and selects the folder.
func (w *watcher) connect(ctx context.Context) (*conn, error) {
	c, err := w.m.dialConn(ctx, w.handler())
	if err != nil {
		return nil, err
	}
	w.m.mu.Lock()
	if w.m.closed {
		w.m.mu.Unlock()
		c.c.Close()
		return nil, mailaccess.ErrClosed
	}
	w.m.watchConns[c] = struct{}{} // so that Close kills it; it holds no pool token
	w.m.mu.Unlock()
	disarm := c.arm(ctx, w.m.cfg.CommandTimeoutOrDefault())
	err = w.m.selectFolder(c, w.folder, selRead)
	if !disarm() {
		err = errCommandTimeout
	} else {
		err = c.connErr(err)
	}
	if err != nil {
		w.release(c)
		return nil, w.m.opErr("watch", w.folder, ctxErr(ctx, err))
	}
	w.push = c.caps.Has(imap.CapIdle) && !w.m.hooks.noIdle
	// Unilateral data seen during SELECT is part of the catch-up.
	w.mu.Lock()
	w.exists, w.expunged, w.flagUIDs, w.flagSeqs, w.flagsLost = false, 0, nil, nil, false
	w.mu.Unlock()
	return c, nil
}

func (w *watcher) release(c *conn) {
	w.m.mu.Lock()
	delete(w.m.watchConns, c)
	w.m.mu.Unlock()
	c.broken.Store(true)
	go c.close(w.m.logoutWait())
}

// emit yields an event; false means the consumer stopped.
func (w *watcher) emit(ev mailaccess.Event) error {
	ev.Folder = w.folder
	if !w.yield(ev, nil) {
		return errStopped
	}
	return nil
}

// command runs fn bounded by the command timeout; an error of the
// connection says what the server did (connErr).
func (w *watcher) command(c *conn, fn func() error) error {
	disarm := c.arm(context.Background(), w.m.cfg.CommandTimeoutOrDefault())
	err := fn()
	if !disarm() {
		return errCommandTimeout
	}
	return c.connErr(err)
}

// errConnClosed is why a watch's connection ended while it waited, when
// the guard does not know better (see lost).
var errConnClosed = errors.New("connection closed by server or network")

// lost says why c ended while the watch waited on it: the server's BYE,
// the connection closed or failed (connErr).
func (w *watcher) lost(c *conn) error {
	return c.connErr(errConnClosed)
}

// newUIDs returns the UIDs >= from (UID FETCH from:* (UID)).
func newUIDs(c *conn, from imap.UID) ([]imap.UID, error) {
	if c.numMessages() == 0 {
		return nil, nil
	}
	var set imap.UIDSet
	set.AddRange(max(from, 1), 0)
	cmd := c.c.Fetch(set, &imap.FetchOptions{UID: true})
	defer cmd.Close()
	var out []imap.UID
	for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
		for item := fm.Next(); item != nil; item = fm.Next() {
			if u, ok := item.(imapclient.FetchItemDataUID); ok && u.UID >= from {
				out = append(out, u.UID)
			}
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// catchUp compares the freshly selected folder with what was known.
func (w *watcher) catchUp(c *conn) error {
	sel := c.sel
	n := c.numMessages()
	if !w.known {
		w.known = true
		w.uidValidity, w.uidNext, w.count, w.modSeq = sel.UIDValidity, sel.UIDNext, n, sel.HighestModSeq
		if w.uidNext == 0 {
			// The server did not say UIDNEXT: take the highest UID + 1.
			var uids []imap.UID
			err := w.command(c, func() (err error) { uids, err = newUIDs(c, 1); return })
			if err != nil {
				return err
			}
			if len(uids) > 0 {
				w.uidNext = uids[len(uids)-1] + 1
			} else {
				w.uidNext = 1
			}
		}
		return nil
	}
	from := w.uidNext
	if sel.UIDValidity != w.uidValidity {
		w.m.cfg.Log().Warn("imap: UIDVALIDITY changed while watching; every message is new", "folder", w.folder, "old", w.uidValidity, "new", sel.UIDValidity)
		from = 1
		w.count = 0
	}
	var uids []imap.UID
	if err := w.command(c, func() (err error) { uids, err = newUIDs(c, from); return }); err != nil {
		return err
	}
	if int64(n) < int64(w.count)+int64(len(uids)) {
		if err := w.emit(mailaccess.Event{Kind: mailaccess.EventExpunge, Count: int(n)}); err != nil {
			return err
		}
	}
	if len(uids) > 0 {
		if err := w.emit(mailaccess.Event{Kind: mailaccess.EventNew, IDs: idsOf(sel.UIDValidity, uids), Count: int(n)}); err != nil {
			return err
		}
	}
	if sel.UIDValidity == w.uidValidity && w.modSeq != 0 && sel.HighestModSeq > w.modSeq && c.caps.Has(imap.CapCondStore) {
		var changed []imap.UID
		err := w.command(c, func() error {
			cmd := c.c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: imap.UID(math.MaxUint32)}}, &imap.FetchOptions{UID: true, ChangedSince: w.modSeq})
			defer cmd.Close()
			for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
				for item := fm.Next(); item != nil; item = fm.Next() {
					if u, ok := item.(imapclient.FetchItemDataUID); ok && u.UID < from {
						changed = append(changed, u.UID)
					}
				}
			}
			return cmd.Close()
		})
		if err != nil {
			return err
		}
		if len(changed) > 0 {
			slices.Sort(changed)
			if err := w.emit(mailaccess.Event{Kind: mailaccess.EventFlags, IDs: idsOf(sel.UIDValidity, changed), Count: int(n)}); err != nil {
				return err
			}
		}
	}
	w.uidValidity, w.count, w.modSeq = sel.UIDValidity, n, sel.HighestModSeq
	w.uidNext = max(sel.UIDNext, from)
	if len(uids) > 0 {
		w.uidNext = max(w.uidNext, uids[len(uids)-1]+1)
	}
	return nil
}

// watchSeqRoom is the room for the set of "FETCH set (UID)".
var watchSeqRoom, _ = setRoom(len("FETCH  (UID)"))

// process turns pending unilateral data into events. It runs while the
// connection is not idling.
func (w *watcher) process(c *conn) error {
	w.mu.Lock()
	exists, expunged := w.exists, w.expunged
	flagUIDs, flagSeqs, flagsLost := w.flagUIDs, w.flagSeqs, w.flagsLost
	w.exists, w.expunged, w.flagUIDs, w.flagSeqs, w.flagsLost = false, 0, nil, nil, false
	w.mu.Unlock()
	n := c.numMessages()
	if expunged > 0 {
		if err := w.emit(mailaccess.Event{Kind: mailaccess.EventExpunge, Count: int(n), Push: w.push}); err != nil {
			return err
		}
	}
	if exists || n > w.count {
		var uids []imap.UID
		if err := w.command(c, func() (err error) { uids, err = newUIDs(c, w.uidNext); return }); err != nil {
			return err
		}
		if len(uids) > 0 {
			w.uidNext = uids[len(uids)-1] + 1
			if err := w.emit(mailaccess.Event{Kind: mailaccess.EventNew, IDs: idsOf(w.uidValidity, uids), Count: int(c.numMessages()), Push: w.push}); err != nil {
				return err
			}
		}
	}
	w.count = c.numMessages()
	if len(flagSeqs) > 0 {
		var seqs []uint32
		for _, s := range flagSeqs {
			if s <= c.numMessages() {
				seqs = append(seqs, s)
			}
		}
		for _, set := range seqChunks(seqs, watchSeqRoom) {
			var got map[uint32]imap.UID
			if err := w.command(c, func() (err error) { got, err = fetchSeqUIDs(c, set); return }); err != nil {
				return err
			}
			for _, u := range got {
				flagUIDs = append(flagUIDs, u)
			}
		}
	}
	if len(flagUIDs) > 0 || flagsLost {
		slices.Sort(flagUIDs)
		flagUIDs = slices.Compact(flagUIDs)
		ev := mailaccess.Event{Kind: mailaccess.EventFlags, Count: int(c.numMessages()), Push: w.push}
		if !flagsLost {
			ev.IDs = idsOf(w.uidValidity, flagUIDs)
		}
		if err := w.emit(ev); err != nil {
			return err
		}
	}
	return nil
}

// loop idles (or polls) until the connection fails, ctx ends or the
// consumer stops.
func (w *watcher) loop(ctx context.Context, c *conn) error {
	for {
		if err := w.process(c); err != nil {
			return err
		}
		if w.push {
			var idle *imapclient.IdleCommand
			err := w.command(c, func() (err error) { idle, err = c.c.Idle(); return })
			if err != nil {
				return err
			}
			t := time.NewTimer(w.o.IdleRefresh)
			var waitErr error
			select {
			case <-ctx.Done():
				waitErr = ctx.Err()
			case <-c.c.Closed():
				waitErr = w.lost(c)
			case <-w.notify:
			case <-t.C:
			}
			t.Stop()
			if waitErr != nil {
				go idle.Close()
				return waitErr
			}
			err = w.command(c, func() error {
				if err := idle.Close(); err != nil {
					return err
				}
				return idle.Wait()
			})
			if err != nil {
				return err
			}
		} else {
			t := time.NewTimer(w.o.PollInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-c.c.Closed():
				t.Stop()
				return w.lost(c)
			case <-t.C:
			}
			if err := w.command(c, func() error { return c.c.Noop().Wait() }); err != nil {
				return err
			}
		}
	}
}
