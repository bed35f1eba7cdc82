package chaostest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// hugeLiteral is the size a HugeLiteral fault announces: 2^40 octets.
const hugeLiteral = 1 << 40

// imapAnswer is one server response: its lines outside literals (each
// with its line end, all but the last ending in a literal marker) and the
// literals between them.
type imapAnswer struct {
	lines [][]byte
	lits  [][]byte
	verb  string // for a tagged response, the command it completes
}

func (a *imapAnswer) bytes() []byte {
	var b bytes.Buffer
	for i, l := range a.lines {
		b.Write(l)
		if i < len(a.lits) {
			b.Write(a.lits[i])
		}
	}
	return b.Bytes()
}

func (a *imapAnswer) untagged() bool { return bytes.HasPrefix(a.lines[0], []byte("* ")) }

func (a *imapAnswer) tagged() bool {
	return !a.untagged() && !bytes.HasPrefix(a.lines[0], []byte("+"))
}

// status is the tagged response's status word.
func (a *imapAnswer) status() string {
	f := bytes.Fields(a.lines[0])
	if len(f) < 2 {
		return ""
	}
	return strings.ToUpper(string(f[1]))
}

// kind is the untagged response's name: "FETCH", "EXISTS", "STATUS"...
func (a *imapAnswer) kind() string {
	f := bytes.Fields(a.lines[0])
	switch {
	case len(f) >= 3 && isNumber(f[1]):
		return strings.ToUpper(string(f[2]))
	case len(f) >= 2:
		return strings.ToUpper(string(f[1]))
	}
	return ""
}

func isNumber(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// fetch parses an untagged FETCH response.
func (a *imapAnswer) fetch() (*fetchResp, bool) {
	if !a.untagged() || a.kind() != "FETCH" {
		return nil, false
	}
	return parseFetch(a.bytes())
}

// bodyItems returns the indexes of the items holding the whole message
// (or, with part, any body section).
func (f *fetchResp) bodyItems(part bool) []int {
	var out []int
	for i, it := range f.items {
		n := strings.ToUpper(it.name)
		whole := n == "RFC822" || strings.HasPrefix(n, "BODY[]") || strings.HasPrefix(n, "BINARY[]")
		section := strings.HasPrefix(n, "BODY[") || strings.HasPrefix(n, "BINARY[") || strings.HasPrefix(n, "RFC822.")
		if it.isLit && (whole || part && section && n != "RFC822.SIZE") {
			out = append(out, i)
		}
	}
	return out
}

// bodyItem returns the index of the first item bodyItems returns, or -1.
func (f *fetchResp) bodyItem(part bool) int {
	if b := f.bodyItems(part); len(b) > 0 {
		return b[0]
	}
	return -1
}

func (f *fetchResp) item(name string) int {
	for i, it := range f.items {
		if strings.EqualFold(it.name, name) {
			return i
		}
	}
	return -1
}

func (a *imapAnswer) applies(k Kind) bool {
	if injection(k) || k == HugeLiteral {
		return true
	}
	switch k {
	case LoseAnswer:
		return a.tagged() && a.status() == "OK" && !authVerb(a.verb)
	case Truncate, Lengthen, OtherBody:
		f, ok := a.fetch()
		return ok && f.bodyItem(k != OtherBody) >= 0
	case LieSize:
		f, ok := a.fetch()
		return ok && f.item("RFC822.SIZE") >= 0
	case LieCount:
		return a.untagged() && (a.kind() == "EXISTS" || a.kind() == "STATUS")
	case Repeat, Reorder, Withhold:
		_, ok := a.fetch()
		return ok
	case UIDValidity:
		return bytes.Contains(bytes.ToUpper(a.lines[0]), []byte("UIDVALIDITY"))
	}
	return false
}

func authVerb(v string) bool {
	switch v {
	case "LOGIN", "AUTHENTICATE", "STARTTLS", "CAPABILITY", "LOGOUT", "ENABLE", "ID":
		return true
	}
	return false
}

// imapTags maps the tags of commands in flight to their verbs.
type imapTags struct {
	mu sync.Mutex
	m  map[string]string
}

func (t *imapTags) put(tag, verb string) {
	t.mu.Lock()
	t.m[tag] = verb
	t.mu.Unlock()
}

func (t *imapTags) take(tag string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.m[tag]
	delete(t.m, tag)
	return v
}

func (s *session) runIMAP() {
	tags := &imapTags{m: map[string]string{}}
	go func() {
		s.imapCommands(tags)
		s.client.Close()
		s.up.Close()
	}()
	up := bufio.NewReaderSize(s.up, 64<<10)
	var held []byte // a FETCH response held back to follow the next (Reorder)
	for {
		a, err := readIMAP(up)
		if err != nil {
			if held != nil {
				s.deliver(held, 0, -1)
			}
			return
		}
		if a.tagged() {
			a.verb = tags.take(string(bytes.Fields(a.lines[0])[0]))
		}
		out, k, idx, err := s.imapAnswer(a)
		if err != nil {
			return
		}
		if k == Reorder && out == nil {
			if held != nil && s.deliver(held, 0, idx) != nil {
				return
			}
			held = a.bytes()
			continue
		}
		if held != nil && a.untagged() {
			out = append(out, held...)
			held = nil
		} else if held != nil {
			out = append(held, out...)
			held = nil
		}
		if s.deliver(out, k, idx) != nil {
			return
		}
	}
}

// readIMAP reads one response, literals included.
func readIMAP(br *bufio.Reader) (*imapAnswer, error) {
	a := &imapAnswer{}
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		a.lines = append(a.lines, line)
		n, ok := literalMarker(line)
		if !ok {
			return a, nil
		}
		lit := make([]byte, n)
		if _, err := io.ReadFull(br, lit); err != nil {
			return nil, err
		}
		a.lits = append(a.lits, lit)
	}
}

