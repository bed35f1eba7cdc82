package chaostest

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// pop3Cmd is a command the client sent, in order.
type pop3Cmd struct {
	verb    string
	args    []string
	refused bool // answered by the proxy, not passed on
}

// multiline reports whether a +OK answer to c has a body.
func (c *pop3Cmd) multiline() bool {
	switch c.verb {
	case "RETR", "TOP", "CAPA":
		return true
	case "LIST", "UIDL":
		return len(c.args) == 0
	}
	return false
}

// auth reports whether c belongs to authentication (not refused or lost:
// a run that cannot log in tests nothing).
func (c *pop3Cmd) auth() bool {
	switch c.verb {
	case "USER", "PASS", "APOP", "AUTH", "STLS", "UTF8":
		return true
	}
	return false
}

// pop3Answer is one answer of the server.
type pop3Answer struct {
	cmd    *pop3Cmd // nil for the greeting
	status []byte   // with its line end
	lines  [][]byte // the body's lines (stuffed, with line ends), without the terminator
	multi  bool
}

func (a *pop3Answer) ok() bool { return bytes.HasPrefix(a.status, []byte("+OK")) }

func (a *pop3Answer) verb() string {
	if a.cmd == nil {
		return ""
	}
	return a.cmd.verb
}

func (a *pop3Answer) listing() bool {
	return a.multi && (a.verb() == "LIST" || a.verb() == "UIDL")
}

func (a *pop3Answer) body() bool { return a.multi && (a.verb() == "RETR" || a.verb() == "TOP") }

func (a *pop3Answer) bytes() []byte {
	var b bytes.Buffer
	b.Write(a.status)
	for _, l := range a.lines {
		b.Write(l)
	}
	if a.multi {
		b.WriteString(".\r\n")
	}
	return b.Bytes()
}

// applies reports whether fault k can be applied to a.
func (a *pop3Answer) applies(k Kind) bool {
	if injection(k) {
		return true
	}
	v := a.verb()
	switch k {
	case LoseAnswer:
		return a.cmd != nil && !a.cmd.auth() && a.ok()
	case Truncate:
		return a.body() && len(a.lines) > 0
	case Lengthen:
		return a.body()
	case OtherBody:
		return a.multi && v == "RETR"
	case LieSize, HugeLiteral:
		return a.ok() && (v == "STAT" || v == "LIST" && (a.multi && len(a.lines) > 0 || !a.multi))
	case LieCount:
		return a.ok() && (v == "STAT" || a.listing())
	case Repeat, Withhold:
		return a.listing() && len(a.lines) > 0
	case Reorder, RecycleUIDL:
		return a.listing() && len(a.lines) > 1 && (k == Reorder || v == "UIDL")
	}
	return false
}

func (s *session) runPOP3() {
	cmds := make(chan *pop3Cmd, 4096)
	go s.pop3Commands(cmds)
	up := bufio.NewReaderSize(s.up, 64<<10)
	greeting, err := up.ReadBytes('\n')
	if err != nil {
		return
	}
	if s.pop3Answer(&pop3Answer{status: greeting}) != nil {
		return
	}
	for {
		var c *pop3Cmd
		select {
		case c = <-cmds:
		case <-s.p.done:
			return
		}
		if c == nil {
			return // the client closed
		}
		if c.refused {
			_, idx := s.decide(func(Kind) bool { return false })
			s.record(idx, Refuse, "refused %s", c.verb)
			if s.deliver([]byte("-ERR [SYS/TEMP] chaos: refused\r\n"), 0, idx) != nil {
				return
			}
			continue
		}
		a := &pop3Answer{cmd: c}
		if a.status, err = up.ReadBytes('\n'); err != nil {
			return
		}
		if a.multi = a.ok() && c.multiline(); a.multi {
			for {
				l, err := up.ReadBytes('\n')
				if err != nil {
					return
				}
				if string(l) == ".\r\n" {
					break
				}
				a.lines = append(a.lines, l)
			}
		}
		if s.pop3Answer(a) != nil {
			return
		}
	}
}

// pop3Commands reads the client's commands, passes them on (or refuses
// them) and queues them for the answers; it closes cmds when the client
// is gone.
func (s *session) pop3Commands(cmds chan<- *pop3Cmd) {
	defer close(cmds)
	br := bufio.NewReader(s.client)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return
		}
		f := strings.Fields(string(line))
		c := &pop3Cmd{}
		if len(f) > 0 {
			c.verb, c.args = strings.ToUpper(f[0]), f[1:]
		}
		if !c.auth() && c.verb != "QUIT" && s.decideCommand(func(k Kind) bool { return k == Refuse }) == Refuse {
			c.refused = true
			cmds <- c
			continue
		}
		cmds <- c
		if _, err := s.up.Write(line); err != nil {
			return
		}
	}
}

