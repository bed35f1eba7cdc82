package imap

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode every charset go-message knows in ENVELOPE and headers
	"github.com/emersion/go-sasl"

	"github.com/mailaccess/go-mailaccess/internal/saslx"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// protocol names the driver in errors.
const protocol = "imap"

// hooks are test seams; the zero value is production behaviour.
type hooks struct {
	// wrapConn, if set, wraps every TCP connection right after it is dialled
	// (tests keep the result to kill it).
	wrapConn func(net.Conn) net.Conn
	// noTLS skips TLS whatever the mode, to exercise the ErrInsecure guard.
	noTLS bool
	// watchReady, if set, is called each time Watch has (re)connected and
	// caught up, with the watch connection's TCP connection.
	watchReady func(net.Conn)
	// noIdle makes Watch poll even if the server offers IDLE.
	noIdle bool
	// noCredentialsCheck lets a test send an empty user or password to
	// the server.
	noCredentialsCheck bool
	// logoutTimeout, if set, replaces logoutTimeout (a test makes it
	// too long to rescue a Close that would wait for LOGOUT's answer).
	logoutTimeout time.Duration
}

// conn is one authenticated IMAP connection.
type conn struct {
	id  int64
	c   *imapclient.Client
	raw net.Conn // the TCP connection; closing it aborts everything
	g   *guard   // between the (TLS) connection and go-imap

	caps imap.CapSet

	// selected is the folder selected on the connection ("" for none),
	// writable whether it was SELECTed (not EXAMINEd).
	selected string
	writable bool
	sel      imap.SelectData

	// count is the selected folder's message count: set by SELECT, then
	// kept by EXISTS and EXPUNGE responses. (go-imap's own Mailbox() is
	// updated after Wait returns, so it can be stale right after SELECT.)
	count atomic.Uint32

	broken atomic.Bool
	killed atomic.Bool

	// unilateral receives unilateral data; the pool leaves it nil.
	uni atomic.Pointer[imapclient.UnilateralDataHandler]

	// sem is the message layer's state (fetchstream.go).
	sem connSem
}

// expunged lowers the message count by n.
func (c *conn) expunged(n uint32) {
	for {
		old := c.count.Load()
		if c.count.CompareAndSwap(old, old-min(old, n)) {
			return
		}
	}
}

// kill closes the underlying connection at once; the conn is then unusable.
func (c *conn) kill() {
	c.killed.Store(true)
	c.broken.Store(true)
	c.raw.Close()
}

// dead reports whether the connection can no longer be used (also when
// the server said BYE but has not closed the connection yet).
func (c *conn) dead() bool {
	if c.broken.Load() || c.g != nil && c.g.byeSeen() {
		return true
	}
	select {
	case <-c.c.Closed():
		return true
	default:
		return false
	}
}

// close sends LOGOUT and closes the connection without waiting for the
// server's BYE and OK: they carry nothing the client needs (every earlier
// command has completed, and LOGOUT expunges nothing), and waiting for
// them cost a round trip on every Close. The server still sees a polite
// LOGOUT before the connection ends. Sending is bounded by timeout.
func (c *conn) close(timeout time.Duration) {
	if !c.dead() {
		// Sending can only block on a server that stopped reading with a
		// full socket buffer: bound it with a timer that closes instead.
		t := time.AfterFunc(timeout, c.kill)
		c.c.Logout()
		t.Stop()
	}
	c.c.Close()
}

// logoutTimeout bounds sending LOGOUT at Close.
const logoutTimeout = 2 * time.Second

// logoutWait is how long conn.close may spend sending LOGOUT.
func (m *Mailbox) logoutWait() time.Duration {
	if m.hooks.logoutTimeout > 0 {
		return m.hooks.logoutTimeout
	}
	return logoutTimeout
}

var connSeq atomic.Int64

// arm ties the connection to ctx (and to an optional timeout): when either
// fires, the connection is closed, which makes every pending go-imap call
// return. The returned function disarms and reports whether the connection
// is still usable (neither fired).
func (c *conn) arm(ctx context.Context, timeout time.Duration) (disarm func() bool) {
	stopCtx := context.AfterFunc(ctx, c.kill)
	var timer *time.Timer
	if timeout > 0 {
		timer = time.AfterFunc(timeout, c.kill)
	}
	return func() bool {
		ok := stopCtx()
		if timer != nil && !timer.Stop() {
			ok = false
		}
		return ok && !c.killed.Load()
	}
}

