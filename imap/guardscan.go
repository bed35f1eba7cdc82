package imap

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file is the guard's reading of the server's responses: a state
// machine over the byte stream that classifies each response, normalises
// it (see guard.go) and finds its literals.

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
			done, err = g.step(b)
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
		rest = g.classifyUntagged(h)
	default:
		rest = g.classifyTagged(h)
	}
	if s.bye {
		g.mu.Lock()
		g.byeLine = g.curLocked()
		g.mu.Unlock()
	}
	return g.feedHead(rest)
}

// classifyUntagged classifies "* ..." and returns the rest of the head to
// process.
func (g *guard) classifyUntagged(h []byte) (rest []byte) {
	s := &g.resp
	g.emitString("* ")
	j := skipSpaces(h, 1)
	word := atomAt(h, j)
	switch {
	case j < len(h) && h[j] == '[':
		// "* [ALERT] text": a response code without a status.
		g.emitString("OK")
		s.phase, s.st = phStatus, stWord
		return h[j:]
	case isStatusWord(word):
		g.emit(h[j : j+len(word)]...)
		s.phase, s.st = phStatus, stWord
		s.bye = strings.EqualFold(word, "BYE")
		return h[j+len(word):]
	case strings.EqualFold(word, "ESEARCH"):
		// go-imap reads the space before "UID" or the first result twice
		// when the response has no "(TAG ...)" correlator (valid, RFC
		// 4731): give it two.
		g.emit(h[j : j+len(word)]...)
		k := skipSpaces(h, j+len(word))
		s.sp = k > j+len(word)
		if s.sp && k < len(h) && h[k] != '(' && h[k] != '\r' && h[k] != '\n' {
			g.emitString(" ")
		}
		s.phase = phData
		return h[k:]
	}
	if isDigits(word) {
		s.fetch = strings.EqualFold(atomAt(h, skipSpaces(h, j+len(word))), "FETCH")
	}
	s.phase = phData
	return h[j:]
}

// classifyTagged classifies "tag ..." and returns the rest of the head to
// process.
func (g *guard) classifyTagged(h []byte) (rest []byte) {
	s := &g.resp
	tag := atomAt(h, 0)
	j := skipSpaces(h, len(tag))
	word := atomAt(h, j)
	if tag == "" || !isStatusWord(word) {
		// Not a response go-imap can read; pass it on, and let the parse
		// failure be reported with this line quoted.
		s.phase = phData
		return h
	}
	g.emitString(tag)
	g.emitString(" ")
	g.emitString(word)
	s.phase, s.st = phStatus, stWord
	return h[j+len(word):]
}

// feedHead processes what follows the classified start of the head.
func (g *guard) feedHead(rest []byte) (bool, error) {
	s := &g.resp
	if len(rest) <= g.r {
		// The rest of the head is still in the buffer: let process read
		// it again, in the response's state and with its fast paths.
		g.r -= len(rest)
		s.text -= int64(len(rest))
		return false, nil
	}
	for i, b := range rest {
		done, err := g.step(b)
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

// step processes one byte of a classified response.
func (g *guard) step(b byte) (bool, error) {
	switch g.resp.phase {
	case phStatus:
		return g.statusByte(b), nil
	case phCont:
		return g.contByte(b), nil
	default:
		return g.dataByte(b)
	}
}

func skipSpaces(h []byte, j int) int {
	for j < len(h) && (h[j] == ' ' || h[j] == '\t') {
		j++
	}
	return j
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
		g.openList()
	case ')':
		g.closeList()
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

// openList handles "(" in a data response.
func (g *guard) openList() {
	s := &g.resp
	g.endTok()
	g.flushSP()
	g.emit('(')
	s.depth++
	s.prev.reset()
	if s.flagNext {
		s.flagDepth, s.flagAny = s.depth, false
	}
	s.flagNext = false
}

// closeList handles ")" in a data response (a space before it is dropped).
func (g *guard) closeList() {
	s := &g.resp
	g.endTok()
	s.sp = false
	g.emit(')')
	if s.flagDepth == s.depth {
		s.flagDepth = 0
	}
	s.depth--
	s.prev.reset()
	s.flagNext = false
	if s.inCode && s.depth <= 0 {
		// The end of PERMANENTFLAGS' list: back to the response code.
		s.phase, s.inCode, s.st = phStatus, false, stCodeRest
	}
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
	g.resetProgress()
	s.prev.reset()
	return nil
}

func (g *guard) emit(b ...byte)      { g.out = append(g.out, b...) }
func (g *guard) emitString(s string) { g.out = append(g.out, s...) }

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
