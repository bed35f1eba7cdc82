package mailmime

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// This file reads the structure of a message (its part tree, as
// [mailaccess.PartInfo]) and single parts of it, streamed, for the drivers
// that have no server to ask (POP3, Maildir, the fake) and for the IMAP
// driver when a server's BODYSTRUCTURE cannot be used.

// ParseStructure reads a raw message from r and returns its part tree, as
// [mailaccess.Mailbox].Structure does: every part's type, parameters,
// charset, transfer encoding, disposition, file name and size (the bytes
// of its body as stored, still transfer-encoded). The message is streamed:
// memory is bounded by lim (nil: the defaults) whatever its size.
//
// Broken MIME is described as far as it can be read: a truncated or
// malformed multipart keeps the parts before the damage, with
// PartInfo.Problem set on the multipart; a multipart without a boundary,
// or nested deeper than lim.MaxDepth, is one part with Problem set. Only a
// failure to read r, a header longer than lim.MaxHeaderBytes, or more than
// lim.MaxParts parts, is an error.
func ParseStructure(r io.Reader, lim *Limits) (*mailaccess.PartInfo, error) {
	src := &errReader{r: r}
	th, br, err := readTopHeader(src, lim)
	if err != nil {
		return nil, err
	}
	sp := &structParser{lim: lim}
	root, err := sp.entity(th, br, nil)
	if src.err != nil {
		return nil, src.err
	}
	if err != nil {
		return nil, err
	}
	return root, nil
}

// readTopHeader reads a message header within the limit and returns it
// with a reader of the rest.
func readTopHeader(r io.Reader, lim *Limits) (textproto.Header, *bufio.Reader, error) {
	maxHdr := lim.headerBytes()
	lr := &liftableLimit{r: r, n: int64(maxHdr)}
	br := bufio.NewReaderSize(lr, 32<<10)
	th, err := textproto.ReadHeader(br)
	if err != nil {
		if lr.n <= 0 {
			err = errHeaderLimit("message", maxHdr)
		}
		return textproto.Header{}, nil, fmt.Errorf("read message header: %w", err)
	}
	lr.n = 1<<63 - 1
	return th, br, nil
}

type structParser struct {
	lim   *Limits
	parts int
}

func (sp *structParser) entity(th textproto.Header, body io.Reader, path []int) (*mailaccess.PartInfo, error) {
	if sp.parts++; sp.parts > sp.lim.parts() {
		return nil, errPartsLimit(sp.lim.parts())
	}
	p := describe(th, path)
	boundary := p.Params["boundary"]
	switch {
	case p.IsMultipart() && boundary == "":
		p.Problem = "multipart without a boundary: read as one part"
		if len(path) == 0 {
			p.Path = []int{1} // the message's single body, as Walk numbers it
		}
	case p.IsMultipart() && len(path) >= sp.lim.depth():
		p.Problem = depthProblem(sp.lim.depth())
	case p.IsMultipart():
		mr := textproto.NewMultipartReader(newPartHeaderGuard(body, boundary, sp.lim.headerBytes()), boundary)
		for i := 1; ; i++ {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if errors.Is(err, ErrLimit) {
				return nil, err
			}
			if err != nil {
				// A truncated or malformed multipart: keep what was read.
				p.Problem = fmt.Sprintf("multipart broken after %d parts: %v", i-1, err)
				break
			}
			child, err := sp.entity(part.Header, part, appendPath(path, i))
			if err != nil {
				return nil, err
			}
			p.Parts = append(p.Parts, child)
		}
		return p, nil
	}
	n, err := io.Copy(io.Discard, body)
	p.Size = n
	if errors.Is(err, ErrLimit) {
		return nil, err
	}
	return p, nil
}

// contentType returns an entity's media type in lower case and its
// parameters.
func contentType(th textproto.Header) (string, map[string]string) {
	mh := gomessage.Header{Header: th}
	t, params, _ := mh.ContentType()
	return strings.ToLower(t), params
}

// appendPath returns path+n in a new slice.
func appendPath(path []int, n int) []int {
	out := make([]int, len(path)+1)
	copy(out, path)
	out[len(path)] = n
	return out
}

