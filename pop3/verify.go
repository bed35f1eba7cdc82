package pop3

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// ErrSizeMismatch is wrapped, with [mailaccess.ErrProtocol], by the read
// error of a message body that does not match the size the server listed
// for it in the same session (see the package documentation, "Bodies are
// checked"), or that is empty although listed as non-empty. The error
// replaces io.EOF, so a caller that copies the body somewhere sees it
// before it could treat the copy as complete.
var ErrSizeMismatch = errors.New("message body does not match the size the server listed")

// verifier passes a message body through and, at its end, checks it
// against the size LIST gave in the same session. Instead of io.EOF it
// returns an error when the check fails.
type verifier struct {
	r    io.Reader
	id   mailaccess.ID
	num  int
	want int64  // the LIST size
	mode string // SizeCheck*

	got     int64   // bytes delivered
	lf      int64   // LF bytes among them
	content bool    // a byte other than CR or LF was seen
	tail    [4]byte // the last four bytes delivered
	err     error   // sticky result once the end was reached

	// The header is scanned for an "X-UIDL: <uidl>" field naming this
	// message: servers that keep the UIDL in the message (GNU Mailutils'
	// pop3d, qpopper) add it when they first list a message, after the
	// LIST size of that session was computed. Its bytes are allowed on
	// top of the listed size.
	uidl     string
	inHeader bool
	line     []byte // the header line so far, up to maxXUIDLLine bytes
	long     bool   // the line is longer than that
	xuidl    int64  // bytes of the X-UIDL field naming this message
	xuidlLF  int64  // line ends among them
}

// maxXUIDLLine bounds the header line the verifier keeps to recognise an
// X-UIDL field (a UIDL is at most 70 octets, RFC 1939).
const maxXUIDLLine = 128

func newVerifier(r io.Reader, id mailaccess.ID, e entry, mode string) *verifier {
	return &verifier{r: r, id: id, num: e.num, want: e.size, mode: mode, uidl: e.uid, inHeader: e.uid != ""}
}

// scanHeader follows the header lines in b, noting an X-UIDL field that
// names this message, until the empty line that ends the header.
func (v *verifier) scanHeader(b []byte) {
	for len(b) > 0 && v.inHeader {
		i := bytes.IndexByte(b, '\n')
		part := b
		if i >= 0 {
			part = b[:i+1]
		}
		b = b[len(part):]
		if !v.long && len(v.line)+len(part) <= maxXUIDLLine {
			v.line = append(v.line, part...)
		} else {
			v.long = true
		}
		if i < 0 {
			return
		}
		line := v.line
		switch {
		case v.long:
		case len(bytes.TrimRight(line, "\r\n")) == 0:
			v.inHeader = false
		case len(line) > 7 && bytes.EqualFold(line[:7], []byte("X-UIDL:")) &&
			string(bytes.TrimSpace(line[7:])) == v.uidl:
			v.xuidl += int64(len(line))
			v.xuidlLF++
		}
		v.line, v.long = v.line[:0], false
	}
}

// Read implements io.Reader.
func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	if n > 0 {
		b := p[:n]
		v.got += int64(n)
		v.lf += int64(bytes.Count(b, []byte{'\n'}))
		if !v.content && len(bytes.Trim(b, "\r\n")) > 0 {
			v.content = true
		}
		if v.inHeader {
			v.scanHeader(b)
		}
		if n >= len(v.tail) {
			v.tail = [4]byte(b[n-len(v.tail):])
		} else {
			t := append(v.tail[n:], b...)
			v.tail = [4]byte(t)
		}
	}
	if err == io.EOF {
		if cerr := v.check(); cerr != nil {
			v.err = cerr
			return n, cerr
		}
		v.err = io.EOF
	}
	return n, err
}

// check judges a complete body.
func (v *verifier) check() error {
	if v.want > 0 && !v.content {
		return fmt.Errorf("%w: %w: message %q (number %d in this session): the server sent an empty body for a message it lists as %d octets; it is refused whatever opt.%s says",
			mailaccess.ErrProtocol, ErrSizeMismatch, v.id, v.num, v.want, OptSizeCheck)
	}
	switch v.mode {
	case SizeCheckOff:
		return nil
	case SizeCheckAtLeast:
		if v.got >= v.want {
			return nil
		}
		return fmt.Errorf("%w: %w: message %q (number %d in this session): the server listed %d octets but sent %d, fewer: the body is probably truncated, so it is refused (opt.%s=%s turns the check off)",
			mailaccess.ErrProtocol, ErrSizeMismatch, v.id, v.num, v.want, v.got, OptSizeCheck, SizeCheckOff)
	}
	// Strict: exactly the listed size, or exactly what the server's
	// line-end convention makes of it: it may count each line end as one
	// octet (the size of a message stored with LF line ends: every LF
	// sent adds one octet), and it adds a CRLF to end a last line that had
	// none (two octets more, or, counting LF line ends, one more than the
	// LFs). Any other length is a body with octets cut or added (a proxy
	// that appends a footer, a lengthened literal), not a convention,
	// except an X-UIDL field naming this message that the server added
	// after listing it (see scanHeader).
	// The added CRLF ends a last line that was not empty: a body that
	// ends in a blank line did not get its last line end from the server.
	added := v.tail[2] == '\r' && v.tail[3] == '\n' && v.tail[1] != '\n'
	for i, extra := range []int64{v.got - v.want, v.got - v.want - v.xuidl} {
		lf := v.lf - int64(i)*v.xuidlLF // an added field's line ends are not in the listed size either
		if extra == 0 || extra == lf || added && (extra == 2 || extra == lf+1) {
			return nil
		}
		if v.xuidl == 0 {
			break
		}
	}
	return fmt.Errorf("%w: %w: message %q (number %d in this session): the server listed %d octets but sent %d: the body may be truncated or altered, so it is refused. If this server is known to list inexact sizes (Microsoft Exchange lists estimates unless EnableExactRFC822Size is set), set opt.%s=%s, which still refuses bodies shorter than listed, or opt.%s=%s",
		mailaccess.ErrProtocol, ErrSizeMismatch, v.id, v.num, v.want, v.got, OptSizeCheck, SizeCheckAtLeast, OptSizeCheck, SizeCheckOff)
}
