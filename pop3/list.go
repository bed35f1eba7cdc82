package pop3

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// defaultBatch is how many headers one pipelined TOP batch fetches.
const defaultBatch = 256

// List yields the messages of the maildrop in maildrop order (message
// number order) from the session's cached LIST/UIDL: one round trip each
// for the whole listing. With opts.Headers the headers are fetched with
// pipelined "TOP n 0" batches of opts.BatchSize (RETR without TOP).
// Messages marked for deletion are not listed. The session is not held
// while the loop body runs, so the body may call Open.
func (m *Mailbox) List(ctx context.Context, folder string, opts *mailaccess.ListOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		if err := checkFolder(folder); err != nil {
			yield(nil, opErr("list", folder, err))
			return
		}
		if opts == nil {
			opts = &mailaccess.ListOptions{}
		}
		if opts.ChangedSince != 0 {
			yield(nil, &mailaccess.UnsupportedError{Op: "list changed since", Protocol: protocol, Missing: mailaccess.CapChanges, Reason: "POP3 has no modification sequences"})
			return
		}
		infos, err := m.snapshot(ctx)
		if err != nil {
			yield(nil, opErr("list", folder, err))
			return
		}
		batch := opts.BatchSize
		if batch <= 0 {
			batch = defaultBatch
		}
		for len(infos) > 0 {
			chunk := infos[:min(batch, len(infos))]
			infos = infos[len(chunk):]
			if opts.Headers {
				if err := m.fillHeaders(ctx, chunk); err != nil {
					yield(nil, opErr("list", folder, err))
					return
				}
			}
			for _, info := range chunk {
				if info.ID == "" { // deleted meanwhile
					continue
				}
				if folder != "" {
					info.Folder = folder
				}
				if !yield(mailaccess.NewMessage(m, info), nil) {
					return
				}
			}
		}
	}
}

// snapshot returns the listing of the current session.
func (m *Mailbox) snapshot(ctx context.Context) ([]mailaccess.MessageInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.checkLocked()
	s, err := m.sessionLocked(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.loadListing(ctx); err != nil {
		return nil, m.probeLocked(ctx, err)
	}
	infos := make([]mailaccess.MessageInfo, 0, len(s.entries))
	for _, e := range s.entries {
		if !e.deleted {
			infos = append(infos, s.info(e))
		}
	}
	return infos, nil
}

// fillHeaders fetches the headers of chunk in one pipelined batch. Messages
// that are gone (deleted, or IDs of an ended session) get an empty ID.
func (m *Mailbox) fillHeaders(ctx context.Context, chunk []mailaccess.MessageInfo) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.checkLocked()
	s, err := m.sessionLocked(ctx)
	if err != nil {
		return err
	}
	var nums []int
	idx := map[int]int{}
	for i := range chunk {
		n, err := s.resolve(ctx, chunk[i].ID)
		if errors.Is(err, mailaccess.ErrNotFound) {
			chunk[i].ID = ""
			continue
		}
		if err != nil {
			return m.probeLocked(ctx, err)
		}
		idx[n] = i
		nums = append(nums, n)
	}
	parse := func(num int, body io.Reader) error {
		h, err := parseHeader(body)
		if err != nil {
			return err
		}
		chunk[idx[num]].Header = h
		return nil
	}
	if s.top {
		return m.probeLocked(ctx, s.c.TopAll(ctx, nums, 0, parse))
	}
	return m.probeLocked(ctx, s.c.RetrAll(ctx, nums, parse))
}

