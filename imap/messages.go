package imap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailaccess/go-mailaccess/internal/wirecheck"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// DefaultBatchSize is how many messages one List round trip covers when
// ListOptions.BatchSize is 0.
const DefaultBatchSize = 500

// maxBatchSize bounds ListOptions.BatchSize.
const maxBatchSize = 10000

// maxChangedSpan bounds how many messages one batch of a ChangedSince
// listing covers. Such a batch returns only the messages changed in its
// range, so while batches come back sparse the range grows (a folder of
// 100,000 messages with a few changes is listed in a handful of round
// trips, not 200); a batch holds at most this many messages in memory.
const maxChangedSpan = 32768

// listState is where a List is in its folder between batches.
type listState struct {
	lastUID     imap.UID // every message up to this UID has been handled
	nextSeq     uint32   // sequence number of the first message after lastUID; 0 = unknown
	uidValidity uint32   // the epoch of the IDs listed so far
	epochKnown  bool
	// span is how many messages the next batch covers: the batch size,
	// or more for a ChangedSince listing whose batches come back sparse.
	span  uint32
	short bool // the last batch came short and is being asked again
}

// checkEpoch records the UIDVALIDITY of the first batch and fails if a
// later batch runs under another one.
func (st *listState) checkEpoch(c *conn) error {
	if !st.epochKnown {
		st.uidValidity, st.epochKnown = c.sel.UIDValidity, true
		return nil
	}
	if c.sel.UIDValidity != st.uidValidity {
		return fmt.Errorf("UIDVALIDITY changed from %d to %d while listing: %w", st.uidValidity, c.sel.UIDValidity, mailaccess.ErrUIDValidity)
	}
	return nil
}

// List iterates over the folder in UID order. Each batch runs on a pooled
// connection that is returned before the batch's messages are yielded, so
// the loop body may call other methods of the Mailbox (even with
// MaxConns 1). A batch is located by sequence numbers (FETCH s-1,e (UID),
// which also detects expunges since the last batch) and fetched by UID
// range (UID FETCH a:b), so command length and memory stay flat whatever the
// folder size. A ChangedSince listing covers more of the folder per batch
// while its batches come back sparse (see maxChangedSpan).
func (m *Mailbox) List(ctx context.Context, folder string, opts *mailaccess.ListOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		folder, err := m.folderName(folder)
		if err != nil {
			yield(nil, m.opErr("list", folder, err))
			return
		}
		var o mailaccess.ListOptions
		if opts != nil {
			o = *opts
		}
		if o.ChangedSince > 0 && !m.caps.Has(mailaccess.CapChanges) {
			yield(nil, &mailaccess.UnsupportedError{Op: "list changed since", Protocol: protocol, Missing: mailaccess.CapChanges, Reason: "server does not offer CONDSTORE"})
			return
		}
		batch := o.BatchSize
		if batch <= 0 {
			batch = DefaultBatchSize
		}
		batch = min(batch, maxBatchSize)
		st := listState{nextSeq: 1, span: uint32(batch)}
		if o.MinUID > 1 {
			st.lastUID = imap.UID(o.MinUID - 1)
			st.nextSeq = 0
		}
		for {
			var (
				msgs []mailaccess.Message
				done bool
			)
			err := m.do(ctx, "list", folder, selRead, func(c *conn) error {
				var err error
				msgs, done, err = m.listBatch(c, folder, &st, &o, uint32(batch))
				return err
			})
			if err != nil {
				yield(nil, err)
				return
			}
			for _, msg := range msgs {
				if !yield(msg, nil) {
					return
				}
			}
			if done {
				return
			}
		}
	}
}

