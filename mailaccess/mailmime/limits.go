package mailmime

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Default limits; see [Limits].
const (
	// DefaultMaxDepth is how deeply multiparts may nest by default.
	DefaultMaxDepth = 64
	// DefaultMaxParts is how many parts a message may have by default.
	DefaultMaxParts = 10000
)

// SizeUnknown is the Size of an [Attachment] whose decoded size is not
// known yet: inside ContentOptions.OnAttachment, before the part has been
// read.
const SizeUnknown = -1

// ErrLimit is wrapped by the errors of reading a message that goes beyond
// one of its [Limits]; the error names the limit and the field of Limits
// that raises it.
var ErrLimit = errors.New("mailmime: limit exceeded")

// Limits bound what reading one message may cost, so that a hostile
// message cannot exhaust memory or time. The zero value (or a nil
// *Limits) means the defaults; a negative or zero field means its
// default.
type Limits struct {
	// MaxDepth is how deeply multiparts may nest (DefaultMaxDepth). A
	// multipart at this depth is not descended into: it is read as one
	// opaque part (kind PartAttachment, its raw body), with the problem
	// named in Part.Problem. Messages attached as message/rfc822 are
	// never descended into by Walk.
	MaxDepth int
	// MaxHeaderBytes bounds each header block, the message's and every
	// part's (default [mailaccess.MaxHeaderBytes]). A longer one is an
	// error wrapping [ErrLimit].
	MaxHeaderBytes int
	// MaxParts bounds the number of parts, leaves and multiparts
	// (DefaultMaxParts). Beyond it reading stops with an error wrapping
	// [ErrLimit].
	MaxParts int
}

func (l *Limits) depth() int {
	if l == nil || l.MaxDepth <= 0 {
		return DefaultMaxDepth
	}
	return l.MaxDepth
}

func (l *Limits) headerBytes() int {
	if l == nil || l.MaxHeaderBytes <= 0 {
		return mailaccess.MaxHeaderBytes
	}
	return l.MaxHeaderBytes
}

func (l *Limits) parts() int {
	if l == nil || l.MaxParts <= 0 {
		return DefaultMaxParts
	}
	return l.MaxParts
}

func errHeaderLimit(what string, max int) error {
	return fmt.Errorf("%s header longer than %d bytes (raise Limits.MaxHeaderBytes to read it): %w", what, max, ErrLimit)
}

func errPartsLimit(max int) error {
	return fmt.Errorf("more than %d MIME parts (raise Limits.MaxParts to read them): %w", max, ErrLimit)
}

func depthProblem(max int) string {
	return fmt.Sprintf("multipart nested deeper than %d levels: read as one part, not descended into (raise Limits.MaxDepth to read it)", max)
}

// partHeaderGuard sits between a multipart body and the MultipartReader
// that splits it, and bounds every part's header: it follows the lines of
// the stream and counts the bytes from each boundary delimiter line to the
// blank line that ends the header after it, failing once they exceed max.
// (go-message's reader buffers a part header whole, however long.) It
// recognises delimiter lines as the reader does: "--boundary" followed by
// optional white space and the line end, or by "--" for the last one.
type partHeaderGuard struct {
	r     io.Reader
	delim []byte // "--" + boundary
	max   int

	inHeader bool
	n        int // header bytes counted so far

	// The current line: its length so far, its first byte, and how far it
	// matches a delimiter line.
	lineLen int
	first   byte
	m       matchState
	err     error
}

type matchState uint8

const (
	mDelim matchState = iota // matching "--boundary" so far
	mAfter                   // the whole of "--boundary" seen
	mDash                    // then one '-'
	mSpace                   // then only white space (after an optional "--")
	mClose                   // as mSpace, after "--": the close delimiter
	mNo                      // not a delimiter line
)

func newPartHeaderGuard(r io.Reader, boundary string, max int) *partHeaderGuard {
	return &partHeaderGuard{r: r, delim: []byte("--" + boundary), max: max}
}

func (g *partHeaderGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	b := p[:n]
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		seg := b
		if i >= 0 {
			seg = b[:i]
		}
		g.feed(seg)
		if g.inHeader {
			g.n += len(seg)
			if i >= 0 {
				g.n++
			}
			if g.n > g.max {
				g.err = errHeaderLimit("MIME part", g.max)
				return 0, g.err
			}
		}
		if i < 0 {
			break
		}
		g.endLine()
		b = b[i+1:]
	}
	return n, err
}

// feed classifies more bytes of the current line (without its '\n').
func (g *partHeaderGuard) feed(seg []byte) {
	if len(seg) == 0 {
		return
	}
	if g.lineLen == 0 {
		g.first = seg[0]
	}
	for k, c := range seg {
		switch g.m {
		case mDelim:
			if c != g.delim[g.lineLen+k] {
				g.m = mNo
			} else if g.lineLen+k+1 == len(g.delim) {
				g.m = mAfter
			}
		case mAfter:
			switch c {
			case '-':
				g.m = mDash
			case ' ', '\t', '\r':
				g.m = mSpace
			default:
				g.m = mNo
			}
		case mDash:
			if c == '-' {
				g.m = mClose
			} else {
				g.m = mNo
			}
		case mSpace, mClose:
			if c != ' ' && c != '\t' && c != '\r' {
				g.m = mNo
			}
		}
		if g.m == mNo {
			break // nothing more to learn from this line
		}
	}
	g.lineLen += len(seg)
}

// endLine acts on the line that just ended.
func (g *partHeaderGuard) endLine() {
	blank := g.lineLen == 0 || (g.lineLen == 1 && g.first == '\r')
	switch {
	case g.inHeader:
		if blank {
			g.inHeader = false
		}
	case g.m == mAfter || g.m == mSpace:
		g.inHeader, g.n = true, 0
	}
	g.lineLen, g.m = 0, mDelim
}
