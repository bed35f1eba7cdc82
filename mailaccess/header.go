package mailaccess

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/mail"
	"strings"
	"time"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode ISO-8859-x, Windows-125x, ISO-2022-JP, GB2312...
	"github.com/emersion/go-message/textproto"
)

// MaxHeaderBytes bounds the size of a header block that [ParseHeader] (and
// the MIME reader of package mailmime) accept, so a hostile message cannot
// exhaust memory.
const MaxHeaderBytes = 1 << 20

// Header is a message's parsed header. Field names are case-insensitive.
// Accessors that decode (Subject, From...) are tolerant: a field that cannot
// be decoded yields its raw text (or the addresses that could be parsed)
// instead of failing, so broken mail stays readable.
//
// The zero Header is empty and ready to use.
type Header struct {
	h textproto.Header
}

// ParseHeader reads a header block from r, up to the blank line that ends it
// (or the end of input), at most [MaxHeaderBytes]. It reads ahead through a
// buffer, so r's position afterwards is unspecified: give it a reader of the
// message (or of just the header) that is not needed afterwards.
func ParseHeader(r io.Reader) (Header, error) {
	lr := &liftableLimit{r: r, n: MaxHeaderBytes}
	h, err := textproto.ReadHeader(bufio.NewReaderSize(lr, 4096))
	if lr.n <= 0 {
		return Header{}, fmt.Errorf("parse header: header longer than %d bytes", MaxHeaderBytes)
	}
	if err != nil {
		return Header{}, fmt.Errorf("parse header: %w", err)
	}
	return Header{h: h}, nil
}

// HeaderFromFields builds a Header from name/value pairs, in order.
func HeaderFromFields(kv ...string) Header {
	var h Header
	for i := 0; i+1 < len(kv); i += 2 {
		h.h.Add(kv[i], kv[i+1])
	}
	return h
}

// IsZero reports whether the header has no fields.
func (h Header) IsZero() bool { return h.h.Len() == 0 }

// Len returns the number of fields.
func (h Header) Len() int { return h.h.Len() }

// Has reports whether a field named key is present.
func (h Header) Has(key string) bool { return h.h.Has(key) }

// Get returns the raw (undecoded) value of the first field named key, or "".
func (h Header) Get(key string) string { return h.h.Get(key) }

// Values returns the raw values of every field named key, in order.
func (h Header) Values(key string) []string { return h.h.Values(key) }

// Fields iterates over every field, in order, as raw name and value.
func (h Header) Fields() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		fs := h.h.Fields()
		for fs.Next() {
			if !yield(fs.Key(), fs.Value()) {
				return
			}
		}
	}
}

// Text returns the value of field key with RFC 2047 encoded words decoded to
// UTF-8. Where decoding fails (unknown charset, broken encoding) it returns
// the raw value.
func (h Header) Text(key string) string {
	return decodeWords(h.h.Get(key))
}

// Subject returns the decoded Subject.
func (h Header) Subject() string { return h.Text("Subject") }

// MessageID returns the Message-ID without angle brackets, or "".
func (h Header) MessageID() string {
	v := strings.TrimSpace(h.h.Get("Message-Id"))
	v = strings.TrimPrefix(v, "<")
	if i := strings.IndexByte(v, '>'); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

// Date parses the Date field. A missing or unparseable Date is an error;
// [Message.Date] falls back to the internal date.
func (h Header) Date() (time.Time, error) {
	v := strings.TrimSpace(h.h.Get("Date"))
	if v == "" {
		return time.Time{}, errors.New("no Date header")
	}
	t, err := mail.ParseDate(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad Date header %q: %w", truncate(v, 80), err)
	}
	return t, nil
}

// From returns the decoded From addresses.
func (h Header) From() []Address { return h.Addresses("From") }

// To returns the decoded To addresses.
func (h Header) To() []Address { return h.Addresses("To") }

// Cc returns the decoded Cc addresses.
func (h Header) Cc() []Address { return h.Addresses("Cc") }

// ReplyTo returns the decoded Reply-To addresses.
func (h Header) ReplyTo() []Address { return h.Addresses("Reply-To") }

// Addresses parses every field named key as an address list, decoding
// encoded-word display names. Entries that do not parse are skipped; if none
// parse, each comma-separated chunk containing "@" is returned as a bare
// address so broken mail still shows who sent it.
func (h Header) Addresses(key string) []Address {
	var out []Address
	for _, v := range h.h.Values(key) {
		out = append(out, parseAddressList(v)...)
	}
	return out
}

// Address is a mailbox address with an optional display name.
type Address struct {
	Name string `json:"name,omitempty"`
	Addr string `json:"addr"`
}

// String formats the address for display, as a header that allows UTF-8
// (RFC 6532) would hold it: "Name <addr>", or "addr" without a name. The
// name is written as it is, in UTF-8 (never RFC 2047-encoded), and quoted
// only when a header would need quotes ("Doe, John" <john@example.com>,
// with " and \ escaped). What it prints parses back to the same Address.
// For the ASCII-only form of a header sent over SMTP, use net/mail:
// (&mail.Address{Name: a.Name, Address: a.Addr}).String().
func (a Address) String() string {
	if a.Name == "" {
		return a.Addr
	}
	if isPhrase(a.Name) {
		return a.Name + " <" + a.Addr + ">"
	}
	var b strings.Builder
	b.Grow(len(a.Name) + len(a.Addr) + 6)
	b.WriteByte('"')
	for i := 0; i < len(a.Name); i++ {
		if c := a.Name[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(a.Name[i])
	}
	b.WriteString(`" <`)
	b.WriteString(a.Addr)
	b.WriteByte('>')
	return b.String()
}

// isPhrase reports whether name can stand unquoted before an address: words
// of RFC 5322 atext (with UTF-8, RFC 6532) separated by single spaces.
func isPhrase(name string) bool {
	if name == "" || name[0] == ' ' || name[len(name)-1] == ' ' || strings.Contains(name, "  ") {
		return false
	}
	for _, r := range name {
		switch {
		case r == ' ', r >= 0x80, r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r):
		default:
			return false
		}
	}
	return true
}

var addrParser = mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: charsetReader}}

func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	if gomessage.CharsetReader == nil {
		return nil, fmt.Errorf("unknown charset %q", charset)
	}
	return gomessage.CharsetReader(strings.ToLower(charset), input)
}

var wordDecoder = mime.WordDecoder{CharsetReader: charsetReader}

func decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

func parseAddressList(v string) []Address {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	if list, err := addrParser.ParseList(v); err == nil {
		out := make([]Address, 0, len(list))
		for _, a := range list {
			out = append(out, Address{Name: a.Name, Addr: a.Address})
		}
		return out
	}
	// Tolerant fallback: one entry at a time.
	var out []Address
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if a, err := addrParser.Parse(part); err == nil {
			out = append(out, Address{Name: a.Name, Addr: a.Address})
			continue
		}
		if i := strings.LastIndexByte(part, '<'); i >= 0 {
			if j := strings.IndexByte(part[i:], '>'); j > 0 {
				out = append(out, Address{Name: strings.Trim(decodeWords(strings.TrimSpace(part[:i])), `"`), Addr: part[i+1 : i+j]})
				continue
			}
		}
		if strings.Contains(part, "@") {
			out = append(out, Address{Addr: part})
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// liftableLimit reads at most n bytes from r; n can be raised once the
// bounded part (the header) has been read.
type liftableLimit struct {
	r io.Reader
	n int64
}

func (l *liftableLimit) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
