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
)

// DefaultBatchSize is how many messages one List round trip covers when
// ListOptions.BatchSize is 0.
const DefaultBatchSize = 500

// maxBatchSize bounds ListOptions.BatchSize.
const maxBatchSize = 10000

// listState is where a List is in its folder between batches.
type listState struct {
	lastUID     imap.UID // every message up to this UID has been handled
	nextSeq     uint32   // sequence number of the first message after lastUID; 0 = unknown
	uidValidity uint32
}

// List iterates over the folder in UID order. Each batch runs on a pooled
// connection that is returned before the batch's messages are yielded, so
// the loop body may call other methods of the Mailbox (even with
// MaxConns 1). A batch is located by sequence numbers (FETCH s-1,e (UID),
// which also detects expunges since the last batch) and fetched by UID
// range (UID FETCH a:b), so command length and memory stay flat whatever the
// folder size.
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
		st := listState{nextSeq: 1}
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
	if st.uidValidity == 0 {
		st.uidValidity = c.sel.UIDValidity
	} else if c.sel.UIDValidity != 0 && c.sel.UIDValidity != st.uidValidity {
		return nil, true, fmt.Errorf("UIDVALIDITY changed from %d to %d while listing: %w", st.uidValidity, c.sel.UIDValidity, mailaccess.ErrUIDValidity)
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
			st.nextSeq = 0
			continue
		}
		var probe imap.SeqSet
		if st.nextSeq > 1 {
			probe.AddNum(st.nextSeq - 1)
		}
		e = min(st.nextSeq+batch-1, n)
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
	msgs := make([]mailaccess.Message, 0, min(int(e-st.nextSeq+1), 4096))
	cmd := c.c.Fetch(set, fo)
	defer cmd.Close()
	for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
		info := m.readInfo(fm, folder)
		if info.UID <= uint32(st.lastUID) || info.UID > uint32(hiUID) {
			continue
		}
		msgs = append(msgs, mailaccess.NewMessage(m, info))
	}
	if err := cmd.Close(); err != nil {
		return nil, true, err
	}
	slices.SortFunc(msgs, func(a, b mailaccess.Message) int {
		return int(int64(a.Info().UID) - int64(b.Info().UID))
	})
	st.lastUID = hiUID
	st.nextSeq = e + 1
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

// numMessages is the selected folder's message count.
func (c *conn) numMessages() uint32 { return c.count.Load() }

// readInfo turns one FETCH response into MessageInfo, consuming it.
func (m *Mailbox) readInfo(fm *imapclient.FetchMessageData, folder string) mailaccess.MessageInfo {
	info := mailaccess.MessageInfo{Folder: folder}
	for item := fm.Next(); item != nil; item = fm.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			info.UID = uint32(it.UID)
			info.ID = idOf(it.UID)
		case imapclient.FetchItemDataFlags:
			info.Flags = convFlags(it.Flags)
		case imapclient.FetchItemDataRFC822Size:
			info.Size = it.Size
		case imapclient.FetchItemDataInternalDate:
			info.InternalDate = it.Time
		case imapclient.FetchItemDataModSeq:
			info.ModSeq = it.ModSeq
		case imapclient.FetchItemDataBodySection:
			if it.Literal != nil {
				h, err := mailaccess.ParseHeader(io.LimitReader(it.Literal, mailaccess.MaxHeaderBytes))
				if err != nil {
					m.cfg.Log().Warn("imap: unparsable header", "folder", folder, "uid", info.UID, "err", err)
				}
				info.Header = h
			}
		}
	}
	return info
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
// straight from the server's literal: UID FETCH uid BODY.PEEK[part]<off.len>.
// The connection stays busy until the reader is closed. Cancelling ctx
// closes the connection and the reader fails.
func (m *Mailbox) Open(ctx context.Context, folder string, id mailaccess.ID, opts *mailaccess.OpenOptions) (io.ReadCloser, error) {
	folder, err := m.folderName(folder)
	if err != nil {
		return nil, m.opErr("open", folder, err)
	}
	uid, err := parseUID(id)
	if err != nil {
		return nil, m.opErr("open", folder, err)
	}
	section := &imap.FetchItemBodySection{Peek: true}
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
		}
	}
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
	cmd := c.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
	fm := cmd.Next()
	if fm == nil {
		err := cmd.Close()
		disarmTimer()
		if err == nil {
			err = fmt.Errorf("UID %d: %w", uid, mailaccess.ErrNotFound)
		}
		return fail(err)
	}
	var lit imap.LiteralReader
	for item := fm.Next(); item != nil; item = fm.Next() {
		if bs, ok := item.(imapclient.FetchItemDataBodySection); ok {
			lit = bs.Literal
			break
		}
	}
	if !disarmTimer() {
		cmd.Close()
		return fail(errCommandTimeout)
	}
	r := &bodyReader{m: m, c: c, cmd: cmd, fm: fm, ctx: ctx, disarmCtx: disarmCtx, folder: folder}
	if lit == nil {
		// NIL (e.g. a part that does not exist) reads as empty.
		r.lit = bytes.NewReader(nil)
		r.size = 0
	} else {
		r.lit, r.size = lit, lit.Size()
	}
	return r, nil
}

