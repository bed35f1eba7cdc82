// Package pop3test runs an in-process POP3 server on loopback for tests, in
// the spirit of net/http/httptest.
//
// The server's maildrop is the INBOX of any [mailaccess.Mailbox] (the
// in-memory fake of mailaccess/mailtest in particular): a session snapshots
// the INBOX listing at login, RETR and TOP stream from the Mailbox's Open
// (nothing is buffered whole), and QUIT applies the messages marked with DELE
// to the Mailbox (Delete, then [mailaccess.Commit]). A connection that ends
// any other way applies nothing, as RFC 1939 requires.
//
//	srv := pop3test.Start(t, backing, &pop3test.Options{Users: map[string]string{"alice": "secret"}})
//	cfg := mailaccess.Config{Scheme: "pop3", Host: srv.Host(), Port: srv.Port(),
//		User: "alice", Password: "secret", TLSConfig: srv.TLSConfig()}
//
// It speaks RFC 1939 (USER/PASS, APOP, STAT, LIST, UIDL, RETR, TOP, DELE,
// RSET, NOOP, QUIT), RFC 2449 CAPA with PIPELINING and response codes,
// RFC 2595 STLS (with a self-signed certificate: see [Server.CertPool] and
// [Server.TLSConfig]), implicit TLS (pop3s, [Options.ImplicitTLS]) and
// RFC 5034 AUTH with PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER.
//
// Pipelined commands are read as they arrive and answered in order; the
// answers are flushed when no further command is waiting in the input
// buffer, as a real pipelining server does.
//
// # Switches and faults
//
// [Options] can withhold UIDL, TOP, PIPELINING, STLS or CAPA, require TLS
// before any login, answer every login with a given error ("[IN-USE] ...",
// "[SYS/TEMP] ..."), delay every response, misreport sizes (SizeDelta) or
// count line ends as one octet (LFSizes), append a footer to every
// message (Footer), give several
// messages one UIDL ([Options].IDs), put blank lines before status lines
// (BeforeStatus), end every session after a few commands (DropAfter,
// DropText), offer RFC 6856 UTF8 and downgrade internationalised messages
// for sessions that do not enable it (UTF8), and inject [Fault]s per
// command: drop the connection in the middle of a RETR, answer with a
// garbage line, an endless line, a never-ending body or a never-ending
// (possibly trickled) listing.
//
// # Command log
//
// Every command received is recorded ([Server.Commands], [Server.Log]) with
// the arguments of PASS, APOP and AUTH (and SASL responses) redacted, so a
// test can assert order — for example that no DELE reached the server before
// the caller committed.
//
// # Maildrop lock
//
// A user has at most one session in the TRANSACTION state: a second
// concurrent login for the same user is answered "-ERR [IN-USE] ...".
// Every user sees the same maildrop, the backing Mailbox's INBOX.
package pop3test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailaccess/go-mailaccess/internal/testcert"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Default credentials used when Options names no user.
const (
	DefaultUser     = "user"
	DefaultPassword = "pass"
)

// GreetingCommand is the Fault.Command that targets the server greeting
// instead of the answer to a command.
const GreetingCommand = "GREETING"

