package mailmime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode ISO-8859-x, Windows-125x, ISO-2022-JP, GB2312...
	"github.com/emersion/go-message/textproto"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// PartKind classifies a MIME part for [Walk].
type PartKind int

// Part kinds.
const (
	// PartText is an inline text/plain body.
	PartText PartKind = iota + 1
	// PartHTML is an inline text/html body.
	PartHTML
	// PartAttachment is anything else that is not a container: files,
	// inline images, attached messages (message/rfc822, not descended
	// into), and text parts with an attachment disposition.
	PartAttachment
)

// String returns "text", "html" or "attachment".
func (k PartKind) String() string {
	switch k {
	case PartText:
		return "text"
	case PartHTML:
		return "html"
	case PartAttachment:
		return "attachment"
	}
	return "PartKind(?)"
}

// Part is one leaf MIME part seen by [Walk]. Body streams the decoded
// content: transfer encoding (base64, quoted-printable) undone, and for text
// parts the charset converted to UTF-8. It is valid only during the callback.
type Part struct {
	Kind PartKind
	// Path is the IMAP-style part number, e.g. [1 2] for BODY[1.2];
	// a single-part message's only part is [1].
	Path []int
	// ContentType is the media type in lower case, e.g. "text/plain".
	ContentType string
	// Charset is the declared charset of a text part ("" if none).
	Charset string
	// Filename is the file name from Content-Disposition or Content-Type
	// made safe to use for a file ([SafeFilename]); "" if none.
	Filename string
	// RawFilename is the file name as sent (RFC 2047 and RFC 2231
	// decoded), which may hold path separators, "..", or NUL: never use
	// it as a path.
	RawFilename string
	// ContentID is the Content-ID without angle brackets.
	ContentID string
	// Inline is true when the disposition is inline (or absent).
	Inline bool
	// Header is the part's own header.
	Header mailaccess.Header
	// Problem describes a decoding problem that was worked around (unknown
	// charset or transfer encoding: Body then yields the raw bytes).
	Problem string
	// Body streams the decoded content.
	Body io.Reader
}

// ErrSkipRest, returned by a [Walk] callback, stops the walk without error.
var ErrSkipRest = errors.New("skip the rest of the message")

// Walk reads a raw RFC 5322 message from r and calls fn for every leaf part,
// in order, streaming each part's decoded body. Nothing is buffered beyond a
// small read buffer, so attachments of any size pass in bounded memory. The
// returned Header is the message's top-level header. It applies the
// default [Limits]; WalkLimits takes others.
//
// Broken mail is tolerated: an unknown charset or transfer encoding gives the
// raw bytes with Part.Problem set; a multipart whose boundary is missing is
// treated as a single part; a multipart nested deeper than Limits.MaxDepth
// is one opaque part. A part the callback does not read is skipped.
func Walk(r io.Reader, fn func(p *Part) error) (mailaccess.Header, error) {
	return WalkLimits(r, nil, fn)
}

