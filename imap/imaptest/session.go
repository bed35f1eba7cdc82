package imaptest

import (
	"context"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// session is one client's IMAP session on a Server: imapmemserver's
// UserSession, with an IDLE that reports every change made before it
// began (imapmemserver's own IDLE waits for the next change to report
// them; see Quirks.IdleHoldsBack), and with the commands that change a
// folder telling idling sessions so.
type session struct {
	*imapmemserver.UserSession // nil until Login

	srv  *Server
	user string
}

var _ imapserver.SessionIMAP4rev2 = (*session)(nil)

func (s *session) Login(username, password string) error {
	s.srv.mu.Lock()
	u := s.srv.users[username]
	s.srv.mu.Unlock()
	if u == nil {
		return imapserver.ErrAuthFailed
	}
	if err := u.Login(username, password); err != nil {
		return err
	}
	s.UserSession, s.user = imapmemserver.NewUserSession(u), username
	return nil
}

// Idle sends the changes other sessions made (and the server's Append)
// until stop closes: those made before IDLE began at once, the later ones
// as they happen, as Dovecot does.
func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if s.srv.quirks.IdleHoldsBack {
		s.srv.idling(s.user, +1)
		defer s.srv.idling(s.user, -1)
		return s.UserSession.Idle(w, stop)
	}
	changed := s.srv.subscribe()
	defer s.srv.unsubscribe(changed)
	// Subscribed first, then polled: a change made before the subscription
	// is in this poll's queue, one made after it signals changed.
	if err := s.UserSession.Poll(w, true); err != nil {
		return err
	}
	s.srv.idling(s.user, +1)
	defer s.srv.idling(s.user, -1)
	for {
		select {
		case <-stop:
			return nil
		case <-changed:
			if err := s.UserSession.Poll(w, true); err != nil {
				return err
			}
		}
	}
}

// The commands that change a folder's messages or flags tell the idling
// sessions once the change is queued for them.

func (s *session) Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	defer s.srv.changed()
	return s.UserSession.Append(mailbox, r, options)
}

func (s *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	defer s.srv.changed()
	return s.UserSession.Expunge(w, uids)
}

func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	defer s.srv.changed()
	return s.UserSession.Store(w, numSet, flags, options)
}

func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	defer s.srv.changed()
	return s.UserSession.Copy(numSet, dest)
}

func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	defer s.srv.changed()
	return s.UserSession.Move(w, numSet, dest)
}

// hub tells idling sessions about changes and tests about idling sessions.
type hub struct {
	mu          sync.Mutex
	subs        map[chan struct{}]struct{}
	idle        map[string]int // idling sessions by user
	idleChanged chan struct{}  // closed and replaced when idle changes
}

func (s *Server) subscribe() chan struct{} {
	ch := make(chan struct{}, 1)
	s.hub.mu.Lock()
	s.hub.subs[ch] = struct{}{}
	s.hub.mu.Unlock()
	return ch
}

func (s *Server) unsubscribe(ch chan struct{}) {
	s.hub.mu.Lock()
	delete(s.hub.subs, ch)
	s.hub.mu.Unlock()
}

// changed wakes every idling session; one that has a wake-up pending
// already polls after this change anyway.
func (s *Server) changed() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	for ch := range s.hub.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (s *Server) idling(user string, delta int) {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.idle[user] += delta
	close(s.hub.idleChanged)
	s.hub.idleChanged = make(chan struct{})
}

// WaitIdle returns once a session of user is in IDLE, or ctx's error. From
// then on, a change to the folder that session selected (by another
// session or by [Server.Append]) is sent to it while it idles, so a test
// can make a change "while the client idles" without sleeping (unless
// Quirks.IdleHoldsBack).
func (s *Server) WaitIdle(ctx context.Context, user string) error {
	for {
		s.hub.mu.Lock()
		n, ch := s.hub.idle[user], s.hub.idleChanged
		s.hub.mu.Unlock()
		if n > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
