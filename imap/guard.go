package imap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
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
//   - bounds it: a response's bytes outside literals (opt.max_line) and
//     its literals that are not message bodies (opt.max_literal) are
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
	// DefaultMaxLine is the default of opt.max_line: the most bytes one
	// server response may have outside its literals. The longest responses
	// the driver provokes are SEARCH results (about 8 bytes per matching
	// message): 4 MiB holds half a million UIDs.
	DefaultMaxLine = 4 << 20
	// DefaultMaxLiteral is the default of opt.max_literal: the most bytes
	// of literals that are not message bodies (a folder name, a string of
	// an ENVELOPE...) in one server response.
	DefaultMaxLiteral = 1 << 20
)

// limits are the guard's bounds, from Config.Options.
type limits struct {
	maxLine    int64
	maxLiteral int64
}

const (
	guardBufSize = 32 << 10 // input buffer
	maxHead      = 128      // bytes of a response read before classifying it
	maxTok       = 64       // longest token kept back for rewriting
	maxQuote     = 160      // bytes of a server line quoted in errors
)

type phase uint8

const (
	phHead   phase = iota // collecting the first bytes of a response
	phStatus              // OK/NO/BAD/BYE/PREAUTH: [code] text
	phData                // data: atoms, quoted strings, lists, literals
	phCont                // "+" continuation request: text
)

// status-response states.
const (
	stWord     = iota // right after the status word
	stCodeAtom        // in "[ATOM"
	stCodeRest        // in the rest of "[ATOM ...]"
	stAfterCode
	stText
)

// response is the guard's state within one server response.
type response struct {
	phase phase
	head  []byte
	text  int64 // bytes outside literals so far
	lits  int64 // bytes of non-body literals so far

	fetch bool // an untagged FETCH response
	bye   bool

	// status responses
	st      int
	code    prevToken // the response code's name
	inCode  bool      // a data list inside a response code (PERMANENTFLAGS)
	crStash bool      // a CR whose LF has not been seen yet

	// data responses
	inQuote bool
	esc     bool
	sp      bool // a separator is pending
	depth   int  // parenthesis depth
	tok     []byte
	tokLong bool // the current token was too long to keep back
	bracket bool // inside the [...] of a section
	prev    prevToken
	mark    literalMark
	// flagNext: the next "(" opens a flag list (after FLAGS or
	// PERMANENTFLAGS); flagDepth: the depth of the open flag list, 0 for
	// none.
	flagNext  bool
	flagDepth int
	flagAny   bool // a flag of the open list was passed on
}

// prevToken is the previous token at depth 1 of a response: upper case,
// truncated to its first 24 bytes (enough to recognise a FETCH item).
type prevToken struct {
	b [24]byte
	n int
}

