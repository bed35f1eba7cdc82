package imaptest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Quirks make a Server behave the way some real servers do (legal but
// unusual, or plainly wrong), so that a client's handling of it can be
// tested. The zero value changes nothing. A Server with Quirks puts a
// rewriting proxy between its address and the in-memory server; the proxy
// works on whole responses, so it is meant for test-sized messages.
type Quirks struct {
	// UIDLast sends the UID item of every FETCH response last, after any
	// literal: "* 3 FETCH (BODY[] {n}\r\n... UID 17)". RFC 3501 allows
	// any order and some servers do this.
	UIDLast bool

	// SizeLast likewise sends RFC822.SIZE last (after UID with UIDLast).
	SizeLast bool

	// Body, if set, is called for each FETCH response that carries the
	// whole message (BODY[]) with the message's UID and body, and returns
	// the body to send instead: the same bytes, other bytes (a short or a
	// long body), or nil for NIL. RFC822.SIZE is left as the server
	// computed it, so a different body disagrees with it.
	Body func(uid imap.UID, body []byte) []byte

	// Header, if set, is called for each FETCH response that carries a
	// message's header (BODY[HEADER], BODY[HEADER.FIELDS (...)]) with the
	// message's UID and that header, and returns the header to send
	// instead (a header cut short, say); RFC822.SIZE is left as the
	// server computed it.
	Header func(uid imap.UID, header []byte) []byte

	// Part, if set, is called for each FETCH response item that carries
	// a section of a part (BODY[1], BODY[2.1.MIME], BINARY[1]...) with the
	// message's UID, the item's name and its literal, and returns the
	// literal to send instead (a part cut short, say).
	Part func(uid imap.UID, item string, lit []byte) []byte

	// WithholdMeta, if set, drops each FETCH response without a message
	// body that carries RFC822.SIZE (a listing's metadata) for a message it
	// returns true for, as servers that leave a message out of a FETCH
	// answer do.
	WithholdMeta func(uid imap.UID) bool

	// Withhold, if set, drops each FETCH response that carries the whole
	// message (BODY[]) of a message it returns true for; the command still
	// completes with OK, as if the message had not been asked for.
	Withhold func(uid imap.UID) bool

	// MaxCommandLine, if positive, makes the server answer BAD to a
	// command line longer than that many octets (CRLF included, literal
	// data excluded) without passing the command on, as some providers do
	// beyond about 1000 octets (RFC 2683 section 3.2.1.5).
	MaxCommandLine int

	// Downgrade8bit, for a session that has not sent ENABLE UTF8=ACCEPT,
	// replaces each whole-message body (BODY[]) whose header holds 8-bit
	// octets by a short ASCII notice, RFC822.SIZE in the same response
	// following suit, as servers that downgrade internationalized mail for
	// clients that did not announce UTF-8 support do (RFC 6855, 6857).
	Downgrade8bit bool

	// TrickleBodies, if positive, sends each FETCH response that carries a
	// whole message (BODY[]) one octet every TrickleBodies, as a
	// slow-loris server does: each read gets an octet long before any
	// idle timeout, and the body takes forever.
	TrickleBodies time.Duration

	// HideCaps removes these capabilities from what the server announces.
	HideCaps []imap.Cap

	// IdleHoldsBack makes IDLE report only the changes made after it
	// began: one made between the session's previous command and its IDLE
	// is sent at the next change or when IDLE ends, as go-imap's in-memory
	// server does on its own and some Cyrus releases did. It is a quirk of
	// a Server, not of a Proxy (the proxy cannot hold back what its
	// upstream sends), and [Server.WaitIdle] then no longer promises that
	// a change is pushed.
	IdleHoldsBack bool

	// ByeAfter, if positive, ends every session after that many commands
	// following a login (CAPABILITY not counted), as servers with an
	// autologout or a per-session command limit do: the next command is
	// not passed on, the client gets "* BYE " + ByeText (default
	// "Autologout") and the connection is closed.
	ByeAfter int
	ByeText  string
}

// DowngradedNotice is the body a Quirks.Downgrade8bit server sends instead
// of a message with 8-bit header octets.
const DowngradedNotice = "Subject: message not displayable\r\n\r\nThis message holds UTF-8 headers your client did not ask for.\r\n"

// Proxy is a rewriting proxy that gives any IMAP server the Quirks it was
// started with: a Server with Options.Quirks runs one in front of the
// in-memory server, and StartProxy puts one in front of another server
// (say a Dovecot test instance on a plaintext port).
type Proxy struct {
	// Addr is the loopback "host:port" clients connect to.
	Addr string

	q        Quirks
	upstream string
	ln       net.Listener
	once     sync.Once

	mu      sync.Mutex
	longest int
	lines   []string
	secret  bool // inside an AUTHENTICATE exchange
	conns   map[net.Conn]struct{}
}

// StartProxy listens on a loopback port and relays each connection to
// upstream (a plaintext IMAP server), applying q. Close it when done.
func StartProxy(upstream string, q Quirks) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), q: q, upstream: upstream, ln: ln, conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() error {
	p.once.Do(func() {
		p.ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return nil
}

// CommandLines returns the command lines clients sent, in order (literal
// data left out, the line's literal marker kept; the arguments of LOGIN and
// AUTHENTICATE shown as "[redacted]").
func (p *Proxy) CommandLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// LongestCommandLine returns the length in octets (CRLF included, literal
// data excluded) of the longest command line clients sent.
func (p *Proxy) LongestCommandLine() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.longest
}

// CommandLines returns the command lines clients sent to a Server with
// Quirks (see [Proxy.CommandLines]); nil for a Server without Quirks.
func (s *Server) CommandLines() []string {
	if s.proxy == nil {
		return nil
	}
	return s.proxy.CommandLines()
}

// LongestCommandLine returns the longest command line clients sent to a
// Server with Quirks (see [Proxy.LongestCommandLine]); 0 for a Server
// without Quirks.
func (s *Server) LongestCommandLine() int {
	if s.proxy == nil {
		return 0
	}
	return s.proxy.LongestCommandLine()
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.session(c)
	}
}