var literalRE = regexp.MustCompile(`\{(\d+)[+-]?\}\r?\n$`)

// literalMarker parses the literal marker ending a line.
func literalMarker(line []byte) (int64, bool) {
	m := literalRE.FindSubmatch(line)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(m[1]), 10, 64)
	return n, err == nil
}

// imapCommands relays the client's commands, refusing some, until either
// side closes.
func (s *session) imapCommands(tags *imapTags) {
	br := bufio.NewReader(s.client)
	first := true
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return
		}
		n, lit := literalMarker(line)
		if first {
			f := strings.Fields(string(line))
			if len(f) >= 2 && isAtom(f[1]) {
				verb := strings.ToUpper(f[1])
				if verb == "UID" && len(f) >= 3 {
					verb += " " + strings.ToUpper(f[2])
				}
				tags.put(f[0], verb)
				if !lit && !authVerb(verb) && verb != "IDLE" &&
					s.decideCommand(func(k Kind) bool { return k == Refuse }) == Refuse {
					tags.take(f[0])
					ans := []string{"NO [UNAVAILABLE] chaos: refused", "BAD chaos: refused", "NO chaos: refused"}[s.cintn(3)]
					s.record(-1, Refuse, "%s answered %q", verb, ans)
					if s.deliver([]byte(f[0]+" "+ans+"\r\n"), 0, -1) != nil {
						return
					}
					continue
				}
			}
		}
		first = !lit
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

func isAtom(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return s != ""
}

var uidValidityRE = regexp.MustCompile(`(?i)(UIDVALIDITY )(\d+)`)

// shiftUIDValidity rewrites the UIDVALIDITY numbers of a's lines.
func (s *session) shiftUIDValidity(a *imapAnswer) {
	shift := s.p.uvShift.Load()
	if shift == 0 {
		return
	}
	for i, l := range a.lines {
		a.lines[i] = uidValidityRE.ReplaceAllFunc(l, func(m []byte) []byte {
			sm := uidValidityRE.FindSubmatch(m)
			v, _ := strconv.ParseUint(string(sm[2]), 10, 32)
			nv := uint32(v) + shift
			if nv == 0 {
				nv = 1
			}
			return append(append([]byte(nil), sm[1]...), strconv.FormatUint(uint64(nv), 10)...)
		})
	}
}