// Options configure a Server. The zero value (or nil) gives a plaintext
// server offering STLS, every extension, and the single user
// DefaultUser/DefaultPassword.
type Options struct {
	// Users maps user names to passwords. If it is empty, User and
	// Password name the only user (DefaultUser/DefaultPassword when empty
	// too).
	Users          map[string]string
	User, Password string
	// Tokens maps user names to the OAuth2 bearer tokens accepted by AUTH
	// XOAUTH2 and OAUTHBEARER. A user without a token cannot use them.
	Tokens map[string]string
	// SASL lists the SASL mechanisms offered (upper case); nil means
	// PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER. An empty non-nil slice offers
	// no AUTH at all.
	SASL []string

	// NoUIDL, NoTOP, NoPipelining, NoSTLS, NoCAPA and NoAPOP withhold the
	// extension: it is not advertised and (except PIPELINING, which is a
	// promise only) the command is answered "-ERR".
	NoUIDL, NoTOP, NoPipelining, NoSTLS, NoCAPA, NoAPOP bool
	// NoUser withholds USER/PASS (SASL or APOP only).
	NoUser bool
	// RequireTLS refuses USER, PASS, APOP and AUTH until STLS succeeded.
	RequireTLS bool
	// ImplicitTLS makes the listener speak TLS from the first byte (pop3s).
	ImplicitTLS bool

	// LoginError, if set, answers every login with valid credentials with
	// "-ERR " + LoginError, e.g. "[IN-USE] maildrop busy" or
	// "[SYS/TEMP] try again later".
	LoginError string
	// Latency delays every response (and the greeting) by this much.
	Latency time.Duration
	// SizeDelta is added to every size reported by STAT and LIST (a lying
	// server); the bytes sent by RETR are unchanged.
	SizeDelta int64
	// LFSizes makes STAT and LIST count each CRLF line end as one octet,
	// as servers that report the size of a message stored with bare LF
	// line ends do (qmail-pop3d; Dovecot with pop3_fast_size_lookups).
	LFSizes bool
	// Footer is appended to every message RETR sends (not TOP), the
	// sizes of STAT and LIST unchanged, as a POP3 proxy that stamps the
	// mail it passes ("scanned by ...") does: the client receives a
	// message that is not the one stored.
	Footer string
	// Faults inject misbehaviour; see [Fault].
	Faults []Fault

	// BeforeStatus is written before every status line (the greeting,
	// +OK, -ERR and SASL "+ " continuations), for example "\r\n" or
	// "\n": servers that emit a blank line or a stray LF there.
	BeforeStatus string
	// DropAfter, if > 0, ends every session after that many commands
	// following a successful login, as a server with an autologout or a
	// per-session command limit does: the next command is answered with
	// "-ERR " + DropText when DropText is set (nothing otherwise) and the
	// connection is closed. Marks made with DELE are not applied.
	DropAfter int
	DropText  string
	// UTF8 advertises and implements the UTF8 command of RFC 6856, with
	// the USER argument (valid before and after login). With UTF8 on, the
	// server accepts a user name or password with bytes above 0x7F in
	// USER, PASS and APOP only once the session sent UTF8, and a session
	// that did not send UTF8 gets every message whose header has such
	// bytes downgraded: RETR and TOP return a short ASCII notice instead
	// of the message (LIST keeps the original size), as servers that
	// rewrite internationalised messages for legacy clients do.
	UTF8 bool
	// UTF8AfterLogin, with UTF8, advertises UTF8 only in the CAPA answer
	// after login (the command itself is accepted in both states).
	UTF8AfterLogin bool

	// XUIDL makes RETR and TOP add an "X-UIDL: <uidl>" field at the end of
	// the header of every message that has none, while STAT and LIST keep
	// counting the message without it, as GNU Mailutils' pop3d does in the
	// session that first lists a message (it writes the field into the
	// stored message at QUIT, so later sessions list the larger size).
	XUIDL bool

	// IDs, if set, maps the backing Mailbox's message IDs to the UIDL
	// strings; by default the IDs are used as they are (they must then be
	// 1 to 70 printable ASCII characters, RFC 1939).
	IDs func(mailaccess.ID) string
}

// FaultAction is what a [Fault] does instead of the normal answer.
type FaultAction int

// Fault actions.
const (
	// FaultDrop closes the connection. For RETR and TOP it first sends
	// the "+OK" line and Fault.After bytes of the message (an abrupt close
	// in the middle of a body); for other commands it closes at once.
	FaultDrop FaultAction = iota + 1
	// FaultGarbage answers with Fault.Text (default a line that is neither
	// +OK nor -ERR) and goes on with the next command.
	FaultGarbage
	// FaultEndlessLine starts an answer "+OK " and never ends the line:
	// it keeps sending bytes until the client closes the connection.
	FaultEndlessLine
	// FaultEndlessBody answers "+OK" and then sends body lines forever,
	// never the terminating ".".
	FaultEndlessBody
	// FaultError answers "-ERR " + Fault.Text (e.g. "[SYS/TEMP] busy").
	FaultError
	// FaultEndlessListing answers "+OK" and then well-formed listing
	// lines ("N 1000" for LIST, "N uN" for UIDL, "X-CAPA-N" otherwise)
	// forever, never the terminating ".", one every Fault.Interval (a
	// trickle) or as fast as the client reads.
	FaultEndlessListing
)