// errCommandTimeout is returned when the server did not answer within
// Config.CommandTimeout.
var errCommandTimeout = fmt.Errorf("server did not answer in time (raise command_timeout if it is slow): %w", os.ErrDeadlineExceeded)

// dialConn opens, secures and authenticates one connection. The handler,
// if non-nil, receives unilateral data for this connection.
func (m *Mailbox) dialConn(ctx context.Context, uni *imapclient.UnilateralDataHandler) (*conn, error) {
	cfg := m.cfg
	lim, err := parseOptions(cfg.Get().Options)
	lim.progress = cfg.CommandTimeoutOrDefault()
	if err != nil {
		return nil, m.opErr("dial", "", err)
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeoutOrDefault())
	defer cancel()

	var d net.Dialer
	raw, err := d.DialContext(dctx, "tcp", cfg.Addr())
	if err != nil {
		return nil, m.opErr("dial", "", ctxErr(ctx, err))
	}
	if m.hooks.wrapConn != nil {
		raw = m.hooks.wrapConn(raw)
	}
	// Everything until login is bounded by dctx.
	start := time.Now()
	stop := context.AfterFunc(dctx, func() { raw.Close() })
	var phase dialPhase
	c, err := m.setupConn(dctx, raw, uni, lim, &phase)
	if !stop() {
		if c != nil {
			c.c.Close()
		}
		raw.Close()
		if err == nil || ctx.Err() != nil || dctx.Err() != nil {
			err = ctxErr(ctx, context.Cause(dctx))
		}
		if ctx.Err() == nil && phase == phaseGreeting {
			err = cfg.GreetingTimeout(time.Since(start), err)
		}
		return nil, m.opErr(phase.op(), "", err)
	}
	if err != nil {
		if c != nil {
			c.c.Close()
		}
		raw.Close()
		return nil, m.opErr(phase.op(), "", err)
	}
	return c, nil
}

// dialPhase is where setting up a connection is, so that its errors name
// the operation (a refused login is "login", not "dial") and a timeout
// can say what it waited for.
type dialPhase int

const (
	phaseTLS      dialPhase = iota // implicit TLS handshake
	phaseGreeting                  // waiting for the server's greeting
	phaseStartTLS                  // CAPABILITY, STARTTLS and its handshake
	phaseLogin                     // authenticating
	phaseCaps                      // learning the session's capabilities
)

// op names the operation of errors in phase p.
func (p dialPhase) op() string {
	switch p {
	case phaseStartTLS:
		return "starttls"
	case phaseLogin:
		return "login"
	}
	return "dial"
}

// connErr says what happened when err, returned by go-imap for a command on
// c, comes from the connection failing under it (the server's BYE, a
// dropped connection, a response the client cannot parse, a limit of the
// guard; see guard.explain); an error explained so already is kept. A
// NO or BAD answer is kept, marked temporary when its code says so
// ([UNAVAILABLE]) or locked ([INUSE]).
// Errors of other origins, and every error once the driver itself killed
// the connection, are returned unchanged.
func (c *conn) connErr(err error) error {
	if err == nil || c.killed.Load() {
		return err
	}
	if we := (*wireError)(nil); errors.As(err, &we) {
		return err // explained already (a body reader's error, say)
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		switch ie.Code {
		case imap.ResponseCodeUnavailable:
			return fmt.Errorf("%w (%w)", err, mailaccess.ErrTemporary)
		case imap.ResponseCodeInUse:
			return fmt.Errorf("%w (%w)", err, mailaccess.ErrLocked)
		}
		return err
	}
	return c.g.explain(err)
}

