package pop3wire

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultTimeout is used when Options.Timeout is zero.
const DefaultTimeout = 2 * time.Minute

// readBufferSize is the size of the connection's read buffer; bodies are
// streamed through it.
const readBufferSize = 64 << 10

// maxLast bounds the copy of the last status line kept for errors.
const maxLast = maxErrText

// DefaultMaxListing is used when Options.MaxListing is zero.
const DefaultMaxListing = 250_000

// Options configures a Client. The zero value (or nil) is usable.
type Options struct {
	// Timeout bounds how long the client waits for the server. An answer
	// that is not a message body (a status line; a LIST, UIDL or CAPA
	// listing up to its terminating line) must arrive complete within it
	// from the moment the command is sent, however the server paces it:
	// a listing trickled one line at a time cannot hold the client. While
	// a body is streamed (Retr, Top, RetrAll, TopAll) it is an idle
	// timeout instead, so large messages are not cut off: the server must
	// deliver MinProgress octets (or the rest of the body) within each
	// Timeout the client spends waiting for it (the time the caller takes
	// to read is not counted), so a server that trickles a byte at a
	// time cannot hold the client either. Each write must make progress
	// within it too. The context's deadline applies on top. Zero means
	// DefaultTimeout; negative means no timeout besides the context.
	Timeout time.Duration
	// MaxListing bounds the lines of one LIST or UIDL listing (one line per
	// message, so it is also the largest maildrop that can be listed): a
	// longer listing is an error wrapping ErrListingTooLong and
	// ErrProtocol, and breaks the connection. Zero means
	// DefaultMaxListing.
	MaxListing int
	// Trace, if set, receives the protocol dialogue, one line per command or
	// status line, prefixed "C: " or "S: ". Passwords, APOP digests and SASL
	// data sent by the client are redacted; message bodies and listings are
	// summarised, not copied.
	Trace io.Writer
}

// Client is a POP3 client connection. Use NewClient or Dial to create one.
// A Client is not safe for concurrent use by multiple goroutines.
type Client struct {
	conn       net.Conn
	br         *bufio.Reader
	bw         *bufio.Writer
	timeout    time.Duration
	maxListing int

	// bound, when set, is the deadline of the non-body answer being read
	// (see Options.Timeout); zero while a body streams. Only the goroutine
	// reading responses touches it.
	bound time.Time
	// While a body streams: the time spent waiting in reads, and the
	// octets received, since the server last delivered MinProgress
	// octets (see Options.Timeout). Only the reading goroutine touches
	// them.
	slowWait time.Duration
	slowGot  int64

	// marked: a DELE was accepted since the session began or the last
	// RSET, so QUIT has messages to remove (see awaitServerClose).
	marked bool

	greeting  string
	timestamp string // APOP timestamp, including < >
	caps      Capabilities
	isTLS     bool

	// Current operation. opCtx is set by begin and read by the I/O wrappers
	// (including the pipelining writer goroutine, which starts after begin).
	opCtx  context.Context
	stopFn func() bool
	open   *Body // the body reader that is open, if any

	mu     sync.Mutex
	broken error
	lost   error         // why the connection was lost (wraps ErrConnectionLost or ErrTimeout)
	last   [maxLast]byte // the last status line read, for errors about a lost connection
	lastN  int           // its length in last

	traceMu sync.Mutex
	trace   io.Writer
}

