package imap

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// The guard sits between the socket (after TLS) and go-imap. go-imap's
// parser is strict (one non-standard line fails the connection), buffers
// every literal that is not a message body and every line whole, and hides
// why a connection failed behind its own error text. The guard reads the
// server's byte stream response by response and
//
//   - bounds it: a response's bytes outside literals (opt.max-line) and
//     its literals that are not message bodies (opt.max-literal) are
//     counted as they arrive, and the connection fails, with an error that
//     names the limit, before go-imap could buffer more than the limit;
//     a literal is refused on its announced size, before any of it is read;
//   - normalises, line by line and never inside a literal or a quoted
//     string, the deviations of real servers that go-imap rejects but
//     whose meaning is certain (see normalisations below);
//   - records what happened to the connection (the server's BYE text, the
//     response being parsed, a read error, a violation), so that the
//     driver can turn go-imap's failure into an error that says what the
//     server did (conn.connErr).
//
// Message bodies (a BODY[...], BINARY[...] or RFC822* literal in a FETCH
// response) pass through untouched and uncounted: the driver streams them
// to the caller, which bounds them.
//
// Normalisations (each seen on real servers):
//
//   - a blank line, or spaces before a response, is dropped;
//   - "* [CODE] text" (a response code without a status) and "[CODE] text"
//     (no "*" either; Exchange 2013 sent "[COPYUID ...]") become
//     "* OK [CODE] text";
//   - in a status response: text glued to a response code
//     ("[Error="..." ...]", Office 365), a missing space after "]", and a
//     "[" never closed on its line are repaired; a bare CR becomes a space;
//   - in a data response, outside quoted strings: runs of spaces or tabs
//     become one space, a space before ")" and trailing spaces are dropped
//     (qq.com: "(UID 19436 )"; Exchange: "* STATUS ... ) ");
//   - in a flag list (FLAGS, PERMANENTFLAGS, a message's FLAGS): a
//     keyword containing "]", which no atom can hold (Gmail lists
//     "OIB-Seen-[Gmail]/Trash"), is left out;
//   - in a FETCH response: a size in exponent form after RFC822.SIZE or
//     BINARY.SIZE ("9.3736e+06", mail.ru) becomes the integer when it is
//     one; the items RFC822, RFC822.HEADER and RFC822.TEXT become BODY[],
//     BODY[HEADER] and BODY[TEXT] (RFC 3501 defines them as equivalent;
//     go-imap does not parse them).

// Default limits of the guard (see the package documentation, "Limits").
const (
	// DefaultMaxLine is the default of opt.max-line: the most bytes one
	// server response may have outside its literals. The longest responses
	// the driver provokes are SEARCH results (about 8 bytes per matching
	// message): 4 MiB holds half a million UIDs.
	DefaultMaxLine = 4 << 20
	// DefaultMaxLiteral is the default of opt.max-literal: the most bytes
	// of literals that are not message bodies (a folder name, a string of
	// an ENVELOPE...) in one server response.
	DefaultMaxLiteral = 1 << 20
)

// limits are the guard's bounds, from Config.Options.
type limits struct {
	maxLine    int64
	maxLiteral int64
	// verifySize is opt.size-check=strict (see OptSizeCheck).
	verifySize bool
	// progress is Config.CommandTimeout: the time within which a literal
	// must deliver MinProgress octets (or its rest) while the driver waits
	// for it.
	progress time.Duration
}

// MinProgress is the least a server must send of a literal (a message
// body) within each command timeout the driver spends waiting for it: a
// large message on a slow link is never cut off, and a server that
// trickles a byte at a time cannot hold a call for hours. At the default
// timeout it is 136 octets a second.
const MinProgress = 16 << 10

const (
	guardBufSize = 32 << 10 // input buffer
	maxHead      = 128      // bytes of a response read before classifying it
	maxTok       = 64       // longest token kept back for rewriting
	maxQuote     = maxHead  // bytes of a server line quoted in errors
)