// proxySession is one client connection and its upstream connection.
type proxySession struct {
	p        *Proxy
	client   net.Conn
	up       net.Conn
	wmu      sync.Mutex // serialises writes to client
	utf8     bool       // the client sent ENABLE UTF8=ACCEPT
	utf8Lock sync.Mutex
}

func (p *Proxy) session(c net.Conn) {
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		delete(p.conns, up)
		p.mu.Unlock()
	}()
	s := &proxySession{p: p, client: c, up: up}
	done := make(chan struct{}, 2)
	go func() { s.clientToServer(); done <- struct{}{} }()
	go func() { s.serverToClient(); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
}

func (s *proxySession) writeClient(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, err := s.client.Write(b)
	return err
}

// literalMarker parses a trailing {n}, {n+} or {n-}.
func literalMarker(line []byte) (n int64, sync, ok bool) {
	l := bytes.TrimRight(line, "\r\n")
	if !bytes.HasSuffix(l, []byte("}")) {
		return 0, false, false
	}
	i := bytes.LastIndexByte(l, '{')
	if i < 0 {
		return 0, false, false
	}
	num := string(l[i+1 : len(l)-1])
	sync = true
	if strings.HasSuffix(num, "+") || strings.HasSuffix(num, "-") {
		num, sync = num[:len(num)-1], false
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 {
		return 0, false, false
	}
	return v, sync, true
}

// record notes a command line, with the credentials of LOGIN and
// AUTHENTICATE left out.
func (p *Proxy) record(line []byte, first bool) {
	shown := strings.TrimRight(string(line), "\r\n")
	f := strings.Fields(shown)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case first && len(f) >= 2 && (strings.EqualFold(f[1], "LOGIN") || strings.EqualFold(f[1], "AUTHENTICATE")):
		shown, p.secret = f[0]+" "+strings.ToUpper(f[1])+" [redacted]", true
	case p.secret && !(first && isTagged(f)):
		shown = "[redacted]"
	default:
		p.secret = false
	}
	p.longest = max(p.longest, len(line))
	p.lines = append(p.lines, shown)
}

