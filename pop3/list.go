package pop3

import (
	"context"
	"errors"
	"io"
	"iter"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
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
				if !yield(driver.NewMessage(m, info), nil) {
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
		h, err := parseHeader(body, s.entries[num-1])
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

// Watch polls the maildrop every opts.PollInterval (default 1 min), with
// the polling watch every driver without push shares (driver.PollWatch).
// POP3 sessions do not see mail that arrives after login, so each poll
// ends the current session with QUIT and opens a new one (a poll is
// skipped while deletions are pending, since ending the session would
// apply them), then ends that session again so the maildrop is not kept
// locked between polls.
//
// With UIDL it reports EventNew with the new IDs and EventExpunge with the
// IDs that disappeared. Without UIDL only the message count is compared:
// EventNew carries the new Count and no IDs; so it is for messages whose
// UIDL is shared with another (their IDs hold for one session only). Events have Push false. After a
// failed poll it retries with backoff, and reports EventReconnect before the
// catch-up events once a poll succeeds again.
func (m *Mailbox) Watch(ctx context.Context, folder string, opts *mailaccess.WatchOptions) iter.Seq2[mailaccess.Event, error] {
	if err := checkFolder(folder); err != nil {
		return func(yield func(mailaccess.Event, error) bool) {
			yield(mailaccess.Event{}, opErr("watch", folder, err))
		}
	}
	return driver.PollWatch(ctx, mailaccess.Inbox, opts, driver.Poller{Errors: errs, Poll: m.poll})
}

// poll opens a fresh session, lists it and ends it. While deletions are
// pending it returns driver.ErrSkipPoll.
func (m *Mailbox) poll(ctx context.Context) (snap driver.Snapshot, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.checkLocked()
	if m.sess != nil {
		if m.sess.pending > 0 {
			return driver.Snapshot{}, driver.ErrSkipPoll // a new session would apply or lose the marks
		}
		s := m.sess
		m.sess = nil
		_ = s.c.Quit(ctx)
	}
	s, err := m.sessionLocked(ctx)
	if err != nil {
		return driver.Snapshot{}, err
	}
	if err := s.loadListing(ctx); err != nil {
		return driver.Snapshot{}, m.probeLocked(ctx, err)
	}
	for _, e := range s.entries {
		if e.deleted {
			continue
		}
		if s.unstable(e) {
			snap.Unstable++
		} else {
			snap.IDs = append(snap.IDs, s.idOf(e))
		}
	}
	snap.Count = len(snap.IDs) + snap.Unstable
	snap.CountOnly = !s.uidl
	// End the session so the maildrop is not locked until the next poll.
	m.sess = nil
	_ = s.c.Quit(ctx)
	return snap, nil
}