// listBatch fetches the next batch. done is true when the folder is
// exhausted.
func (m *Mailbox) listBatch(c *conn, folder string, st *listState, o *mailaccess.ListOptions, batch uint32) ([]mailaccess.Message, bool, error) {
	if err := st.checkEpoch(c); err != nil {
		return nil, true, err
	}
	var hiUID imap.UID
	var e uint32
	for attempt := 0; ; attempt++ {
		if attempt > 3 {
			return nil, true, m.listStuck(c, folder)
		}
		n := c.numMessages()
		if st.nextSeq == 0 {
			seq, err := locate(c, st.lastUID, n)
			if err != nil {
				return nil, true, err
			}
			st.nextSeq = seq
		}
		if st.nextSeq > n+1 {
			st.nextSeq = 0 // messages were expunged: find our place again
			continue
		}
		if st.nextSeq > n {
			// Apparently at the end. Make sure with UID FETCH last+1:*,
			// which returns every message above lastUID, or else only the
			// last message: a server that miscounted EXISTS/EXPUNGE must
			// not make List stop early.
			more, err := uidsAbove(c, st.lastUID)
			if err != nil {
				return nil, true, err
			}
			if !more {
				return nil, true, nil
			}
			// Our count is stale: select again to learn the real one.
			c.selected = ""
			if err := m.selectFolder(c, folder, selRead); err != nil {
				return nil, true, err
			}
			if err := st.checkEpoch(c); err != nil {
				return nil, true, err
			}
			st.nextSeq = 0
			continue
		}
		var probe imap.SeqSet
		if st.nextSeq > 1 {
			probe.AddNum(st.nextSeq - 1)
		}
		e = min(st.nextSeq+st.span-1, n)
		probe.AddNum(e)
		uids, err := fetchSeqUIDs(c, probe)
		if err != nil {
			return nil, true, err
		}
		if st.nextSeq > 1 && uids[st.nextSeq-1] != st.lastUID {
			st.nextSeq = 0
			continue
		}
		hiUID = uids[e]
		if hiUID == 0 || hiUID <= st.lastUID {
			st.nextSeq = 0
			continue
		}
		break
	}
	var set imap.UIDSet
	set.AddRange(st.lastUID+1, hiUID)
	fo := &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true,
		ModSeq: c.caps.Has(imap.CapCondStore), ChangedSince: o.ChangedSince}
	if o.Headers {
		fo.BodySection = []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true}}
	}
	// Every response about a UID of the range counts, whichever way go-imap
	// routed it (a header literal before the UID sends it to the
	// unilateral handler), merged per UID.
	infos := map[uint32]*fetchedInfo{}
	count := c.numMessages()
	fs := startFetch(c, set, fo)
	defer fs.Close()
	var cut error
	for fm, _ := fs.Next(); fm != nil; fm, _ = fs.Next() {
		fi := m.readInfo(c, fm, folder, st.uidValidity)
		if fi.UID <= uint32(st.lastUID) || fi.UID > uint32(hiUID) {
			continue
		}
		if fi.headerErr != nil && cut == nil {
			cut = fi.headerErr
		}
		if prev := infos[fi.UID]; prev != nil {
			prev.merge(fi)
		} else {
			infos[fi.UID] = &fi
		}
	}
	if err := fs.Close(); err != nil {
		return nil, true, err
	}
	if cut != nil {
		return nil, true, cut
	}
	// The range holds the messages at sequence numbers nextSeq..e: each
	// must have answered (CHANGEDSINCE answers only for the changed
	// ones). A server that left one out is asked again, from a fresh
	// look at the sequence numbers (another client may have expunged
	// one meanwhile); one that leaves it out again is an error: passed
	// over silently, the message would never be listed.
	if want := int(e - st.nextSeq + 1); o.ChangedSince == 0 && len(infos) < want {
		if !st.short || c.numMessages() != count {
			st.short, st.nextSeq = true, 0
			return nil, false, nil
		}
		return nil, true, fmt.Errorf("server %s answered the FETCH of the %d messages at sequence numbers %d to %d (UIDs %d to %d) of %q with %d: it left some out, again after a second look; they cannot be listed: %w",
			m.cfg.Get().Host, want, st.nextSeq, e, st.lastUID+1, hiUID, folder, len(infos), mailaccess.ErrProtocol)
	}
	st.short = false
	msgs := make([]mailaccess.Message, 0, len(infos))
	for _, fi := range infos {
		msgs = append(msgs, driver.NewMessage(m, fi.MessageInfo))
	}
	slices.SortFunc(msgs, func(a, b mailaccess.Message) int {
		return int(int64(a.Info().UID) - int64(b.Info().UID))
	})
	st.lastUID = hiUID
	st.nextSeq = e + 1
	if o.ChangedSince > 0 {
		if uint32(len(msgs))*4 <= batch {
			st.span = min(st.span*4, maxChangedSpan)
		} else {
			st.span = batch
		}
	}
	return msgs, false, nil
}

// uidsAbove reports whether the folder has a message with a UID above uid.
func uidsAbove(c *conn, uid imap.UID) (bool, error) {
	var set imap.UIDSet
	set.AddRange(uid+1, 0)
	if uid == 0 {
		set = imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
	}
	more := false
	// The answer for the last message when it is below uid+1 does not match
	// the command's set and reaches the unilateral handler, which ignores it.
	cmd := c.c.Fetch(set, &imap.FetchOptions{UID: true})
	defer cmd.Close()
	for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
		for item := fm.Next(); item != nil; item = fm.Next() {
			if u, ok := item.(imapclient.FetchItemDataUID); ok && u.UID > uid {
				more = true
			}
		}
	}
	return more, cmd.Close()
}

// headerWhole checks a header the server sent for UID uid against the
// message's RFC822.SIZE (driver.HeaderSection.Whole), naming the server.
func (m *Mailbox) headerWhole(hs driver.HeaderSection, size int64, uid uint32) error {
	if err := hs.Whole(size, fmt.Sprintf("UID %d", uid)); err != nil {
		return fmt.Errorf("server %s: %w", m.cfg.Get().Host, err)
	}
	return nil
}

// numMessages is the selected folder's message count.
func (c *conn) numMessages() uint32 { return c.count.Load() }

// fetchedInfo is what one FETCH response said about a message, with
// which items it carried.
type fetchedInfo struct {
	mailaccess.MessageInfo
	hasFlags, hasSize, hasDate, hasModSeq, hasHeader bool
	// headerErr says the header came cut short (driver.HeaderSection).
	headerErr error
}

