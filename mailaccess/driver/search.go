package driver

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailmime"
)

// Candidate is one message as [Match] sees it.
type Candidate struct {
	// Info holds the metadata the criteria compare: UID (0 for a store
	// without numeric UIDs, where MinUID and MaxUID then match nothing),
	// Size, InternalDate and Flags. If Info.Header is set it is used for
	// the header criteria instead of reading the message.
	Info mailaccess.MessageInfo
	// Open returns the raw message. Match calls it at most once, and only
	// for criteria the metadata cannot decide.
	Open func() (io.ReadCloser, error)
}

// Match reports whether a message matches every non-zero field of c, as
// [mailaccess.Mailbox].Search defines it: a driver without server-side
// search (Maildir, the fake, the IMAP driver's client-side fallback)
// calls it for each message. Strings match case-insensitively:
//   - From, To, Cc, Subject and Header: as substrings of the field's
//     values, raw or with their encoded words decoded; a Header entry with
//     an empty value only needs the field to be present.
//   - Body: in the decoded content of the message's text parts (every
//     leaf part whose type is text/* or message/*, transfer encoding
//     undone, charset converted to UTF-8), never in the header. Binary
//     attachments are not searched.
//   - Text: in the header (names, raw and decoded values) or as Body.
//
// Since and Before compare the calendar day of the internal date (in its
// own time zone, as IMAP does); Larger and Smaller the size. Reading is
// streamed: memory stays bounded whatever the message's size. An error
// reading the message is returned; a malformed MIME structure is not an
// error (what could not be parsed just does not match).
func Match(c mailaccess.Criteria, m Candidate) (bool, error) {
	if !matchMeta(c, m.Info) {
		return false, nil
	}
	needHeader := c.From != "" || c.To != "" || c.Cc != "" || c.Subject != "" || len(c.Header) > 0
	needText := c.Text != ""
	needBody := c.Body != ""
	if !needHeader && !needText && !needBody {
		return true, nil
	}
	h := m.Info.Header
	if !h.IsZero() {
		if needHeader && !matchHeader(h, c) {
			return false, nil
		}
		if needText && headerHas(h, c.Text) {
			needText = false
		}
		needHeader = false
		if !needBody && !needText {
			return true, nil
		}
	}
	if m.Open == nil {
		return false, errors.New("driver: Match: the criteria need the message and Candidate.Open is nil")
	}
	rc, err := m.Open()
	if err != nil {
		return false, err
	}
	defer rc.Close()
	src := &errReader{r: rc}
	if !needBody && !needText {
		// Only header criteria, and the header was not given.
		h, err := mailaccess.ParseHeader(src)
		if err != nil {
			if src.err != nil {
				return false, src.err
			}
			return false, nil
		}
		return matchHeader(h, c), nil
	}
	var needles []string
	if needBody {
		needles = append(needles, strings.ToLower(c.Body))
	}
	if needText {
		needles = append(needles, strings.ToLower(c.Text))
	}
	sc := newScanner(needles)
	top, _ := mailmime.Walk(src, func(p *mailmime.Part) error {
		if !strings.HasPrefix(p.ContentType, "text/") && !strings.HasPrefix(p.ContentType, "message/") {
			return nil
		}
		if err := sc.scan(p.Body); err != nil {
			return err
		}
		if sc.all() {
			return mailmime.ErrSkipRest
		}
		return nil
	})
	if src.err != nil {
		return false, src.err
	}
	if needHeader && !matchHeader(top, c) {
		return false, nil
	}
	if needBody && !sc.found[0] {
		return false, nil
	}
	if needText && !sc.found[len(needles)-1] && !headerHas(top, c.Text) {
		return false, nil
	}
	return true, nil
}

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func matchMeta(c mailaccess.Criteria, mi mailaccess.MessageInfo) bool {
	if (c.MinUID != 0 || c.MaxUID != 0) && mi.UID == 0 {
		return false
	}
	if c.MinUID != 0 && mi.UID < c.MinUID || c.MaxUID != 0 && mi.UID > c.MaxUID {
		return false
	}
	for _, f := range c.WithFlags {
		if !hasFlag(mi.Flags, f) {
			return false
		}
	}
	for _, f := range c.WithoutFlags {
		if hasFlag(mi.Flags, f) {
			return false
		}
	}
	if c.Larger > 0 && mi.Size <= c.Larger || c.Smaller > 0 && mi.Size >= c.Smaller {
		return false
	}
	if !c.Since.IsZero() && day(mi.InternalDate).Before(day(c.Since)) {
		return false
	}
	if !c.Before.IsZero() && !day(mi.InternalDate).Before(day(c.Before)) {
		return false
	}
	return true
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// fieldMatches reports whether a value of field key holds sub, raw or
// decoded.
func fieldMatches(h mailaccess.Header, key, sub string) bool {
	for _, v := range h.Values(key) {
		if containsFold(v, sub) || containsFold(mailaccess.HeaderFromFields(key, v).Text(key), sub) {
			return true
		}
	}
	return false
}

func matchHeader(h mailaccess.Header, c mailaccess.Criteria) bool {
	for _, kv := range [][2]string{{"From", c.From}, {"To", c.To}, {"Cc", c.Cc}, {"Subject", c.Subject}} {
		if kv[1] != "" && !fieldMatches(h, kv[0], kv[1]) {
			return false
		}
	}
	for k, v := range c.Header {
		if !h.Has(k) || (v != "" && !fieldMatches(h, k, v)) {
			return false
		}
	}
	return true
}

// headerHas reports whether sub appears in a field name or value of h.
func headerHas(h mailaccess.Header, sub string) bool {
	for k, v := range h.Fields() {
		if containsFold(k, sub) || containsFold(v, sub) || fieldMatches(h, k, sub) {
			return true
		}
	}
	return false
}

// errReader remembers the first error of r other than io.EOF, so that a
// read failure can be told from a malformed message.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// scanner looks for lower-case needles in streams, in chunks, keeping an
// overlap so that a needle across two chunks is found.
type scanner struct {
	needles []string
	found   []bool
	longest int
	buf     []byte
	chunk   []byte
}

const scanChunk = 32 << 10

func newScanner(needles []string) *scanner {
	s := &scanner{needles: needles, found: make([]bool, len(needles)), chunk: make([]byte, scanChunk)}
	for _, n := range needles {
		s.longest = max(s.longest, len(n))
	}
	return s
}

func (s *scanner) all() bool {
	for _, f := range s.found {
		if !f {
			return false
		}
	}
	return true
}

// scan reads r to its end (or until every needle is found) and marks the
// needles it holds. Each part is scanned on its own: a needle does not
// span two parts.
func (s *scanner) scan(r io.Reader) error {
	s.buf = s.buf[:0]
	for {
		n, err := r.Read(s.chunk)
		s.buf = append(s.buf, bytes.ToLower(s.chunk[:n])...)
		for i, needle := range s.needles {
			if !s.found[i] && bytes.Contains(s.buf, []byte(needle)) {
				s.found[i] = true
			}
		}
		if s.all() {
			return nil
		}
		if keep := s.longest - 1; len(s.buf) > keep {
			s.buf = append(s.buf[:0], s.buf[len(s.buf)-keep:]...)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