// WalkLimits is [Walk] with the given limits (nil: the defaults). A header
// longer than lim.MaxHeaderBytes, or more than lim.MaxParts parts, ends
// the walk with an error wrapping [ErrLimit].
func WalkLimits(r io.Reader, lim *Limits, fn func(p *Part) error) (mailaccess.Header, error) {
	maxHdr := lim.headerBytes()
	lr := &liftableLimit{r: r, n: int64(maxHdr)}
	br := bufio.NewReaderSize(lr, 32<<10)
	th, err := textproto.ReadHeader(br)
	if err != nil {
		if lr.n <= 0 {
			err = errHeaderLimit("message", maxHdr)
		}
		return mailaccess.Header{}, fmt.Errorf("read message header: %w", err)
	}
	lr.n = 1<<63 - 1
	top := toHeader(th)
	w := &walker{lim: lim, fn: fn}
	err = w.entity(th, br, nil)
	if errors.Is(err, ErrSkipRest) {
		err = nil
	}
	return top, err
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

// walker is one Walk: its limits and how many parts it has seen.
type walker struct {
	lim   *Limits
	fn    func(p *Part) error
	parts int
}

func (w *walker) entity(th textproto.Header, body io.Reader, path []int) error {
	if w.parts++; w.parts > w.lim.parts() {
		return errPartsLimit(w.lim.parts())
	}
	mh := gomessage.Header{Header: th}
	mediaType, params, _ := mh.ContentType()
	if mediaType == "" {
		mediaType = "text/plain"
	}
	problem := ""
	if strings.HasPrefix(mediaType, "multipart/") && params["boundary"] != "" && len(path) >= w.lim.depth() {
		problem = depthProblem(w.lim.depth())
	} else if strings.HasPrefix(mediaType, "multipart/") && params["boundary"] != "" {
		mr := textproto.NewMultipartReader(newPartHeaderGuard(body, params["boundary"], w.lim.headerBytes()), params["boundary"])
		for i := 1; ; i++ {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				// A truncated or malformed multipart ends the walk with what
				// was seen; the raw message stays readable through Open.
				return fmt.Errorf("multipart part %s: %w", partPath(append(path, i)), err)
			}
			if err := w.entity(p.Header, p, append(slices.Clone(path), i)); err != nil {
				return err
			}
		}
	}
	if len(path) == 0 {
		path = []int{1}
	}
	part := &Part{
		Path:        path,
		ContentType: mediaType,
		Charset:     params["charset"],
		Header:      toHeader(th),
		ContentID:   strings.Trim(strings.TrimSpace(th.Get("Content-Id")), "<>"),
		Inline:      true,
		Problem:     problem,
	}
	disp, dparams, _ := mh.ContentDisposition()
	if strings.EqualFold(disp, "attachment") {
		part.Inline = false
	}
	part.RawFilename = decodeFilename(dparams["filename"])
	if part.RawFilename == "" {
		part.RawFilename = decodeFilename(params["name"])
	}
	part.Filename = SafeFilename(part.RawFilename)
	switch {
	case mediaType == "text/plain" && part.Inline && part.Filename == "":
		part.Kind = PartText
	case mediaType == "text/html" && part.Inline && part.Filename == "":
		part.Kind = PartHTML
	default:
		part.Kind = PartAttachment
	}
	// Charset conversion only for the text bodies; attachments keep their
	// bytes (only the transfer encoding is undone).
	eh := th.Copy()
	if part.Kind == PartAttachment {
		eh.Del("Content-Type")
		eh.Set("Content-Type", "application/octet-stream")
	}
	ent, err := gomessage.New(gomessage.Header{Header: eh}, body)
	if err != nil {
		if ent == nil {
			return err
		}
		part.Problem = joinProblems(part.Problem, err.Error())
		if gomessage.IsUnknownEncoding(err) {
			ent.Body = body
		}
	}
	part.Body = ent.Body
	if err := w.fn(part); err != nil {
		return err
	}
	return nil
}

func joinProblems(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func partPath(p []int) string {
	var b strings.Builder
	for i, n := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		fmt.Fprint(&b, n)
	}
	return b.String()
}

// Content is a message read for display: the decoded header, the text and
// HTML bodies in UTF-8 and the list of attachments. Build it with
// [ReadContent].
type Content struct {
	Header mailaccess.Header
	// Text and HTML are the inline text/plain and text/html bodies,
	// concatenated in order when there are several.
	Text, HTML string
	// Attachments lists every other leaf part, with its decoded size.
	Attachments []Attachment
	// Truncated is true when Text or HTML reached ContentOptions.MaxText.
	Truncated bool
	// Problems lists what was worked around (unknown charset, broken
	// multipart...). The message was still read as far as possible.
	Problems []string
}

// Subject, From, To, Cc, ReplyTo, Date and MessageID are on Content.Header.

// Attachment describes one attachment found by [ReadContent].
type Attachment struct {
	// Filename is safe to use as a file name ([SafeFilename]);
	// RawFilename is the name as sent (never use it as a path).
	Filename    string `json:"filename,omitempty"`
	RawFilename string `json:"raw_filename,omitempty"`
	ContentType string `json:"content_type"`
	ContentID   string `json:"content_id,omitempty"`
	Inline      bool   `json:"inline,omitempty"`
	// Path is the MIME part path, usable with [mailaccess.OpenOptions].Part.
	Path []int `json:"path"`
	// Size is the decoded size in bytes. Inside
	// ContentOptions.OnAttachment it is [SizeUnknown] (-1): the size is
	// known only once the part has been read (count what you read, e.g.
	// the result of io.Copy); Content.Attachments holds it afterwards.
	// (The transfer-encoded size is known up front from a message's part
	// tree: [mailaccess.PartInfo].Size.)
	Size int64 `json:"size"`
}