// Watch polls the maildrop every opts.PollInterval (default 1 min). POP3
// sessions do not see mail that arrives after login, so each poll ends the
// current session with QUIT and opens a new one (a poll is skipped while
// deletions are pending, since ending the session would apply them), then
// ends that session again so the maildrop is not kept locked between polls.
//
// With UIDL it reports EventNew with the new IDs and EventExpunge with the
// IDs that disappeared. Without UIDL only the message count is compared:
// EventNew carries the new Count and no IDs; so it is for messages whose
// UIDL is shared with another (their IDs hold for one session only). Events have Push false. After a
// failed poll it retries with backoff, and reports EventReconnect before the
// catch-up events once a poll succeeds again.
func (m *Mailbox) Watch(ctx context.Context, folder string, opts *mailaccess.WatchOptions) iter.Seq2[mailaccess.Event, error] {
	return func(yield func(mailaccess.Event, error) bool) {
		if err := checkFolder(folder); err != nil {
			yield(mailaccess.Event{}, opErr("watch", folder, err))
			return
		}
		var o mailaccess.WatchOptions
		if opts != nil {
			o = *opts
		}
		if o.PollInterval <= 0 {
			o.PollInterval = time.Minute
		}
		if o.MaxBackoff <= 0 {
			o.MaxBackoff = 2 * time.Minute
		}
		w := &watcher{}
		failures := 0
		wait := func(d time.Duration) bool {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return true
			case <-ctx.Done():
				yield(mailaccess.Event{}, ctx.Err())
				return false
			}
		}
		for {
			events, err := m.poll(ctx, w)
			if err != nil {
				if ctx.Err() != nil {
					yield(mailaccess.Event{}, ctx.Err())
					return
				}
				failures++
				if o.MaxRetries > 0 && failures > o.MaxRetries {
					yield(mailaccess.Event{}, opErr("watch", folder, err))
					return
				}
				backoff := min(time.Second<<min(failures-1, 16), o.MaxBackoff)
				if !wait(backoff) {
					return
				}
				continue
			}
			if failures > 0 {
				failures = 0
				if !yield(mailaccess.Event{Kind: mailaccess.EventReconnect, Folder: mailaccess.Inbox}, nil) {
					return
				}
			}
			for _, ev := range events {
				if !yield(ev, nil) {
					return
				}
			}
			if !wait(o.PollInterval) {
				return
			}
		}
	}
}

// watcher is what Watch remembers between polls.
type watcher struct {
	started  bool
	known    map[mailaccess.ID]bool // stable IDs
	order    []mailaccess.ID
	count    int
	unstable int // messages with session-only IDs (all of them without UIDL)
}

// poll opens a fresh session, compares it with the last poll and ends it.
func (m *Mailbox) poll(ctx context.Context, w *watcher) ([]mailaccess.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.checkLocked()
	if m.sess != nil {
		if m.sess.pending > 0 {
			return nil, nil // a new session would apply or lose the marks
		}
		s := m.sess
		m.sess = nil
		_ = s.c.Quit(ctx)
	}
	s, err := m.sessionLocked(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.loadListing(ctx); err != nil {
		return nil, m.probeLocked(ctx, err)
	}
	var ids []mailaccess.ID // stable IDs
	count, unstable := 0, 0
	for _, e := range s.entries {
		if e.deleted {
			continue
		}
		count++
		if s.unstable(e) {
			unstable++
		} else {
			ids = append(ids, s.idOf(e))
		}
	}
	// End the session so the maildrop is not locked until the next poll.
	m.sess = nil
	_ = s.c.Quit(ctx)

	var events []mailaccess.Event
	if w.started {
		var added, gone []mailaccess.ID
		now := make(map[mailaccess.ID]bool, len(ids))
		for _, id := range ids {
			now[id] = true
			if !w.known[id] {
				added = append(added, id)
			}
		}
		for _, id := range w.order {
			if !now[id] {
				gone = append(gone, id)
			}
		}
		if len(gone) > 0 || (unstable < w.unstable) {
			events = append(events, mailaccess.Event{Kind: mailaccess.EventExpunge, Folder: mailaccess.Inbox, IDs: gone, Count: count})
		}
		if len(added) > 0 || (unstable > w.unstable) {
			events = append(events, mailaccess.Event{Kind: mailaccess.EventNew, Folder: mailaccess.Inbox, IDs: added, Count: count})
		}
	}
	w.started = true
	w.count = count
	w.unstable = unstable
	w.order = ids
	w.known = make(map[mailaccess.ID]bool, len(ids))
	for _, id := range ids {
		w.known[id] = true
	}
	return events, nil
}