// pop3Answer perturbs and delivers one answer.
func (s *session) pop3Answer(a *pop3Answer) error {
	k, idx := s.decide(a.applies)
	if k == 0 || k == Drop || k == Stall || k == SlowLoris {
		return s.deliver(a.bytes(), k, idx)
	}
	var prefix []byte
	switch k {
	case Garbage:
		if a.listing() && s.intn(2) == 0 {
			i := s.intn(len(a.lines) + 1)
			a.lines = insertLine(a.lines, i, []byte("chaos garbage \x01 line\r\n"))
			s.record(idx, k, "a garbage line in the %s listing at line %d", a.verb(), i)
		} else {
			prefix = []byte("chaos garbage \x01 line\r\n")
			s.record(idx, k, "a garbage line before %q", trim(a.status))
		}
	case Blank:
		n := 1 + s.intn(12)
		sep := []string{"\r\n", "\n"}[s.intn(2)]
		prefix = []byte(strings.Repeat(sep, n))
		s.record(idx, k, "%d blank lines %q before %q", n, sep, trim(a.status))
	case NUL:
		if a.listing() && s.intn(2) == 0 {
			i := s.intn(len(a.lines))
			a.lines[i] = spliceBeforeEOL(a.lines[i], "\x00")
			s.record(idx, k, "NUL in %s listing line %d", a.verb(), i)
		} else {
			a.status = spliceAfterStatus(a.status, " \x00chaos\x00")
			s.record(idx, k, "NUL in the status line %q", trim(a.status))
		}
	case EightBit:
		if a.listing() && s.intn(2) == 0 {
			i := s.intn(len(a.lines))
			a.lines[i] = spliceBeforeEOL(a.lines[i], "\xe9\xff")
			s.record(idx, k, "8-bit octets in %s listing line %d", a.verb(), i)
		} else {
			a.status = spliceAfterStatus(a.status, " caf\xe9 \xff")
			s.record(idx, k, "8-bit octets in the status line %q", trim(a.status))
		}
	case BareLF:
		a.status = bareLF(a.status)
		if a.listing() || a.body() || s.intn(2) == 0 {
			for i := range a.lines {
				a.lines[i] = bareLF(a.lines[i])
			}
		}
		s.record(idx, k, "LF line ends in the answer to %s", a.verb())
	case LongLine:
		s.record(idx, k, "a %d-byte line before %q", s.p.plan.LongLine, trim(a.status))
		if err := s.writeLong("+OK ", s.p.plan.LongLine); err != nil {
			return err
		}
	case Bye:
		s.record(idx, k, "-ERR and close instead of %q", trim(a.status))
		s.deliver([]byte("-ERR chaos: session over\r\n"), 0, idx)
		return errClosed
	case LoseAnswer:
		s.record(idx, k, "lost the answer %q to %s", trim(a.status), a.verb())
		a.status, a.lines, a.multi = []byte("-ERR chaos: answer lost\r\n"), nil, false
	case Truncate:
		n := s.intn(len(a.lines))
		s.record(idx, k, "%s body cut to %d of %d lines", a.verb(), n, len(a.lines))
		a.lines = a.lines[:n]
	case Lengthen:
		n := 1 + s.intn(3)
		for range n {
			a.lines = append(a.lines, []byte("X-Chaos: more\r\n"))
		}
		s.record(idx, k, "%s body %d lines longer", a.verb(), n)
	case OtherBody:
		var cur []byte
		for _, l := range a.lines {
			cur = append(cur, unstuff(l)...)
		}
		other := s.otherBody(cur)
		if other == nil {
			return s.deliver(a.bytes(), 0, idx)
		}
		a.lines = stuffLines(other)
		s.record(idx, k, "RETR %s answered with another message's body (%d bytes, not %d)", strings.Join(a.cmd.args, " "), len(other), len(cur))
	case LieSize, HugeLiteral:
		lie := func(v string) string {
			if k == HugeLiteral {
				return []string{"18446744073709551615", "99999999999999999999999"}[s.intn(2)]
			}
			n, _ := strconv.ParseInt(v, 10, 64)
			return strconv.FormatInt(max(0, n+int64(s.intn(200))-100), 10)
		}
		switch {
		case a.verb() == "STAT" || !a.multi:
			f := strings.Fields(string(a.status))
			if len(f) >= 3 {
				f[2] = lie(f[2])
				a.status = []byte(strings.Join(f, " ") + "\r\n")
			}
			s.record(idx, k, "%s answered %q", a.verb(), trim(a.status))
		default:
			i := s.intn(len(a.lines))
			f := strings.Fields(string(a.lines[i]))
			if len(f) == 2 {
				f[1] = lie(f[1])
				a.lines[i] = []byte(strings.Join(f, " ") + "\r\n")
			}
			s.record(idx, k, "LIST line %d reads %q", i, trim(a.lines[i]))
		}
	case LieCount:
		if a.verb() == "STAT" {
			f := strings.Fields(string(a.status))
			if len(f) >= 3 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				f[1] = strconv.FormatInt([]int64{n + 1, max(0, n-1), n + 3, 2147483647}[s.intn(4)], 10)
				a.status = []byte(strings.Join(f, " ") + "\r\n")
			}
			s.record(idx, k, "STAT answered %q", trim(a.status))
		} else {
			n := len(a.lines) + 1 + s.intn(3)
			extra := fmt.Sprintf("%d %d\r\n", n, 1000+s.intn(5000))
			if a.verb() == "UIDL" {
				extra = fmt.Sprintf("%d phantom-%d\r\n", n, n)
			}
			a.lines = append(a.lines, []byte(extra))
			s.record(idx, k, "%s listing has a line for message %d that does not exist", a.verb(), n)
		}
	case Repeat:
		i := s.intn(len(a.lines))
		a.lines = insertLine(a.lines, i+1, a.lines[i])
		s.record(idx, k, "%s listing line %d twice", a.verb(), i)
	case Withhold:
		i := s.intn(len(a.lines))
		s.record(idx, k, "%s listing line %d (%q) left out", a.verb(), i, trim(a.lines[i]))
		a.lines = append(a.lines[:i:i], a.lines[i+1:]...)
	case Reorder:
		i := s.intn(len(a.lines) - 1)
		a.lines[i], a.lines[i+1] = a.lines[i+1], a.lines[i]
		s.record(idx, k, "%s listing lines %d and %d swapped", a.verb(), i, i+1)
	case RecycleUIDL:
		i, j := s.intn(len(a.lines)), s.intn(len(a.lines))
		if i == j {
			j = (i + 1) % len(a.lines)
		}
		fi, fj := strings.Fields(string(a.lines[i])), strings.Fields(string(a.lines[j]))
		if len(fi) == 2 && len(fj) == 2 {
			if s.intn(2) == 0 {
				a.lines[i] = []byte(fi[0] + " " + fj[1] + "\r\n")
				s.record(idx, k, "UIDL: message %s listed with %s's UIDL %s", fi[0], fj[0], fj[1])
			} else {
				a.lines[i], a.lines[j] = []byte(fi[0]+" "+fj[1]+"\r\n"), []byte(fj[0]+" "+fi[1]+"\r\n")
				s.record(idx, k, "UIDL: messages %s and %s exchanged their UIDLs", fi[0], fj[0])
			}
		}
	}
	return s.deliver(append(prefix, a.bytes()...), 0, idx)
}

