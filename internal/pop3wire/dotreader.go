package pop3wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// dotReader undoes POP3 dot-stuffing (RFC 1939 section 3) on a multi-line
// response streamed from a bufio.Reader. It copies spans straight from the
// bufio buffer: no per-line work beyond one search, no allocation, and lines
// of any length are passed through unsplit. Line boundaries are LF bytes
// (a bare LF counts, so a ".CRLF" after a bare LF terminates, exactly as the
// server's stuffing would have treated it); CR and LF bytes themselves are
// delivered unchanged.
type dotReader struct {
	br          *bufio.Reader
	atLineStart bool
	done        bool  // terminator consumed
	err         error // sticky error
	n           int64 // bytes delivered
}

func newDotReader(br *bufio.Reader) *dotReader {
	return &dotReader{br: br, atLineStart: true}
}

var lfDot = []byte("\n.")

// Read implements io.Reader. It returns io.EOF after the terminating line
// and an error wrapping io.ErrUnexpectedEOF if the stream ends before it.
func (d *dotReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.done {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		if d.atLineStart {
			// Only block for more input if nothing has been delivered yet.
			if n > 0 && d.br.Buffered() < 3 {
				break
			}
			end, err := d.lineStart()
			if err != nil {
				d.err = err
				break
			}
			if end {
				d.done = true
				break
			}
			d.atLineStart = false
		}
		buf, err := d.buffered(n > 0)
		if err != nil {
			d.err = err
			break
		}
		if len(buf) == 0 {
			break
		}
		if len(buf) > len(p)-n {
			buf = buf[:len(p)-n]
		}
		// Copy through the next LF that is followed by '.', or everything.
		if i := bytes.Index(buf, lfDot); i >= 0 {
			buf = buf[:i+1]
			d.atLineStart = true
		} else if buf[len(buf)-1] == '\n' {
			d.atLineStart = true
		}
		c := copy(p[n:], buf)
		n += c
		_, _ = d.br.Discard(c)
	}
	d.n += int64(n)
	if n > 0 {
		return n, nil
	}
	if d.err != nil {
		return 0, d.err
	}
	if d.done {
		return 0, io.EOF
	}
	return 0, nil
}

// lineStart handles the first byte(s) of a line: it consumes a stuffed dot
// and reports whether this line is the terminator (which it consumes).
func (d *dotReader) lineStart() (end bool, err error) {
	b, err := d.br.Peek(1)
	if err != nil {
		return false, unexpected(err)
	}
	if b[0] != '.' {
		return false, nil
	}
	b, err = d.br.Peek(2)
	if err != nil {
		return false, unexpected(err)
	}
	switch b[1] {
	case '\n': // ".LF": tolerated terminator
		_, _ = d.br.Discard(2)
		return true, nil
	case '\r':
		b, err = d.br.Peek(3)
		if err != nil {
			return false, unexpected(err)
		}
		if b[2] == '\n' {
			_, _ = d.br.Discard(3)
			return true, nil
		}
	}
	_, _ = d.br.Discard(1) // stuffed dot
	return false, nil
}

// buffered returns the buffered bytes, filling the buffer first if it is
// empty and blocking is allowed.
func (d *dotReader) buffered(noBlock bool) ([]byte, error) {
	if d.br.Buffered() == 0 {
		if noBlock {
			return nil, nil
		}
		if _, err := d.br.Peek(1); err != nil {
			return nil, unexpected(err)
		}
	}
	b, _ := d.br.Peek(d.br.Buffered())
	return b, nil
}

// unexpected turns EOF inside a body into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("message body not terminated: %w", io.ErrUnexpectedEOF)
	}
	return err
}