// imapAnswer perturbs one response. It returns the bytes to deliver and
// the delivery fault, or (nil, Reorder) to hold the response back.
func (s *session) imapAnswer(a *imapAnswer) ([]byte, Kind, int, error) {
	k, idx := s.decide(a.applies)
	if k == UIDValidity {
		shift := uint32(1 + s.intn(1000))
		s.p.uvShift.CompareAndSwap(0, shift)
		s.record(idx, k, "UIDVALIDITY changes by %d from here on", s.p.uvShift.Load())
	}
	s.shiftUIDValidity(a)
	var prefix []byte
	switch k {
	case 0, Drop, Stall, SlowLoris, UIDValidity:
		return a.bytes(), k, idx, nil
	case Garbage:
		g := []string{"* CHAOS (unbalanced \x01\r\n", "* 7 XFETCH (junk)\r\n", "chaos garbage without a star\r\n",
			"* 3 FETCH (UID\r\n", "* OK [" + strings.Repeat("[", 3) + "\r\n"}[s.intn(5)]
		prefix = []byte(g)
		s.record(idx, k, "injected %q", strings.TrimRight(g, "\r\n"))
	case Bye:
		s.record(idx, k, "* BYE and close instead of %q", trim(a.lines[0]))
		s.deliver([]byte("* BYE chaos: session over\r\n"), 0, idx)
		return nil, 0, idx, errClosed
	case Blank:
		n := 1 + s.intn(5)
		prefix = []byte(strings.Repeat([]string{"\r\n", "\n"}[s.intn(2)], n))
		s.record(idx, k, "%d blank lines before %q", n, trim(a.lines[0]))
	case NUL, EightBit:
		junk := map[Kind]string{NUL: "\x00chaos\x00", EightBit: "caf\xe9 \xff"}[k]
		if a.tagged() && s.intn(2) == 0 {
			a.lines[0] = spliceAfterWord(a.lines[0], 2, " "+junk)
			s.record(idx, k, "in the tagged response %q", trim(a.lines[0]))
		} else {
			prefix = []byte("* OK " + junk + "\r\n")
			s.record(idx, k, "injected %q", "* OK "+junk)
		}
	case BareLF:
		for i := range a.lines {
			a.lines[i] = bareLF(a.lines[i])
		}
		s.record(idx, k, "LF line ends in %q", trim(a.lines[0]))
	case LongLine:
		s.record(idx, k, "a %d-byte line before %q", s.p.plan.LongLine, trim(a.lines[0]))
		if err := s.writeLong("* OK ", s.p.plan.LongLine); err != nil {
			return nil, 0, idx, err
		}
	case HugeLiteral:
		return nil, 0, idx, s.hugeLiteral(a, idx)
	case LoseAnswer:
		f := bytes.Fields(a.lines[0])
		a.lines = [][]byte{[]byte(string(f[0]) + " NO chaos: answer lost\r\n")}
		s.record(idx, k, "lost the OK of %s", a.verb)
	case Refuse:
		// Decided on the command side.
	case LieCount:
		f := bytes.Fields(bytes.TrimRight(a.lines[0], "\r\n"))
		if a.kind() == "EXISTS" {
			n, _ := strconv.ParseInt(string(f[1]), 10, 64)
			v := []int64{n + 1, max(0, n-1), n + 5, 4294967295}[s.intn(4)]
			a.lines[0] = fmt.Appendf(nil, "* %d EXISTS\r\n", v)
		} else {
			re := regexp.MustCompile(`(?i)(MESSAGES|UIDNEXT) (\d+)`)
			a.lines[0] = re.ReplaceAllFunc(a.lines[0], func(m []byte) []byte {
				sm := re.FindSubmatch(m)
				n, _ := strconv.ParseInt(string(sm[2]), 10, 64)
				return fmt.Appendf(nil, "%s %d", sm[1], []int64{n + 1, max(0, n-1), n + 7, 4294967295}[s.intn(4)])
			})
		}
		s.record(idx, k, "now %q", trim(a.lines[0]))
	default:
		out, hold := s.fetchFault(a, k, idx)
		if hold {
			return nil, Reorder, idx, nil
		}
		return out, 0, idx, nil
	}
	return append(prefix, a.bytes()...), 0, idx, nil
}