// guard is the net.Conn go-imap reads from and writes to.
type guard struct {
	net.Conn
	lim  limits
	host string
	tr   *traceConn

	// Used by the reading goroutine (go-imap's) only.
	buf   []byte
	r, w  int
	inErr error // read error, reported once buf is drained and then on every read (see fill)
	out   []byte
	o     int
	lit   int64 // literal bytes still to pass through
	blank int64 // bytes of blank lines in a row
	resp  response

	// In a literal: the time spent waiting in reads, and the octets
	// received, since the server last delivered MinProgress octets;
	// slowBound says the progress bound, not go-imap's, armed the read.
	slowWait  time.Duration
	slowGot   int64
	slowBound bool

	failed atomic.Bool // failure is set
	// readTimeout is the bound go-imap set on reading (0: none), applied
	// to each read rather than to the whole response or literal.
	readTimeout atomic.Int64

	mu       sync.Mutex
	failure  error  // a violation the guard (or the driver) detected
	readErr  error  // the error Read returned to go-imap
	writeErr error  // the first Write error
	closed   bool   // Close was called (by go-imap or the driver)
	curRaw   []byte // the head of the response being delivered
	curAuth  bool   // it arrived during authentication
	byeLine  string // the server's BYE response, quoted, if any
	authing  bool   // an authentication exchange is running
	secrets  []string
}

func newGuard(c net.Conn, prefix []byte, tr *traceConn, lim limits, host string) *guard {
	g := &guard{Conn: c, lim: lim, host: host, tr: tr, buf: make([]byte, guardBufSize)}
	// A synthetic greeting (after our own STARTTLS) is read like the
	// server's bytes, but not traced: the server did not send it.
	g.w = copy(g.buf, prefix)
	return g
}

// Read delivers the normalised stream: at most one response (or the part
// of one up to a literal) per call, so that when go-imap fails to parse,
// the response it was parsing is the last one the guard classified.
func (g *guard) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if g.failed.Load() {
			return 0, g.violation()
		}
		if g.o < len(g.out) {
			n := copy(p, g.out[g.o:])
			g.o += n
			return n, nil
		}
		if g.lit > 0 {
			n, err := g.readLiteral(p)
			if err != nil {
				g.noteReadErr(err)
			}
			return n, err
		}
		if err := g.produce(); err != nil {
			g.noteReadErr(err)
			return 0, err
		}
	}
}

// readLiteral passes literal bytes through unchanged.
func (g *guard) readLiteral(p []byte) (int, error) {
	n := int64(len(p))
	n = min(n, g.lit)
	if g.r < g.w {
		n = min(n, int64(g.w-g.r))
		copy(p, g.buf[g.r:g.r+int(n)])
		g.r += int(n)
		g.lit -= n
		return int(n), nil
	}
	if g.inErr != nil {
		return 0, g.inErr
	}
	g.rearmLiteral()
	start := time.Now()
	m, err := g.Conn.Read(p[:n])
	g.slowWait += time.Since(start)
	if g.slowGot += int64(m); g.slowGot >= MinProgress {
		g.slowWait, g.slowGot = 0, 0
	}
	if m > 0 {
		g.trace(p[:m])
		g.lit -= int64(m)
	}
	if err != nil && g.slowBound && errors.Is(err, os.ErrDeadlineExceeded) {
		err = g.violate(&wireError{kind: mailaccess.ErrTemporary, cause: err, msg: fmt.Sprintf(
			"server %s sent %d octets of a literal (a message body) in %v of waiting, less than the %d it must send in each command timeout: it stalled, or trickles it (raise command_timeout for a very slow link)",
			g.host, g.slowGot, g.slowWait.Round(time.Millisecond), MinProgress)})
	}
	if err != nil {
		g.inErr = err // sticky, as in fill
		if m > 0 {
			err = nil
		}
	}
	return m, err
}

