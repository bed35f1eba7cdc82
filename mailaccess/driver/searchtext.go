package driver

import (
	"io"
	"mime"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode the legacy charsets of encoded words and text parts
	"golang.org/x/text/unicode/norm"
)

// This file holds the text side of the local search evaluator: how a
// string, a header value and an address list are put into the one form in
// which needle and haystack are compared. The rules are those Dovecot
// applies to IMAP SEARCH (checked against Dovecot 2.3 by the conformance
// suite), so that a Search gives the same answer on every driver.

// foldRune returns the search form of r: its simple title-case mapping,
// then decomposed, as Dovecot's i;unicode-casemap comparator does: a
// mapping to one other character (canonical or compatibility: fullwidth
// "Ａ" is "A") is applied, a canonical multi-character decomposition too
// ("é" is "E" and a combining acute, so "cafe" is found in "Café"), a
// compatibility one of several characters ("ﬁ" to "fi") is not.
func foldRune(r rune) string {
	t := unicode.ToTitle(r)
	s := string(t)
	if d := norm.NFKD.String(s); utf8.RuneCountInString(d) == 1 {
		return d
	}
	return norm.NFD.String(s)
}

// foldCache memoises foldRune for the non-ASCII runes seen.
var foldCache sync.Map // rune -> string

// appendFold appends the search form of the UTF-8 text p to dst. Bytes
// that are not valid UTF-8 count as U+FFFD each. p must end on a rune
// boundary (see folder for streams).
func appendFold(dst, p []byte) []byte {
	for len(p) > 0 {
		c := p[0]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			p = p[1:]
			continue
		}
		r, n := utf8.DecodeRune(p)
		p = p[n:]
		if v, ok := foldCache.Load(r); ok {
			dst = append(dst, v.(string)...)
			continue
		}
		f := foldRune(r)
		foldCache.Store(r, f)
		dst = append(dst, f...)
	}
	return dst
}

// fold returns the search form of s.
func fold(s string) string { return string(appendFold(nil, []byte(s))) }

// folder folds a stream chunk by chunk, keeping an incomplete rune at the
// end of a chunk for the next one.
type folder struct {
	rest []byte
}

// fold returns the search form of the complete runes of rest+p (in buf,
// reused), keeping a trailing incomplete rune; at the end (final) the
// rest is folded too.
func (f *folder) fold(buf, p []byte, final bool) []byte {
	if len(f.rest) > 0 {
		p = append(f.rest, p...)
		f.rest = nil
	}
	end := len(p)
	if !final {
		// Back up over at most 3 bytes of an incomplete trailing rune.
		for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax; i-- {
			if utf8.RuneStart(p[i]) {
				if !utf8.FullRune(p[i:]) {
					end = i
				}
				break
			}
		}
	}
	buf = appendFold(buf[:0], p[:end])
	if end < len(p) {
		f.rest = append(f.rest[:0], p[end:]...)
	}
	return buf
}

// decodeValue returns a header field's value (as textproto unfolds it) in
// the form search reads it: tabs as spaces, RFC 2047 encoded words decoded
// wherever they are, and the whitespace between two adjacent encoded
// words dropped; a word in an unknown charset becomes U+FFFD.
func decodeValue(v string) string {
	v = strings.ReplaceAll(v, "\t", " ")
	if !strings.Contains(v, "=?") {
		return v
	}
	var b strings.Builder
	pendingSpace := "" // whitespace after an encoded word, dropped if another follows
	afterWord := false
	for len(v) > 0 {
		i := strings.Index(v, "=?")
		if i < 0 {
			b.WriteString(pendingSpace)
			b.WriteString(v)
			break
		}
		word, ok := encodedWord(v[i:])
		if !ok {
			b.WriteString(pendingSpace)
			pendingSpace = ""
			b.WriteString(v[:i+2])
			v = v[i+2:]
			afterWord = false
			continue
		}
		before := v[:i]
		if afterWord && strings.Trim(before, " ") == "" {
			// Only whitespace between two encoded words: dropped.
		} else {
			b.WriteString(pendingSpace)
			b.WriteString(before)
		}
		pendingSpace = ""
		b.WriteString(decodeWord(word))
		v = v[i+len(word):]
		afterWord = true
		// Hold back the whitespace that follows until we know whether
		// another encoded word comes next.
		j := 0
		for j < len(v) && v[j] == ' ' {
			j++
		}
		pendingSpace, v = v[:j], v[j:]
	}
	return b.String()
}

