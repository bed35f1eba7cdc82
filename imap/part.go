package imap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailmime"
)

// OpenPart fetches one MIME part and only that part: UID FETCH uid
// (BODY.PEEK[n.MIME] BINARY.PEEK[n]) when the server has BINARY (RFC 3516;
// the server removes the transfer encoding, so a base64 attachment moves
// at its decoded size), else (BODY.PEEK[n.MIME] BODY.PEEK[n]) with the
// encoding removed here. The part's MIME header (the message header for
// the body [1] of a message that is not multipart) gives its encoding and
// charset. A server that cannot decode a part's encoding for BINARY (NO
// [UNKNOWN-CTE]) is asked for the raw part instead. The reader holds its
// connection until it is closed, as Open's does.
func (m *Mailbox) OpenPart(ctx context.Context, folder string, id mailaccess.ID, part []int, opts *mailaccess.PartOptions) (io.ReadCloser, error) {
	folder, err := m.folderName(folder)
	if err != nil {
		return nil, m.opErr("open part", folder, err)
	}
	if len(part) == 0 {
		return nil, m.opErr("open part", folder, fmt.Errorf("empty part path (Open reads the whole message): %w", mailaccess.ErrInvalid))
	}
	for _, n := range part {
		if n <= 0 {
			return nil, m.opErr("open part", folder, fmt.Errorf("part %s: part numbers start at 1: %w", mailaccess.PathString(part), mailaccess.ErrInvalid))
		}
	}
	epoch, uids, err := fetchUIDs([]mailaccess.ID{id})
	if err != nil {
		return nil, m.opErr("open part", folder, err)
	}
	binary := m.srvCaps.Has(imap.CapBinary) || m.srvCaps.Has(imap.CapIMAP4rev2)
	rc, err := m.openPart(ctx, folder, epoch, uids[0], part, opts, binary)
	var ie *imap.Error
	if binary && errors.As(err, &ie) && ie.Code == "UNKNOWN-CTE" {
		rc, err = m.openPart(ctx, folder, epoch, uids[0], part, opts, false)
	}
	return rc, err
}

// errContentFirst: the server sent the part before its MIME header, so
// the part could not be decoded as it streamed by.
var errContentFirst = errors.New("imap: part before its MIME header")

// openPart is one attempt of OpenPart, with BINARY or BODY. A server that
// sends the part before its MIME header (the order of FETCH items is the
// server's) is asked again with one command for each.
func (m *Mailbox) openPart(ctx context.Context, folder string, epoch uint32, uid imap.UID, part []int, opts *mailaccess.PartOptions, binary bool) (io.ReadCloser, error) {
	var desc *partFacts
	if !binary && m.verifySize {
		var err error
		if desc, err = m.describedPart(ctx, folder, epoch, uid, part); err != nil {
			return nil, err
		}
	}
	rc, err := m.fetchPart(ctx, folder, epoch, uid, part, opts, binary, nil, desc)
	if !errors.Is(err, errContentFirst) {
		return rc, err
	}
	var header []byte
	err = m.do(ctx, "open part", folder, selRead, func(c *conn) error {
		if err := checkFetchEpoch(c, epoch); err != nil {
			return err
		}
		sec := &imap.FetchItemBodySection{Part: slices.Clone(part), Specifier: imap.PartSpecifierMIME, Peek: true}
		cmd := startFetchCmd(c, imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{sec}})
		defer cmd.Close()
		for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
			for item := fm.Next(); item != nil; item = fm.Next() {
				if it, ok := item.(imapclient.FetchItemDataBodySection); ok && it.Literal != nil && header == nil {
					b, err := io.ReadAll(io.LimitReader(c.literal(it.Literal), mailaccess.MaxHeaderBytes+1))
					if err != nil {
						return err
					}
					header = b
				}
			}
		}
		return cmd.Close()
	})
	if err != nil {
		return nil, err
	}
	if header == nil {
		header = []byte{}
	}
	return m.fetchPart(ctx, folder, epoch, uid, part, opts, binary, header, desc)
}