// merge takes the items other carried (a later response wins).
func (fi *fetchedInfo) merge(other fetchedInfo) {
	if other.hasFlags {
		fi.Flags, fi.hasFlags = other.Flags, true
	}
	if other.hasSize {
		fi.Size, fi.hasSize = other.Size, true
	}
	if other.hasDate {
		fi.InternalDate, fi.hasDate = other.InternalDate, true
	}
	if other.hasModSeq {
		fi.ModSeq, fi.hasModSeq = other.ModSeq, true
	}
	if other.hasHeader {
		fi.Header, fi.hasHeader, fi.headerErr = other.Header, true, other.headerErr
	}
}

// readInfo turns one FETCH response into MessageInfo, consuming it; IDs
// carry the epoch.
func (m *Mailbox) readInfo(c *conn, fm *imapclient.FetchMessageData, folder string, epoch uint32) fetchedInfo {
	fi := fetchedInfo{MessageInfo: mailaccess.MessageInfo{Folder: folder}}
	var hs *driver.HeaderSection
	for item := fm.Next(); item != nil; item = fm.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			fi.UID = uint32(it.UID)
			fi.ID = MakeID(epoch, uint32(it.UID))
		case imapclient.FetchItemDataFlags:
			fi.Flags, fi.hasFlags = convFlags(it.Flags), true
		case imapclient.FetchItemDataRFC822Size:
			fi.Size, fi.hasSize = it.Size, true
		case imapclient.FetchItemDataInternalDate:
			fi.InternalDate, fi.hasDate = it.Time, true
		case imapclient.FetchItemDataModSeq:
			fi.ModSeq, fi.hasModSeq = it.ModSeq, true
		case imapclient.FetchItemDataBodySection:
			if it.Section == nil || it.Section.Specifier != imap.PartSpecifierHeader || len(it.Section.Part) > 0 {
				continue
			}
			fi.hasHeader = true
			if it.Literal != nil {
				sec, err := driver.ReadHeaderSection(io.LimitReader(c.literal(it.Literal), mailaccess.MaxHeaderBytes), fmt.Sprintf("message %d", fm.SeqNum))
				if err != nil {
					m.cfg.Log().Warn("imap: unparsable header", "folder", folder, "seq", fm.SeqNum, "err", err)
				}
				hs, fi.Header = &sec, sec.Header
			}
		}
	}
	// Judged once the response is read: RFC822.SIZE may follow the
	// header.
	if hs != nil && fi.hasSize {
		fi.headerErr = m.headerWhole(*hs, fi.Size, fi.UID)
	}
	return fi
}

func convFlags(fl []imap.Flag) []mailaccess.Flag {
	out := make([]mailaccess.Flag, 0, len(fl))
	for _, f := range fl {
		if strings.EqualFold(string(f), `\Recent`) {
			continue
		}
		out = append(out, mailaccess.Flag(f))
	}
	return out
}

// fetchSeqUIDs returns the UIDs of the messages at the given sequence
// numbers.
func fetchSeqUIDs(c *conn, set imap.SeqSet) (map[uint32]imap.UID, error) {
	out := map[uint32]imap.UID{}
	cmd := c.c.Fetch(set, &imap.FetchOptions{UID: true})
	defer cmd.Close()
	for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
		for item := fm.Next(); item != nil; item = fm.Next() {
			if u, ok := item.(imapclient.FetchItemDataUID); ok {
				out[fm.SeqNum] = u.UID
			}
		}
	}
	return out, cmd.Close()
}

