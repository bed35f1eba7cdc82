package pop3wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxLineLength is the longest status line or listing line (LIST, UIDL,
// CAPA) accepted, including CRLF. Longer lines are a protocol error. RFC 2449
// limits responses to 512 octets; the extra room tolerates chatty servers.
const MaxLineLength = 8192

// maxCodeLength bounds an RFC 2449 response code.
const maxCodeLength = 64

// statusKind classifies a status line.
type statusKind int

const (
	statusOK   statusKind = iota + 1 // "+OK"
	statusErr                        // "-ERR"
	statusCont                       // "+ " SASL continuation
)

// status is a parsed status line. text aliases the line buffer only until
// the next read; callers copy what they keep.
type status struct {
	kind statusKind
	code string // response code of -ERR (and +OK, rarely used)
	text []byte // text after the indicator and code, without CRLF
}

// readLine reads one line of at most limit bytes (including the line end)
// from br without allocating. It returns the line without its CRLF or LF.
// The returned slice aliases br's buffer. A line longer than limit is an
// ErrLineTooLong error; a stream ending before LF is io.ErrUnexpectedEOF.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: %w (more than %d bytes)", ErrProtocol, ErrLineTooLong, limit)
		}
		if errors.Is(err, io.EOF) {
			if len(line) == 0 {
				return nil, fmt.Errorf("connection closed: %w", io.ErrUnexpectedEOF)
			}
			return nil, fmt.Errorf("connection closed mid-line: %w", io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	if len(line) > limit {
		return nil, fmt.Errorf("%w: %w (%d bytes, limit %d)", ErrProtocol, ErrLineTooLong, len(line), limit)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseStatus parses a status line (without line end). It never panics on
// any input.
func parseStatus(line []byte) (status, error) {
	var st status
	var rest []byte
	switch {
	case hasPrefixFold(line, "+OK"):
		st.kind, rest = statusOK, line[3:]
	case hasPrefixFold(line, "-ERR"):
		st.kind, rest = statusErr, line[4:]
	case len(line) >= 1 && line[0] == '+' && (len(line) == 1 || line[1] == ' '):
		st.kind = statusCont
		if len(line) > 1 {
			st.text = line[2:]
		} else {
			st.text = line[1:]
		}
		return st, nil
	default:
		return st, fmt.Errorf("%w: bad status line %q", ErrProtocol, sanitize(line))
	}
	// The indicator must be followed by end of line or a space ("+OKAY" is
	// garbage).
	if len(rest) > 0 {
		if rest[0] != ' ' && rest[0] != '\t' {
			return status{}, fmt.Errorf("%w: bad status line %q", ErrProtocol, sanitize(line))
		}
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] == '[' {
		if end := bytes.IndexByte(rest, ']'); end > 1 && end <= maxCodeLength && validCode(rest[1:end]) {
			st.code = string(rest[1:end])
			rest = bytes.TrimLeft(rest[end+1:], " ")
		}
	}
	st.text = rest
	return st, nil
}

// validCode reports whether b is an RFC 2449 resp-code body: resp-levels of
// printable characters other than space, "/" and "]", joined by "/".
func validCode(b []byte) bool {
	prevSlash := true
	for _, c := range b {
		switch {
		case c == '/':
			if prevSlash {
				return false
			}
			prevSlash = true
		case c <= ' ' || c >= 0x7f || c == ']':
			return false
		default:
			prevSlash = false
		}
	}
	return !prevSlash
}

func hasPrefixFold(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// readMultiline reads the lines of a multi-line response after its status
// line, up to and including the terminating ".", undoing dot-stuffing. Each
// line (without line end, aliasing br's buffer) is passed to fn. If fn
// returns an error, reading continues to the terminator (so the connection
// stays in sync) and the first such error is returned, except errListingCap,
// which stops at once. I/O and overlong line errors are returned
// immediately.
func readMultiline(br *bufio.Reader, fn func(line []byte) error) error {
	var first error
	for {
		line, err := readLine(br, MaxLineLength)
		if err != nil {
			return err
		}
		if len(line) > 0 && line[0] == '.' {
			if len(line) == 1 {
				return first
			}
			line = line[1:]
		}
		if first == nil {
			first = fn(line)
			if first == errListingCap {
				return first
			}
		}
	}
}

// parseNum parses a positive decimal message number or size: digits only,
// no sign, no overflow, greater than zero unless allowZero.
func parseNum(b []byte, allowZero bool) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n < 0 || (n == 0 && !allowZero) {
		return 0, false
	}
	return n, true
}

// fields2 splits the first two space-separated fields of b; extra fields
// (allowed by RFC 1939 after the size) are ignored.
func fields2(b []byte) (a, c []byte, ok bool) {
	b = bytes.TrimLeft(b, " ")
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return nil, nil, false
	}
	a = b[:i]
	b = bytes.TrimLeft(b[i+1:], " ")
	if j := bytes.IndexByte(b, ' '); j >= 0 {
		b = b[:j]
	}
	if len(b) == 0 {
		return nil, nil, false
	}
	return a, b, true
}

// MessageSize is one line of a LIST response.
type MessageSize struct {
	// Num is the message number in this session (1-based).
	Num int
	// Size is the size in octets the server claims. Do not trust it for
	// buffer sizes: bodies are streamed as sent.
	Size int64
}

// MessageUID is one line of a UIDL response.
type MessageUID struct {
	// Num is the message number in this session (1-based).
	Num int
	// UID is the unique-id: 1 to 70 characters in 0x21..0x7E.
	UID string
}

// parseListLine parses "num size [...]" (a LIST line or the text of a
// single-message LIST answer).
func parseListLine(line []byte) (MessageSize, error) {
	a, b, ok := fields2(line)
	if ok {
		num, ok1 := parseNum(a, false)
		size, ok2 := parseNum(b, true)
		if ok1 && ok2 && num <= maxMsgNum {
			return MessageSize{Num: int(num), Size: size}, nil
		}
	}
	return MessageSize{}, fmt.Errorf("%w: malformed LIST line %q", ErrProtocol, sanitize(line))
}

// parseUIDLLine parses "num uid" (a UIDL line or the text of a
// single-message UIDL answer).
func parseUIDLLine(line []byte) (MessageUID, error) {
	a, b, ok := fields2(line)
	if ok {
		num, ok1 := parseNum(a, false)
		if ok1 && num <= maxMsgNum && validUID(b) {
			return MessageUID{Num: int(num), UID: string(b)}, nil
		}
	}
	return MessageUID{}, fmt.Errorf("%w: malformed UIDL line %q", ErrProtocol, sanitize(line))
}

// maxMsgNum keeps message numbers within int on every platform.
const maxMsgNum = 1<<31 - 1

func validUID(b []byte) bool {
	if len(b) < 1 || len(b) > 70 {
		return false
	}
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