// NewClient takes over conn (already connected, TLS already established for
// implicit TLS on port 995) and reads the server greeting under ctx. On
// error conn is closed.
func NewClient(ctx context.Context, conn net.Conn, opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	c := &Client{conn: conn, timeout: opts.Timeout, maxListing: opts.MaxListing, trace: opts.Trace}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxListing <= 0 {
		c.maxListing = DefaultMaxListing
	}
	_, c.isTLS = conn.(*tls.Conn)
	c.br = bufio.NewReaderSize(connReader{c}, readBufferSize)
	c.bw = bufio.NewWriterSize(connWriter{c}, 4096)

	if err := c.begin(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	c.armTotal()
	st, err := c.readStatus("greeting")
	if err == nil && st.kind != statusOK {
		err = c.statusError("greeting", st)
		if st.kind == statusCont {
			err = c.fail(fmt.Errorf("%w: greeting is a continuation line", ErrProtocol))
		}
	}
	if err == nil {
		c.greeting = sanitize(st.text)
		c.timestamp = apopTimestamp(st.text)
	}
	if e2 := c.end(); err == nil {
		err = e2
	}
	if err != nil {
		conn.Close()
		c.fail(err)
		return nil, err
	}
	return c, nil
}

// Dial connects to addr ("host:port") and returns a Client after reading the
// greeting. If tlsConfig is non-nil the connection uses implicit TLS (POP3S,
// normally port 995); nil means plaintext (use StartTLS to upgrade). A
// tlsConfig without ServerName gets the host part of addr.
func Dial(ctx context.Context, addr string, tlsConfig *tls.Config, opts *Options) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tlsConfig != nil {
		cfg := tlsConfig.Clone()
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg.ServerName = host
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	return NewClient(ctx, conn, opts)
}

// Greeting returns the text of the server's greeting (sanitised).
func (c *Client) Greeting() string { return c.greeting }

// Capabilities returns the capabilities from the last successful Capa call,
// or the zero value if Capa was not called (or the capabilities were reset
// by StartTLS).
func (c *Client) Capabilities() Capabilities { return c.caps }

// IsTLS reports whether the connection is protected by TLS (implicit or
// after StartTLS).
func (c *Client) IsTLS() bool { return c.isTLS }

// Err returns the reason the connection is unusable, wrapping ErrBroken, or
// nil while it is usable.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken
}

// Close closes the connection without sending QUIT: deletions marked with
// Dele are NOT applied (the server rolls them back). Use Quit to commit them.
func (c *Client) Close() error {
	c.fail(errors.New("client closed"))
	return c.conn.Close()
}

// fail marks the connection broken (first cause wins) and returns the
// error to report, which wraps ErrBroken and the cause, and, if the
// connection was lost (closed by the server, reset, timed out), the reason
// with the server's last response. Errors that already wrap ErrBroken are
// returned as is.
func (c *Client) fail(cause error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken == nil {
		if errors.Is(cause, ErrBroken) {
			c.broken = cause
		} else {
			c.broken = fmt.Errorf("%w: %w", ErrBroken, cause)
		}
	}
	if errors.Is(cause, ErrBroken) {
		return cause
	}
	if c.lost != nil && !errors.Is(cause, c.lost) {
		cause = fmt.Errorf("%w (%w)", cause, c.lost)
	}
	return fmt.Errorf("%w: %w", ErrBroken, cause)
}

// noteLost records why the connection was lost (the first reason wins)
// and marks it broken. lost wraps ErrConnectionLost or ErrTimeout.
func (c *Client) noteLost(lost error) {
	c.mu.Lock()
	if c.lost == nil {
		c.lost = lost
	}
	c.mu.Unlock()
	c.fail(lost)
}

// lastResponse returns the last status line read, sanitised, or "".
func (c *Client) lastResponse() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return sanitize(c.last[:c.lastN])
}

// lostError describes a lost connection (what happened), wrapping
// ErrConnectionLost, with the server's last response if there was one: a
// server that ends a session often says why ("-ERR autologout").
func (c *Client) lostError(what string) error {
	if last := c.lastResponse(); last != "" {
		return fmt.Errorf("%w: %s; the server's last response was %q", ErrConnectionLost, what, last)
	}
	return fmt.Errorf("%w: %s", ErrConnectionLost, what)
}

// begin starts an operation under ctx: it checks the state and arms the
// cancellation hook that forces blocked I/O to return.
func (c *Client) begin(ctx context.Context) error {
	if err := c.Err(); err != nil {
		return err
	}
	if c.open != nil {
		return ErrBusy
	}
	if err := ctx.Err(); err != nil {
		return err // nothing sent: the connection stays usable
	}
	c.opCtx = ctx
	c.bound = time.Time{}
	conn := c.conn
	c.stopFn = context.AfterFunc(ctx, func() {
		// A deadline in the past makes pending and future I/O fail at once.
		_ = conn.SetDeadline(time.Unix(1, 0))
	})
	return nil
}