// ctxErr prefers ctx's error over a connection error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (m *Mailbox) setupConn(ctx context.Context, raw net.Conn, uni *imapclient.UnilateralDataHandler, lim limits, phase *dialPhase) (*conn, error) {
	cfg := m.cfg
	mode := cfg.EffectiveTLS()
	id := connSeq.Add(1)
	var (
		netConn   net.Conn = raw
		prefix    []byte
		encrypted bool
	)
	if m.hooks.noTLS {
		mode = "test-plaintext"
	}
	switch mode {
	case mailaccess.TLSImplicit:
		tc, err := cfg.TLSClientConfig()
		if err != nil {
			return nil, err
		}
		if tc.NextProtos == nil {
			tc.NextProtos = []string{"imap"}
		}
		*phase = phaseTLS
		tconn := tls.Client(raw, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			return nil, cfg.TLSError(err)
		}
		netConn, encrypted = tconn, true
	case mailaccess.TLSStartTLS:
		tconn, err := startTLS(ctx, raw, cfg, phase)
		if err != nil {
			return nil, err
		}
		netConn, encrypted = tconn, true
		// go-imap expects a greeting; the real one was before STARTTLS.
		prefix = []byte("* OK go-mailaccess: TLS established\r\n")
	}
	tr := m.tracer(id)
	g := newGuard(netConn, prefix, tr, lim, cfg.Get().Host)
	if tr != nil {
		tr.client.scrub, tr.server.scrub = g.scrubLine, g.scrubLine
	}
	if cfg.Get().Password != "" {
		// The password, and the PLAIN response that carries it.
		pw := string(cfg.Get().Password)
		g.addSecret(pw)
		g.addSecret(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(pw)) // as LOGIN quotes it
		g.addSecret(base64.StdEncoding.EncodeToString([]byte("\x00" + cfg.Get().User + "\x00" + pw)))
	}

	c := &conn{id: id, raw: raw, g: g}
	handler := &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) {
			c.expunged(1)
			c.sem.expunge(seq)
			if h := c.uni.Load(); h != nil && h.Expunge != nil {
				h.Expunge(seq)
			}
		},
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				if *d.NumMessages == math.MaxUint32 {
					// No folder can hold 2^32-1 messages (UIDs are 32-bit
					// and UIDNEXT must exceed them all): fail the command
					// rather than act on the count.
					c.g.violate(impossibleCount(cfg.Get().Host, "EXISTS", *d.NumMessages))
					return
				}
				c.count.Store(*d.NumMessages)
			}
			if h := c.uni.Load(); h != nil && h.Mailbox != nil {
				h.Mailbox(d)
			}
		},
		Fetch: func(msg *imapclient.FetchMessageData) {
			if h := c.uni.Load(); h != nil && h.Fetch != nil {
				h.Fetch(msg)
				return
			}
			if !c.sem.route(msg) {
				drainFetch(msg)
			}
		},
	}
	if uni != nil {
		c.uni.Store(uni)
	}
	c.c = imapclient.New(g, &imapclient.Options{
		UnilateralDataHandler: handler,
		WordDecoder:           &mime.WordDecoder{CharsetReader: gomessage.CharsetReader},
	})
	if prefix == nil {
		*phase = phaseGreeting
	}
	if err := c.c.WaitGreeting(); err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeBye || g.bye() != "" {
			// (go-imap may report the closed connection rather than the
			// BYE it read: the guard saw it.)
			// "* BYE" as the greeting: the server refuses sessions for now
			// (too many connections, maintenance).
			return c, fmt.Errorf("greeting: server %s refused the session: %s: %w", cfg.Get().Host, g.bye(), mailaccess.ErrTemporary)
		}
		return c, fmt.Errorf("greeting: %w", c.connErr(err))
	}
	var preAuth imap.CapSet // the capabilities login was chosen by
	authed := false
	if c.c.State() != imap.ConnStateAuthenticated {
		if !encrypted && cfg.EffectiveTLS() != mailaccess.TLSInsecurePlaintext {
			*phase = phaseLogin
			return c, mailaccess.ErrInsecure
		}
		preAuth = c.c.Caps()
		*phase = phaseLogin
		g.setAuthing(true)
		err := m.authenticate(ctx, c, preAuth)
		g.setAuthing(false)
		if err != nil {
			return c, c.connErr(err)
		}
		authed = true
	}
	*phase = phaseCaps
	caps, err := sessionCaps(c.c, authed, preAuth)
	if err != nil {
		return c, fmt.Errorf("capability: %w", c.connErr(err))
	}
	c.caps = caps
	return c, nil
}