// encodedWord returns the RFC 2047 encoded word at the start of s
// ("=?charset?B|Q?text?="), if there is one.
func encodedWord(s string) (string, bool) {
	// =? charset ? enc ? text ?=
	q1 := strings.IndexByte(s[2:], '?')
	if q1 <= 0 {
		return "", false
	}
	q1 += 2
	if len(s) < q1+3 || s[q1+2] != '?' {
		return "", false
	}
	switch s[q1+1] {
	case 'B', 'b', 'Q', 'q':
	default:
		return "", false
	}
	end := strings.Index(s[q1+3:], "?=")
	if end < 0 {
		return "", false
	}
	end += q1 + 3
	if strings.ContainsAny(s[:end], " \t\r\n") {
		return "", false
	}
	return s[:end+2], true
}

var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	return gomessage.CharsetReader(strings.ToLower(charset), input)
}}

// decodeWord decodes one encoded word; one that cannot be decoded (an
// unknown charset, broken base64) is U+FFFD, as Dovecot reads it.
func decodeWord(w string) string {
	s, err := wordDecoder.Decode(w)
	if err != nil {
		return "\uFFFD"
	}
	return s
}

// --- address lists, rewritten as Dovecot matches FROM, TO, CC and BCC ---

// Placeholders for what a broken address lacks, as IMAP servers (Dovecot)
// fill them in.
const (
	missingMailbox = "MISSING_MAILBOX"
	missingDomain  = "MISSING_DOMAIN"
	syntaxError    = "SYNTAX_ERROR"
)

// addressForm returns an address-list field value (unfolded, not yet
// decoded) rewritten in the one form the address criteria match: each
// mailbox as `name <local@domain>` (the display name quoted when it holds
// anything but atom characters, unless it holds encoded words, which a
// quoted string may not) or `<local@domain>` without a name, a comment
// standing in for a missing name, groups as `name: members;`, joined by
// ", "; then decoded as any header value. A broken address ends the list
// with what could be read and placeholders for the rest ("Ann Lee" with
// no address is `"Ann Lee" <MISSING_MAILBOX@MISSING_DOMAIN>`).
func addressForm(v string) string {
	var b strings.Builder
	sep := ""
	for _, a := range parseAddressList(v) {
		switch {
		case a.groupStart:
			b.WriteString(sep)
			writePhrase(&b, a.name)
			b.WriteString(":")
			sep = " "
		case a.groupEnd:
			b.WriteString(";")
			sep = ", "
		default:
			b.WriteString(sep)
			a.write(&b)
			sep = ", "
		}
	}
	return decodeValue(b.String())
}

type parsedAddr struct {
	name, route, local, domain string
	groupStart, groupEnd       bool
}

func (a parsedAddr) write(b *strings.Builder) {
	if a.name != "" {
		writePhrase(b, a.name)
		b.WriteString(" ")
	}
	b.WriteString("<")
	if a.route != "" {
		b.WriteString(a.route + ":")
	}
	writeQuotedIf(b, a.local, false)
	b.WriteString("@" + a.domain + ">")
}

// writePhrase writes a display name: as it is when it holds an encoded
// word, else quoted if needed.
func writePhrase(b *strings.Builder, s string) {
	if strings.Contains(s, "=?") {
		b.WriteString(s)
		return
	}
	writeQuotedIf(b, s, true)
}

