// Package imaptest runs an in-process IMAP server for tests and examples:
// go-imap's in-memory server (imapmemserver) on a loopback port.
//
//	srv := imaptest.Start(t, nil, imaptest.User{Name: "alice", Password: "pw", Messages: msgs})
//	mb, err := imap.Dial(ctx, srv.Config("alice", "pw"))
//
// The server speaks plaintext IMAP4rev1 (Config uses
// tls=insecure-plaintext) with UIDPLUS, MOVE, IDLE, LIST-EXTENDED,
// NAMESPACE and UTF8=ACCEPT unless Options says otherwise. IDLE reports
// at once the changes made before it began (as Dovecot does, unlike
// imapmemserver alone), and [Server.WaitIdle] lets a test make a change
// while a client idles without sleeping. It has no CONDSTORE and no
// special-use attributes (imapmemserver cannot set them): test change
// detection and folder roles against a real server. Every user starts with
// the folders INBOX, Sent, Drafts, Trash and Junk.
//
// Like pop3test and the Dovecot harness, it has two constructors: [Start]
// for a test (tied to a testing.TB: fatal on failure, closed at cleanup)
// and [NewServer] for a program (returns an error, the caller closes).
//
// Options.Quirks makes the server behave like real servers that are
// unusual or broken in a known way (UID after the body literal in FETCH
// responses, NIL or wrong-sized bodies, headers cut short, withheld messages, a command-line
// length limit, UTF-8 downgrading, an IDLE that holds back changes), for
// tests of a client's robustness.
package imaptest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// User is an account to create on the server.
type User struct {
	Name, Password string
	// Messages are appended to INBOX in order (UIDs 1, 2, ...).
	Messages [][]byte
}

// Options adjust a Server; the zero value is the default server.
type Options struct {
	// Caps replaces the extension capabilities offered (IMAP4rev1 is always
	// offered; IDLE, UNSELECT, ENABLE and UTF8=ACCEPT always are: hide them
	// with Quirks.HideCaps). nil means UIDPLUS,
	// MOVE, LIST-EXTENDED and NAMESPACE.
	Caps []imap.Cap
	// TLSConfig, if set, enables STARTTLS with this server configuration.
	TLSConfig *tls.Config
	// Trace receives the server side of the wire, if set, unredacted: the
	// credentials clients send (LOGIN, AUTHENTICATE PLAIN in base64) are
	// in it. Proxy.CommandLines redacts them; use test passwords only.
	Trace io.Writer
	// Quirks, if set, make the server misbehave in the ways it lists
	// (through a rewriting proxy in front of the in-memory server).
	Quirks *Quirks
}

// Server is a running in-process IMAP server.
type Server struct {
	// Addr is the loopback "host:port" the server listens on.
	Addr string

	srv   *imapserver.Server
	ln    net.Listener
	proxy *Proxy // with Quirks
	once  sync.Once
	mu    sync.Mutex
	users map[string]*imapmemserver.User

	quirks Quirks // the zero value without Options.Quirks
	hub    hub
}

// TB is the part of testing.TB that [Start] uses; *testing.T and
// *testing.B have it. It is declared here so that a program that only
// calls NewServer (the quickstart) does not link package testing.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Start starts a server with the given users for the test tb: a failure
// to start is fatal, and the server is closed in tb's Cleanup. opts may be
// nil.
func Start(tb TB, opts *Options, users ...User) *Server {
	tb.Helper()
	s, err := NewServer(opts, users...)
	if err != nil {
		tb.Fatalf("imaptest: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// NewServer starts a server with the given users and returns it, or why
// it could not start; the caller closes it. It is the form for programs
// that are not tests (the quickstart); tests use [Start].
func NewServer(opts *Options, users ...User) (*Server, error) {
	if opts == nil {
		opts = &Options{}
	}
	caps := imap.CapSet{imap.CapIMAP4rev1: {}}
	extra := opts.Caps
	if extra == nil {
		extra = []imap.Cap{imap.CapUIDPlus, imap.CapMove, imap.CapListExtended, imap.CapNamespace}
	}
	for _, c := range extra {
		caps[c] = struct{}{}
	}
	s := &Server{users: map[string]*imapmemserver.User{},
		hub: hub{subs: map[chan struct{}]struct{}{}, idle: map[string]int{}, idleChanged: make(chan struct{})}}
	if opts.Quirks != nil {
		s.quirks = *opts.Quirks
	}
	s.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &session{srv: s}, nil, nil
		},
		Caps:         caps,
		TLSConfig:    opts.TLSConfig,
		InsecureAuth: true,
		Logger:       discardLogger{},
		DebugWriter:  opts.Trace,
	})
	for _, u := range users {
		if err := s.AddUser(u); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.ln, s.Addr = ln, ln.Addr().String()
	go s.srv.Serve(ln)
	if opts.Quirks != nil {
		p, err := StartProxy(s.Addr, *opts.Quirks)
		if err != nil {
			s.srv.Close()
			return nil, err
		}
		s.proxy, s.Addr = p, p.Addr
	}
	return s, nil
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

// AddUser creates a user with the standard folders and its messages.
func (s *Server) AddUser(u User) error {
	mu := imapmemserver.NewUser(u.Name, u.Password)
	if err := mu.Create("INBOX", nil); err != nil {
		return err
	}
	for _, name := range []string{"Sent", "Drafts", "Trash", "Junk"} {
		if err := mu.Create(name, nil); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.users[u.Name] = mu
	s.mu.Unlock()
	for _, raw := range u.Messages {
		if _, err := s.Append(u.Name, "INBOX", raw, nil); err != nil {
			return err
		}
	}
	return nil
}

type literal struct {
	*bytes.Reader
	n int64
}

func (l literal) Size() int64 { return l.n }

// Append adds a message to a user's folder directly (no IMAP session) and
// returns its UID.
func (s *Server) Append(user, folder string, raw []byte, flags []imap.Flag) (imap.UID, error) {
	s.mu.Lock()
	u := s.users[user]
	s.mu.Unlock()
	if u == nil {
		return 0, fmt.Errorf("imaptest: no user %q", user)
	}
	d, err := u.Append(folder, literal{bytes.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{Flags: flags, Time: time.Now()})
	s.changed()
	if err != nil {
		return 0, err
	}
	return d.UID, nil
}

// Config returns a configuration for user on this server (imap://,
// tls=insecure-plaintext, INBOX).
func (s *Server) Config(user, password string) mailaccess.Config {
	host, port, _ := net.SplitHostPort(s.Addr)
	p, _ := strconv.Atoi(port)
	return mailaccess.Config{Scheme: "imap", Host: host, Port: p, User: user, Password: mailaccess.Secret(password),
		TLS: mailaccess.TLSInsecurePlaintext}
}

// Close stops the server and closes its connections.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		if s.proxy != nil {
			s.proxy.Close()
		}
		err = s.srv.Close()
	})
	return err
}