// spliceAfterWord inserts s after the n-th space-separated word of l.
func spliceAfterWord(l []byte, n int, s string) []byte {
	i := 0
	for w := 0; w < n; w++ {
		j := bytes.IndexByte(l[i:], ' ')
		if j < 0 {
			i = len(bytes.TrimRight(l, "\r\n"))
			break
		}
		i += j + 1
	}
	if i > 0 && l[i-1] == ' ' {
		i--
	}
	return append(append(append([]byte(nil), l[:i]...), s...), l[i:]...)
}

// fetchFault applies a fault to a FETCH response; hold asks to hold the
// response back until the next one.
func (s *session) fetchFault(a *imapAnswer, k Kind, idx int) (out []byte, hold bool) {
	f, ok := a.fetch()
	if !ok {
		return a.bytes(), false
	}
	switch k {
	case Withhold:
		s.record(idx, k, "FETCH response left out")
		return nil, false
	case Repeat:
		s.record(idx, k, "FETCH response sent twice")
		b := a.bytes()
		return append(b, b...), false
	case Reorder:
		if s.intn(2) == 0 {
			s.record(idx, k, "FETCH response held back behind the next response")
			return nil, true
		}
		perm := make([]fetchItem, len(f.items))
		for i, j := range s.perm(len(f.items)) {
			perm[i] = f.items[j]
		}
		f.items = perm
		s.record(idx, k, "FETCH items shuffled")
	case LieSize:
		i := f.item("RFC822.SIZE")
		n, _ := strconv.ParseInt(string(f.items[i].raw), 10, 64)
		v := []int64{n + 1, max(0, n-1), n + 100, 0, n * 2}[s.intn(5)]
		f.items[i].raw = []byte(strconv.FormatInt(v, 10))
		s.record(idx, k, "RFC822.SIZE %d instead of %d", v, n)
	case Truncate:
		items := f.bodyItems(true)
		i := items[s.intn(len(items))]
		n := s.intn(len(f.items[i].lit))
		s.record(idx, k, "%s literal cut to %d of %d bytes", f.items[i].name, n, len(f.items[i].lit))
		f.items[i].lit = f.items[i].lit[:n]
	case Lengthen:
		items := f.bodyItems(true)
		i := items[s.intn(len(items))]
		extra := []string{"\r\n", "X-Chaos: more\r\n", "\x00"}[s.intn(3)]
		s.record(idx, k, "%s literal %d bytes longer", f.items[i].name, len(extra))
		f.items[i].lit = append(append([]byte(nil), f.items[i].lit...), extra...)
	case OtherBody:
		i := f.bodyItem(false)
		other := s.otherBody(f.items[i].lit)
		if other == nil {
			return a.bytes(), false
		}
		s.record(idx, k, "%s answered with another message's body (%d bytes, not %d)", f.items[i].name, len(other), len(f.items[i].lit))
		f.items[i].lit = other
	}
	return f.bytes(), false
}

func (s *session) perm(n int) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Perm(n)
}