// Fault replaces the answer to a command (or the greeting).
type Fault struct {
	// Command is the verb the fault applies to ("RETR", "PASS", "LIST",
	// ...; case-insensitive), or GreetingCommand.
	Command string
	// Action is what happens instead of the normal answer.
	Action FaultAction
	// After is, for FaultDrop on RETR/TOP, how many bytes of the (stuffed)
	// body are sent before the connection is closed.
	After int64
	// Text is the line for FaultGarbage or the error text for FaultError.
	Text string
	// Interval is, for FaultEndlessListing, the pause before each line.
	Interval time.Duration
	// Skip lets the first Skip matching commands through unharmed; Times
	// limits how often the fault fires (0 means every time after Skip).
	Skip, Times int
	// Arg, if set, restricts the fault to commands with exactly this
	// argument ("3" for RETR 3: one message, in every session), and only
	// those count for Skip and Times.
	Arg string
}

// Entry is one command received by the server.
type Entry struct {
	// Session numbers the connections from 1 in the order they were
	// accepted.
	Session int
	// Time is when the command was read.
	Time time.Time
	// Command is the command line, with secret arguments redacted: "PASS
	// REDACTED", "APOP user REDACTED", "AUTH PLAIN REDACTED", and SASL
	// continuation lines as "REDACTED".
	Command string
}

// Server is a running POP3 test server. Its methods are safe for concurrent
// use.
type Server struct {
	// Addr is the listening address, "127.0.0.1:port".
	Addr string

	mb       mailaccess.Mailbox
	opts     Options
	users    map[string]string
	ln       net.Listener
	tlsCfg   *tls.Config // server side
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closing  sync.Once
	closeErr error

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	locked   map[string]bool
	log      []Entry
	sessions int
	fired    map[int]int // fault index → matches seen
	commits  int
	changed  chan struct{} // closed (and replaced) when a session starts or ends
}

// NewServer starts a POP3 server on 127.0.0.1 with an ephemeral port whose
// maildrop is mb's INBOX. opts may be nil. Close it when done.
func NewServer(mb mailaccess.Mailbox, opts *Options) (*Server, error) {
	if mb == nil {
		return nil, errors.New("pop3test: nil Mailbox")
	}
	s := &Server{mb: mb, conns: map[net.Conn]struct{}{}, locked: map[string]bool{}, fired: map[int]int{}, changed: make(chan struct{})}
	if opts != nil {
		s.opts = *opts
	}
	s.users = map[string]string{}
	for u, p := range s.opts.Users {
		s.users[u] = p
	}
	if len(s.users) == 0 {
		u, p := s.opts.User, s.opts.Password
		if u == "" {
			u = DefaultUser
		}
		if p == "" {
			p = DefaultPassword
		}
		s.users[u] = p
	}
	for i, f := range s.opts.Faults {
		if f.Action < FaultDrop || f.Action > FaultEndlessListing || f.Command == "" {
			return nil, fmt.Errorf("pop3test: fault %d: need a Command and a known Action", i)
		}
	}
	cert, err := testcert.Get()
	if err != nil {
		return nil, err
	}
	s.tlsCfg = cert.ServerConfig()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("pop3test: listen: %w", err)
	}
	s.ln = ln
	s.Addr = ln.Addr().String()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// TB is the part of testing.TB that [Start] uses; *testing.T and
// *testing.B have it. It is declared here so that a program that only
// calls NewServer (the quickstart) does not link package testing.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Start is NewServer for tests: it fails tb on error and closes the server
// in tb.Cleanup.
func Start(tb TB, mb mailaccess.Mailbox, opts *Options) *Server {
	tb.Helper()
	s, err := NewServer(mb, opts)
	if err != nil {
		tb.Fatalf("pop3test: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Host returns the server's IP address, "127.0.0.1".
func (s *Server) Host() string {
	h, _, _ := net.SplitHostPort(s.Addr)
	return h
}

// Port returns the server's TCP port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Config returns a mailaccess.Config that reaches this server as user with
// password: scheme "pop3s" for an ImplicitTLS server, else "pop3" (STLS),
// with TLSConfig trusting the server's certificate.
func (s *Server) Config(user, password string) mailaccess.Config {
	scheme := "pop3"
	if s.opts.ImplicitTLS {
		scheme = "pop3s"
	}
	return mailaccess.Config{Scheme: scheme, Host: s.Host(), Port: s.Port(), User: user,
		Password: mailaccess.Secret(password), TLSConfig: s.TLSConfig()}
}

// CertPool returns a pool holding the server's self-signed certificate
// (valid for localhost and 127.0.0.1).
func (s *Server) CertPool() *x509.CertPool {
	c, err := testcert.Get()
	if err != nil {
		return x509.NewCertPool()
	}
	return c.Pool()
}

// CertPEM returns the server's certificate in PEM form, for clients that
// take a CA file (Python's ssl, mpop --tls-trust-file, Config.CAFile).
func (s *Server) CertPEM() []byte {
	c, err := testcert.Get()
	if err != nil {
		return nil
	}
	return c.CertPEM
}

// TLSConfig returns a client configuration that trusts the server's
// certificate (ServerName is left empty: set it, or let the driver use the
// host, "127.0.0.1" or "localhost").
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12}
}

// Commands returns the commands received so far, across all sessions, in
// order, redacted as described for [Entry].
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.log))
	for i, e := range s.log {
		out[i] = e.Command
	}
	return out
}