// locate returns the sequence number of the first message whose UID is
// greater than uid (n+1 if none), by binary search over sequence numbers.
func locate(c *conn, uid imap.UID, n uint32) (uint32, error) {
	if uid == 0 || n == 0 {
		return 1, nil
	}
	lo, hi := uint32(1), n+1 // answer in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		uids, err := fetchSeqUIDs(c, imap.SeqSetNum(mid))
		if err != nil {
			return 0, err
		}
		u, ok := uids[mid]
		if !ok {
			// The folder shrank under us; retry from the current count.
			n = c.numMessages()
			if mid > n {
				hi = n + 1
				if lo > hi {
					lo = hi
				}
				continue
			}
			return 0, fmt.Errorf("no UID for message %d: %w", mid, mailaccess.ErrProtocol)
		}
		if u > uid {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// maxDrainOnClose is how much of an unread body Close reads to keep the
// connection; beyond it the connection is closed instead.
const maxDrainOnClose = 1 << 20

// Open streams a message (or, with opts, one MIME part and/or byte range)
// straight from the server's literal: UID FETCH uid (UID RFC822.SIZE
// BODY.PEEK[part]<off.len>). The connection stays busy until the reader is
// closed. Cancelling ctx closes the connection and the reader fails.
//
// The reader is verified (see the package documentation): for the whole
// message or a byte range of it, where io.EOF would come it returns an
// error wrapping [mailaccess.ErrProtocol] if the body's length is not what
// the message's RFC822.SIZE implies; NIL for a non-empty message is such
// an error from Open itself. A MIME part is checked against its literal's
// length only, and a part the server answers NIL for reads as empty.
func (m *Mailbox) Open(ctx context.Context, folder string, id mailaccess.ID, opts *mailaccess.OpenOptions) (io.ReadCloser, error) {
	folder, err := m.folderName(folder)
	if err != nil {
		return nil, m.opErr("open", folder, err)
	}
	epoch, u, err := ParseID(id)
	if err != nil {
		return nil, m.opErr("open", folder, err)
	}
	uid := imap.UID(u)
	section := &imap.FetchItemBodySection{Peek: true}
	var expect func(int64) int64
	if !opts.IsZero() {
		for _, p := range opts.Part {
			if p <= 0 {
				return nil, m.opErr("open", folder, fmt.Errorf("part number %d: %w", p, mailaccess.ErrInvalid))
			}
		}
		if opts.Offset < 0 || opts.Length < 0 || opts.Offset > math.MaxUint32 || opts.Length > math.MaxUint32 {
			return nil, m.opErr("open", folder, fmt.Errorf("byte range %d+%d: %w", opts.Offset, opts.Length, mailaccess.ErrInvalid))
		}
		section.Part = slices.Clone(opts.Part)
		if opts.Offset != 0 || opts.Length != 0 {
			size := opts.Length
			if size == 0 {
				size = math.MaxUint32
			}
			section.Partial = &imap.SectionPartial{Offset: opts.Offset, Size: size}
			expect = rangeExpect(opts.Offset, opts.Length)
		}
	}
	isPart := len(section.Part) > 0
	c, err := m.acquire(ctx)
	if err != nil {
		return nil, m.opErr("open", folder, err)
	}
	disarmCtx := context.AfterFunc(ctx, c.kill)
	fail := func(err error) (io.ReadCloser, error) {
		if !disarmCtx() || c.killed.Load() {
			c.broken.Store(true)
			if ctx.Err() != nil {
				err = ctx.Err()
			} else {
				err = errCommandTimeout
			}
		} else if isConnErr(err) {
			c.broken.Store(true)
			err = c.connErr(err)
		}
		m.release(c)
		return nil, m.opErr("open", folder, err)
	}
	disarmTimer := c.arm(context.Background(), m.cfg.CommandTimeoutOrDefault())
	if err := m.selectFolder(c, folder, selRead); err != nil {
		disarmTimer()
		return fail(err)
	}
	if err := c.checkEpoch(epoch); err != nil {
		disarmTimer()
		return fail(err)
	}
	fs := startFetch(c, imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{section}})
	body := &checkedBody{m: m, op: "open", folder: folder, what: "message " + string(id), wantUID: uid, rfcSize: noSize, expect: expect, noCheck: isPart}
	var (
		lit      imap.LiteralReader
		isNil    bool
		answered bool // a response for the UID came, with or without a body
		orphan   bool // a NIL body came in a response without a UID
		ferr     error
	)
	for fm, routed := fs.Next(); fm != nil; fm, routed = fs.Next() {
		// go-imap hands over the responses it matched by UID; a routed one
		// may be a response whose body came before its UID.
		var (
			sawUID   imap.UID
			size     int64 = noSize
			bodyItem bool
			l        imap.LiteralReader
		)
		for item := fm.Next(); item != nil && l == nil; {
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				sawUID = it.UID
			case imapclient.FetchItemDataRFC822Size:
				size = it.Size
			case imapclient.FetchItemDataBodySection:
				if !bodyItem && it.MatchCommand(section) && (!routed || sawUID == 0 || sawUID == uid) {
					bodyItem, l = true, c.literal(it.Literal)
				}
			}
			if l == nil {
				item = fm.Next()
			}
		}
		// With a literal the rest of the response is read after the body.
		ours := !routed || sawUID == uid
		if ours {
			answered = true
		}
		if !bodyItem || (l == nil && !ours) {
			orphan = orphan || (bodyItem && sawUID == 0)
			continue
		}
		body.rfcSize, body.uidSeen = size, sawUID == uid
		if l != nil {
			body.fm, lit = fm, l
			break
		}
		isNil, answered = true, true
		if !isPart && (size == noSize || body.want() != 0) {
			ferr = nilBodyErr(body.what, size)
		}
		break
	}
	if ferr != nil {
		fs.Close()
		disarmTimer()
		return fail(ferr)
	}
	if lit == nil && !isNil {
		err := fs.Close()
		disarmTimer()
		if err == nil {
			if answered || orphan {
				err = msgErr("message %s: the server answered without its body, or with one it did not tie to a UID: %w", id, mailaccess.ErrProtocol)
			} else {
				err = fmt.Errorf("message %s: %w", id, mailaccess.ErrNotFound)
			}
		}
		return fail(err)
	}
	if !disarmTimer() {
		fs.Close()
		return fail(errCommandTimeout)
	}
	r := &bodyReader{m: m, c: c, fs: fs, ctx: ctx, disarmCtx: disarmCtx, folder: folder}
	if isNil {
		r.lit = bytes.NewReader(nil)
	} else {
		body.lit = lit
		r.lit, r.size = body, lit.Size()
	}
	return r, nil
}