// ContentOptions tune [ReadContent]; nil means the defaults.
type ContentOptions struct {
	// MaxText caps the bytes kept of Text and of HTML each (default 8 MiB).
	MaxText int64
	// OnAttachment, if set, is called for each attachment with a reader of
	// its decoded bytes, to save or scan it while the message streams by.
	// Whatever it does not read is counted and skipped. a.Size is
	// SizeUnknown there (see [Attachment]).
	OnAttachment func(a Attachment, r io.Reader) error
	// Limits bound the reading (nil: the defaults); see [Limits].
	Limits *Limits
}

// ReadContent reads a raw message from r and returns its decoded content.
// Attachments are streamed past (to OnAttachment if set) and never held in
// memory; text bodies are kept up to MaxText. Problems with broken mail are
// recorded in Content.Problems rather than failing, except when the header
// itself cannot be read.
func ReadContent(r io.Reader, opts *ContentOptions) (*Content, error) {
	maxText := int64(8 << 20)
	var onAtt func(Attachment, io.Reader) error
	var lim *Limits
	if opts != nil {
		if opts.MaxText > 0 {
			maxText = opts.MaxText
		}
		onAtt, lim = opts.OnAttachment, opts.Limits
	}
	c := &Content{}
	var text, html strings.Builder
	h, err := WalkLimits(r, lim, func(p *Part) error {
		if p.Problem != "" {
			c.Problems = append(c.Problems, fmt.Sprintf("part %s: %s", partPath(p.Path), p.Problem))
		}
		switch p.Kind {
		case PartText, PartHTML:
			dst := &text
			if p.Kind == PartHTML {
				dst = &html
			}
			room := maxText - int64(dst.Len())
			if room < 0 {
				room = 0
			}
			n, err := io.Copy(dst, io.LimitReader(p.Body, room))
			if err != nil {
				c.Problems = append(c.Problems, fmt.Sprintf("part %s: %v", partPath(p.Path), err))
				return nil
			}
			if n == room {
				if extra, _ := io.Copy(io.Discard, p.Body); extra > 0 {
					c.Truncated = true
				}
			}
		default:
			a := Attachment{Filename: p.Filename, RawFilename: p.RawFilename, ContentType: p.ContentType, ContentID: p.ContentID,
				Inline: p.Inline, Path: p.Path, Size: SizeUnknown}
			cr := &countingReader{r: p.Body}
			if onAtt != nil {
				if err := onAtt(a, cr); err != nil {
					return err
				}
			}
			if _, err := io.Copy(io.Discard, cr); err != nil {
				c.Problems = append(c.Problems, fmt.Sprintf("part %s: %v", partPath(p.Path), err))
			}
			a.Size = cr.n
			c.Attachments = append(c.Attachments, a)
		}
		return nil
	})
	c.Header = h
	c.Text = text.String()
	c.HTML = html.String()
	if err != nil {
		if h.IsZero() && c.Text == "" && c.HTML == "" && len(c.Attachments) == 0 {
			return c, err
		}
		c.Problems = append(c.Problems, err.Error())
	}
	return c, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// toHeader turns a parsed header block into a [mailaccess.Header]. The
// block was read within [mailaccess.MaxHeaderBytes], so writing it out and
// parsing it again stays within that bound; textproto keeps each field's
// raw bytes, so the round trip is exact.
func toHeader(th textproto.Header) mailaccess.Header {
	var b bytes.Buffer
	if err := textproto.WriteHeader(&b, th); err != nil {
		return mailaccess.Header{}
	}
	h, err := mailaccess.ParseHeader(&b)
	if err != nil {
		return mailaccess.Header{}
	}
	return h
}

// charsetReader converts from the charsets go-message knows, as the header
// accessors of package mailaccess do.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	if gomessage.CharsetReader == nil {
		return nil, fmt.Errorf("unknown charset %q", charset)
	}
	return gomessage.CharsetReader(strings.ToLower(charset), input)
}