// end finishes the operation started by begin. If the context was cancelled
// meanwhile the connection is broken (its deadline is poisoned and the
// command may be half done).
func (c *Client) end() error {
	stop := c.stopFn
	ctx := c.opCtx
	c.stopFn, c.opCtx = nil, nil
	if stop != nil && !stop() {
		return c.fail(fmt.Errorf("context done during command: %w", context.Cause(ctx)))
	}
	return nil
}

// armTotal starts the bound of a non-body answer: it must be complete
// within the timeout from now (see Options.Timeout).
func (c *Client) armTotal() {
	c.bound = time.Time{}
	if c.timeout > 0 {
		c.bound = time.Now().Add(c.timeout)
	}
}

// MinProgress is the least a server must send of a message body within
// each timeout the client spends waiting for it (see Options.Timeout):
// at the default timeout, 136 octets a second.
const MinProgress = 16 << 10

// armIdle switches reads to the progress bound of a body.
func (c *Client) armIdle() {
	c.bound = time.Time{}
	c.slowWait, c.slowGot = 0, 0
}

// readDeadline computes the deadline of the next read: the bound of the
// answer being read, else what is left of the body's progress bound, and
// the context's deadline.
func (c *Client) readDeadline() time.Time {
	d := c.bound
	if d.IsZero() && c.timeout > 0 {
		d = time.Now().Add(max(c.timeout-c.slowWait, time.Millisecond))
	}
	return c.withCtxDeadline(d)
}

// progress accounts for a read of n octets of a body that waited wait.
func (c *Client) progress(n int, wait time.Duration) {
	if !c.bound.IsZero() {
		return
	}
	c.slowWait += wait
	if c.slowGot += int64(n); c.slowGot >= MinProgress {
		c.slowWait, c.slowGot = 0, 0
	}
}

// writeDeadline computes the deadline of the next write (idle timeout and
// the context's deadline). It does not touch bound: the pipelining writer
// goroutine calls it.
func (c *Client) writeDeadline() time.Time {
	var d time.Time
	if c.timeout > 0 {
		d = time.Now().Add(c.timeout)
	}
	return c.withCtxDeadline(d)
}

func (c *Client) withCtxDeadline(d time.Time) time.Time {
	if c.opCtx != nil {
		if cd, ok := c.opCtx.Deadline(); ok && (d.IsZero() || cd.Before(d)) {
			d = cd
		}
	}
	return d
}

// ioError converts an I/O error, attributing it to the context if that is
// why it failed, else recording the connection as lost, and marks the
// connection broken. reading tells whether the error came from a read.
func (c *Client) ioError(err error, reading bool) error {
	if broken := c.Err(); broken != nil {
		// Already broken (for example the pipelining writer failed and
		// poisoned the read deadline): the first cause is the one.
		return broken
	}
	if c.opCtx != nil {
		if c.opCtx.Err() != nil {
			return c.fail(fmt.Errorf("%w (%w)", context.Cause(c.opCtx), err))
		}
		if dl, ok := c.opCtx.Deadline(); ok && !time.Now().Before(dl) {
			// The socket deadline (armed from the context's) can fire a
			// moment before the context's own timer marks it done.
			return c.fail(fmt.Errorf("%w (%w)", context.DeadlineExceeded, err))
		}
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) && reading && !c.bound.IsZero():
		c.noteLost(&wrapped{fmt.Sprintf("%v: no complete answer from the server within %v (the command timeout)", ErrTimeout, c.timeout), []error{ErrTimeout, err}})
	case errors.Is(err, os.ErrDeadlineExceeded) && reading:
		c.noteLost(&wrapped{fmt.Sprintf("%v: the server sent %d octets of the message body in %v of waiting, less than the %d it must send in each command timeout: it stalled, or trickles it (raise command_timeout for a very slow link)",
			ErrTimeout, c.slowGot, c.slowWait.Round(time.Millisecond), MinProgress), []error{ErrTimeout, err}})
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.noteLost(&wrapped{fmt.Sprintf("%v: the server made no progress for %v (the command timeout)", ErrTimeout, c.timeout), []error{ErrTimeout, err}})
	case errors.Is(err, io.EOF):
		c.noteLost(c.lostError("the server closed the connection"))
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		// The server's system resets a connection the server closed when
		// data arrives for it; which of that and the end of the stream the
		// client sees first is timing.
		c.noteLost(fmt.Errorf("%w (%w)", c.lostError("the server closed the connection"), err))
	default:
		c.noteLost(fmt.Errorf("%w (%w)", c.lostError("the connection failed"), err))
	}
	return c.Err()
}