// bodyReader streams one FETCH literal; Close releases the connection.
type bodyReader struct {
	m         *Mailbox
	c         *conn
	fs        *fetchStream
	ctx       context.Context
	disarmCtx func() bool
	folder    string

	lit  io.Reader
	size int64
	read int64
	err  error

	once     sync.Once
	closeErr error
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.lit.Read(p)
	r.read += int64(n)
	if err != nil {
		if err == io.EOF {
			r.err = io.EOF
			return n, io.EOF
		}
		if r.ctx.Err() != nil {
			err = r.ctx.Err()
		} else {
			err = r.c.connErr(err)
		}
		r.err = r.m.opErr("open", r.folder, err)
		return n, r.err
	}
	return n, nil
}

// Close ends the fetch. An unread remainder up to 1 MiB is drained to keep
// the connection; a larger one closes the connection instead.
func (r *bodyReader) Close() error {
	r.once.Do(func() {
		c := r.c
		if r.err != nil && r.err != io.EOF {
			// The body failed: drop the connection. Closed first, it makes
			// go-imap's reading of what is left fail at once; a literal
			// that failed under a read waited for go-imap's reader to stop
			// (literal.go), so completing the command is safe either way.
			c.kill()
			r.fs.Close()
			r.disarmCtx()
			r.m.release(c)
			return
		}
		if r.size-r.read > maxDrainOnClose && r.err == nil {
			c.kill()
		}
		disarm := c.arm(context.Background(), r.m.cfg.CommandTimeoutOrDefault())
		err := r.fs.Close()
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
	return r.closeErr
}

// FetchHeader fetches BODY.PEEK[HEADER] of one message.
func (m *Mailbox) FetchHeader(ctx context.Context, folder string, id mailaccess.ID) (mailaccess.Header, error) {
	folder, err := m.folderName(folder)
	if err != nil {
		return mailaccess.Header{}, m.opErr("fetch header", folder, err)
	}
	epoch, _, err := ParseID(id)
	if err != nil {
		return mailaccess.Header{}, m.opErr("fetch header", folder, err)
	}
	var h mailaccess.Header
	err = m.do(ctx, "fetch header", folder, selRead, func(c *conn) error {
		return m.underEpoch(c, folder, selRead, epoch, func() error { return m.fetchHeader(c, folder, epoch, id, &h) })
	})
	return h, err
}

// fetchHeader fetches the header of id on c, whose folder is selected.
func (m *Mailbox) fetchHeader(c *conn, folder string, epoch uint32, id mailaccess.ID, h *mailaccess.Header) error {
	_, u, _ := ParseID(id)
	fs := startFetch(c, imap.UIDSetNum(imap.UID(u)), &imap.FetchOptions{UID: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true}}})
	defer fs.Close()
	found := false
	var cut error
	for fm, _ := fs.Next(); fm != nil; fm, _ = fs.Next() {
		// Routed or not, the UID the response carries (before or after
		// the header) says whose header it is.
		if fi := m.readInfo(c, fm, folder, epoch); fi.UID == u && fi.hasHeader && !found {
			found, *h, cut = true, fi.Header, fi.headerErr
		}
	}
	if err := fs.Close(); err != nil {
		return err
	}
	if cut != nil {
		return cut
	}
	if !found {
		return fmt.Errorf("message %s: %w", id, mailaccess.ErrNotFound)
	}
	return nil
}