// sessionCaps returns the capabilities of the session as it is now, asking
// CAPABILITY only when go-imap does not already hold a fresh set: servers
// such as Dovecot put them in the login's OK response code (RFC 9051
// 7.1), which saves a round trip on every connection.
//
// After a successful login go-imap completes the command first and only
// then drops the capabilities it held from before login (when the OK
// carried none), so right after Wait returns Caps may still answer with
// the pre-login set. A set received with the OK replaces that set before
// the command completes: a set other than preAuth is therefore fresh, and
// preAuth itself (or no set) means CAPABILITY must be asked.
func sessionCaps(cl *imapclient.Client, authed bool, preAuth imap.CapSet) (imap.CapSet, error) {
	if caps := cl.Caps(); caps != nil && (!authed || preAuth != nil && !sameCapSet(caps, preAuth)) {
		return caps, nil
	}
	return cl.Capability().Wait()
}

// sameCapSet reports whether a and b are the same map (not merely equal
// ones): go-imap builds a new set for every capability list it parses.
func sameCapSet(a, b imap.CapSet) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// maxPreTLSLine bounds a line read before STARTTLS.
const maxPreTLSLine = 16 << 10

// startTLS runs the plaintext part of the session itself (greeting,
// CAPABILITY, STARTTLS) so that "not offered" is detected before anything
// is sent, and returns the TLS connection.
func startTLS(ctx context.Context, raw net.Conn, cfg driver.Config, phase *dialPhase) (net.Conn, error) {
	*phase = phaseGreeting
	br := bufio.NewReaderSize(raw, 4096)
	readLine := func() (string, error) {
		var b []byte
		for {
			chunk, isPrefix, err := br.ReadLine()
			if err != nil {
				return "", err
			}
			b = append(b, chunk...)
			if len(b) > maxPreTLSLine {
				return "", fmt.Errorf("line longer than %d bytes before STARTTLS: %w", maxPreTLSLine, mailaccess.ErrProtocol)
			}
			if !isPrefix {
				return string(b), nil
			}
		}
	}
	greeting, err := readLine()
	if err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	*phase = phaseStartTLS
	up := strings.ToUpper(greeting)
	switch {
	case strings.HasPrefix(up, "* OK"):
	case strings.HasPrefix(up, "* PREAUTH"):
		return nil, fmt.Errorf("server sent PREAUTH on an unencrypted connection, refusing (RFC 9051 7.1.4): %w", mailaccess.ErrInsecure)
	default:
		return nil, fmt.Errorf("unexpected greeting %q: %w", truncate(greeting, 120), mailaccess.ErrProtocol)
	}
	hasStartTLS := func(line string) bool {
		for _, f := range strings.Fields(strings.ToUpper(line)) {
			if strings.Trim(f, "[]") == "STARTTLS" {
				return true
			}
		}
		return false
	}
	offered := strings.Contains(up, "[CAPABILITY") && hasStartTLS(greeting)
	if !offered {
		if _, err := io.WriteString(raw, "C0 CAPABILITY\r\n"); err != nil {
			return nil, err
		}
		for {
			line, err := readLine()
			if err != nil {
				return nil, fmt.Errorf("capability: %w", err)
			}
			if strings.HasPrefix(strings.ToUpper(line), "* CAPABILITY") && hasStartTLS(line) {
				offered = true
			}
			if strings.HasPrefix(line, "C0 ") {
				break
			}
		}
	}
	if !offered {
		return nil, mailaccess.ErrStartTLSUnavailable
	}
	if _, err := io.WriteString(raw, "C1 STARTTLS\r\n"); err != nil {
		return nil, err
	}
	for {
		line, err := readLine()
		if err != nil {
			return nil, fmt.Errorf("starttls: %w", err)
		}
		if !strings.HasPrefix(line, "C1 ") {
			continue
		}
		if !strings.HasPrefix(strings.ToUpper(line), "C1 OK") {
			return nil, fmt.Errorf("server refused STARTTLS (%s): %w", truncate(line[3:], 120), mailaccess.ErrStartTLSUnavailable)
		}
		break
	}
	if br.Buffered() > 0 {
		// Plaintext sent after the STARTTLS response would be injected into
		// the TLS session (CVE-2011-0411 class).
		return nil, fmt.Errorf("server sent data after STARTTLS response: %w", mailaccess.ErrProtocol)
	}
	tc, err := cfg.TLSClientConfig()
	if err != nil {
		return nil, err
	}
	tconn := tls.Client(raw, tc)
	if err := tconn.HandshakeContext(ctx); err != nil {
		return nil, cfg.TLSError(err)
	}
	return tconn, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// authenticate logs in with the configured mechanism, choosing it (when
// Config.Auth is empty) from caps, the server's pre-login capabilities.
func (m *Mailbox) authenticate(ctx context.Context, c *conn, caps imap.CapSet) error {
	cfg := m.cfg.Get()
	mech := strings.ToLower(cfg.Auth)
	if mech == "" {
		switch {
		case cfg.Token != nil && !caps.Has("AUTH=XOAUTH2") && caps.Has("AUTH=OAUTHBEARER"):
			mech = "oauthbearer"
		case cfg.Token != nil:
			mech = "xoauth2"
		case caps.Has(imap.Cap("AUTH=PLAIN")):
			mech = "plain"
		default:
			mech = "login"
		}
	}
	tryOnce := func() error {
		var secret string
		if mech == "xoauth2" || mech == "oauthbearer" {
			if cfg.Token == nil {
				if cfg.Password == "" {
					return fmt.Errorf("auth %s needs a token (Config.Token) or Password holding one: %w", mech, mailaccess.ErrInvalid)
				}
				secret = string(cfg.Password)
			} else {
				tok, err := cfg.Token(ctx)
				if err != nil {
					return fmt.Errorf("token: %w", err)
				}
				c.g.addSecret(tok)
				c.g.addSecret(base64.StdEncoding.EncodeToString([]byte("user=" + cfg.User + "\x01auth=Bearer " + tok + "\x01\x01")))
				secret = tok
			}
		} else {
			secret = string(cfg.Password)
		}
		if strings.ContainsAny(secret, "\r\n\x00") {
			return fmt.Errorf("credential contains CR, LF or NUL: %w", mailaccess.ErrInvalid)
		}
		var err error
		switch mech {
		case "login":
			if caps.Has(imap.CapLoginDisabled) {
				return fmt.Errorf("server advertises LOGINDISABLED: %w", mailaccess.ErrAuth)
			}
			err = c.c.Login(cfg.User, secret).Wait()
		case "plain":
			err = c.c.Authenticate(sasl.NewPlainClient("", cfg.User, secret))
		case "xoauth2":
			sc := saslx.NewXOAUTH2Client(cfg.User, secret)
			err = c.c.Authenticate(sc)
			if err != nil {
				if se := sc.(*saslx.XOAUTH2Client).ServerError(); se != nil {
					err = fmt.Errorf("%w (%v)", err, se)
				}
			}
		case "oauthbearer":
			host := cfg.Host
			err = c.c.Authenticate(sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: cfg.User, Token: secret, Host: host, Port: m.cfg.PortOrDefault()}))
		default:
			return fmt.Errorf("auth mechanism %q is not available for IMAP: %w", mech, mailaccess.ErrInvalid)
		}
		return err
	}
	err := tryOnce()
	if err != nil && isAuthFailure(err) && cfg.Token != nil && ctx.Err() == nil {
		// The token may have expired: ask for a fresh one once.
		err = tryOnce()
	}
	if err != nil {
		if isAuthFailure(err) {
			return fmt.Errorf("%s as %q: %w: %w", strings.ToUpper(mech), cfg.User, mailaccess.ErrAuth, sanitizeErr(err))
		}
		return fmt.Errorf("%s: %w", strings.ToUpper(mech), err)
	}
	return nil
}