// fill reads more input into an empty buffer. A read error is sticky: a
// connection that failed once is never read again, so go-imap's reader
// goroutine fails at its next read (literal.go relies on it).
func (g *guard) fill() error {
	if g.inErr != nil {
		return g.inErr
	}
	g.r, g.w = 0, 0
	g.rearm()
	n, err := g.Conn.Read(g.buf)
	if n > 0 {
		g.trace(g.buf[:n])
		g.w = n
		if err != nil {
			g.inErr = err
		}
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	g.inErr = err
	return err
}

// SetReadDeadline records the bound go-imap sets on reading (a constant 30
// seconds for a response, 5 minutes for a message body) as a bound on each
// read: a slow but steady server, or a body the caller reads slowly, is
// not cut off, while a server that stops sending still is.
func (g *guard) SetReadDeadline(t time.Time) error {
	var d time.Duration
	if !t.IsZero() {
		d = max(time.Until(t), time.Millisecond)
	}
	g.readTimeout.Store(int64(d))
	return g.Conn.SetReadDeadline(t)
}

// rearm restarts the read bound before a read.
func (g *guard) rearm() {
	if d := time.Duration(g.readTimeout.Load()); d > 0 {
		g.Conn.SetReadDeadline(time.Now().Add(d))
	}
}

// resetProgress resets the progress bound for a literal that starts.
func (g *guard) resetProgress() { g.slowWait, g.slowGot = 0, 0 }

// rearmLiteral restarts the read bound before a read of a literal: go-imap's
// bound on each read, or what is left of the progress bound (MinProgress
// octets within each command timeout of waiting), whichever is sooner.
func (g *guard) rearmLiteral() {
	d := time.Duration(g.readTimeout.Load())
	g.slowBound = false
	if g.lim.progress > 0 {
		if left := max(g.lim.progress-g.slowWait, time.Millisecond); d <= 0 || left < d {
			d, g.slowBound = left, true
		}
	}
	if d > 0 {
		g.Conn.SetReadDeadline(time.Now().Add(d))
	}
}

func (g *guard) trace(p []byte) {
	if g.tr != nil {
		g.tr.server.write(p)
	}
}

// produce normalises input into g.out until a response ends, a literal
// starts, or the input read so far is used up.
func (g *guard) produce() error {
	g.out, g.o = g.out[:0], 0
	for {
		if g.r == g.w {
			if len(g.out) > 0 {
				return nil
			}
			if err := g.fill(); err != nil {
				return err
			}
			continue
		}
		done, err := g.process()
		if err != nil {
			return g.violate(err)
		}
		if g.lit > 0 || done && len(g.out) > 0 {
			return nil
		}
	}
}

// Write sends client bytes (traced, with credentials redacted).
func (g *guard) Write(p []byte) (int, error) {
	if g.tr != nil {
		g.tr.client.write(p)
	}
	n, err := g.Conn.Write(p)
	if err != nil {
		g.mu.Lock()
		if g.writeErr == nil {
			g.writeErr = err
		}
		g.mu.Unlock()
	}
	return n, err
}

// Close closes the connection; go-imap calls it when it gives up on the
// connection, before failing the pending commands.
func (g *guard) Close() error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	return g.Conn.Close()
}

// violate records a violation; every later Read returns it.
func (g *guard) violate(err error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failure == nil {
		g.failure = err
		g.failed.Store(true)
	}
	return g.failure
}

func (g *guard) violation() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.failure
}

func (g *guard) noteReadErr(err error) {
	g.mu.Lock()
	if g.readErr == nil && g.failure == nil {
		g.readErr = err
	}
	g.mu.Unlock()
}

// setCur remembers the response being delivered, as it may be quoted.
func (g *guard) setCur(head []byte) {
	g.mu.Lock()
	g.curRaw = append(g.curRaw[:0], head...)
	g.curAuth = g.authing
	g.mu.Unlock()
}

// cur returns the response being delivered, quoted for an error.
func (g *guard) cur() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.curLocked()
}

func (g *guard) curLocked() string {
	head := g.curRaw
	line := strings.TrimRight(string(head), "\r\n")
	if g.curAuth {
		// During authentication, show only the tag and status word: a
		// broken server could echo what the client sent.
		f := strings.Fields(line)
		if len(f) > 2 {
			f = f[:2]
		}
		line = strings.Join(f, " ") + " [rest withheld: received during authentication]"
	}
	return quoteLine(g.scrub(line), len(head) >= maxHead)
}

// scrub removes the credentials from s (a server could echo them).
func (g *guard) scrub(s string) string {
	for _, sec := range g.secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// scrubLine removes the credentials from a trace line.
func (g *guard) scrubLine(s string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.scrub(s)
}

// setAuthing marks the authentication exchange.
func (g *guard) setAuthing(on bool) {
	g.mu.Lock()
	g.authing = on
	g.mu.Unlock()
}

// addSecret registers a credential to keep out of errors.
func (g *guard) addSecret(s string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s != "" && !slices.Contains(g.secrets, s) {
		g.secrets = append(g.secrets, s)
	}
}

// bye returns the server's BYE response, quoted, or "".
func (g *guard) bye() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.byeLine
}

