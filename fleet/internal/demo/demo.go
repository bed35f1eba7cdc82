// Package demo runs in-process mail servers with many accounts for the
// mailfleet demo, the fleet's tests and its benchmark: one imaptest
// server holding the IMAP accounts and one pop3test server per POP3
// account (a pop3test server has one maildrop), all on loopback, every
// account seeded with deterministic messages.
package demo

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/mailaccess/go-mailaccess/fleet"
	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// Password is every demo account's password.
const Password = "demo-secret"

// PasswordEnv is the environment variable the demo accounts' credential
// names ("env:" + PasswordEnv).
const PasswordEnv = "MAILFLEET_DEMO_PASSWORD"

// Servers are the running demo servers and their accounts.
type Servers struct {
	IMAP *imaptest.Server
	pop  map[string]*pop3test.Server
	back map[string]*mailtest.Store

	mu       sync.Mutex
	accounts []fleet.Account
	sent     map[string][][]byte
	next     map[string]int
	size     int
}

// Options shape the demo.
type Options struct {
	IMAP, POP3 int // accounts of each protocol
	Messages   int // messages seeded per account
	// Size is the approximate size of a message body in bytes (default 2 KiB).
	Size int
	// Retention is the POP3 accounts' retention ("" keeps mail on the server).
	Retention string
}

// Start starts the servers and seeds the accounts.
func Start(o Options) (*Servers, error) {
	if o.Size <= 0 {
		o.Size = 2048
	}
	imapSrv, err := imaptest.NewServer(nil)
	if err != nil {
		return nil, err
	}
	s := &Servers{IMAP: imapSrv, pop: map[string]*pop3test.Server{}, back: map[string]*mailtest.Store{},
		sent: map[string][][]byte{}, next: map[string]int{}, size: o.Size}
	for i := range o.IMAP {
		id := fmt.Sprintf("imap-%03d", i)
		if err := imapSrv.AddUser(imaptest.User{Name: id, Password: Password}); err != nil {
			s.Close()
			return nil, err
		}
		cfg := imapSrv.Config(id, "")
		s.accounts = append(s.accounts, fleet.Account{ID: id, URL: cfg.URL(), Credential: "env:" + PasswordEnv})
	}
	for i := range o.POP3 {
		id := fmt.Sprintf("pop3-%03d", i)
		back := mailtest.NewStore()
		srv, err := pop3test.NewServer(back.Open(mailtest.ProfileIMAP), &pop3test.Options{User: id, Password: Password, NoSTLS: true})
		if err != nil {
			s.Close()
			return nil, err
		}
		s.pop[id], s.back[id] = srv, back
		cfg := srv.Config(id, "")
		cfg.TLS = mailaccess.TLSInsecurePlaintext
		s.accounts = append(s.accounts, fleet.Account{ID: id, URL: cfg.URL(), Credential: "env:" + PasswordEnv, Retention: o.Retention})
	}
	for _, a := range s.accounts {
		if err := s.Deliver(a.ID, o.Messages); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Accounts returns the demo accounts, ready for fleet.Add.
func (s *Servers) Accounts() []fleet.Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]fleet.Account(nil), s.accounts...)
}

// Message returns the n-th deterministic message of account id.
func Message(id string, n, size int) []byte {
	body := make([]byte, 0, size+200)
	body = fmt.Appendf(body, "Message-ID: <%d.%s@fleet.example>\r\nFrom: sender%d@example.com\r\nTo: %s@example.com\r\nSubject: message %d of %s\r\nDate: Mon, 2 Jan 2006 15:04:05 +0000\r\n\r\n", n, id, n%7, id, n, id)
	line := "The quick brown fox jumps over the lazy dog " + strconv.Itoa(n) + " " + id + "\r\n"
	for len(body) < size {
		body = append(body, line...)
	}
	return body
}

// Deliver adds n new messages to account id's INBOX, as mail arriving.
func (s *Servers) Deliver(id string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		raw := Message(id, s.next[id], s.size)
		s.next[id]++
		if back, ok := s.back[id]; ok {
			back.Add(mailaccess.Inbox, raw)
		} else if _, err := s.IMAP.Append(id, mailaccess.Inbox, raw, nil); err != nil {
			return fmt.Errorf("demo: deliver to %s: %w", id, err)
		}
		s.sent[id] = append(s.sent[id], raw)
	}
	return nil
}

// Sent returns every message delivered to account id so far.
func (s *Servers) Sent(id string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.sent[id]...)
}

// OnServer returns how many messages account id's POP3 maildrop holds
// (-1 for IMAP accounts).
func (s *Servers) OnServer(id string) int {
	if back, ok := s.back[id]; ok {
		return len(back.Messages(mailaccess.Inbox))
	}
	return -1
}

// Credentials is a fleet Options.Credentials callback for the demo
// accounts.
func (s *Servers) Credentials(_ context.Context, _ fleet.Account, cfg *mailaccess.Config) error {
	cfg.Password = Password
	return nil
}

// Close stops every server.
func (s *Servers) Close() {
	if s.IMAP != nil {
		s.IMAP.Close()
	}
	for _, p := range s.pop {
		p.Close()
	}
}
