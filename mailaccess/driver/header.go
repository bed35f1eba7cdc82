package driver

import (
	"fmt"
	"io"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// HeaderSection is a message header a server sent on its own (IMAP
// BODY[HEADER], POP3 "TOP n 0"), parsed, with what it takes to tell a
// whole header from one cut short: a header cut short loses its last
// fields (a Message-ID, say) and still parses.
type HeaderSection struct {
	Header mailaccess.Header
	n      int64 // octets read
	blank  bool  // the blank line that ends a header came
	eof    bool  // the answer ended
}

// ReadHeaderSection parses the header r holds, reading r up to the end
// of the header, or to its end when the header has no blank line (bound r
// to the most worth reading). A header that does not parse (broken mail
// has such headers) is an error matching [mailaccess.ErrProtocol] naming
// what ("UID 17"), with the section still valid for
// [HeaderSection.Whole], which tells a header cut short from a malformed
// one; the Header is then empty.
func ReadHeaderSection(r io.Reader, what string) (HeaderSection, error) {
	hr := &headerReader{r: r, start: true}
	h, err := mailaccess.ParseHeader(hr)
	if !hr.blank {
		// Where the header ends decides whether it was cut: read on.
		_, _ = io.Copy(io.Discard, hr)
	}
	s := HeaderSection{Header: h, n: hr.n, blank: hr.blank, eof: hr.eof}
	if err != nil {
		return s, fmt.Errorf("%w: header of %s: %w", mailaccess.ErrProtocol, what, err)
	}
	return s, nil
}

// Whole checks that the header is whole: the blank line that ends a
// header arrived, or the server's answer is as long as the whole message
// (size, the size the server gives the message: a message without a body
// has no blank line), or size is unknown (< 0). A header cut short is an
// error matching [mailaccess.ErrProtocol] naming what.
func (s HeaderSection) Whole(size int64, what string) error {
	if s.blank || !s.eof || size < 0 || s.n >= size {
		return nil
	}
	return fmt.Errorf("%w: header of %s: the server's answer ended after %d octets without the blank line that ends a header, for a message of %d octets: the header was cut short",
		mailaccess.ErrProtocol, what, s.n, size)
}

// ReadHeader is [ReadHeaderSection] and [HeaderSection.Whole] at once,
// for a message of known size.
func ReadHeader(r io.Reader, size int64, what string) (mailaccess.Header, error) {
	s, err := ReadHeaderSection(r, what)
	if werr := s.Whole(size, what); werr != nil {
		return mailaccess.Header{}, werr // cut short, parsed or not
	}
	if err != nil {
		return mailaccess.Header{}, err
	}
	return s.Header, nil
}

// headerReader passes a header through and notes whether the blank line
// ending it came, and whether the answer ended.
type headerReader struct {
	r     io.Reader
	n     int64
	start bool // at the start of a line
	cr    bool // the line so far is a lone CR
	blank bool
	eof   bool
}

func (h *headerReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	for _, c := range p[:n] {
		switch {
		case h.blank:
		case c == '\n':
			h.blank = h.start || h.cr
			h.start, h.cr = true, false
		case c == '\r' && h.start:
			h.start, h.cr = false, true
		default:
			h.start, h.cr = false, false
		}
	}
	h.n += int64(n)
	if err == io.EOF {
		h.eof = true
	}
	return n, err
}
