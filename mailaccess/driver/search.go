package driver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"time"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Candidate is one message as [Match] sees it.
type Candidate struct {
	// Info holds the metadata the criteria compare: UID (0 for a store
	// without numeric UIDs, where MinUID and MaxUID then match nothing),
	// Size, InternalDate and Flags. If Info.Header is set it is used for
	// the header criteria instead of reading the message.
	Info mailaccess.MessageInfo
	// Open returns the raw message. Match calls it at most once, and only
	// for criteria the metadata (and Info.Header) cannot decide.
	Open func() (io.ReadCloser, error)
}

// Match reports whether a message matches c, as [mailaccess.Criteria]
// defines it: the evaluator of every driver without server-side search
// (Maildir, the fake, POP3, the IMAP driver's client-side fallback), so
// that one Criteria selects the same messages everywhere. Its string
// matching is IMAP SEARCH's as Dovecot implements it (the conformance
// suite runs the same searches on Dovecot and on every driver):
//   - strings compare in a folded form: each character title-cased and
//     decomposed, so case and accents on the last letter of a word do
//     not matter ("cafe" finds "Café") but accents inside do ("schone"
//     does not find "schöne");
//   - Subject and Header look in the decoded field value (RFC 2047
//     encoded words decoded anywhere, tabs as spaces); From, To, Cc and
//     the address fields of Header in the address list rewritten in one
//     form (`"Ann Lee" <ann@example.com>`, `<bob@example.com>`);
//   - Body looks in the decoded text of the leaf parts whose type is
//     text/* or message/* (and in those of attached messages), never in
//     a header; Text also looks in every header of the message and of its
//     parts (names and decoded values).
//
// Since and Before compare the calendar day of Info.InternalDate; a
// message without internal date (POP3, the fake's POP3 profile) is
// compared by its Date header instead (its own calendar day, as IMAP's
// SENTSINCE), and one with neither matches no date criterion. Search,
// FetchMatching and [Filter] share this rule on every driver.
//
// And, Or and Not combine criteria as the logical operators do. Match
// decides from the metadata when it can (the size, flags, date, UID, and
// Info.Header), opens the message only for what is left, and reads it
// streamed, at most once, stopping as soon as every string it looks for
// has been found: memory stays bounded whatever the message's size. An
// error reading the message is returned; a malformed MIME structure is not
// an error (what could not be parsed just does not match).
//
// Match does not validate c: a driver calls [mailaccess.Criteria.Validate]
// once per Search first.
func Match(c mailaccess.Criteria, m Candidate) (bool, error) {
	e := newEvaluator(c)
	if v := e.eval(c, &m.Info); v != unknown {
		return v == yes, nil
	}
	haveHeader := false
	if !m.Info.Header.IsZero() {
		e.headerFacts(headerOf(m.Info.Header))
		haveHeader = true
		if v := e.eval(c, &m.Info); v != unknown {
			return v == yes, nil
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
	e.scanMessage(src, !haveHeader)
	if src.err != nil {
		return false, src.err
	}
	e.settle()
	return e.eval(c, &m.Info) == yes, nil
}

// tri is a three-valued truth: a criterion may be undecided until the
// message is read.
type tri int8

const (
	unknown tri = iota
	no
	yes
)

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

// needle kinds: where a string criterion looks.
type needleKind uint8

const (
	inHeader  needleKind = iota // a field's decoded value
	inAddress                   // an address field's rewritten list
	inBody                      // the text parts
	inText                      // headers of every entity, and the text parts
)

type needleKey struct {
	kind  needleKind
	field string // lower-case field name for inHeader and inAddress
	raw   string // the criterion's string; "" for a presence test
}

// evaluator holds the string criteria of one Criteria and what has been
// found out about them for one message.
type evaluator struct {
	index   map[needleKey]int
	needles []needleKey
	folded  [][]byte
	facts   []tri
	// sent is the Date header of the message, for Since and Before on a
	// store without internal dates (POP3), once the header was read.
	sent      time.Time
	sentKnown bool
	sentOK    bool
}

func newEvaluator(c mailaccess.Criteria) *evaluator {
	e := &evaluator{index: map[needleKey]int{}}
	e.collect(c)
	return e
}

// addressFields are the fields IMAP's FROM, TO, CC and BCC match as
// address lists (go-imap sends a HEADER criterion on them as those keys).
func isAddressField(lower string) bool {
	switch lower {
	case "from", "to", "cc", "bcc":
		return true
	}
	return false
}

// leaves calls fn for every string criterion of c itself (not of its
// sub-criteria).
func leaves(c *mailaccess.Criteria, fn func(needleKey)) {
	for _, kv := range [][2]string{{"from", c.From}, {"to", c.To}, {"cc", c.Cc}} {
		if kv[1] != "" {
			fn(needleKey{kind: inAddress, field: kv[0], raw: kv[1]})
		}
	}
	if c.Subject != "" {
		fn(needleKey{kind: inHeader, field: "subject", raw: c.Subject})
	}
	for k, v := range c.Header {
		lk := strings.ToLower(k)
		kind := inHeader
		if isAddressField(lk) {
			kind = inAddress
		}
		fn(needleKey{kind: kind, field: lk, raw: v})
	}
	if c.Body != "" {
		fn(needleKey{kind: inBody, raw: c.Body})
	}
	if c.Text != "" {
		fn(needleKey{kind: inText, raw: c.Text})
	}
}

func (e *evaluator) collect(c mailaccess.Criteria) {
	leaves(&c, func(k needleKey) {
		if _, ok := e.index[k]; ok {
			return
		}
		e.index[k] = len(e.needles)
		e.needles = append(e.needles, k)
		e.folded = append(e.folded, []byte(fold(k.raw)))
		e.facts = append(e.facts, unknown)
	})
	for _, list := range [][]mailaccess.Criteria{c.And, c.Or, c.Not} {
		for _, sub := range list {
			e.collect(sub)
		}
	}
}

// eval evaluates c with what is known: metadata always, strings as far
// as they have been looked for.
func (e *evaluator) eval(c mailaccess.Criteria, mi *mailaccess.MessageInfo) tri {
	v := e.meta(c, mi)
	and := func(t tri) {
		if t == no || v == no {
			v = no
		} else if t == unknown {
			v = unknown
		}
	}
	if v == no {
		return no
	}
	leaves(&c, func(k needleKey) { and(e.facts[e.index[k]]) })
	for _, sub := range c.And {
		if v == no {
			return no
		}
		and(e.eval(sub, mi))
	}
	if len(c.Or) > 0 && v != no {
		any := no
		for _, sub := range c.Or {
			t := e.eval(sub, mi)
			if t == yes {
				any = yes
				break
			}
			if t == unknown {
				any = unknown
			}
		}
		and(any)
	}
	for _, sub := range c.Not {
		if v == no {
			return no
		}
		switch e.eval(sub, mi) {
		case yes:
			and(no)
		case unknown:
			and(unknown)
		}
	}
	return v
}

// settle marks every string still unknown after the whole message was
// read as not found.
func (e *evaluator) settle() {
	for i, f := range e.facts {
		if f == unknown {
			e.facts[i] = no
		}
	}
}

// header is what the evaluator needs of a header, from a
// mailaccess.Header or a textproto.Header.
type header interface {
	Values(key string) []string
	each(fn func(key, value string))
}

type mheader struct{ mailaccess.Header }

func (h mheader) each(fn func(k, v string)) {
	for k, v := range h.Fields() {
		fn(k, v)
	}
}

func headerOf(h mailaccess.Header) header { return mheader{h} }

type theader struct{ *textproto.Header }

func (h theader) Values(k string) []string { return h.Header.Values(k) }

func (h theader) each(fn func(k, v string)) {
	for f := h.Fields(); f.Next(); {
		fn(f.Key(), f.Value())
	}
}

// headerFacts decides the header and address criteria from the
// message's top-level header, and finds the Text criteria it holds.
func (e *evaluator) headerFacts(h header) {
	e.sentKnown = true
	if d := h.Values("Date"); len(d) > 0 {
		if t, err := mailaccess.HeaderFromFields("Date", d[0]).Date(); err == nil {
			e.sent, e.sentOK = t, true
		}
	}
	for i, k := range e.needles {
		switch k.kind {
		case inHeader, inAddress:
			vals := h.Values(k.field)
			found := false
			if k.raw == "" {
				found = len(vals) > 0
			}
			for _, v := range vals {
				if found {
					break
				}
				form := decodeValue(v)
				if k.kind == inAddress {
					form = addressForm(v)
				}
				found = strings.Contains(fold(form), string(e.folded[i]))
			}
			e.facts[i] = triOf(found)
		}
	}
	e.textInHeader(h)
}

// textInHeader marks the Text criteria found in a header's lines
// ("Name: decoded value").
func (e *evaluator) textInHeader(h header) {
	if !e.wants(inText) {
		return
	}
	h.each(func(k, v string) {
		line := fold(k + ": " + decodeValue(v))
		for i, n := range e.needles {
			if n.kind == inText && e.facts[i] != yes && strings.Contains(line, string(e.folded[i])) {
				e.facts[i] = yes
			}
		}
	})
}

// wants reports whether a needle of kind is still unknown.
func (e *evaluator) wants(kind needleKind) bool {
	for i, n := range e.needles {
		if n.kind == kind && e.facts[i] == unknown {
			return true
		}
	}
	return false
}

// maxSearchDepth bounds how deeply Match descends into nested multiparts
// and attached messages; deeper parts are not searched.
const maxSearchDepth = 32

// errFound stops the walk once every needle has been found.
var errFound = errors.New("every string found")

// scanMessage reads a raw message: its header for the header criteria
// (when top is true) and the Text criteria, then its entities for Body
// and Text. A malformed message ends the scan quietly; read errors are
// left in the errReader.
func (e *evaluator) scanMessage(r io.Reader, top bool) {
	lr := &limitHeader{r: r, n: mailaccess.MaxHeaderBytes}
	br := bufio.NewReaderSize(lr, 32<<10)
	th, err := textproto.ReadHeader(br)
	if err != nil {
		return
	}
	lr.n = -1
	if top {
		e.headerFacts(theader{&th})
	}
	if !e.wants(inBody) && !e.wants(inText) {
		return
	}
	sc := e.newScanner()
	_ = e.walk(th, br, 0, sc)
}

// walk searches one entity (the message, a part, an attached message).
func (e *evaluator) walk(th textproto.Header, body io.Reader, depth int, sc *scanner) error {
	if depth > maxSearchDepth {
		return nil
	}
	if depth > 0 {
		e.textInHeader(theader{&th})
		if sc.done() {
			return errFound
		}
	}
	mh := gomessage.Header{Header: th}
	mediaType, params, _ := mh.ContentType()
	if mediaType == "" {
		mediaType = "text/plain"
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/") && params["boundary"] != "":
		mr := textproto.NewMultipartReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				return nil // the end, or a malformed multipart: what was read counts
			}
			if err := e.walk(p.Header, p, depth+1, sc); err != nil {
				return err
			}
		}
	case mediaType == "message/rfc822" || mediaType == "message/global":
		inner := bufio.NewReaderSize(decodedBody(th, body, false), 32<<10)
		ih, err := textproto.ReadHeader(inner)
		if err != nil {
			return nil
		}
		return e.walk(ih, inner, depth+1, sc)
	case strings.HasPrefix(mediaType, "text/") || strings.HasPrefix(mediaType, "message/"):
		if err := sc.scan(decodedBody(th, body, strings.HasPrefix(mediaType, "text/"))); err != nil {
			return err
		}
		if sc.done() {
			return errFound
		}
	}
	return nil
}