// isTagged reports whether f looks like a tagged command ("T3 SELECT").
func isTagged(f []string) bool {
	if len(f) < 2 {
		return false
	}
	for _, r := range f[1] {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

func (s *proxySession) clientToServer() {
	br := bufio.NewReader(s.client)
	drop := false  // skipping the rest of a refused command
	first := true  // the next line starts a command
	commands := -1 // commands since login; -1 before it
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return
		}
		n, sync, lit := literalMarker(line)
		s.p.record(line, first)
		if first {
			drop = false
			f := strings.Fields(string(line))
			if len(f) >= 3 && strings.EqualFold(f[1], "ENABLE") {
				for _, c := range f[2:] {
					if strings.EqualFold(c, "UTF8=ACCEPT") {
						s.utf8Lock.Lock()
						s.utf8 = true
						s.utf8Lock.Unlock()
					}
				}
			}
			if s.byeAfter(f, &commands) {
				return
			}
			if max := s.p.q.MaxCommandLine; max > 0 && len(line) > max && len(f) > 0 {
				drop = true
				s.writeClient([]byte(fmt.Sprintf("%s BAD Command line too long (%d octets, limit %d)\r\n", f[0], len(line), max)))
			}
		}
		first = !lit
		if drop {
			if lit && !sync {
				if _, err := io.CopyN(io.Discard, br, n); err != nil {
					return
				}
			} else if lit {
				first = true // no continuation will come: the command is over
			}
			continue
		}
		if _, err := s.up.Write(line); err != nil {
			return
		}
		if lit {
			if _, err := io.CopyN(s.up, br, n); err != nil {
				return
			}
		}
	}
}

// byeAfter counts a command (its fields f) for Quirks.ByeAfter and, once
// the session is over its limit, sends the BYE and reports true.
func (s *proxySession) byeAfter(f []string, commands *int) bool {
	if s.p.q.ByeAfter <= 0 || len(f) < 2 {
		return false
	}
	switch cmd := strings.ToUpper(f[1]); {
	case cmd == "LOGIN" || cmd == "AUTHENTICATE":
		*commands = 0
		return false
	case cmd == "CAPABILITY" || *commands < 0:
		return false
	}
	if *commands++; *commands <= s.p.q.ByeAfter {
		return false
	}
	text := s.p.q.ByeText
	if text == "" {
		text = "Autologout"
	}
	s.writeClient([]byte("* BYE " + text + "\r\n"))
	return true
}

func (s *proxySession) serverToClient() {
	br := bufio.NewReader(s.up)
	for {
		resp, err := readResponse(br)
		if err != nil {
			return
		}
		out := s.rewrite(resp)
		if out == nil {
			continue
		}
		if d := s.p.q.TrickleBodies; d > 0 && bytes.Contains(resp, []byte("BODY[] {")) {
			if err := s.trickle(out, d); err != nil {
				return
			}
			continue
		}
		if err := s.writeClient(out); err != nil {
			return
		}
	}
}

// trickle writes b one octet every d, until the client goes away.
func (s *proxySession) trickle(b []byte, d time.Duration) error {
	for i := range b {
		if err := s.writeClient(b[i : i+1]); err != nil {
			return err
		}
		time.Sleep(d)
	}
	return nil
}

// readResponse reads one server response, literals included.
func readResponse(br *bufio.Reader) ([]byte, error) {
	var resp []byte
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		resp = append(resp, line...)
		n, _, ok := literalMarker(line)
		if !ok {
			return resp, nil
		}
		lit := make([]byte, n)
		if _, err := io.ReadFull(br, lit); err != nil {
			return nil, err
		}
		resp = append(resp, lit...)
	}
}