// describedPart is part as the server describes the message
// (BODYSTRUCTURE: its size in its transfer encoding, as BODY[n] sends
// it, and that encoding), or nil when the server's description could not
// be used or does not describe the part (a container, or a part inside
// an attached message). A part the description shows the message does not
// have is an error matching mailaccess.ErrNotFound. A message described
// lately (Structure, Fetch) is not described again.
func (m *Mailbox) describedPart(ctx context.Context, folder string, epoch uint32, uid imap.UID, part []int) (*partFacts, error) {
	// A described message without a leaf at part is described again:
	// the description tells whether the part is absent (below).
	if f, ok, known := m.described.lookup(folder, epoch, uid, part); known && ok {
		return &f, nil
	}
	st, err := m.Structure(ctx, folder, fetchID(epoch, uid))
	if err != nil {
		if errors.Is(err, mailaccess.ErrNotFound) {
			return nil, nil // OpenPart's own FETCH says so
		}
		return nil, err
	}
	if st.Problem != "" {
		return nil, nil
	}
	p := st.Find(part)
	if p == nil && partAbsent(st, part) {
		// Some servers answer BODY[n] of a part that is not there with an
		// empty string (Courier-IMAP): not a part to hand out.
		return nil, m.opErr("open part", folder, fmt.Errorf("%w: message %s has no part %s (the server's BODYSTRUCTURE of it)",
			mailaccess.ErrNotFound, fetchID(epoch, uid), mailaccess.PathString(part)))
	}
	if p == nil || p.IsMultipart() {
		return nil, nil
	}
	return &partFacts{size: p.Size, encoding: p.Encoding}, nil
}

// partAbsent reports whether the description st (usable, and without a
// part at path) shows that the message has no part at path: no part on
// the way to it is one whose inside the description does not show (an
// attached message, message/*; a part described with a Problem, such as
// one left undescended at the depth limit).
func partAbsent(st *mailaccess.PartInfo, path []int) bool {
	for q := range st.All() {
		if len(q.Path) < len(path) && slices.Equal(q.Path, path[:len(q.Path)]) &&
			(strings.HasPrefix(q.Type, "message/") || q.Problem != "") {
			return false
		}
	}
	return true
}

// fetchPart fetches the part's MIME header (unless known is set) and the
// part, and returns the part decoded, streaming from the connection. The
// part is checked against desc (the server's description of it, if
// known: its MIME header must give the same encoding, its octets be as
// many), or, with BINARY, against BINARY.SIZE.
func (m *Mailbox) fetchPart(ctx context.Context, folder string, epoch uint32, uid imap.UID, part []int, opts *mailaccess.PartOptions, binary bool, known []byte, desc *partFacts) (io.ReadCloser, error) {
	want := int64(-1)
	if desc != nil {
		want = desc.size
	}
	hc, err := m.hold(ctx, "open part", folder, epoch)
	if err != nil {
		return nil, err
	}
	cmd := startFetchCmd(hc.c, imap.UIDSetNum(uid), partFetchOptions(part, binary, known == nil))
	resp, err := readPartResponse(hc.c, cmd, known)
	if binary {
		want = resp.size
	}
	if err == nil {
		err = resp.usable(fetchID(epoch, uid), part)
	}
	if err != nil {
		resp.discard(hc.c)
		if cerr := cmd.Close(); resp.fm == nil && cerr != nil {
			err = cerr // the server's answer (NO [UNKNOWN-CTE]...) says more
		}
		hc.disarmTimer()
		return nil, hc.fail(err)
	}
	h, err := mailaccess.ParseHeader(bytes.NewReader(resp.header))
	if err != nil {
		h = mailaccess.Header{}
	}
	info := mailmime.DescribePart(h, part)
	if desc != nil && !sameDecoding(desc.encoding, info.Encoding) {
		// A MIME header cut short loses its Content-Transfer-Encoding:
		// the part would be returned still encoded.
		resp.discard(hc.c)
		cmd.Close()
		hc.disarmTimer()
		return nil, hc.fail(fmt.Errorf("%w: part %s of message %s: its MIME header gives the encoding %q, the server's description of the message %q: the header is cut short or altered, so the part is refused (opt.%s=off accepts a server whose descriptions are inexact)",
			mailaccess.ErrProtocol, mailaccess.PathString(part), fetchID(epoch, uid), info.Encoding, desc.encoding, OptSizeCheck))
	}
	if binary {
		info.Encoding = "binary" // the server removed the transfer encoding
	}
	r := &partBody{m: m, c: hc.c, cmd: cmd, fm: resp.fm, ctx: ctx, disarmCtx: hc.disarmCtx, folder: folder, lit: resp.lit, size: resp.lit.Size(),
		want: -1, what: fmt.Sprintf("part %s of message %s", mailaccess.PathString(part), fetchID(epoch, uid))}
	if m.verifySize {
		r.want, r.sizeAfter = want, binary && want < 0
	}
	dec, err := mailmime.DecodePart(info, r, opts)
	if !hc.disarmTimer() {
		r.Close()
		return nil, m.opErr("open part", folder, errCommandTimeout)
	}
	if err != nil {
		r.Close()
		return nil, m.opErr("open part", folder, err)
	}
	return &decodedPart{Reader: dec, body: r}, nil
}