// describe builds the description of an entity from its header. A
// non-multipart message's root is numbered [1], as IMAP numbers it.
func describe(th textproto.Header, path []int) *mailaccess.PartInfo {
	mh := gomessage.Header{Header: th}
	mediaType, params, _ := mh.ContentType()
	mediaType = strings.ToLower(mediaType)
	if mediaType == "" || !strings.Contains(mediaType, "/") {
		mediaType = "text/plain"
	}
	if len(path) == 0 && !strings.HasPrefix(mediaType, "multipart/") {
		path = []int{1}
	}
	p := &mailaccess.PartInfo{Path: path, Type: mediaType}
	if len(params) > 0 {
		p.Params = params
	}
	p.Charset = defaultCharset(mediaType, params["charset"])
	p.Encoding = normEncoding(th.Get("Content-Transfer-Encoding"))
	disp, dparams, _ := mh.ContentDisposition()
	p.Disposition = strings.ToLower(disp)
	p.RawFilename = decodeFilename(dparams["filename"])
	if p.RawFilename == "" {
		p.RawFilename = decodeFilename(params["name"])
	}
	p.Filename = SafeFilename(p.RawFilename)
	p.ContentID = strings.Trim(strings.TrimSpace(th.Get("Content-Id")), "<>")
	p.Description = decodeText(strings.TrimSpace(th.Get("Content-Description")))
	return p
}

// DescribePart returns the description of a part given its MIME header
// (what IMAP BODY[n.MIME] returns; a single-part message's header for its
// body [1]), as [ParseStructure] would describe it, without Size. Drivers
// use it to decode a part they fetched alone.
func DescribePart(header mailaccess.Header, path []int) *mailaccess.PartInfo {
	var th textproto.Header
	for k, v := range header.Fields() {
		th.Add(k, v)
	}
	return describe(th, path)
}

// defaultCharset is the charset of a text part: its parameter, else
// us-ascii for text/plain (RFC 2046), else "".
func defaultCharset(mediaType, charset string) string {
	charset = strings.ToLower(strings.TrimSpace(charset))
	if charset == "" && mediaType == "text/plain" {
		return "us-ascii"
	}
	return charset
}

// normEncoding normalises a Content-Transfer-Encoding: lower case, "7bit"
// when absent.
func normEncoding(enc string) string {
	enc = strings.ToLower(strings.TrimSpace(enc))
	if enc == "" {
		return "7bit"
	}
	return enc
}

var textDecoder = mime.WordDecoder{CharsetReader: charsetReader}