// decodedBody undoes the transfer encoding of an entity's body and, for
// text, converts its charset to UTF-8; an unknown charset or encoding
// leaves the bytes as they are.
func decodedBody(th textproto.Header, body io.Reader, text bool) io.Reader {
	h := th.Copy()
	if !text {
		h.Set("Content-Type", "application/octet-stream")
	}
	ent, err := gomessage.New(gomessage.Header{Header: h}, body)
	if ent == nil {
		return body
	}
	if err != nil && gomessage.IsUnknownEncoding(err) {
		return body
	}
	return ent.Body
}

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// meta checks the criteria of c itself that metadata decides. Since and
// Before compare the internal date; without one (POP3) the Date header,
// unknown until the header is read; a message with neither matches no
// date criterion.
func (e *evaluator) meta(c mailaccess.Criteria, mi *mailaccess.MessageInfo) tri {
	if !matchMeta(c, *mi) {
		return no
	}
	if (c.Since.IsZero() && c.Before.IsZero()) || !mi.InternalDate.IsZero() {
		return yes
	}
	if !e.sentKnown {
		return unknown
	}
	if !e.sentOK {
		return no
	}
	return triOf(matchDate(c, e.sent))
}

// matchDate compares a date with Since and Before, by calendar day.
func matchDate(c mailaccess.Criteria, t time.Time) bool {
	if !c.Since.IsZero() && day(t).Before(day(c.Since)) {
		return false
	}
	if !c.Before.IsZero() && !day(t).Before(day(c.Before)) {
		return false
	}
	return true
}