// writeQuotedIf writes s, quoted (with double quotes, backslashes and single quotes escaped) when it
// holds a character that is not atext (nor a dot, unless quoteDot).
func writeQuotedIf(b *strings.Builder, s string, quoteDot bool) {
	need := false
	for i := 0; i < len(s); i++ {
		if !isAtext(s[i]) && (quoteDot || s[i] != '.') {
			need = true
			break
		}
	}
	if !need {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' || s[i] == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// isAtext reports whether c is an RFC 5322 atext character (bytes of
// 8-bit text count as atext).
func isAtext(c byte) bool {
	switch {
	case c >= 0x80, 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// maxAddresses bounds how many addresses of one field are parsed.
const maxAddresses = 1000

// parseAddressList parses an RFC 5322 address list leniently: a broken
// address is kept with placeholders for what is missing, and ends the
// list.
func parseAddressList(v string) []parsedAddr {
	p := &addrParser{s: v}
	var out []parsedAddr
	if !p.skipCFWS() || p.eof() {
		return nil
	}
	for len(out) < maxAddresses {
		ok := p.address(&out)
		if !ok || p.eof() {
			break
		}
		if p.s[p.i] != ',' {
			break
		}
		p.i++
		if !p.skipCFWS() || p.eof() {
			break
		}
	}
	return out
}

// addrParser reads an RFC 5322 address list.
type addrParser struct {
	s       string
	i       int
	comment string // the last comment skipped
}

func (p *addrParser) eof() bool { return p.i >= len(p.s) }

// skipCFWS skips whitespace and comments, remembering the last comment;
// it reports false on an unterminated comment.
func (p *addrParser) skipCFWS() bool {
	for !p.eof() {
		switch c := p.s[p.i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			p.i++
		case c == '(':
			if !p.skipComment() {
				return false
			}
		default:
			return true
		}
	}
	return true
}

func (p *addrParser) skipComment() bool {
	depth := 0
	var b strings.Builder
	for ; !p.eof(); p.i++ {
		c := p.s[p.i]
		switch c {
		case '(':
			depth++
			if depth == 1 {
				continue
			}
		case ')':
			depth--
			if depth == 0 {
				p.i++
				p.comment = b.String()
				return true
			}
		case '\\':
			p.i++
			if p.eof() {
				return false
			}
			c = p.s[p.i]
		}
		b.WriteByte(c)
	}
	return false
}

// word reads an atom (dots allowed) or a quoted string.
func (p *addrParser) word() (string, bool) {
	if p.eof() {
		return "", false
	}
	if p.s[p.i] == '"' {
		var b strings.Builder
		for p.i++; !p.eof(); p.i++ {
			switch c := p.s[p.i]; c {
			case '"':
				p.i++
				return b.String(), p.skipCFWS()
			case '\\':
				p.i++
				if p.eof() {
					return "", false
				}
				b.WriteByte(p.s[p.i])
			case '\r', '\n':
			default:
				b.WriteByte(c)
			}
		}
		return "", false
	}
	start := p.i
	for !p.eof() && (isAtext(p.s[p.i]) || p.s[p.i] == '.') {
		p.i++
	}
	if p.i == start {
		return "", false
	}
	w := p.s[start:p.i]
	return w, p.skipCFWS()
}

func (p *addrParser) atWord() bool {
	return !p.eof() && (isAtext(p.s[p.i]) || p.s[p.i] == '"' || p.s[p.i] == '.')
}

// phrase reads words, joined by single spaces.
func (p *addrParser) phrase() (string, bool) {
	var words []string
	for p.atWord() {
		w, ok := p.word()
		if !ok {
			return strings.Join(words, " "), false
		}
		words = append(words, w)
	}
	return strings.Join(words, " "), len(words) > 0
}

// address reads a mailbox or a group into out; it reports false when the
// address was broken (and the list ends).
func (p *addrParser) address(out *[]parsedAddr) bool {
	start := p.i
	if name, ok := p.phrase(); ok && !p.eof() && p.s[p.i] == ':' {
		p.i++
		*out = append(*out, parsedAddr{name: name, groupStart: true})
		ok := p.skipCFWS()
		for ok && !p.eof() && p.s[p.i] != ';' {
			if ok = p.mailbox(out); !ok {
				break
			}
			if !p.eof() && p.s[p.i] == ',' {
				p.i++
				ok = p.skipCFWS()
			} else if p.eof() || p.s[p.i] != ';' {
				ok = false
			}
		}
		*out = append(*out, parsedAddr{groupEnd: true})
		if !ok || p.eof() {
			return false
		}
		p.i++ // ';'
		return p.skipCFWS()
	}
	p.i = start
	return p.mailbox(out)
}

// mailbox reads name-addr or addr-spec, keeping a broken one with
// placeholders.
func (p *addrParser) mailbox(out *[]parsedAddr) bool {
	start := p.i
	name, _ := p.phrase()
	if !p.eof() && p.s[p.i] == '<' {
		a, ok := p.angleAddr()
		a.name = name
		*out = append(*out, a)
		return ok
	}
	// addr-spec
	p.i = start
	p.comment = ""
	a := parsedAddr{local: missingMailbox, domain: missingDomain}
	local, ok := p.localPart()
	if !ok {
		*out = append(*out, a)
		return false
	}
	a.local = local
	if !p.eof() && p.s[p.i] == '@' {
		p.i++
		if !p.skipCFWS() {
			a.domain = missingDomain
			*out = append(*out, a)
			return false
		}
		d, ok := p.domain()
		if !ok {
			*out = append(*out, a)
			return false
		}
		a.domain = d
		a.name = strings.TrimSpace(p.comment)
		*out = append(*out, a)
		return true
	}
	// A word without "@domain": a lone word is a mailbox without a
	// domain; more words are a display name without an address.
	if rest, _ := p.phrase(); rest != "" {
		*out = append(*out, parsedAddr{name: local + " " + rest, local: missingMailbox, domain: missingDomain})
		return false
	}
	a.domain = ""
	*out = append(*out, a)
	return false
}

// angleAddr reads "<" [route ":"] local-part ["@" domain] ">"; a broken
// one keeps what was read, with the domain SYNTAX_ERROR.
func (p *addrParser) angleAddr() (parsedAddr, bool) {
	a := parsedAddr{local: missingMailbox, domain: syntaxError}
	p.i++ // '<'
	if !p.skipCFWS() || p.eof() {
		return a, false
	}
	if p.s[p.i] == '@' {
		end := strings.IndexByte(p.s[p.i:], ':')
		if end < 0 {
			return a, false
		}
		a.route = p.s[p.i : p.i+end]
		p.i += end + 1
		if !p.skipCFWS() {
			return a, false
		}
	}
	local, ok := p.localPart()
	if !ok {
		return a, false
	}
	a.local = local
	domain := ""
	if !p.eof() && p.s[p.i] == '@' {
		p.i++
		if !p.skipCFWS() {
			return a, false
		}
		if domain, ok = p.domain(); !ok {
			return a, false
		}
	}
	if p.eof() || p.s[p.i] != '>' {
		return a, false
	}
	p.i++
	a.domain = domain
	return a, p.skipCFWS()
}

// localPart reads a dot-atom or quoted local part, words joined by dots.
func (p *addrParser) localPart() (string, bool) {
	var parts []string
	for {
		w, ok := p.word()
		if !ok {
			return "", false
		}
		parts = append(parts, w)
		if p.eof() || p.s[p.i] != '.' {
			break
		}
		p.i++
		if !p.skipCFWS() {
			return "", false
		}
	}
	return strings.Join(parts, "."), true
}

func (p *addrParser) domain() (string, bool) {
	if !p.eof() && p.s[p.i] == '[' {
		end := strings.IndexByte(p.s[p.i:], ']')
		if end < 0 {
			return "", false
		}
		d := p.s[p.i : p.i+end+1]
		p.i += end + 1
		return d, p.skipCFWS()
	}
	return p.localPart()
}

// firstMailbox returns the local part of the first mailbox of an address
// list (what SORT FROM, TO and CC compare), or "".
func firstMailbox(v string) string {
	for _, a := range parseAddressList(v) {
		if !a.groupStart && !a.groupEnd {
			return decodeValue(a.local)
		}
	}
	return ""
}