// Log returns the command log with session numbers and times.
func (s *Server) Log() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Entry(nil), s.log...)
}

// ResetLog forgets the commands recorded so far.
func (s *Server) ResetLog() {
	s.mu.Lock()
	s.log = nil
	s.mu.Unlock()
}

// Sessions returns how many connections the server has accepted.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// WaitSessions waits until the server has accepted at least n
// connections ([Server.Sessions]), or ctx ends (its error is returned).
// Tests use it to act at a point of a client's progress (a poll, a
// reconnection) without sleeping.
func (s *Server) WaitSessions(ctx context.Context, n int) error {
	return s.wait(ctx, func() bool { return s.sessions >= n })
}

// WaitIdle waits until no connection to the server is open, or ctx ends
// (its error is returned). A session ends when the server notices that the
// client left: at once for a session waiting for a command, at the next
// failed write for one sending (an endless listing or body fault). Once
// WaitIdle returned, every maildrop lock of an ended session is released
// and the deletions of a session that ended without QUIT are discarded.
func (s *Server) WaitIdle(ctx context.Context) error {
	return s.wait(ctx, func() bool { return len(s.conns) == 0 })
}

// wait waits until done, called with s.mu held, reports true.
func (s *Server) wait(ctx context.Context, done func() bool) error {
	for {
		s.mu.Lock()
		ok, ch := done(), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// changedLocked wakes the callers of wait; s.mu is held.
func (s *Server) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Commits returns how many QUITs applied deletions to the backing Mailbox
// (sessions that marked nothing are not counted).
func (s *Server) Commits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commits
}

// CloseClientConnections abruptly closes every open connection (no
// deletions are applied), like a server crash; the listener stays up.
func (s *Server) CloseClientConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// Close stops the listener, closes every connection (applying nothing)
// and waits for the sessions to end. It returns the listener's close error.
func (s *Server) Close() error {
	s.closing.Do(func() {
		s.cancel()
		s.closeErr = s.ln.Close()
		s.CloseClientConnections()
		s.wg.Wait()
	})
	return s.closeErr
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.sessions++
		id := s.sessions
		s.conns[c] = struct{}{}
		s.changedLocked()
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			sess := newSession(s, c, id)
			sess.run()
			c.Close()
			if sess.conn != c {
				sess.conn.Close()
			}
			s.mu.Lock()
			delete(s.conns, c)
			s.changedLocked()
			s.mu.Unlock()
		}()
	}
}

func (s *Server) record(id int, cmd string) {
	s.mu.Lock()
	s.log = append(s.log, Entry{Session: id, Time: time.Now(), Command: cmd})
	s.mu.Unlock()
}

// fault returns the fault that fires for verb with args now, if any.
func (s *Server) fault(verb, args string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.opts.Faults {
		f := &s.opts.Faults[i]
		if !strings.EqualFold(f.Command, verb) || f.Arg != "" && f.Arg != strings.TrimSpace(args) {
			continue
		}
		n := s.fired[i]
		s.fired[i] = n + 1
		if n < f.Skip {
			continue
		}
		if f.Times > 0 && n-f.Skip >= f.Times {
			continue
		}
		return f
	}
	return nil
}

func (s *Server) lock(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked[user] {
		return false
	}
	s.locked[user] = true
	return true
}

func (s *Server) unlock(user string) {
	s.mu.Lock()
	delete(s.locked, user)
	s.mu.Unlock()
}