// sameDecoding reports whether the transfer encodings a and b decode a
// part alike: equal, or both identity encodings (7bit, 8bit, binary: the
// octets are the content). A server may describe a part whose MIME header
// has no Content-Transfer-Encoding as 8bit (Courier-IMAP does) where RFC
// 2045 makes it 7bit; a header cut short that lost a real encoding
// (base64, quoted-printable) still differs.
func sameDecoding(a, b string) bool {
	identity := func(e string) bool {
		switch strings.ToLower(e) {
		case "7bit", "8bit", "binary":
			return true
		}
		return false
	}
	return strings.EqualFold(a, b) || (identity(a) && identity(b))
}

// partFetchOptions asks for the part (BINARY or BODY) and, with mimeHeader,
// its MIME header first.
func partFetchOptions(part []int, binary, mimeHeader bool) *imap.FetchOptions {
	fo := &imap.FetchOptions{UID: true}
	if mimeHeader {
		fo.BodySection = []*imap.FetchItemBodySection{{Part: slices.Clone(part), Specifier: imap.PartSpecifierMIME, Peek: true}}
	}
	if binary {
		fo.BinarySectionSize = []*imap.FetchItemBinarySectionSize{{Part: slices.Clone(part)}}
		fo.BinarySection = []*imap.FetchItemBinarySection{{Part: slices.Clone(part), Peek: true}}
	} else {
		fo.BodySection = append(fo.BodySection, &imap.FetchItemBodySection{Part: slices.Clone(part), Peek: true})
	}
	return fo
}

// held is a pooled connection held for a reader that outlives the call:
// tied to ctx until the reader is closed, and to the command timeout until
// the response starts.
type held struct {
	m           *Mailbox
	c           *conn
	ctx         context.Context
	op, folder  string
	disarmCtx   func() bool
	disarmTimer func() bool
}

// hold takes a connection, selects folder and checks the IDs' epoch.
func (m *Mailbox) hold(ctx context.Context, op, folder string, epoch uint32) (*held, error) {
	c, err := m.acquire(ctx)
	if err != nil {
		return nil, m.opErr(op, folder, err)
	}
	hc := &held{m: m, c: c, ctx: ctx, op: op, folder: folder, disarmCtx: context.AfterFunc(ctx, c.kill)}
	hc.disarmTimer = c.arm(context.Background(), m.cfg.CommandTimeoutOrDefault())
	err = m.selectFolder(c, folder, selRead)
	if err == nil {
		err = checkFetchEpoch(c, epoch)
	}
	if err != nil {
		hc.disarmTimer()
		return nil, hc.fail(err)
	}
	return hc, nil
}

// fail releases the connection (dropping it if it broke) and returns err
// as the operation's error; errContentFirst is returned as it is.
func (hc *held) fail(err error) error {
	c := hc.c
	if !hc.disarmCtx() || c.killed.Load() {
		c.broken.Store(true)
		if hc.ctx.Err() != nil {
			err = hc.ctx.Err()
		} else if err == nil || isConnErr(err) {
			err = errCommandTimeout
		}
	} else if isConnErr(err) {
		c.broken.Store(true)
	}
	hc.m.release(c)
	if errors.Is(err, errContentFirst) {
		return err
	}
	return hc.m.opErr(hc.op, hc.folder, err)
}

// partResponse is what came of OpenPart's FETCH: the response carrying
// the part, its literal, and the MIME header read before it.
type partResponse struct {
	fm     *imapclient.FetchMessageData
	lit    imap.LiteralReader
	header []byte // nil: no MIME header came before the part
	size   int64  // BINARY.SIZE, if it came before the part; else -1
}

// readPartResponse reads up to the part's literal, reading the MIME
// header on the way (known, if set, is the header asked for earlier).
func readPartResponse(c *conn, cmd fetchResponses, known []byte) (partResponse, error) {
	resp := partResponse{header: known, size: -1}
	for resp.fm == nil {
		f := cmd.Next()
		if f == nil {
			return resp, nil
		}
		for item := f.Next(); item != nil; item = f.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataBodySection:
				if it.Section != nil && it.Section.Specifier == imap.PartSpecifierMIME {
					resp.header = []byte{}
					if it.Literal != nil {
						b, err := io.ReadAll(io.LimitReader(c.literal(it.Literal), mailaccess.MaxHeaderBytes+1))
						if err != nil {
							return resp, err
						}
						resp.header = b
					}
					continue
				}
				resp.fm, resp.lit = f, c.literal(it.Literal)
			case imapclient.FetchItemDataBinarySectionSize:
				resp.size = int64(it.Size)
				continue
			case imapclient.FetchItemDataBinarySection:
				resp.fm, resp.lit = f, c.literal(it.Literal)
			default:
				continue
			}
			break
		}
	}
	return resp, nil
}