// rewrite applies the quirks to one response; nil drops it.
func (s *proxySession) rewrite(resp []byte) []byte {
	q := &s.p.q
	if len(q.HideCaps) > 0 && bytes.Contains(bytes.ToUpper(resp), []byte("CAPABILITY")) {
		resp = hideCaps(resp, q.HideCaps)
	}
	if !bytes.HasPrefix(resp, []byte("* ")) {
		return resp
	}
	f := bytes.SplitN(resp, []byte(" "), 4)
	if len(f) < 4 || !bytes.EqualFold(f[2], []byte("FETCH")) || len(f[3]) == 0 || f[3][0] != '(' {
		return resp
	}
	if !q.UIDLast && !q.SizeLast && q.Body == nil && q.Header == nil && q.Part == nil && q.Withhold == nil && q.WithholdMeta == nil && !q.Downgrade8bit {
		return resp
	}
	items, err := parseFetchItems(f[3])
	if err != nil {
		return resp // not understood: pass it on
	}
	var (
		uid  imap.UID
		body = -1
		size = -1
	)
	for i, it := range items {
		switch strings.ToUpper(it.name) {
		case "UID":
			v, _ := strconv.ParseUint(string(it.raw), 10, 32)
			uid = imap.UID(v)
		case "BODY[]":
			body = i
		case "RFC822.SIZE":
			size = i
		}
	}
	for i, it := range items {
		n := strings.ToUpper(it.name)
		if q.Header != nil && it.lit != nil && strings.HasPrefix(n, "BODY[HEADER") {
			items[i].lit = q.Header(uid, it.lit)
		}
		if q.Part != nil && it.lit != nil && len(n) > 5 && (strings.HasPrefix(n, "BODY[") && n[5] >= '1' && n[5] <= '9' ||
			strings.HasPrefix(n, "BINARY[") && len(n) > 7 && n[7] >= '1' && n[7] <= '9') {
			items[i].lit = q.Part(uid, it.name, it.lit)
		}
	}
	if body < 0 && size >= 0 && q.WithholdMeta != nil && q.WithholdMeta(uid) {
		return nil
	}
	if body >= 0 {
		if q.Withhold != nil && q.Withhold(uid) {
			return nil
		}
		content := items[body].lit
		s.utf8Lock.Lock()
		enabled := s.utf8
		s.utf8Lock.Unlock()
		if q.Downgrade8bit && !enabled && content != nil && has8bitHeader(content) {
			items[body].lit = []byte(DowngradedNotice)
			if size >= 0 {
				items[size].raw = []byte(strconv.Itoa(len(DowngradedNotice)))
			}
		}
		if q.Body != nil && (content != nil || items[body].isNil) {
			nb := q.Body(uid, items[body].lit)
			if nb == nil {
				items[body] = fetchItem{name: items[body].name, raw: []byte("NIL"), isNil: true}
			} else {
				items[body].lit, items[body].isNil = nb, false
			}
		}
	}
	toEnd := func(name string) {
		for i, it := range items {
			if strings.EqualFold(it.name, name) {
				items = append(append(items[:i:i], items[i+1:]...), it)
				return
			}
		}
	}
	if q.UIDLast {
		toEnd("UID")
	}
	if q.SizeLast {
		toEnd("RFC822.SIZE")
	}
	var out bytes.Buffer
	out.Write(f[0])
	out.WriteByte(' ')
	out.Write(f[1])
	out.WriteString(" FETCH (")
	for i, it := range items {
		if i > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(it.name)
		out.WriteByte(' ')
		if it.lit != nil && !it.isNil {
			fmt.Fprintf(&out, "{%d}\r\n", len(it.lit))
			out.Write(it.lit)
		} else {
			out.Write(it.raw)
		}
	}
	out.WriteString(")\r\n")
	return out.Bytes()
}