// bodyReader streams one FETCH literal; Close releases the connection.
type bodyReader struct {
	m         *Mailbox
	c         *conn
	cmd       *imapclient.FetchCommand
	fm        *imapclient.FetchMessageData
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
			if r.read < r.size {
				err = io.ErrUnexpectedEOF
			} else {
				r.err = io.EOF
				return n, io.EOF
			}
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
			// The body failed (the connection broke under it): go-imap's
			// reader has moved on, and draining the literal now would
			// read its buffer concurrently with it. Drop the connection.
			c.kill()
			r.disarmCtx()
			r.m.release(c)
			return
		}
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
		if r.err != nil && r.err != io.EOF {
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
	uid, err := parseUID(id)
	if err != nil {
		return mailaccess.Header{}, m.opErr("fetch header", folder, err)
	}
	var h mailaccess.Header
	err = m.do(ctx, "fetch header", folder, selRead, func(c *conn) error {
		cmd := c.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true,
			BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true}}})
		defer cmd.Close()
		found := false
		for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
			info := m.readInfo(fm, folder)
			if info.UID == uint32(uid) {
				found, h = true, info.Header
			}
		}
		if err := cmd.Close(); err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("UID %d: %w", uid, mailaccess.ErrNotFound)
		}
		return nil
	})
	return h, err
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
// for ReplaceFlags. UIDs that do not exist are ignored, as IMAP does.
func (m *Mailbox) SetFlags(ctx context.Context, folder string, ids []mailaccess.ID, op mailaccess.FlagOp, flags ...mailaccess.Flag) error {
	folder, err := m.folderName(folder)
	if err != nil {
		return m.opErr("set flags", folder, err)
	}
	fl, err := m.checkFlags(flags)
	if err != nil {
		return m.opErr("set flags", folder, err)
	}
	_, set, err := parseUIDs(ids)
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
	return m.do(ctx, "set flags", folder, selWrite, func(c *conn) error {
		return c.c.Store(set, &imap.StoreFlags{Op: sop, Silent: true, Flags: fl}, nil).Close()
	})
}

// errNoUIDPlus explains why deleting needs UIDPLUS.
const noUIDPlusReason = "the server lacks UIDPLUS (UID EXPUNGE); a bare EXPUNGE would also remove messages other clients marked \\Deleted"

// Delete marks the messages \Deleted and removes exactly them with UID
// EXPUNGE. It needs UIDPLUS; without it Delete returns an
// *mailaccess.UnsupportedError rather than run a bare EXPUNGE.
func (m *Mailbox) Delete(ctx context.Context, folder string, ids ...mailaccess.ID) error {
	if !m.caps.Has(mailaccess.CapDelete) {
		return &mailaccess.UnsupportedError{Op: "delete", Protocol: protocol, Missing: mailaccess.CapDelete, Reason: noUIDPlusReason}
	}
	folder, err := m.folderName(folder)
	if err != nil {
		return m.opErr("delete", folder, err)
	}
	_, set, err := parseUIDs(ids)
	if err != nil {
		return m.opErr("delete", folder, err)
	}
	if len(ids) == 0 {
		return nil
	}
	return m.do(ctx, "delete", folder, selWrite, func(c *conn) error {
		return deleteUIDs(c, set)
	})
}

func deleteUIDs(c *conn, set imap.UIDSet) error {
	if err := c.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return err
	}
	cmd := c.c.UIDExpunge(set)
	seqs, err := cmd.Collect()
	c.expunged(uint32(len(seqs)))
	return err
}

// maxAppendMemory is how much of an Append body of unknown size is kept in
// memory before spooling to a temporary file.
const maxAppendMemory = 4 << 20

// Append uploads a message with APPEND and returns its ID when the server
// answers APPENDUID (UIDPLUS), else "". The literal needs its size first:
// a reader with a Len or Size method, or an *os.File, is streamed; other
// readers are spooled (memory up to 4 MiB, then a temporary file).
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
	body, size, cleanup, err := sized(r)
	if err != nil {
		return "", m.opErr("append", folder, err)
	}
	defer cleanup()
	var id mailaccess.ID
	err = m.doTimeout(ctx, "append", folder, selNone, 0, func(c *conn) error {
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
			id = idOf(data.UID)
		}
		return nil
	})
	return id, err
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

// Copy copies messages with UID COPY; the new IDs come from COPYUID
// (UIDPLUS), "" where the server does not say.
func (m *Mailbox) Copy(ctx context.Context, folder string, ids []mailaccess.ID, dest string) ([]mailaccess.ID, error) {
	return m.copyMove(ctx, "copy", folder, ids, dest)
}

// Move moves messages: UID MOVE with the MOVE extension; otherwise UID COPY,
// UID STORE +FLAGS.SILENT (\Deleted) and UID EXPUNGE of exactly those UIDs
// (needs UIDPLUS; without it Move returns an *mailaccess.UnsupportedError
// rather than run a bare EXPUNGE).
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
	uids, set, err := parseUIDs(ids)
	if err != nil {
		return nil, m.opErr(op, folder, err)
	}
	out := make([]mailaccess.ID, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	mode := selRead
	if op == "move" {
		mode = selWrite
	}
	err = m.do(ctx, op, folder, mode, func(c *conn) error {
		var src, dst imap.NumSet
		switch {
		case op == "move" && c.caps.Has(imap.CapMove):
			d, err := c.c.Move(set, dest).Wait()
			if err != nil {
				return mapNotFound(err)
			}
			src, dst = d.SourceUIDs, d.DestUIDs
		default:
			d, err := c.c.Copy(set, dest).Wait()
			if err != nil {
				return mapNotFound(err)
			}
			src, dst = d.SourceUIDs, d.DestUIDs
			if op == "move" {
				if err := deleteUIDs(c, set); err != nil {
					return fmt.Errorf("copied, but removing the originals failed: %w", err)
				}
			}
		}
		pairUIDs(uids, src, dst, out)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pairUIDs fills out[i] with the destination UID of uids[i] from COPYUID.
func pairUIDs(uids []imap.UID, src, dst imap.NumSet, out []mailaccess.ID) {
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
			out[i] = idOf(v)
		}
	}
}