func (p *prevToken) set(t []byte) {
	p.n = copy(p.b[:], t)
	for i := range p.n {
		p.b[i] = upper(p.b[i])
	}
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func (p *prevToken) reset()              { p.n = 0 }
func (p *prevToken) is(s string) bool    { return string(p.b[:p.n]) == s }
func (p *prevToken) has(pre string) bool { return strings.HasPrefix(string(p.b[:p.n]), pre) }

// literalMark is a "{N}" being read at the end of a line.
type literalMark struct {
	active bool
	closed bool // "}" seen
	sp, cr bool
	digits int
	n      int64 // the size; math.MaxInt64 when it has more than 18 digits
	raw    []byte
}

// guard is the net.Conn go-imap reads from and writes to.
type guard struct {
	net.Conn
	lim  limits
	host string
	tr   *traceConn

	// Used by the reading goroutine (go-imap's) only.
	buf   []byte
	r, w  int
	inErr error // read error to report once buf is drained
	out   []byte
	o     int
	lit   int64 // literal bytes still to pass through
	blank int64 // bytes of blank lines in a row
	resp  response

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
	g.rearm()
	m, err := g.Conn.Read(p[:n])
	if m > 0 {
		g.trace(p[:m])
		g.lit -= int64(m)
	}
	if err != nil && m > 0 {
		g.inErr = err
		err = nil
	}
	return m, err
}

// fill reads more input into an empty buffer.
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

// process consumes input bytes until the current response ends or a
// literal starts.
func (g *guard) process() (done bool, err error) {
	s := &g.resp
	for g.r < g.w {
		if n := g.run(); n > 0 {
			s.text += int64(n)
			if s.text > g.lim.maxLine {
				return false, g.lineTooLong()
			}
			continue
		}
		if s.phase == phHead && len(s.head) > 0 {
			// Collect the head up to its line end in one go.
			in := g.buf[g.r:g.w]
			in = in[:min(len(in), maxHead-len(s.head))]
			if i := bytes.IndexByte(in, '\n'); i >= 0 {
				in = in[:i+1]
			}
			s.head = append(s.head, in...)
			g.r += len(in)
			if in[len(in)-1] != '\n' && len(s.head) < maxHead {
				continue
			}
			g.blank = 0
			done, err = g.classify()
			if err != nil {
				return false, err
			}
			if done {
				g.endResponse()
				return true, nil
			}
			if g.lit > 0 {
				return false, nil
			}
			continue
		}
		b := g.buf[g.r]
		g.r++
		if s.phase == phHead {
			done, err = g.headByte(b)
		} else {
			s.text++
			if s.text > g.lim.maxLine {
				return false, g.lineTooLong()
			}
			switch s.phase {
			case phStatus:
				done = g.statusByte(b)
			case phCont:
				done = g.contByte(b)
			default:
				done, err = g.dataByte(b)
			}
		}
		if err != nil {
			return false, err
		}
		if done {
			g.endResponse()
			return true, nil
		}
		if g.lit > 0 {
			return false, nil
		}
	}
	return false, nil
}

// run passes a run of bytes that need no decision (the rest of an atom, the
// inside of a quoted string, status text) in one go, and returns its
// length; 0 means the next byte must go through the state machine.
func (g *guard) run() int {
	s := &g.resp
	if s.crStash || s.mark.active {
		return 0
	}
	in := g.buf[g.r:g.w]
	n := 0
	switch {
	case s.phase == phData && s.inQuote:
		if s.esc {
			return 0
		}
		for n < len(in) && in[n] != '"' && in[n] != '\\' {
			n++
		}
		g.emit(in[:n]...)
	case s.phase == phData && len(s.tok) > 0 && !s.tokLong && !s.bracket:
		in = in[:min(len(in), maxTok-len(s.tok))]
		for n < len(in) && plainTok[in[n]] {
			n++
		}
		s.tok = append(s.tok, in[:n]...)
	case s.phase == phStatus && s.st == stText:
		for n < len(in) && in[n] != '\r' && in[n] != '\n' {
			n++
		}
		g.emit(in[:n]...)
	}
	g.r += n
	return n
}

// plainTok marks the bytes that continue a token without a decision.
var plainTok = func() (t [256]bool) {
	for i := range t {
		t[i] = true
	}
	for _, b := range []byte(" \t\r\n()\"{[") {
		t[b] = false
	}
	return t
}()

func (g *guard) endResponse() {
	head, tok, raw := g.resp.head[:0], g.resp.tok[:0], g.resp.mark.raw[:0]
	g.resp = response{head: head, tok: tok}
	g.resp.mark.raw = raw
}

// headByte collects the first bytes of a response and classifies it.
func (g *guard) headByte(b byte) (bool, error) {
	s := &g.resp
	if len(s.head) == 0 && (b == ' ' || b == '\t' || b == '\r' || b == '\n') {
		// Blank lines and leading spaces: dropped, but bounded.
		g.blank++
		if g.blank > g.lim.maxLine {
			return false, g.lineTooLong()
		}
		return false, nil
	}
	s.head = append(s.head, b)
	if b != '\n' && len(s.head) < maxHead {
		return false, nil
	}
	g.blank = 0
	return g.classify()
}

// classify decides what kind of response the head starts, emits its
// normalised start and feeds the rest of the head to the response's
// processor.
func (g *guard) classify() (bool, error) {
	s := &g.resp
	h := s.head
	g.setCur(h)
	s.text = int64(len(h))
	if s.text > g.lim.maxLine {
		return false, g.lineTooLong()
	}
	var rest []byte
	switch h[0] {
	case '+':
		s.phase = phCont
		rest = h
	case '[':
		// A response code alone on a line (Exchange 2013: "[COPYUID ...]").
		g.emitString("* OK")
		s.phase, s.st = phStatus, stWord
		rest = h
	case '*':
		g.emitString("* ")
		j := 1
		for j < len(h) && (h[j] == ' ' || h[j] == '\t') {
			j++
		}
		word := atomAt(h, j)
		switch {
		case j < len(h) && h[j] == '[':
			// "* [ALERT] text": a response code without a status.
			g.emitString("OK")
			s.phase, s.st = phStatus, stWord
			rest = h[j:]
		case isStatusWord(word):
			g.emit(h[j : j+len(word)]...)
			s.phase, s.st = phStatus, stWord
			s.bye = strings.EqualFold(word, "BYE")
			rest = h[j+len(word):]
		case strings.EqualFold(word, "ESEARCH"):
			// go-imap reads the space before "UID" or the first result
			// twice when the response has no "(TAG ...)" correlator
			// (valid, RFC 4731): give it two.
			g.emit(h[j : j+len(word)]...)
			k := j + len(word)
			for k < len(h) && (h[k] == ' ' || h[k] == '\t') {
				k++
			}
			s.sp = k > j+len(word)
			if s.sp && k < len(h) && h[k] != '(' && h[k] != '\r' && h[k] != '\n' {
				g.emitString(" ")
			}
			s.phase = phData
			rest = h[k:]
		default:
			if isDigits(word) {
				k := j + len(word)
				for k < len(h) && (h[k] == ' ' || h[k] == '\t') {
					k++
				}
				s.fetch = strings.EqualFold(atomAt(h, k), "FETCH")
			}
			s.phase = phData
			rest = h[j:]
		}
	default:
		tag := atomAt(h, 0)
		j := len(tag)
		for j < len(h) && (h[j] == ' ' || h[j] == '\t') {
			j++
		}
		word := atomAt(h, j)
		if tag != "" && isStatusWord(word) {
			g.emitString(tag)
			g.emitString(" ")
			g.emitString(word)
			s.phase, s.st = phStatus, stWord
			rest = h[j+len(word):]
		} else {
			// Not a response go-imap can read; pass it on, and let the
			// parse failure be reported with this line quoted.
			s.phase = phData
			rest = h
		}
	}
	if s.bye {
		g.mu.Lock()
		g.byeLine = g.curLocked()
		g.mu.Unlock()
	}
	if len(rest) <= g.r {
		// The rest of the head is still in the buffer: let process read
		// it again, in the response's state and with its fast paths.
		g.r -= len(rest)
		s.text -= int64(len(rest))
		return false, nil
	}
	for i, b := range rest {
		var done bool
		var err error
		switch s.phase {
		case phStatus:
			done = g.statusByte(b)
		case phCont:
			done = g.contByte(b)
		default:
			done, err = g.dataByte(b)
		}
		if err != nil {
			return false, err
		}
		if done {
			if i != len(rest)-1 {
				// Cannot happen: the head ends at its first LF.
				return false, fmt.Errorf("guard: response ended inside its head")
			}
			return true, nil
		}
	}
	return false, nil
}

// statusByte normalises status responses: "[code] text".
func (g *guard) statusByte(b byte) bool {
	s := &g.resp
	if s.crStash {
		s.crStash = false
		if b != '\n' {
			g.statusByte(' ')
		}
	}
	switch b {
	case '\r':
		s.crStash = true
		return false
	case '\n':
		if s.st == stCodeAtom || s.st == stCodeRest {
			g.emitString("]")
		}
		g.emitString("\r\n")
		return true
	}
	switch s.st {
	case stWord:
		if b == ' ' || b == '\t' {
			return false
		}
		g.emitString(" ")
		g.emit(b)
		if b == '[' {
			s.st = stCodeAtom
			s.code.reset()
		} else {
			s.st = stText
		}
	case stCodeAtom:
		switch {
		case b == ']':
			g.emit(b)
			s.st = stAfterCode
		case b == ' ':
			g.emit(b)
			s.st = stCodeRest
			if s.code.is("PERMANENTFLAGS") {
				// Its flag list is read as data (see dataByte), then
				// the code goes on.
				s.phase, s.inCode, s.flagNext, s.depth = phData, true, true, 0
			}
		case isAtomByte(b):
			g.emit(b)
			if s.code.n < len(s.code.b) {
				s.code.b[s.code.n] = upper(b)
				s.code.n++
			}
		default:
			// Text glued to the code, e.g. [Error="..."]: separate it
			// so go-imap reads it as the code's (ignored) argument.
			g.emitString(" ")
			g.emit(b)
			s.st = stCodeRest
		}
	case stCodeRest:
		g.emit(b)
		if b == ']' {
			s.st = stAfterCode
		}
	case stAfterCode:
		if b != ' ' {
			g.emitString(" ")
		}
		g.emit(b)
		s.st = stText
	default:
		g.emit(b)
	}
	return false
}

// contByte passes a continuation request's text.
func (g *guard) contByte(b byte) bool {
	s := &g.resp
	if s.crStash {
		s.crStash = false
		if b != '\n' {
			g.emit(' ')
		}
	}
	switch b {
	case '\r':
		s.crStash = true
	case '\n':
		g.emitString("\r\n")
		return true
	default:
		g.emit(b)
	}
	return false
}

// dataByte normalises data responses and finds their literals.
func (g *guard) dataByte(b byte) (bool, error) {
	s := &g.resp
	if s.crStash {
		s.crStash = false
		if b == '\n' {
			return g.dataEOL(), nil
		}
		// A bare CR: a separator at best.
		g.endTok()
		s.sp = true
	}
	if s.inQuote {
		g.emit(b)
		switch {
		case s.esc:
			s.esc = false
		case b == '\\':
			s.esc = true
		case b == '"':
			s.inQuote = false
		}
		return false, nil
	}
	if s.mark.active {
		started, err := g.markByte(b)
		if err != nil || started {
			return false, err
		}
		if s.mark.active {
			return false, nil
		}
		// Not a literal after all: b is processed below.
	}
	if s.bracket && b != '\r' && b != '\n' {
		g.tokByte(b)
		if b == ']' {
			s.bracket = false
		}
		return false, nil
	}
	switch b {
	case ' ', '\t':
		g.endTok()
		s.sp = true
	case '\r':
		g.endTok()
		s.crStash = true
	case '\n':
		return g.dataEOL(), nil
	case '(':
		g.endTok()
		g.flushSP()
		g.emit(b)
		s.depth++
		s.prev.reset()
		if s.flagNext {
			s.flagDepth, s.flagAny = s.depth, false
		}
		s.flagNext = false
	case ')':
		g.endTok()
		s.sp = false
		g.emit(b)
		if s.flagDepth == s.depth {
			s.flagDepth = 0
		}
		s.depth--
		s.prev.reset()
		s.flagNext = false
		if s.inCode && s.depth <= 0 {
			// The end of PERMANENTFLAGS' list: back to the code.
			s.phase, s.inCode, s.st = phStatus, false, stCodeRest
		}
	case '"':
		g.endTok()
		g.flushSP()
		g.emit(b)
		s.inQuote = true
		s.prev.reset()
		s.flagNext = false
	case '{':
		g.endTok()
		g.flushSP()
		s.mark = literalMark{active: true, raw: append(s.mark.raw[:0], b)}
		s.flagNext = false
	default:
		if len(s.tok) == 0 && !s.tokLong && !g.inFlagList() {
			// (In a flag list the separator waits for the flag: a flag
			// that is dropped takes it along.)
			g.flushSP()
		}
		g.tokByte(b)
		if b == '[' && s.depth == 1 && s.fetch && !s.tokLong && isSectionItem(s.tok) {
			s.bracket = true
		}
	}
	return false, nil
}

func (g *guard) dataEOL() bool {
	s := &g.resp
	g.endTok()
	s.sp = false
	s.bracket = false
	g.emitString("\r\n")
	return true
}

func (g *guard) flushSP() {
	if g.resp.sp {
		g.resp.sp = false
		g.emit(' ')
	}
}

func (g *guard) tokByte(b byte) {
	s := &g.resp
	if s.tokLong {
		g.emit(b)
		return
	}
	s.tok = append(s.tok, b)
	if len(s.tok) > maxTok {
		// Too long to be anything the guard rewrites: stream it.
		if s.depth == 1 {
			s.prev.set(s.tok)
		}
		g.flushSP()
		g.emit(s.tok...)
		s.tok = s.tok[:0]
		s.tokLong = true
	}
}

// endTok emits the token kept back, rewritten if it must be.
func (g *guard) endTok() {
	s := &g.resp
	s.bracket = false
	if s.tokLong {
		s.tokLong = false
		return
	}
	if len(s.tok) == 0 {
		return
	}
	t := s.tok
	if len(t) == 1 && t[0] == '~' {
		// literal8 marker ("BINARY[1] ~{n}"): the item stays the previous
		// token.
		g.emit(t...)
		s.tok = t[:0]
		return
	}
	if s.fetch && s.depth == 1 {
		t = g.rewriteFetchToken(t)
	}
	if g.inFlagList() {
		if bytes.IndexByte(t, ']') >= 0 {
			// Gmail lists keywords such as "OIB-Seen-[Gmail]/Trash",
			// which no atom can hold and go-imap rejects (and with them
			// the whole SELECT or FETCH): leave such a flag out.
			s.tok = s.tok[:0]
			return
		}
		if s.flagAny {
			g.flushSP()
		}
		s.sp, s.flagAny = false, true
	}
	s.flagNext = s.depth <= 1 && equalFold(t, "FLAGS")
	g.emit(t...)
	if s.depth == 1 {
		s.prev.set(t)
	} else {
		s.prev.reset()
	}
	s.tok = s.tok[:0]
}

// inFlagList reports whether the guard is inside a flag list.
func (g *guard) inFlagList() bool {
	return g.resp.flagDepth > 0 && g.resp.flagDepth == g.resp.depth
}

// rewriteFetchToken rewrites a FETCH item name or value at depth 1.
func (g *guard) rewriteFetchToken(t []byte) []byte {
	s := &g.resp
	if len(t) >= 6 && (t[0] == 'R' || t[0] == 'r') {
		switch {
		case equalFold(t, "RFC822"):
			return []byte("BODY[]")
		case equalFold(t, "RFC822.HEADER"):
			return []byte("BODY[HEADER]")
		case equalFold(t, "RFC822.TEXT"):
			return []byte("BODY[TEXT]")
		}
	}
	if s.prev.is("RFC822.SIZE") || s.prev.has("BINARY.SIZE[") {
		if v, ok := exponentInt(t); ok {
			return strconv.AppendUint(nil, v, 10)
		}
	}
	return t
}

// equalFold reports whether t is s, ignoring ASCII case.
func equalFold(t []byte, s string) bool {
	if len(t) != len(s) {
		return false
	}
	for i := range len(t) {
		a, b := t[i], s[i]
		if a >= 'a' && a <= 'z' {
			a -= 'a' - 'A'
		}
		if b >= 'a' && b <= 'z' {
			b -= 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// markByte reads a literal marker "{N}" (then optional SP, CRLF). It
// returns started when the literal begins.
func (g *guard) markByte(b byte) (started bool, err error) {
	s := &g.resp
	m := &s.mark
	switch {
	case !m.closed && b >= '0' && b <= '9' && m.digits < 40:
		m.digits++
		if m.digits > 18 {
			m.n = math.MaxInt64
		} else {
			m.n = m.n*10 + int64(b-'0')
		}
		m.raw = append(m.raw, b)
		return false, nil
	case !m.closed && b == '}' && m.digits > 0:
		m.closed = true
		m.raw = append(m.raw, b)
		return false, nil
	case m.closed && b == ' ' && !m.sp && !m.cr:
		m.sp = true
		return false, nil
	case m.closed && b == '\r' && !m.cr:
		m.cr = true
		return false, nil
	case m.closed && b == '\n':
		return true, g.startLiteral()
	}
	// Not a literal: what was held back is ordinary text for go-imap to
	// judge (a bare CR or a space after it is a separator at best).
	g.emit(m.raw...)
	s.sp = m.sp || m.cr
	m.active = false
	return false, nil
}

// startLiteral checks a literal's announced size and lets it through.
func (g *guard) startLiteral() error {
	s := &g.resp
	n := s.mark.n
	s.mark.active = false
	body := s.fetch && s.depth == 1 && isBodyItem(&s.prev)
	if s.mark.digits > 18 {
		// 10^18 bytes or more: no message is that large, and the size
		// cannot be passed on exactly.
		return g.literalTooLarge(n)
	}
	if !body {
		if n > g.lim.maxLiteral-s.lits {
			return g.literalTooLarge(n)
		}
		s.lits += n
	}
	g.emitString("{")
	g.out = strconv.AppendInt(g.out, n, 10)
	g.emitString("}\r\n")
	g.lit = n
	s.prev.reset()
	return nil
}

func (g *guard) emit(b ...byte)      { g.out = append(g.out, b...) }
func (g *guard) emitString(s string) { g.out = append(g.out, s...) }

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
		"server %s sent a response of more than %d bytes outside literals (limit opt.max_line=%d; raise it if the server is right): %s",
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
		"server %s announced %s that is not a message body, over the limit of %d bytes per response (opt.max_literal=%d; raise it if the server is right): %s",
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
	if rerr == nil && g.writeErr == nil {
		if !g.closed {
			// The connection is fine and go-imap still reads it: err
			// is not about the connection.
			return err
		}
		// The stream was fine, so go-imap gave up on what it read.
		return &wireError{kind: mailaccess.ErrProtocol, cause: err, msg: fmt.Sprintf(
			"server %s sent a response the client cannot parse: %s", g.host, g.curLocked())}
	}
	if rerr == nil {
		rerr = g.writeErr
	}
	if errors.Is(rerr, net.ErrClosed) && g.byeLine == "" {
		// The driver closed the connection itself.
		return err
	}
	switch {
	case g.byeLine != "":
		return &wireError{kind: mailaccess.ErrTemporary, msg: fmt.Sprintf(
			"server %s ended the session: %s", g.host, g.byeLine)}
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

// Helpers.

func isStatusWord(w string) bool {
	switch strings.ToUpper(w) {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		return true
	}
	return false
}

// isAtomByte reports whether b may be part of an atom (RFC 9051 ATOM-CHAR,
// as go-imap reads it).
func isAtomByte(b byte) bool {
	switch b {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']':
		return false
	}
	return b > 0x1f && b != 0x7f
}

// atomAt returns the atom starting at h[i], stopping at a separator.
func atomAt(h []byte, i int) string {
	j := i
	for j < len(h) && isAtomByte(h[j]) && h[j] != '[' {
		j++
	}
	return string(h[i:j])
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isSectionItem reports whether tok (ending in "[") names a FETCH item
// with a section: its [...] is part of the item name.
func isSectionItem(tok []byte) bool {
	return equalFold(tok, "BODY[") || equalFold(tok, "BODY.PEEK[") || equalFold(tok, "BINARY[") ||
		equalFold(tok, "BINARY.PEEK[") || equalFold(tok, "BINARY.SIZE[")
}

// isBodyItem reports whether a literal after the FETCH item prev is a
// message body (or part of one).
func isBodyItem(prev *prevToken) bool {
	return prev.has("BODY[") || prev.has("BODY.PEEK[") || prev.has("BINARY[") || prev.has("BINARY.PEEK[")
}

// exponentInt parses a number in exponent form ("9.3736e+06", "1E3")
// whose value is an integer that fits in 63 bits.
func exponentInt(t []byte) (uint64, bool) {
	s := string(t)
	e := strings.IndexAny(s, "eE")
	if e <= 0 || len(s) > 40 {
		return 0, false
	}
	mant, exps := s[:e], s[e+1:]
	exps = strings.TrimPrefix(exps, "+")
	exp, err := strconv.Atoi(exps)
	if err != nil || exp < -20 || exp > 20 {
		return 0, false
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if !isDigits(intPart) || frac != "" && !isDigits(frac) {
		return 0, false
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	exp -= len(frac)
	for exp < 0 && strings.HasSuffix(digits, "0") {
		digits = digits[:len(digits)-1]
		exp++
	}
	if digits == "" {
		return 0, true
	}
	if exp < 0 {
		return 0, false // not an integer
	}
	digits += strings.Repeat("0", exp)
	v, err := strconv.ParseUint(digits, 10, 63)
	if err != nil {
		return 0, false
	}
	return v, true
}
