package driver

import (
	"context"
	"errors"
	"iter"
	"slices"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Watch defaults, for the fields of [mailaccess.WatchOptions] left zero.
const (
	DefaultPollInterval = time.Minute
	DefaultIdleRefresh  = 9 * time.Minute
	DefaultMaxBackoff   = 2 * time.Minute
	// InitialBackoff is the first delay before retrying a failed watch;
	// it doubles after each failure, up to MaxBackoff.
	InitialBackoff = 250 * time.Millisecond
)

// WatchDefaults returns *opts (or the zero options) with every zero field
// set to its default.
func WatchDefaults(opts *mailaccess.WatchOptions) mailaccess.WatchOptions {
	var o mailaccess.WatchOptions
	if opts != nil {
		o = *opts
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.IdleRefresh <= 0 {
		o.IdleRefresh = DefaultIdleRefresh
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	return o
}

// Backoff is the delay between retries of a watch: [InitialBackoff],
// doubling after each failure up to Max. The zero value with Max set is
// ready to use.
type Backoff struct {
	Max  time.Duration
	next time.Duration
}

// Next returns the delay before the next retry and doubles the one after.
func (b *Backoff) Next() time.Duration {
	if b.next <= 0 {
		b.next = InitialBackoff
	}
	d := min(b.next, b.Max)
	b.next = min(2*b.next, b.Max)
	return d
}

// Reset starts again from InitialBackoff, after a success.
func (b *Backoff) Reset() { b.next = 0 }

// Snapshot is what one poll of [PollWatch] sees of a folder.
type Snapshot struct {
	// IDs are the folder's messages, in listing order.
	IDs []mailaccess.ID
	// Versions, if set, holds one value per ID that changes when the
	// message's flags change (a modification sequence, the flags
	// themselves); a change is reported as EventFlags.
	Versions []string
	// Epoch changes when every ID of the folder becomes void
	// (UIDVALIDITY): all previous IDs are then reported expunged and all
	// current ones new.
	Epoch uint32
	// CountOnly means the IDs are not stable (POP3 without UIDL): only
	// Count is compared, EventNew and EventExpunge carry no IDs.
	CountOnly bool
	// Unstable counts the messages left out of IDs because their IDs hold
	// only for one session (mailaccess.MessageInfo.UnstableID: POP3
	// messages sharing a UIDL). They are compared by count: more than
	// before is reported as EventNew, fewer as EventExpunge, without IDs.
	Unstable int
	// Count is the message count when CountOnly; otherwise len(IDs) +
	// Unstable.
	Count int
	// Wake, if set, is closed at the next change after this snapshot:
	// PollWatch waits for it instead of the poll interval, and its events
	// have Push true.
	Wake <-chan struct{}
}

// ErrSkipPoll, returned by a [Poller]'s Poll, skips this poll: nothing is
// reported and the next poll comes after the poll interval (the POP3
// driver skips while deletions are pending, since a new session would
// apply them).
var ErrSkipPoll = errors.New("driver: poll skipped")

// Poller tells [PollWatch] how to look at a folder.
type Poller struct {
	// Errors wraps the poll's errors.
	Errors Errors
	// Poll takes a snapshot of the folder.
	Poll func(ctx context.Context) (Snapshot, error)
	// Permanent reports errors that end the watch at once; nil means
	// [Permanent]. Other errors are retried.
	Permanent func(error) bool
}

// PollWatch implements [mailaccess.Mailbox].Watch for a driver without
// push: it takes a snapshot of the folder every opts.PollInterval (or when
// the snapshot's Wake says so) and reports the difference with the
// previous one: EventExpunge, then EventNew, then EventFlags, each with
// the IDs concerned in listing order and the folder's new count.
//
// A failed poll is retried after [Backoff] delays, at most
// opts.MaxRetries times in a row when that is positive; the first
// successful poll after failures yields EventReconnect, followed by the
// catch-up events. An error p.Permanent accepts, or the last retry's,
// ends the iteration with that error (wrapped by p.Errors); a cancelled
// ctx ends it with ctx.Err().
func PollWatch(ctx context.Context, folder string, opts *mailaccess.WatchOptions, p Poller) iter.Seq2[mailaccess.Event, error] {
	return func(yield func(mailaccess.Event, error) bool) {
		o := WatchDefaults(opts)
		permanent := p.Permanent
		if permanent == nil {
			permanent = Permanent
		}
		backoff := Backoff{Max: o.MaxBackoff}
		var prev *Snapshot
		failures := 0
		var wake <-chan struct{}
		delay := time.Duration(0)
		for {
			if delay > 0 || wake != nil {
				var t *time.Timer
				var tc <-chan time.Time
				if wake == nil || failures > 0 {
					t = time.NewTimer(delay)
					tc = t.C
				}
				w := wake
				if failures > 0 {
					w = nil
				}
				select {
				case <-ctx.Done():
					if t != nil {
						t.Stop()
					}
					yield(mailaccess.Event{}, ctx.Err())
					return
				case <-tc:
				case <-w:
				}
				if t != nil {
					t.Stop()
				}
			} else if err := ctx.Err(); err != nil {
				yield(mailaccess.Event{}, err)
				return
			}
			snap, err := p.Poll(ctx)
			if errors.Is(err, ErrSkipPoll) && ctx.Err() == nil {
				delay = o.PollInterval
				continue
			}
			if err != nil {
				if ctx.Err() != nil {
					yield(mailaccess.Event{}, ctx.Err())
					return
				}
				failures++
				if permanent(err) || (o.MaxRetries > 0 && failures > o.MaxRetries) {
					yield(mailaccess.Event{}, p.Errors.Op("watch", folder, err))
					return
				}
				delay = backoff.Next()
				continue
			}
			push := snap.Wake != nil
			if snap.CountOnly {
				snap.IDs, snap.Versions = nil, nil
			} else {
				snap.Count = len(snap.IDs) + snap.Unstable
			}
			if failures > 0 && prev != nil {
				if !yield(mailaccess.Event{Kind: mailaccess.EventReconnect, Folder: folder, Count: snap.Count, Push: push}, nil) {
					return
				}
			}
			failures = 0
			backoff.Reset()
			if prev != nil {
				for _, ev := range diffSnapshots(folder, prev, &snap, push) {
					if !yield(ev, nil) {
						return
					}
				}
			}
			prev = &snap
			wake, delay = snap.Wake, o.PollInterval
		}
	}
}

// diffSnapshots turns the difference of two snapshots into events.
func diffSnapshots(folder string, prev, cur *Snapshot, push bool) []mailaccess.Event {
	ev := func(k mailaccess.EventKind, ids []mailaccess.ID) mailaccess.Event {
		return mailaccess.Event{Kind: k, Folder: folder, IDs: ids, Count: cur.Count, Push: push}
	}
	var evs []mailaccess.Event
	if cur.CountOnly || prev.CountOnly {
		switch {
		case cur.Count < prev.Count:
			evs = append(evs, ev(mailaccess.EventExpunge, nil))
		case cur.Count > prev.Count:
			evs = append(evs, ev(mailaccess.EventNew, nil))
		}
		return evs
	}
	var gone, added, changed []mailaccess.ID
	if cur.Epoch != prev.Epoch {
		gone, added = slices.Clone(prev.IDs), slices.Clone(cur.IDs)
	} else {
		before := make(map[mailaccess.ID]string, len(prev.IDs))
		for i, id := range prev.IDs {
			before[id] = version(prev, i)
		}
		now := make(map[mailaccess.ID]bool, len(cur.IDs))
		for i, id := range cur.IDs {
			now[id] = true
			v, ok := before[id]
			switch {
			case !ok:
				added = append(added, id)
			case v != version(cur, i):
				changed = append(changed, id)
			}
		}
		for _, id := range prev.IDs {
			if !now[id] {
				gone = append(gone, id)
			}
		}
	}
	if len(gone) > 0 || cur.Unstable < prev.Unstable {
		evs = append(evs, ev(mailaccess.EventExpunge, gone))
	}
	if len(added) > 0 || cur.Unstable > prev.Unstable {
		evs = append(evs, ev(mailaccess.EventNew, added))
	}
	if len(changed) > 0 {
		evs = append(evs, ev(mailaccess.EventFlags, changed))
	}
	return evs
}

func version(s *Snapshot, i int) string {
	if i < len(s.Versions) {
		return s.Versions[i]
	}
	return ""
}