// wrapped is an error with its own text that wraps errs (for example a
// net.Error kept for errors.As without repeating its text).
type wrapped struct {
	msg  string
	errs []error
}

func (e *wrapped) Error() string   { return e.msg }
func (e *wrapped) Unwrap() []error { return e.errs }

// connReader applies deadlines and context checks to every read.
type connReader struct{ c *Client }

func (r connReader) Read(p []byte) (int, error) {
	c := r.c
	if err := c.Err(); err != nil {
		return 0, err
	}
	if err := c.conn.SetReadDeadline(c.readDeadline()); err != nil {
		return 0, c.ioError(err, true)
	}
	// Checked after arming the deadline so a concurrent cancellation is
	// never overwritten by the deadline above.
	if c.opCtx != nil && c.opCtx.Err() != nil {
		return 0, c.ioError(c.opCtx.Err(), true)
	}
	// Re-checked for the same reason: the pipelining writer poisons the read
	// deadline after marking the connection broken.
	if err := c.Err(); err != nil {
		return 0, err
	}
	start := time.Now()
	n, err := c.conn.Read(p)
	c.progress(n, time.Since(start))
	if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
		if errors.Is(err, io.EOF) {
			c.ioError(err, true)
			return n, io.EOF // callers turn it into ErrUnexpectedEOF
		}
		return n, c.ioError(err, true)
	}
	return n, nil
}

// connWriter applies deadlines and context checks to every write.
type connWriter struct{ c *Client }

func (w connWriter) Write(p []byte) (int, error) {
	c := w.c
	if err := c.Err(); err != nil {
		return 0, err
	}
	if err := c.conn.SetWriteDeadline(c.writeDeadline()); err != nil {
		return 0, c.ioError(err, false)
	}
	if c.opCtx != nil && c.opCtx.Err() != nil {
		return 0, c.ioError(c.opCtx.Err(), false)
	}
	n, err := c.conn.Write(p)
	if err != nil {
		return n, c.ioError(err, false)
	}
	return n, nil
}

// tracef writes one trace line.
func (c *Client) tracef(format string, args ...any) {
	if c.trace == nil {
		return
	}
	c.traceMu.Lock()
	defer c.traceMu.Unlock()
	fmt.Fprintf(c.trace, format+"\n", args...)
}

// validArg rejects arguments that would break the command line.
func validArg(name, s string) error {
	if strings.ContainsAny(s, "\r\n\x00") {
		return fmt.Errorf("%w: %s contains CR, LF or NUL", ErrInvalidArgument, name)
	}
	return nil
}

// writeCmd buffers one command line (without flushing) and traces it in
// redacted form.
func (c *Client) writeCmd(line string) error {
	c.tracef("C: %s", redact(line))
	if _, err := c.bw.WriteString(line); err != nil {
		return err
	}
	_, err := c.bw.WriteString("\r\n")
	return err
}

// sendCmd writes and flushes one command.
func (c *Client) sendCmd(line string) error {
	if err := c.writeCmd(line); err != nil {
		return err
	}
	return c.bw.Flush()
}

// maxBlankLines is how many blank lines (or stray line ends) are skipped
// before a status line; some servers send one after a multi-line answer.
const maxBlankLines = 8