func has8bitHeader(msg []byte) bool {
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(msg)
	}
	for _, c := range msg[:end] {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// hideCaps removes caps from CAPABILITY lists in resp.
func hideCaps(resp []byte, caps []imap.Cap) []byte {
	fields := strings.Split(string(resp), " ")
	out := fields[:0]
	for _, f := range fields {
		bare := strings.TrimRight(strings.TrimRight(f, "\r\n"), "]")
		hidden := false
		for _, c := range caps {
			if strings.EqualFold(bare, string(c)) {
				hidden = true
			}
		}
		if !hidden {
			out = append(out, f)
			continue
		}
		// Keep what followed the capability (a "]" or the line end).
		if rest := f[len(bare):]; rest != "" {
			if len(out) > 0 {
				out[len(out)-1] += rest
			}
		}
	}
	return []byte(strings.Join(out, " "))
}

// fetchItem is one item of a FETCH response: its name (with section and
// origin) and its value, raw as on the wire, or, for a literal, its
// content.
type fetchItem struct {
	name  string
	raw   []byte
	lit   []byte
	isNil bool
}

// parseFetchItems parses "(NAME value NAME value ...)\r\n".
func parseFetchItems(b []byte) ([]fetchItem, error) {
	p := &itemParser{b: b}
	if !p.consume('(') {
		return nil, fmt.Errorf("no (")
	}
	var items []fetchItem
	for {
		if p.consume(')') {
			return items, nil
		}
		if len(items) > 0 && !p.consume(' ') {
			return nil, fmt.Errorf("no space at %d", p.i)
		}
		name, err := p.name()
		if err != nil {
			return nil, err
		}
		if !p.consume(' ') {
			return nil, fmt.Errorf("no value for %s", name)
		}
		it := fetchItem{name: name}
		if p.peek() == '{' {
			it.lit, err = p.literal()
		} else {
			start := p.i
			err = p.value()
			it.raw = b[start:p.i]
			it.isNil = strings.EqualFold(string(it.raw), "NIL")
		}
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
}

type itemParser struct {
	b []byte
	i int
}

func (p *itemParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *itemParser) consume(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

// name reads an item name such as UID, BODY[HEADER.FIELDS (A B)]<0>.
func (p *itemParser) name() (string, error) {
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; c {
		case '[':
			end := bytes.IndexByte(p.b[p.i:], ']')
			if end < 0 {
				return "", fmt.Errorf("unclosed [")
			}
			p.i += end + 1
		case ' ', ')':
			return string(p.b[start:p.i]), nil
		default:
			p.i++
		}
	}
	return "", fmt.Errorf("name runs off the end")
}

// literal reads {n}\r\n and n octets.
func (p *itemParser) literal() ([]byte, error) {
	end := bytes.Index(p.b[p.i:], []byte("}\r\n"))
	if end < 0 {
		return nil, fmt.Errorf("bad literal")
	}
	n, err := strconv.Atoi(string(p.b[p.i+1 : p.i+end]))
	if err != nil || p.i+end+3+n > len(p.b) {
		return nil, fmt.Errorf("bad literal size")
	}
	p.i += end + 3
	lit := p.b[p.i : p.i+n]
	p.i += n
	return lit, nil
}

// value skips an atom, a number, a quoted string, NIL, a literal or a
// parenthesised list.
func (p *itemParser) value() error {
	switch p.peek() {
	case '"':
		p.i++
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case '\\':
				p.i += 2
				continue
			case '"':
				p.i++
				return nil
			}
			p.i++
		}
		return fmt.Errorf("unclosed quoted string")
	case '{':
		_, err := p.literal()
		return err
	case '(':
		p.i++
		for {
			switch p.peek() {
			case ')':
				p.i++
				return nil
			case ' ':
				p.i++
			case 0:
				return fmt.Errorf("unclosed list")
			default:
				if err := p.value(); err != nil {
					return err
				}
			}
		}
	default:
		start := p.i
		for p.i < len(p.b) && p.b[p.i] != ' ' && p.b[p.i] != ')' && p.b[p.i] != '\r' {
			if p.b[p.i] == '[' {
				end := bytes.IndexByte(p.b[p.i:], ']')
				if end < 0 {
					return fmt.Errorf("unclosed [")
				}
				p.i += end
			}
			p.i++
		}
		if p.i == start {
			return fmt.Errorf("empty value at %d", p.i)
		}
		return nil
	}
}