// checkFlags validates flags for the wire and the capabilities.
func (m *Mailbox) checkFlags(flags []mailaccess.Flag) ([]imap.Flag, error) {
	out := make([]imap.Flag, 0, len(flags))
	for _, f := range flags {
		s := string(f)
		if err := wirecheck.Check("flag", s); err != nil {
			return nil, err
		}
		body := strings.TrimPrefix(s, `\`)
		if body == "" || strings.ContainsAny(body, " (){%*\"\\]\t") {
			return nil, fmt.Errorf("flag %q is not an IMAP atom: %w", truncate(s, 40), mailaccess.ErrInvalid)
		}
		for _, r := range body {
			if r < 0x21 || r > 0x7e {
				return nil, fmt.Errorf("flag %q is not ASCII: %w", truncate(s, 40), mailaccess.ErrInvalid)
			}
		}
		if strings.HasPrefix(s, `\`) && !f.IsSystem() {
			return nil, fmt.Errorf("unknown system flag %q: %w", truncate(s, 40), mailaccess.ErrInvalid)
		}
		out = append(out, imap.Flag(s))
	}
	return out, nil
}

// SetFlags runs UID STORE uids (+|-)FLAGS.SILENT (flags), or FLAGS.SILENT
// for ReplaceFlags. UIDs that do not exist are ignored, as IMAP does. The
// IDs must carry the folder's current UIDVALIDITY (else
// [mailaccess.ErrUIDValidity], before anything is stored). Adding or
// replacing a flag the folder does not keep (its PERMANENTFLAGS, see
// [Mailbox.PermanentFlags]) is refused with an
// *mailaccess.UnsupportedError before anything is stored. Many IDs are
// sent in several STORE commands, each line within 1000 octets.
func (m *Mailbox) SetFlags(ctx context.Context, folder string, ids []mailaccess.ID, op mailaccess.FlagOp, flags ...mailaccess.Flag) error {
	folder, err := m.folderName(folder)
	if err != nil {
		return m.opErr("set flags", folder, err)
	}
	fl, err := m.checkFlags(flags)
	if err != nil {
		return m.opErr("set flags", folder, err)
	}
	epoch, uids, err := parseIDs(ids)
	if err != nil {
		return m.opErr("set flags", folder, err)
	}
	var sop imap.StoreFlagsOp
	switch op {
	case mailaccess.AddFlags:
		sop = imap.StoreFlagsAdd
	case mailaccess.RemoveFlags:
		sop = imap.StoreFlagsDel
	case mailaccess.ReplaceFlags:
		sop = imap.StoreFlagsSet
	default:
		return m.opErr("set flags", folder, fmt.Errorf("flag op %d: %w", op, mailaccess.ErrInvalid))
	}
	if len(ids) == 0 || (len(fl) == 0 && op != mailaccess.ReplaceFlags) {
		return nil
	}
	room, err := setRoom(storeFixed(fl))
	if err != nil {
		return m.opErr("set flags", folder, fmt.Errorf("%d flags: %w", len(fl), err))
	}
	return m.do(ctx, "set flags", folder, selWrite, func(c *conn) error {
		if op != mailaccess.RemoveFlags {
			// A flag the folder does not keep would vanish (or be
			// refused, BAD from GNU Mailutils): refuse it before any
			// STORE. Removing one asks nothing of the folder.
			if err := refuseUnkept("set flags", folder, c.perm, fl); err != nil {
				return err
			}
		}
		return m.underEpoch(c, folder, selWrite, epoch, func() error {
			for _, set := range uidChunks(uids, room, 0) {
				if err := c.c.Store(set, &imap.StoreFlags{Op: sop, Silent: true, Flags: fl}, nil).Close(); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// storeFixed is the length of "UID STORE <set> -FLAGS.SILENT (flags)"
// without the set.
func storeFixed(flags []imap.Flag) int {
	n := len("UID STORE  -FLAGS.SILENT ()")
	for i, f := range flags {
		if i > 0 {
			n++
		}
		n += len(f)
	}
	return n
}

// errNoUIDPlus explains why deleting needs UIDPLUS.
const noUIDPlusReason = "the server lacks UIDPLUS (UID EXPUNGE); a bare EXPUNGE would also remove messages other clients marked \\Deleted"

// Delete marks the messages \Deleted and removes exactly them with UID
// EXPUNGE. It needs UIDPLUS; without it Delete returns an
// *mailaccess.UnsupportedError rather than run a bare EXPUNGE. The folder
// is selected afresh for the call and the IDs must carry its current
// UIDVALIDITY (else [mailaccess.ErrUIDValidity], before anything is
// marked). Many IDs are removed in several rounds of STORE and UID EXPUNGE,
// each command line within 1000 octets.
func (m *Mailbox) Delete(ctx context.Context, folder string, ids ...mailaccess.ID) error {
	if !m.caps.Has(mailaccess.CapDelete) {
		return &mailaccess.UnsupportedError{Op: "delete", Protocol: protocol, Missing: mailaccess.CapDelete, Reason: noUIDPlusReason}
	}
	folder, err := m.folderName(folder)
	if err != nil {
		return m.opErr("delete", folder, err)
	}
	epoch, uids, err := parseIDs(ids)
	if err != nil {
		return m.opErr("delete", folder, err)
	}
	if len(ids) == 0 {
		return nil
	}
	return m.do(ctx, "delete", folder, selFresh, func(c *conn) error {
		if err := c.checkEpoch(epoch); err != nil {
			return err
		}
		return deleteUIDs(c, uids)
	})
}

// deleteRoom is the room for the set in the commands of deleteUIDs.
var deleteRoom, _ = setRoom(max(storeFixed([]imap.Flag{imap.FlagDeleted}), len("UID EXPUNGE ")))

// deleteUIDs marks uids \Deleted and expunges exactly them, in chunks.
func deleteUIDs(c *conn, uids []imap.UID) error {
	for _, set := range uidChunks(uids, deleteRoom, 0) {
		if err := c.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			return err
		}
		cmd := c.c.UIDExpunge(set)
		seqs, err := cmd.Collect()
		c.expunged(uint32(len(seqs)))
		if err != nil {
			return err
		}
	}
	return nil
}

// maxAppendMemory is how much of an Append body of unknown size is kept in
// memory before spooling to a temporary file.
const maxAppendMemory = 4 << 20

// Append uploads a message with APPEND and returns its ID when the server
// answers APPENDUID (UIDPLUS), else "": the ID carries the UIDVALIDITY
// APPENDUID reports. UTF8=ACCEPT is enabled first where offered, so that
// messages with UTF-8 headers are accepted. The literal needs its size first:
// a reader with a Len or Size method, or an *os.File, is streamed; other
// readers are spooled (memory up to 4 MiB, then a temporary file). A
// flag in AppendOptions.Flags that the folder does not keep (its
// PERMANENTFLAGS, see [Mailbox.PermanentFlags]; a folder not selected
// before is selected for it) is refused with an
// *mailaccess.UnsupportedError before the message is sent.
func (m *Mailbox) Append(ctx context.Context, folder string, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	folder, err := m.folderName(folder)
	if err != nil {
		return "", m.opErr("append", folder, err)
	}
	ao := &imap.AppendOptions{}
	if opts != nil {
		fl, err := m.checkFlags(opts.Flags)
		if err != nil {
			return "", m.opErr("append", folder, err)
		}
		ao.Flags, ao.Time = fl, opts.Date
	}
	// The folder's permanent flags decide whether the flags can be kept:
	// a folder this Mailbox never selected is selected first (once).
	mode := selNone
	perm, known := m.folderPerm(folder)
	if len(ao.Flags) > 0 && !known {
		mode = selRead
	}
	body, size, cleanup, err := sized(r)
	if err != nil {
		return "", m.opErr("append", folder, err)
	}
	defer cleanup()
	var id mailaccess.ID
	err = m.doTimeout(ctx, "append", folder, mode, 0, func(c *conn) error {
		if mode != selNone {
			perm = c.perm
		}
		if err := refuseUnkept("append", folder, perm, ao.Flags); err != nil {
			return err
		}
		// A server offering UTF8=ACCEPT refuses a message with UTF-8
		// headers from a client that has not enabled it (RFC 6855 4).
		if err := m.enableUTF8(c); err != nil {
			return err
		}
		before := c.numMessages()
		cmd := c.c.Append(folder, size, ao)
		if _, err := io.Copy(cmd, body); err != nil {
			cmd.Close()
			if _, werr := cmd.Wait(); werr != nil {
				return mapNotFound(werr)
			}
			return err
		}
		if err := cmd.Close(); err != nil {
			if _, werr := cmd.Wait(); werr != nil {
				return mapNotFound(werr)
			}
			return err
		}
		data, err := cmd.Wait()
		if err != nil {
			return mapNotFound(err)
		}
		if data.UID != 0 {
			id = MakeID(data.UIDValidity, uint32(data.UID))
		}
		noteAdded(c, folder, before)
		return nil
	})
	return id, err
}

// noteAdded brings the connection's view of the selected folder up to
// date after a command that added messages to folder (APPEND, COPY) and
// succeeded. When folder is the selected one and the server did not
// announce the new messages with EXISTS (RFC 3501 6.3.11 and 6.4.7 say it
// SHOULD at once; Courier-IMAP does not, until the next NOOP), a NOOP
// makes it, so that a List that follows shows them. The command's result
// stands whatever happens here: if the NOOP fails, the folder is selected
// afresh by the next operation instead (an error now would invite a
// retry that stores the message twice).
func noteAdded(c *conn, folder string, before uint32) {
	if c.selected != folder || c.numMessages() > before {
		return
	}
	if err := c.c.Noop().Wait(); err != nil {
		c.selected = ""
	}
}

// sized returns r with its size, spooling if needed.
func sized(r io.Reader) (io.Reader, int64, func(), error) {
	nop := func() {}
	switch v := r.(type) {
	case interface{ Len() int }:
		return r, int64(v.Len()), nop, nil
	case *os.File:
		fi, err := v.Stat()
		if err == nil && fi.Mode().IsRegular() {
			pos, err := v.Seek(0, io.SeekCurrent)
			if err == nil {
				return v, fi.Size() - pos, nop, nil
			}
		}
	case interface{ Size() int64 }:
		if s, ok := r.(io.Seeker); ok {
			if pos, err := s.Seek(0, io.SeekCurrent); err == nil {
				return r, v.Size() - pos, nop, nil
			}
		}
	}
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, r, maxAppendMemory+1)
	if err != nil && err != io.EOF {
		return nil, 0, nop, err
	}
	if n <= maxAppendMemory {
		return &buf, n, nop, nil
	}
	f, err := os.CreateTemp("", "mailaccess-append-*")
	if err != nil {
		return nil, 0, nop, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	total, err := io.Copy(f, io.MultiReader(&buf, r))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, 0, nop, err
	}
	return f, total, cleanup, nil
}

// Copy copies messages with UID COPY; the new IDs (with the destination's
// UIDVALIDITY) come from COPYUID (UIDPLUS), "" where the server does not
// say. The IDs must carry the source folder's current UIDVALIDITY (else
// [mailaccess.ErrUIDValidity], before anything is copied). Many IDs are
// copied in several commands, each line within 1000 octets.
func (m *Mailbox) Copy(ctx context.Context, folder string, ids []mailaccess.ID, dest string) ([]mailaccess.ID, error) {
	return m.copyMove(ctx, "copy", folder, ids, dest)
}

// Move moves messages: UID MOVE with the MOVE extension; otherwise UID COPY,
// UID STORE +FLAGS.SILENT (\Deleted) and UID EXPUNGE of exactly those UIDs
// (needs UIDPLUS; without it Move returns an *mailaccess.UnsupportedError
// rather than run a bare EXPUNGE). As with Delete, the folder is selected
// afresh and the IDs must carry its current UIDVALIDITY. Many IDs are
// moved in several commands, each line within 1000 octets (each command is
// atomic on the server, the whole call is not).
func (m *Mailbox) Move(ctx context.Context, folder string, ids []mailaccess.ID, dest string) ([]mailaccess.ID, error) {
	return m.copyMove(ctx, "move", folder, ids, dest)
}

func (m *Mailbox) copyMove(ctx context.Context, op, folder string, ids []mailaccess.ID, dest string) ([]mailaccess.ID, error) {
	if op == "move" && !m.caps.Has(mailaccess.CapMove) && !m.caps.Has(mailaccess.CapDelete) {
		return nil, &mailaccess.UnsupportedError{Op: "move", Protocol: protocol, Missing: mailaccess.CapMove,
			Reason: "the server has neither MOVE nor UIDPLUS; emulating would need a bare EXPUNGE that also removes messages other clients marked \\Deleted"}
	}
	folder, err := m.folderName(folder)
	if err != nil {
		return nil, m.opErr(op, folder, err)
	}
	if err := wirecheck.Check("destination folder", dest); err != nil || dest == "" {
		if err == nil {
			err = fmt.Errorf("empty destination folder: %w", mailaccess.ErrInvalid)
		}
		return nil, m.opErr(op, folder, err)
	}
	epoch, uids, err := parseIDs(ids)
	if err != nil {
		return nil, m.opErr(op, folder, err)
	}
	out := make([]mailaccess.ID, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	room, err := setRoom(len("UID COPY  ") + mailboxArgLen(dest))
	if err != nil {
		return nil, m.opErr(op, folder, fmt.Errorf("destination folder name of %d octets: %w", len(dest), err))
	}
	mode := selRead
	if op == "move" {
		mode = selFresh
		room = min(room, deleteRoom)
	}
	err = m.do(ctx, op, folder, mode, func(c *conn) error {
		return m.underEpoch(c, folder, mode, epoch, func() error { return copyMoveUIDs(c, op, uids, room, dest, out) })
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// copyMoveUIDs copies or moves uids in chunks, filling out from COPYUID.
func copyMoveUIDs(c *conn, op string, uids []imap.UID, room int, dest string, out []mailaccess.ID) error {
	before := c.numMessages()
	defer func() { noteAdded(c, dest, before) }()
	for n, set := range uidChunks(uids, room, 0) {
		var (
			src, dst    imap.NumSet
			uidValidity uint32
		)
		switch {
		case op == "move" && c.caps.Has(imap.CapMove):
			d, err := c.c.Move(set, dest).Wait()
			if err != nil {
				return chunkErr(op, n, mapNotFound(err))
			}
			src, dst, uidValidity = d.SourceUIDs, d.DestUIDs, d.UIDValidity
		default:
			d, err := c.c.Copy(set, dest).Wait()
			if err != nil {
				return chunkErr(op, n, mapNotFound(err))
			}
			src, dst, uidValidity = d.SourceUIDs, d.DestUIDs, d.UIDValidity
			if op == "move" {
				if err := deleteUIDs(c, setUIDs(set)); err != nil {
					return fmt.Errorf("copied, but removing the originals failed: %w", chunkErr(op, n, err))
				}
			}
		}
		pairUIDs(uids, src, dst, uidValidity, out)
	}
	return nil
}

// chunkErr notes that earlier chunks of a copy or move were done.
func chunkErr(op string, n int, err error) error {
	if n == 0 {
		return err
	}
	return fmt.Errorf("%s of the first %d command(s) done, then: %w", op, n, err)
}

// pairUIDs fills out[i] with the destination ID of uids[i] from COPYUID.
func pairUIDs(uids []imap.UID, src, dst imap.NumSet, uidValidity uint32, out []mailaccess.ID) {
	s, ok1 := src.(imap.UIDSet)
	d, ok2 := dst.(imap.UIDSet)
	if !ok1 || !ok2 || !copyUIDsPlausible(s, d, len(uids)) {
		return
	}
	sn, ok1 := s.Nums()
	dn, ok2 := d.Nums()
	if !ok1 || !ok2 || len(sn) != len(dn) {
		return
	}
	m := make(map[imap.UID]imap.UID, len(sn))
	for i := range sn {
		m[sn[i]] = dn[i]
	}
	for i, u := range uids {
		if v, ok := m[u]; ok {
			out[i] = MakeID(uidValidity, uint32(v))
		}
	}
}