// readStatus reads and parses one status line, skipping up to
// maxBlankLines blank lines before it. Protocol errors and I/O errors
// break the connection. An -ERR is returned as a status, not an error.
func (c *Client) readStatus(cmd string) (status, error) {
	for blanks := 0; ; blanks++ {
		line, err := readLine(c.br, MaxLineLength)
		if err != nil {
			if errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.ErrUnexpectedEOF
			}
			return status{}, c.fail(fmt.Errorf("reading response to %s: %w", cmd, err))
		}
		if isBlank(line) {
			if blanks >= maxBlankLines {
				return status{}, c.fail(fmt.Errorf("%w: more than %d blank lines instead of the response to %s", ErrProtocol, maxBlankLines, cmd))
			}
			continue
		}
		c.mu.Lock()
		c.lastN = copy(c.last[:], line)
		c.mu.Unlock()
		if c.trace != nil {
			c.tracef("S: %s", sanitize(line))
		}
		st, err := parseStatus(line)
		if err != nil {
			return status{}, c.fail(fmt.Errorf("response to %s: %w", cmd, err))
		}
		return st, nil
	}
}

// isBlank reports whether a line holds nothing but spaces, tabs and CRs.
func isBlank(line []byte) bool {
	for _, b := range line {
		if b != ' ' && b != '\t' && b != '\r' {
			return false
		}
	}
	return true
}

// statusError builds the *Error for an -ERR status.
func (c *Client) statusError(cmd string, st status) error {
	return &Error{Command: cmd, Code: st.code, Text: sanitize(st.text)}
}

// simple runs a single-line command and returns the +OK text (copied).
func (c *Client) simple(ctx context.Context, line string) (string, error) {
	if err := c.begin(ctx); err != nil {
		return "", err
	}
	text, err := c.simpleLocked(line)
	if e2 := c.end(); e2 != nil {
		return "", e2
	}
	return text, err
}

func (c *Client) simpleLocked(line string) (string, error) {
	cmd := redact(line)
	c.armTotal()
	if err := c.sendCmd(line); err != nil {
		return "", err
	}
	st, err := c.readStatus(cmd)
	if err != nil {
		return "", err
	}
	switch st.kind {
	case statusOK:
		return string(st.text), nil
	case statusErr:
		return "", c.statusError(cmd, st)
	default:
		return "", c.fail(fmt.Errorf("%w: unexpected continuation in response to %s", ErrProtocol, cmd))
	}
}

// multi runs a multi-line command, passing each listing line to fn.
func (c *Client) multi(ctx context.Context, line string, maxLines int, fn func([]byte) error) error {
	if err := c.begin(ctx); err != nil {
		return err
	}
	err := c.multiLocked(line, maxLines, fn)
	if e2 := c.end(); e2 != nil {
		return e2
	}
	return err
}

func (c *Client) multiLocked(line string, maxLines int, fn func([]byte) error) error {
	cmd := redact(line)
	if _, err := c.simpleLocked(line); err != nil {
		return err
	}
	return c.readListing(cmd, maxLines, fn)
}

// readListing reads a multi-line listing after its +OK status, under the
// bound armed for the command. More than maxLines lines (zero: the
// configured Options.MaxListing) break the connection: a listing is kept in
// memory by its caller, and a server that never ends one must not hold the
// client.
func (c *Client) readListing(cmd string, maxLines int, fn func([]byte) error) error {
	configured := maxLines <= 0
	if configured {
		maxLines = c.maxListing
	}
	lines := 0
	err := readMultiline(c.br, func(l []byte) error {
		if lines++; lines > maxLines {
			return errListingCap
		}
		return fn(l)
	})
	if errors.Is(err, errListingCap) {
		if configured {
			return c.fail(fmt.Errorf("%w: %w: %s has more than %d lines", ErrProtocol, ErrListingTooLong, cmd, maxLines))
		}
		return c.fail(fmt.Errorf("%w: %s has more than %d lines", ErrProtocol, cmd, maxLines))
	}
	if err != nil && !errors.Is(err, ErrProtocol) {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return c.fail(fmt.Errorf("reading %s listing: %w", cmd, err))
	}
	if err != nil && errors.Is(err, ErrLineTooLong) {
		return c.fail(fmt.Errorf("reading %s listing: %w", cmd, err))
	}
	c.tracef("S: <%d lines>", lines)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}

// errListingCap stops readMultiline at a listing's line cap.
var errListingCap = errors.New("listing cap")

// Noop sends NOOP.
func (c *Client) Noop(ctx context.Context) error {
	_, err := c.simple(ctx, "NOOP")
	return err
}