func trim(b []byte) string {
	s := strings.TrimRight(string(b), "\r\n")
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}

func insertLine(lines [][]byte, i int, l []byte) [][]byte {
	out := make([][]byte, 0, len(lines)+1)
	out = append(out, lines[:i]...)
	out = append(out, l)
	return append(out, lines[i:]...)
}

// spliceBeforeEOL inserts s before the line end of l.
func spliceBeforeEOL(l []byte, s string) []byte {
	body := bytes.TrimRight(l, "\r\n")
	return append(append(append([]byte(nil), body...), s...), l[len(body):]...)
}

// spliceAfterStatus inserts s after the status word of a status line.
func spliceAfterStatus(l []byte, s string) []byte {
	i := bytes.IndexAny(l, " \r\n")
	if i < 0 {
		i = len(l)
	}
	return append(append(append([]byte(nil), l[:i]...), s...), l[i:]...)
}

func bareLF(l []byte) []byte {
	if bytes.HasSuffix(l, []byte("\r\n")) {
		return append(l[:len(l)-2:len(l)-2], '\n')
	}
	return l
}

func unstuff(l []byte) []byte {
	if bytes.HasPrefix(l, []byte(".")) {
		return l[1:]
	}
	return l
}

// stuffLines splits a message into dot-stuffed lines with CRLF ends (a
// last line without one gets one, as a server sends it).
func stuffLines(msg []byte) [][]byte {
	var out [][]byte
	for len(msg) > 0 {
		i := bytes.IndexByte(msg, '\n')
		var l []byte
		if i < 0 {
			l, msg = append(append([]byte(nil), msg...), '\r', '\n'), nil
		} else {
			l, msg = append([]byte(nil), msg[:i+1]...), msg[i+1:]
		}
		if l[0] == '.' {
			l = append([]byte("."), l...)
		}
		out = append(out, l)
	}
	return out
}