// byeSeen reports whether the server announced the end of the session.
func (g *guard) byeSeen() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.byeLine != ""
}

func quoteLine(line string, cut bool) string {
	if len(line) > maxQuote {
		line, cut = line[:maxQuote], true
	}
	q := strconv.Quote(line)
	if cut {
		q += "..."
	}
	return q
}

// wireError is a failure of the connection, in terms of what the server
// did. It matches [mailaccess.ErrProtocol] (the server broke the protocol
// or a limit) or [mailaccess.ErrTemporary] (the session ended: retrying on
// a new connection may work), and wraps the underlying error, if any.
type wireError struct {
	kind  error // ErrProtocol or ErrTemporary
	msg   string
	cause error
}

func (e *wireError) Error() string {
	if e.cause != nil {
		return e.msg + ": " + e.kind.Error() + " (" + e.cause.Error() + ")"
	}
	return e.msg + ": " + e.kind.Error()
}

func (e *wireError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

func (g *guard) lineTooLong() error {
	cur := g.cur()
	if g.resp.phase == phHead {
		cur = "(blank lines)"
	}
	return &wireError{kind: mailaccess.ErrProtocol, msg: fmt.Sprintf(
		"server %s sent a response of more than %d bytes outside literals (limit opt.max-line=%d; raise it if the server is right): %s",
		g.host, g.lim.maxLine, g.lim.maxLine, cur)}
}

func (g *guard) literalTooLarge(n int64) error {
	cur := g.cur()
	what := fmt.Sprintf("a %d-byte literal", n)
	if g.resp.lits > 0 {
		what += fmt.Sprintf(" after %d bytes of literals", g.resp.lits)
	}
	if g.resp.mark.digits > 18 {
		what = fmt.Sprintf("a literal of %d digits", g.resp.mark.digits)
	}
	return &wireError{kind: mailaccess.ErrProtocol, msg: fmt.Sprintf(
		"server %s announced %s that is not a message body, over the limit of %d bytes per response (opt.max-literal=%d; raise it if the server is right): %s",
		g.host, what, g.lim.maxLiteral, g.lim.maxLiteral, cur)}
}

// explain turns err, returned by go-imap for a command (or by a body
// reader), into an error that says what the server did, when err comes
// from the connection failing underneath go-imap: the guard returned a
// read error, a write failed, or go-imap closed the connection on a clean
// stream (so it could not parse what it read). Other errors are returned
// unchanged.
func (g *guard) explain(err error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failure != nil {
		return g.failure
	}
	rerr := g.readErr
	if rerr == nil && g.writeErr == nil && !g.closed {
		// The connection is fine and go-imap still reads it: err is not
		// about the connection.
		return err
	}
	if g.byeLine != "" {
		return &wireError{kind: mailaccess.ErrTemporary, msg: fmt.Sprintf(
			"server %s ended the session: %s", g.host, g.byeLine)}
	}
	if rerr == nil && g.writeErr == nil {
		// The stream was fine, so go-imap gave up on what it read.
		return &wireError{kind: mailaccess.ErrProtocol, cause: err, msg: fmt.Sprintf(
			"server %s sent a response the client cannot parse: %s", g.host, g.curLocked())}
	}
	if rerr == nil {
		rerr = g.writeErr
	}
	if errors.Is(rerr, net.ErrClosed) {
		// The driver closed the connection itself.
		return err
	}
	switch {
	case errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF):
		return &wireError{kind: mailaccess.ErrTemporary, msg: fmt.Sprintf(
			"server %s closed the connection", g.host)}
	case errors.Is(rerr, os.ErrDeadlineExceeded):
		return &wireError{kind: mailaccess.ErrTemporary, cause: rerr, msg: fmt.Sprintf(
			"server %s stopped sending in the middle of a response", g.host)}
	default:
		return &wireError{kind: mailaccess.ErrTemporary, cause: rerr, msg: fmt.Sprintf(
			"connection to server %s failed", g.host)}
	}
}