// Rset sends RSET, unmarking all messages marked as deleted.
func (c *Client) Rset(ctx context.Context) error {
	_, err := c.simple(ctx, "RSET")
	if err == nil {
		c.marked = false
	}
	return err
}

// Dele marks message num as deleted. The deletion is applied only when the
// server answers QUIT (see Quit).
func (c *Client) Dele(ctx context.Context, num int) error {
	if num <= 0 {
		return fmt.Errorf("%w: message number %d", ErrInvalidArgument, num)
	}
	_, err := c.simple(ctx, "DELE "+strconv.Itoa(num))
	if err == nil {
		c.marked = true
	}
	return err
}

// Quit sends QUIT, which ends the session and makes the server apply
// pending deletions, and closes the connection. The returned error is the
// server's answer: nil means the deletions were committed; an *Error (for
// example "-ERR some deleted messages not removed") means they may not have
// been.
func (c *Client) Quit(ctx context.Context) error {
	_, err := c.simple(ctx, "QUIT")
	if err == nil && c.marked {
		c.awaitServerClose(ctx)
	}
	c.fail(errors.New("session ended by QUIT"))
	if cerr := c.conn.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

// quitWait bounds how long Quit waits, after the server's +OK, for the
// server to close the connection (see awaitServerClose).
const quitWait = 10 * time.Second

// awaitServerClose waits, after the +OK to QUIT, until the server closes
// the connection: at most quitWait (or the timeout, if shorter) and while
// ctx lasts, discarding anything it sends. RFC 1939 has the server remove
// the messages marked deleted before it answers QUIT; some answer first
// and remove them after, closing the connection when done (Courier's
// pop3d), and a session opened before that would still list messages
// being removed. Waiting costs nothing with a server that closes at once;
// a session that marked nothing does not wait.
func (c *Client) awaitServerClose(ctx context.Context) {
	wait := quitWait
	if c.timeout > 0 && c.timeout < wait {
		wait = c.timeout
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if c.conn.SetReadDeadline(deadline) != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	// What the reader buffered is not read again: the connection is
	// read directly, up to a bound, until EOF, an error or the deadline.
	_, _ = io.Copy(io.Discard, io.LimitReader(c.conn, 64<<10))
}

// Stat returns the number of messages and their total size.
func (c *Client) Stat(ctx context.Context) (count int, size int64, err error) {
	text, err := c.simple(ctx, "STAT")
	if err != nil {
		return 0, 0, err
	}
	a, b, ok := fields2([]byte(text))
	if ok {
		n, ok1 := parseNum(a, true)
		s, ok2 := parseNum(b, true)
		if ok1 && ok2 && n <= maxMsgNum {
			return int(n), s, nil
		}
	}
	return 0, 0, fmt.Errorf("%w: malformed STAT answer %q", ErrProtocol, sanitize([]byte(text)))
}

// List returns the scan listing of all messages not marked as deleted. A
// malformed line is reported as an error naming the line (the connection
// stays usable).
func (c *Client) List(ctx context.Context) ([]MessageSize, error) {
	return listing(ctx, c, "LIST", parseListLine)
}

// ListOne returns the scan listing of message num.
func (c *Client) ListOne(ctx context.Context, num int) (MessageSize, error) {
	return listingOne(ctx, c, "LIST", num, parseListLine)
}

// UIDL returns the unique-id listing of all messages not marked as deleted.
// Malformed lines (bad numbers, UIDs not 1-70 printable characters) are
// reported as an error naming the line (the connection stays usable).
func (c *Client) UIDL(ctx context.Context) ([]MessageUID, error) {
	return listing(ctx, c, "UIDL", parseUIDLLine)
}

// UIDLOne returns the unique-id of message num.
func (c *Client) UIDLOne(ctx context.Context, num int) (MessageUID, error) {
	return listingOne(ctx, c, "UIDL", num, parseUIDLLine)
}

// listing runs a multi-line listing command (LIST, UIDL) and parses each
// line with parse.
func listing[T any](ctx context.Context, c *Client, cmd string, parse func([]byte) (T, error)) ([]T, error) {
	var out []T
	err := c.multi(ctx, cmd, 0, func(l []byte) error {
		m, err := parse(l)
		if err == nil {
			out = append(out, m)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// listingOne runs the single-message form "CMD num" of a listing command.
func listingOne[T any](ctx context.Context, c *Client, cmd string, num int, parse func([]byte) (T, error)) (T, error) {
	var zero T
	if num <= 0 {
		return zero, fmt.Errorf("%w: message number %d", ErrInvalidArgument, num)
	}
	text, err := c.simple(ctx, cmd+" "+strconv.Itoa(num))
	if err != nil {
		return zero, err
	}
	return parse([]byte(text))
}

// Retr retrieves message num. See RetrAll for many messages.
//
// On success the returned body streams the message exactly as the server
// sent it (CRLF kept, dot-stuffing undone) and must be closed before the
// next command. Reads observe ctx. Close drains any unread rest so the
// connection stays usable; if ctx is done, Close does not drain and the
// connection is broken instead. A body that ends without its terminator
// returns an error wrapping io.ErrUnexpectedEOF.
func (c *Client) Retr(ctx context.Context, num int) (io.ReadCloser, error) {
	if num <= 0 {
		return nil, fmt.Errorf("%w: message number %d", ErrInvalidArgument, num)
	}
	return c.openBody(ctx, "RETR "+strconv.Itoa(num))
}

// Top retrieves the header of message num and the first lines lines of its
// body (RFC 1939 TOP). The body has the same semantics as Retr's.
func (c *Client) Top(ctx context.Context, num, lines int) (io.ReadCloser, error) {
	if num <= 0 || lines < 0 {
		return nil, fmt.Errorf("%w: message number %d, lines %d", ErrInvalidArgument, num, lines)
	}
	return c.openBody(ctx, "TOP "+strconv.Itoa(num)+" "+strconv.Itoa(lines))
}

func (c *Client) openBody(ctx context.Context, line string) (io.ReadCloser, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	if _, err := c.simpleLocked(line); err != nil {
		if e2 := c.end(); e2 != nil {
			return nil, e2
		}
		return nil, err
	}
	c.armIdle()
	b := &Body{c: c, ctx: ctx, d: newDotReader(c.br), cmd: line}
	c.open = b
	return b, nil
}

// Body is a message body returned by Retr and Top. It implements
// io.ReadCloser.
type Body struct {
	c      *Client
	ctx    context.Context
	d      *dotReader
	cmd    string
	closed bool
}

// Read implements io.Reader, undoing dot-stuffing. It returns io.EOF at the
// terminating line. Any error other than io.EOF leaves the connection
// broken.
func (b *Body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("read from closed body")
	}
	n, err := b.d.Read(p)
	if err == nil && b.d.done {
		// The terminator was consumed along with the last data: the
		// response is complete, so the client is free for the next
		// command even if the caller never reads io.EOF.
		b.finish(io.EOF)
	}
	if err != nil {
		b.finish(err)
		if err != io.EOF {
			if !errors.Is(err, ErrBroken) {
				err = b.c.fail(fmt.Errorf("%s: %w", b.cmd, err))
			}
			b.d.err = err
		}
	}
	return n, err
}

// finish releases the client once the body is complete or failed.
func (b *Body) finish(err error) {
	if b.c.open != b {
		return
	}
	if err != io.EOF {
		b.c.fail(err)
	}
	b.c.tracef("S: <%s: %d body bytes>", b.cmd, b.d.n)
	b.c.open = nil
	_ = b.c.end()
}

// Close drains the rest of the body (unless the context is done, in which
// case the connection is marked broken) and releases the client for the
// next command. It returns an error if draining failed.
func (b *Body) Close() error {
	if b.closed {
		return nil
	}
	defer func() { b.closed = true }()
	if b.d.done || b.d.err != nil {
		if b.d.err != nil {
			return b.d.err
		}
		b.finish(io.EOF) // no-op if Read already released the client
		return nil
	}
	if b.ctx.Err() != nil {
		err := b.c.fail(fmt.Errorf("%s: body abandoned: %w", b.cmd, context.Cause(b.ctx)))
		b.d.err = err
		b.finish(err)
		return nil
	}
	_, err := io.Copy(io.Discard, b)
	return err
}