func decodeText(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	if d, err := textDecoder.DecodeHeader(s); err == nil {
		return d
	}
	return s
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

// FindPart reads a raw message from r up to the part numbered path (as
// IMAP numbers parts, descending into attached messages: [3 1] is the
// first part of the message attached as part 3) and returns its
// description (without Size) and a reader of its body as stored, still
// transfer-encoded. The reader reads from r: it is valid until r is read
// otherwise. A path that names no part is an error wrapping
// [mailaccess.ErrNotFound]; an empty path, [mailaccess.ErrInvalid].
func FindPart(r io.Reader, path []int, lim *Limits) (*mailaccess.PartInfo, io.Reader, error) {
	if len(path) == 0 {
		return nil, nil, fmt.Errorf("empty part path (the whole message is read with Open): %w", mailaccess.ErrInvalid)
	}
	for _, n := range path {
		if n < 1 {
			return nil, nil, fmt.Errorf("part %s: part numbers start at 1: %w", mailaccess.PathString(path), mailaccess.ErrInvalid)
		}
	}
	src := &errReader{r: r}
	th, br, err := readTopHeader(src, lim)
	if err != nil {
		return nil, nil, err
	}
	var body io.Reader = br
	isMsg := true // th/body are a message (the top one, or an attached one)
	notFound := func(i int) error {
		if src.err != nil {
			return src.err
		}
		return fmt.Errorf("the message has no part %s: %w", mailaccess.PathString(path[:i+1]), mailaccess.ErrNotFound)
	}
	for i, n := range path {
		mediaType, params := contentType(th)
		if !isMsg && (mediaType == "message/rfc822" || mediaType == "message/global") {
			// Step into the attached message; n numbers its parts.
			lr := &liftableLimit{r: body, n: int64(lim.headerBytes())}
			ibr := bufio.NewReader(lr)
			ith, err := textproto.ReadHeader(ibr)
			if err != nil {
				if lr.n <= 0 {
					return nil, nil, errHeaderLimit("attached message", lim.headerBytes())
				}
				return nil, nil, notFound(i)
			}
			lr.n = 1<<63 - 1
			th, body, isMsg = ith, ibr, true
			mediaType, params = contentType(th)
		}
		switch {
		case strings.HasPrefix(mediaType, "multipart/") && params["boundary"] != "":
			mr := textproto.NewMultipartReader(newPartHeaderGuard(body, params["boundary"], lim.headerBytes()), params["boundary"])
			var part *textproto.Part
			for k := 1; k <= n; k++ {
				part, err = mr.NextPart()
				if errors.Is(err, ErrLimit) {
					return nil, nil, err
				}
				if err != nil {
					return nil, nil, notFound(i)
				}
			}
			th, body, isMsg = part.Header, part, false
		case isMsg && n == 1:
			isMsg = false // the body of a message that is not multipart
		default:
			return nil, nil, notFound(i)
		}
	}
	return describe(th, path), &stickyErr{r: body, src: src}, nil
}

// stickyErr reports a read failure of the underlying stream rather than
// the io.EOF a multipart part reader may turn it into.
type stickyErr struct {
	r   io.Reader
	src *errReader
}

func (s *stickyErr) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF && s.src.err != nil {
		err = s.src.err
	}
	return n, err
}

// ReadPart reads a raw message from r up to the part numbered path
// ([FindPart]) and returns the part's content decoded ([DecodePart]), as
// [mailaccess.Mailbox].OpenPart does for stores without partial fetch.
func ReadPart(r io.Reader, path []int, opts *mailaccess.PartOptions, lim *Limits) (io.Reader, error) {
	p, body, err := FindPart(r, path, lim)
	if err != nil {
		return nil, err
	}
	return DecodePart(p, body, opts)
}

// DecodePart returns the content of a part whose description is p and
// whose body, as stored, body reads: the transfer encoding removed
// (base64, quoted-printable; 7bit, 8bit and binary are as they are) and,
// with opts.UTF8, a text part converted from p.Charset to UTF-8 (any
// charset go-message knows). The body of a multipart is returned as it is.
// An encoding or charset it cannot decode is an error matching
// errors.ErrUnsupported that names it.
func DecodePart(p *mailaccess.PartInfo, body io.Reader, opts *mailaccess.PartOptions) (io.Reader, error) {
	return decodeBody(body, p.Type, p.Charset, p.Encoding, opts != nil && opts.UTF8)
}

func decodeBody(body io.Reader, mediaType, charset, encoding string, utf8 bool) (io.Reader, error) {
	if strings.HasPrefix(mediaType, "multipart/") {
		return body, nil // go-message and IMAP ignore a multipart's encoding
	}
	var th textproto.Header
	th.Set("Content-Type", "application/octet-stream")
	th.Set("Content-Transfer-Encoding", encoding)
	ent, err := gomessage.New(gomessage.Header{Header: th}, body)
	if err != nil {
		return nil, fmt.Errorf("transfer encoding %q cannot be decoded (Open returns the raw bytes): %w", encoding, errors.ErrUnsupported)
	}
	out := ent.Body
	if utf8 && strings.HasPrefix(mediaType, "text/") {
		switch cs := strings.ToLower(charset); cs {
		case "", "utf-8", "utf8", "us-ascii":
		default:
			conv, err := charsetReader(cs, out)
			if err != nil || conv == nil {
				return nil, fmt.Errorf("charset %q cannot be converted to UTF-8 (open the part without PartOptions.UTF8 for its bytes): %w", charset, errors.ErrUnsupported)
			}
			out = conv
		}
	}
	return out, nil
}