// sanitizeErr keeps an error's text short and single-line.
func sanitizeErr(err error) error {
	return errors.New(truncate(strings.ReplaceAll(err.Error(), "\r\n", " "), 300))
}

// isAuthFailure reports whether err is the server refusing credentials (a
// NO to LOGIN/AUTHENTICATE).
func isAuthFailure(err error) bool {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return ie.Type == imap.StatusResponseTypeNo || ie.Code == imap.ResponseCodeAuthenticationFailed
	}
	var se *sasl.OAuthBearerError
	return errors.As(err, &se)
}

// traceConn holds the two direction tracers of one connection.
type traceConn struct {
	client, server *tracer
}

func (m *Mailbox) tracer(id int64) *traceConn {
	if m.cfg.Get().Trace == nil {
		return nil
	}
	out := &lockedWriter{w: m.cfg.Get().Trace, mu: &m.traceMu}
	return &traceConn{
		client: &tracer{out: out, prefix: fmt.Sprintf("C%d: ", id), client: true},
		server: &tracer{out: out, prefix: fmt.Sprintf("S%d: ", id)},
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) writeLine(s string) {
	l.mu.Lock()
	io.WriteString(l.w, s)
	l.mu.Unlock()
}

// maxTraceLine bounds a traced line; longer lines are cut.
const maxTraceLine = 2048

// tracer turns one direction of the byte stream into trace lines: literals
// are summarised, and on the client side the arguments of LOGIN and the
// whole AUTHENTICATE exchange are redacted.
type tracer struct {
	out    *lockedWriter
	prefix string
	client bool
	scrub  func(string) string // removes credentials a line may carry

	line      []byte
	cut       bool
	literal   int64 // literal bytes still to skip
	secretTag string
}

func (t *tracer) write(p []byte) {
	for len(p) > 0 {
		if t.literal > 0 {
			n := int64(len(p))
			if n > t.literal {
				n = t.literal
			}
			t.literal -= n
			p = p[n:]
			continue
		}
		i := indexByte(p, '\n')
		if i < 0 {
			t.appendLine(p)
			return
		}
		t.appendLine(p[:i])
		p = p[i+1:]
		t.flushLine()
	}
}

func indexByte(p []byte, c byte) int {
	for i, b := range p {
		if b == c {
			return i
		}
	}
	return -1
}

func (t *tracer) appendLine(p []byte) {
	room := maxTraceLine - len(t.line)
	if len(p) > room {
		p = p[:room]
		t.cut = true
	}
	t.line = append(t.line, p...)
}

func (t *tracer) flushLine() {
	line := strings.TrimSuffix(string(t.line), "\r")
	cut := t.cut
	t.line, t.cut = t.line[:0], false
	lit := literalSize(line)
	shown := line
	if t.client {
		shown = t.redact(line)
	}
	if t.scrub != nil {
		shown = t.scrub(shown)
	}
	if cut {
		shown += " [line cut]"
	}
	if lit > 0 {
		t.literal = lit
		what := "literal"
		if t.secretTag != "" {
			what = "redacted literal"
		}
		shown += fmt.Sprintf(" [%s of %d bytes]", what, lit)
	}
	t.out.writeLine(t.prefix + shown + "\n")
}

// redact hides credentials on client lines.
func (t *tracer) redact(line string) string {
	fields := strings.SplitN(line, " ", 4)
	if len(fields) >= 2 && isTag(fields[0]) {
		cmd := strings.ToUpper(fields[1])
		switch cmd {
		case "LOGIN":
			t.secretTag = fields[0]
			return fields[0] + " LOGIN [redacted]"
		case "AUTHENTICATE":
			t.secretTag = fields[0]
			if len(fields) >= 3 {
				return fields[0] + " AUTHENTICATE " + fields[2] + " [redacted]"
			}
			return line
		}
		if fields[0] != t.secretTag {
			t.secretTag = ""
			return line
		}
	}
	if t.secretTag != "" {
		return "[redacted]"
	}
	return line
}

func isTag(s string) bool {
	if s == "" || s == "+" || s == "*" {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// literalSize returns N if line ends with {N}, {N+} or {N-}, else 0.
func literalSize(line string) int64 {
	if !strings.HasSuffix(line, "}") {
		return 0
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0
	}
	num := strings.TrimRight(line[i+1:len(line)-1], "+-")
	var n int64
	if num == "" || len(num) > 12 {
		return 0
	}
	for _, r := range num {
		if r < '0' || r > '9' {
			return 0
		}
		n = n*10 + int64(r-'0')
	}
	return n
}