// hugeLiteral announces a literal of 2^40 octets: in place of the
// message body of a FETCH response, or in a LIST response before the
// answer; it sends Plan.HugeStream bytes of it and closes.
func (s *session) hugeLiteral(a *imapAnswer, idx int) error {
	var head, body []byte
	if f, ok := a.fetch(); ok && f.bodyItem(false) >= 0 {
		i := f.bodyItem(false)
		body = f.items[i].lit
		var b bytes.Buffer
		b.Write(f.prefix)
		b.WriteByte('(')
		for j, it := range f.items[:i] {
			if j > 0 {
				b.WriteByte(' ')
			}
			it.write(&b)
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s {%d}\r\n", f.items[i].name, int64(hugeLiteral))
		head = b.Bytes()
		s.record(idx, HugeLiteral, "%s announced as %d bytes, %d sent, then closed", f.items[i].name, int64(hugeLiteral), s.p.plan.HugeStream)
	} else {
		head = fmt.Appendf(nil, "* LIST () \"/\" {%d}\r\n", int64(hugeLiteral))
		s.record(idx, HugeLiteral, "a LIST with a %d-byte literal before %q, %d bytes sent, then closed", int64(hugeLiteral), trim(a.lines[0]), s.p.plan.HugeStream)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := s.client.Write(append(head, body...)); err != nil {
		return errClosed
	}
	chunk := bytes.Repeat([]byte("chaos filler line\r\n"), 2048)
	for n := s.p.plan.HugeStream; n > 0; {
		m := min(n, int64(len(chunk)))
		if _, err := s.client.Write(chunk[:m]); err != nil {
			return errClosed
		}
		n -= m
	}
	return errClosed
}

// fetchResp is a parsed "* N FETCH (...)" response.
type fetchResp struct {
	prefix []byte // "* N FETCH "
	items  []fetchItem
}

type fetchItem struct {
	name  string
	raw   []byte // the value as sent, unless a literal
	lit   []byte
	isLit bool
}

func (it fetchItem) write(b *bytes.Buffer) {
	b.WriteString(it.name)
	b.WriteByte(' ')
	if it.isLit {
		fmt.Fprintf(b, "{%d}\r\n", len(it.lit))
		b.Write(it.lit)
	} else {
		b.Write(it.raw)
	}
}

func (f *fetchResp) bytes() []byte {
	var b bytes.Buffer
	b.Write(f.prefix)
	b.WriteByte('(')
	for i, it := range f.items {
		if i > 0 {
			b.WriteByte(' ')
		}
		it.write(&b)
	}
	b.WriteString(")\r\n")
	return b.Bytes()
}

// parseFetch parses a FETCH response (the untagged line, literals
// included); false if it is not understood.
func parseFetch(raw []byte) (*fetchResp, bool) {
	i := bytes.IndexByte(raw, '(')
	if i < 0 {
		return nil, false
	}
	p := &parser{b: raw, i: i + 1}
	f := &fetchResp{prefix: raw[:i]}
	for {
		if p.eat(')') {
			if !bytes.Equal(raw[p.i:], []byte("\r\n")) {
				return nil, false
			}
			return f, true
		}
		if len(f.items) > 0 && !p.eat(' ') {
			return nil, false
		}
		name, ok := p.name()
		if !ok || !p.eat(' ') {
			return nil, false
		}
		it := fetchItem{name: name}
		if p.peek() == '{' {
			it.lit, ok = p.literal()
			it.isLit = true
		} else {
			start := p.i
			ok = p.value()
			it.raw = raw[start:p.i]
		}
		if !ok {
			return nil, false
		}
		f.items = append(f.items, it)
	}
}

type parser struct {
	b []byte
	i int
}

func (p *parser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *parser) eat(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

// name reads an item name with its section and origin, such as
// BODY[HEADER.FIELDS (A B)]<0>.
func (p *parser) name() (string, bool) {
	start := p.i
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '[':
			end := bytes.IndexByte(p.b[p.i:], ']')
			if end < 0 {
				return "", false
			}
			p.i += end + 1
		case ' ', ')':
			return string(p.b[start:p.i]), p.i > start
		default:
			p.i++
		}
	}
	return "", false
}

func (p *parser) literal() ([]byte, bool) {
	end := bytes.Index(p.b[p.i:], []byte("}\r\n"))
	if end < 0 {
		return nil, false
	}
	n, err := strconv.Atoi(strings.TrimRight(string(p.b[p.i+1:p.i+end]), "+-"))
	if err != nil || n < 0 || p.i+end+3+n > len(p.b) {
		return nil, false
	}
	p.i += end + 3
	lit := p.b[p.i : p.i+n]
	p.i += n
	return lit, true
}

// value skips a number, atom, quoted string, NIL, literal or list.
func (p *parser) value() bool {
	switch p.peek() {
	case '"':
		for p.i++; p.i < len(p.b); p.i++ {
			switch p.b[p.i] {
			case '\\':
				p.i++
			case '"':
				p.i++
				return true
			}
		}
		return false
	case '{':
		_, ok := p.literal()
		return ok
	case '(':
		p.i++
		for {
			switch p.peek() {
			case ')':
				p.i++
				return true
			case ' ':
				p.i++
			case 0:
				return false
			default:
				if !p.value() {
					return false
				}
			}
		}
	}
	start := p.i
	for p.i < len(p.b) && p.b[p.i] != ' ' && p.b[p.i] != ')' && p.b[p.i] != '\r' && p.b[p.i] != '(' {
		if p.b[p.i] == '[' {
			end := bytes.IndexByte(p.b[p.i:], ']')
			if end < 0 {
				return false
			}
			p.i += end
		}
		p.i++
	}
	return p.i > start
}