// usable reports why the part cannot be read from the response, if it
// cannot.
func (r *partResponse) usable(id mailaccess.ID, part []int) error {
	switch {
	case r.fm == nil:
		return fmt.Errorf("message %s: %w", id, mailaccess.ErrNotFound)
	// A part that exists has a MIME header of at least its blank line;
	// servers answer "" or NIL for one that does not.
	case r.lit == nil || (r.header != nil && len(r.header) == 0):
		return fmt.Errorf("message %s has no part %s: %w", id, mailaccess.PathString(part), mailaccess.ErrNotFound)
	case r.header == nil:
		return errContentFirst
	case len(r.header) > mailaccess.MaxHeaderBytes:
		return fmt.Errorf("part %s: MIME header longer than %d bytes: %w", mailaccess.PathString(part), mailaccess.MaxHeaderBytes, mailaccess.ErrProtocol)
	}
	return nil
}

// discard drops what is left of a response that will not be read: a
// literal beyond maxDrainOnClose closes the connection instead.
func (r *partResponse) discard(c *conn) {
	if r.fm == nil {
		return
	}
	if r.lit != nil && r.lit.Size() > maxDrainOnClose {
		c.kill()
	}
	for r.fm.Next() != nil {
	}
}

// decodedPart is a decoded part whose Close releases the connection.
type decodedPart struct {
	io.Reader
	body *partBody
}

func (d *decodedPart) Close() error { return d.body.Close() }

// partBody streams the literal of one part; Close ends the FETCH and
// releases the connection, as Open's reader does: an unread remainder up
// to 1 MiB is drained to keep the connection, a larger one closes it.
type partBody struct {
	m         *Mailbox
	c         *conn
	cmd       fetchResponses
	fm        *imapclient.FetchMessageData
	ctx       context.Context
	disarmCtx func() bool
	folder    string

	lit  io.Reader
	size int64
	read int64
	want int64  // the part's size as the server describes it; -1: unknown
	what string // "part 1.2 of message 17.4", for errors
	// sizeAfter: BINARY.SIZE did not come before the part; look for it
	// after.
	sizeAfter bool
	err       error
	once      sync.Once
}

func (r *partBody) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.lit.Read(p)
	r.read += int64(n)
	if err == io.EOF && r.read < r.size {
		err = fmt.Errorf("part cut off after %d of %d octets: %w", r.read, r.size, io.ErrUnexpectedEOF)
	}
	if err == io.EOF && r.sizeAfter {
		// BINARY.SIZE follows the part when the server answers in the
		// order asked (go-imap asks for it after the part).
		r.sizeAfter = false
		for item := r.fm.Next(); item != nil; item = r.fm.Next() {
			if it, ok := item.(imapclient.FetchItemDataBinarySectionSize); ok && r.want < 0 {
				r.want = int64(it.Size)
			}
		}
	}
	if err == io.EOF && r.want >= 0 && r.read != r.want {
		err = fmt.Errorf("%w: %s: the server sent %d octets where its description of the message (BODYSTRUCTURE, BINARY.SIZE) says %d: the part is cut short or altered, so it is refused (opt.%s=off accepts a server whose descriptions are inexact)",
			mailaccess.ErrProtocol, r.what, r.read, r.want, OptSizeCheck)
	}
	if err != nil && err != io.EOF {
		if r.ctx.Err() != nil {
			err = r.ctx.Err()
		}
		err = r.m.opErr("open part", r.folder, err)
	}
	if err != nil {
		r.err = err
	}
	return n, err
}

func (r *partBody) Close() error {
	r.once.Do(func() {
		c := r.c
		if r.size-r.read > maxDrainOnClose && r.err == nil {
			c.kill()
		}
		disarm := c.arm(context.Background(), r.m.cfg.CommandTimeoutOrDefault())
		for r.fm.Next() != nil {
		}
		err := r.cmd.Close()
		if !disarm() || !r.disarmCtx() {
			c.broken.Store(true)
		} else if err != nil && isConnErr(err) {
			c.broken.Store(true)
		}
		if r.err != nil && r.err != io.EOF && isConnErr(r.err) {
			c.broken.Store(true)
		}
		r.m.release(c)
		if r.err == nil {
			r.err = errors.New("imap: read after Close")
		}
	})
	return nil
}