// matchMeta checks the criteria of c itself that metadata decides, all
// but Since and Before on a message without internal date.
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
	if !mi.InternalDate.IsZero() && !matchDate(c, mi.InternalDate) {
		return false
	}
	return true
}

// limitHeader reads at most n bytes (the header) until n is set to -1.
type limitHeader struct {
	r io.Reader
	n int64
}

func (l *limitHeader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
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

// scanner looks for the Body and Text needles in the folded text of the
// parts, chunk by chunk, keeping an overlap so that a needle across two
// chunks is found. Each part is scanned on its own: a needle does not
// span two parts.
type scanner struct {
	e       *evaluator
	idx     []int // needles scanned for
	longest int
	buf     []byte
	chunk   []byte
	folded  []byte
	f       folder
}

const scanChunk = 32 << 10

func (e *evaluator) newScanner() *scanner {
	s := &scanner{e: e, chunk: make([]byte, scanChunk)}
	for i, n := range e.needles {
		if n.kind == inBody || n.kind == inText {
			s.idx = append(s.idx, i)
			s.longest = max(s.longest, len(e.folded[i]))
		}
	}
	return s
}

// done reports whether every Body and Text needle has been found.
func (s *scanner) done() bool {
	for _, i := range s.idx {
		if s.e.facts[i] != yes {
			return false
		}
	}
	return true
}

// scan reads r to its end (or until every needle is found) and marks the
// needles it holds.
func (s *scanner) scan(r io.Reader) error {
	s.buf = s.buf[:0]
	s.f = folder{}
	for {
		n, err := r.Read(s.chunk)
		final := err != nil
		s.folded = s.f.fold(s.folded, s.chunk[:n], final)
		s.buf = append(s.buf, s.folded...)
		for _, i := range s.idx {
			if s.e.facts[i] != yes && bytes.Contains(s.buf, s.e.folded[i]) {
				s.e.facts[i] = yes
			}
		}
		if s.done() {
			return nil
		}
		if keep := s.longest - 1; len(s.buf) > keep {
			s.buf = append(s.buf[:0], s.buf[len(s.buf)-max(keep, 0):]...)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// hasDates reports whether c or its sub-criteria compare dates.
func hasDates(c mailaccess.Criteria) bool {
	if !c.Since.IsZero() || !c.Before.IsZero() {
		return true
	}
	for _, list := range [][]mailaccess.Criteria{c.And, c.Or, c.Not} {
		for _, sub := range list {
			if hasDates(sub) {
				return true
			}
		}
	}
	return false
}

// Source is how [Filter] reads what metadata cannot decide, each in the
// cheapest form the store has.
type Source struct {
	// Headers, if set, fills in Header of the messages of batch (one
	// exchange for the batch: IMAP FETCH BODY.PEEK[HEADER], pipelined
	// POP3 TOP) and sets the ID of one that is gone to "". Without it the
	// header criteria are decided from the bodies.
	Headers func(ctx context.Context, batch []mailaccess.MessageInfo) error
	// Bodies streams the raw bytes of the messages ids that still exist
	// to fn, as [BatchOpener] does.
	Bodies func(ctx context.Context, ids []mailaccess.ID, fn func(id mailaccess.ID, r io.Reader) error) error
}

// filterBatch is how many messages Filter holds at a time.
const filterBatch = 256

// Filter returns the IDs of the messages of infos (metadata without
// headers, as a listing gives it) that match c, in the order of infos,
// with [Match]'s meaning: the search of a driver without server-side
// search that can read many messages in one exchange (POP3, the IMAP
// driver's fallback). It reads as little as it can, by batches of 256:
// the metadata decides what it can; the headers of the messages still
// undecided are fetched when the criteria look at headers (From, To, Cc,
// Subject, Header and Text anywhere in c, and Since and Before for a
// message without internal date, which compare its Date header); the
// bodies of those still undecided are streamed last, each read at most
// once and no further than needed. c must have been validated.
func Filter(ctx context.Context, c mailaccess.Criteria, infos []mailaccess.MessageInfo, src Source) ([]mailaccess.ID, error) {
	out := []mailaccess.ID{}
	err := filter(ctx, c, infos, src, func(info mailaccess.MessageInfo, _ mailaccess.Header) {
		out = append(out, info.ID)
	})
	return out, err
}

// FilterMessages is [Filter] returning the matching messages themselves:
// their metadata from infos, with Header set to the header Filter read to
// decide (from Source.Headers), or left empty when the metadata or the
// body decided. A driver that hands the matches out with their headers
// (FetchMatching with FetchOptions.Headers) then fetches only the headers
// still missing. It holds the headers of the matches of infos: call it on
// chunks of a large listing.
func FilterMessages(ctx context.Context, c mailaccess.Criteria, infos []mailaccess.MessageInfo, src Source) ([]mailaccess.MessageInfo, error) {
	out := []mailaccess.MessageInfo{}
	err := filter(ctx, c, infos, src, func(info mailaccess.MessageInfo, h mailaccess.Header) {
		info.Header = h
		out = append(out, info)
	})
	return out, err
}

// filter runs Filter, calling match for each message that matches, in
// order, with the header it read for it (if any). infos is not modified.
func filter(ctx context.Context, c mailaccess.Criteria, infos []mailaccess.MessageInfo, src Source, match func(mailaccess.MessageInfo, mailaccess.Header)) error {
	needHeader := criteriaReadHeader(c)
	for len(infos) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := infos[:min(filterBatch, len(infos))]
		infos = infos[len(batch):]
		type pending struct {
			info   mailaccess.MessageInfo
			header mailaccess.Header
			e      *evaluator
			v      tri
		}
		items := make([]pending, len(batch))
		var undecided []int
		for i := range batch {
			it := &items[i]
			it.info = batch[i]
			it.info.Header = mailaccess.Header{} // decided from what is read here only
			it.e = newEvaluator(c)
			if it.v = it.e.eval(c, &it.info); it.v == unknown {
				undecided = append(undecided, i)
			}
		}
		haveHeader := false
		if len(undecided) > 0 && needHeader && src.Headers != nil {
			sub := make([]mailaccess.MessageInfo, len(undecided))
			for j, i := range undecided {
				sub[j] = items[i].info
			}
			if err := src.Headers(ctx, sub); err != nil {
				return err
			}
			haveHeader = true
			left := undecided[:0]
			for j, i := range undecided {
				it := &items[i]
				if sub[j].ID == "" {
					it.v = no // gone since it was listed
					continue
				}
				it.header = sub[j].Header
				it.e.headerFacts(headerOf(it.header))
				if it.v = it.e.eval(c, &it.info); it.v == unknown {
					left = append(left, i)
				}
			}
			undecided = left
		}
		if len(undecided) > 0 {
			if src.Bodies == nil {
				return errors.New("driver: Filter: the criteria need the messages and Source.Bodies is nil")
			}
			byID := make(map[mailaccess.ID]int, len(undecided))
			ids := make([]mailaccess.ID, 0, len(undecided))
			for _, i := range undecided {
				byID[items[i].info.ID] = i
				ids = append(ids, items[i].info.ID)
				items[i].v = no // unless read below
			}
			err := src.Bodies(ctx, ids, func(id mailaccess.ID, r io.Reader) error {
				i, ok := byID[id]
				if !ok {
					return nil
				}
				it := &items[i]
				er := &errReader{r: r}
				it.e.scanMessage(er, !haveHeader)
				if er.err != nil {
					return er.err
				}
				it.e.settle()
				it.v = it.e.eval(c, &it.info)
				return nil
			})
			if err != nil {
				return err
			}
		}
		for i := range items {
			if items[i].v == yes {
				match(items[i].info, items[i].header)
			}
		}
	}
	return nil
}
