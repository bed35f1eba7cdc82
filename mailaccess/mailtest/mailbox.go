package mailtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

const protocol = "mem"

// Mailbox is one handle on a [Store]: the in-memory fake
// [mailaccess.Mailbox]. It has exactly the capabilities it was opened with
// and refuses the rest with an error matching [errors.ErrUnsupported].
//
// The Store's test-side controls (Add, Expunge, FailNth, Messages...) are
// promoted to Mailbox, so a test that holds one handle can seed and
// inspect through it. A Mailbox is safe for concurrent use.
type Mailbox struct {
	*Store
	caps mailaccess.Capability

	mu      sync.Mutex
	closed  bool
	dropped bool
	pending map[string]map[uint32]bool // deferred deletes by folder
}

var (
	_ mailaccess.Mailbox   = (*Mailbox)(nil)
	_ driver.Committer     = (*Mailbox)(nil)
	_ driver.Rollbacker    = (*Mailbox)(nil)
	_ driver.FolderManager = (*Mailbox)(nil)
	_ driver.Protocoler    = (*Mailbox)(nil)
)

// New returns a Mailbox with capabilities caps (a profile such as
// [ProfileIMAP], or any set) over a new empty [Store].
func New(caps mailaccess.Capability) *Mailbox {
	return NewStore().Open(caps)
}

// Open returns a new handle on s with capabilities caps. Like a new
// connection, it starts with no pending deletes and works even after
// [Store.DropConnections] broke earlier handles.
func (s *Store) Open(caps mailaccess.Capability) *Mailbox {
	m := &Mailbox{Store: s, caps: caps}
	s.mu.Lock()
	s.handles[m] = struct{}{}
	s.mu.Unlock()
	return m
}

// OpenFolder is [Store.Open] for a configuration that names a folder (a
// mem:// URL's path, Config.Folder): it fails, as the network drivers do
// at Open, with an error matching [mailaccess.ErrNotFound] if the folder
// does not exist, so that a mistyped folder shows at once rather than at
// the first call. "" and INBOX (in any case) always exist.
func (s *Store) OpenFolder(caps mailaccess.Capability, folder string) (*Mailbox, error) {
	if folder != "" {
		s.mu.Lock()
		f := s.folders[canonFolder(folder)]
		s.mu.Unlock()
		if f == nil {
			return nil, opErr("open", folder, fmt.Errorf(
				"the folder of the URL (Config.Folder) does not exist (Folders lists those that do; create it with mailaccess.CreateFolder, or Store.AddFolder in a test): %w",
				mailaccess.ErrNotFound))
		}
	}
	return s.Open(caps), nil
}

// Protocol returns "mem".
func (m *Mailbox) Protocol() string { return protocol }

// Capabilities returns the capabilities the handle was opened with.
func (m *Mailbox) Capabilities() mailaccess.Capability { return m.caps }

// As sets target to the Mailbox itself (*Mailbox) or its store (*Store).
func (m *Mailbox) As(target any) bool {
	if driver.AsInterface(m, target) {
		return true
	}
	switch t := target.(type) {
	case **Mailbox:
		*t = m
		return true
	case **Store:
		*t = m.Store
		return true
	}
	return false
}

// Close releases the handle. Pending deferred deletes are discarded, as
// a POP3 session closed without QUIT discards them, and reported: Close
// then returns an error matching [mailaccess.ErrDeletesDiscarded] that
// says how many (call Commit first, or Rollback to drop them on
// purpose). Later calls fail with [mailaccess.ErrClosed]. Close is
// idempotent.
func (m *Mailbox) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	dropped := 0
	for _, set := range m.pending {
		dropped += len(set)
	}
	m.pending = nil
	m.mu.Unlock()
	m.Store.mu.Lock()
	delete(m.Store.handles, m)
	m.Store.notifyLocked() // wake this handle's watchers
	m.Store.mu.Unlock()
	if dropped > 0 {
		return opErr("close", "", driver.DeletesDiscarded(dropped))
	}
	return nil
}

// Rollback drops the pending deferred deletes of this handle without
// applying them: the messages show again, and Close reports nothing.
func (m *Mailbox) Rollback(ctx context.Context) error {
	if err := m.begin(ctx, OpRollback, "", 0); err != nil {
		return err
	}
	m.mu.Lock()
	m.pending = nil
	m.mu.Unlock()
	return nil
}

var errs = driver.Errors{Protocol: protocol}

func opErr(op Op, folder string, err error) error {
	return errs.Op(string(op), folder, err)
}

// begin runs the checks every call starts with: closed, context, capability,
// latency, dropped connection and injected faults.
func (m *Mailbox) begin(ctx context.Context, op Op, folder string, need mailaccess.Capability) error {
	m.mu.Lock()
	closed, dropped := m.closed, m.dropped
	m.mu.Unlock()
	if closed {
		return opErr(op, folder, mailaccess.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return opErr(op, folder, err)
	}
	if missing := m.caps.Missing(need); missing != 0 {
		return driver.Unsupported(protocol, string(op), missing)
	}
	latency, ferr := m.fault(op)
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return opErr(op, folder, ctx.Err())
		case <-t.C:
		}
	}
	if dropped {
		return opErr(op, folder, ErrConnectionDropped)
	}
	if ferr != nil {
		return opErr(op, folder, ferr)
	}
	return nil
}

// folderLocked returns the folder if this handle may see it. s.mu held.
func (m *Mailbox) folderLocked(name string) (*folder, error) {
	name = canonFolder(name)
	if name != mailaccess.Inbox && !m.caps.Has(mailaccess.CapFolders) {
		return nil, fmt.Errorf("folder %q (no folders but INBOX without capability folders): %w", name, mailaccess.ErrNotFound)
	}
	f := m.Store.folders[name]
	if f == nil {
		return nil, fmt.Errorf("folder %q: %w", name, mailaccess.ErrNotFound)
	}
	return f, nil
}

func (m *Mailbox) pendingCopy(folder string) map[uint32]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps(m.pending[folder])
}

func maps(p map[uint32]bool) map[uint32]bool {
	out := make(map[uint32]bool, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// lookupLocked finds a visible message. s.mu held.
func (m *Mailbox) lookupLocked(f *folder, id mailaccess.ID, hide map[uint32]bool) (*stored, error) {
	uid, ok := parseID(id)
	if !ok {
		return nil, fmt.Errorf("message %q: %w", id, mailaccess.ErrNotFound)
	}
	i := f.index(uid)
	if i < 0 || hide[uid] {
		return nil, fmt.Errorf("message %q: %w", id, mailaccess.ErrNotFound)
	}
	return f.msgs[i], nil
}

// Folders lists the folders; without CapFolders only INBOX.
func (m *Mailbox) Folders(ctx context.Context) ([]mailaccess.Folder, error) {
	if err := m.begin(ctx, OpFolders, "", 0); err != nil {
		return nil, err
	}
	if !m.caps.Has(mailaccess.CapFolders) {
		return []mailaccess.Folder{{Name: mailaccess.Inbox, Role: mailaccess.RoleInbox}}, nil
	}
	names := m.Store.FolderNames()
	out := make([]mailaccess.Folder, 0, len(names))
	for _, n := range names {
		out = append(out, mailaccess.Folder{Name: n, Delimiter: "/", Role: roleOf(n)})
	}
	return out, nil
}

// Status reports the folder's counters as the driver the capabilities
// imitate would: Unseen needs CapFlags (else it is
// [mailaccess.UnknownCount], as on POP3); with CapUID, UIDValidity and
// UIDNext are reported as by an IMAP server, UIDValidity alone as by a
// Maildir (CapOffline), neither as by a POP3 maildrop (neither CapFolders
// nor CapFlags); HighestModSeq needs CapChanges. The others are always
// set.
func (m *Mailbox) Status(ctx context.Context, folder string) (mailaccess.FolderStatus, error) {
	if err := m.begin(ctx, OpStatus, folder, 0); err != nil {
		return mailaccess.FolderStatus{}, err
	}
	hide := m.pendingCopy(canonFolder(folder))
	m.Store.mu.Lock()
	defer m.Store.mu.Unlock()
	f, err := m.folderLocked(folder)
	if err != nil {
		return mailaccess.FolderStatus{}, opErr(OpStatus, folder, err)
	}
	st := mailaccess.FolderStatus{Name: f.name}
	for _, msg := range f.msgs {
		if hide[msg.uid] {
			continue
		}
		st.Messages++
		st.Size += int64(len(msg.raw))
		if m.caps.Has(mailaccess.CapFlags) && !containsFlag(msg.flags, mailaccess.FlagSeen) {
			st.Unseen++
		}
	}
	if !m.caps.Has(mailaccess.CapFlags) {
		st.Unseen = mailaccess.UnknownCount
	}
	if m.numericUIDs() {
		st.UIDValidity = f.uidValidity
		st.UIDNext = f.uidNext
	} else if m.caps.Has(mailaccess.CapUID) && !m.pop3Like() {
		st.UIDValidity = f.uidValidity
	}
	if m.caps.Has(mailaccess.CapChanges) {
		st.HighestModSeq = f.modSeq
	}
	return st, nil
}

// pop3Like reports whether the handle imitates a POP3 maildrop: neither
// folders nor flags (the pop3 driver never has either; the IMAP driver and
// the Maildir store always have both). Like the pop3 driver it then
// reports no internal dates, UIDVALIDITY or UIDNEXT.
func (m *Mailbox) pop3Like() bool {
	return !m.caps.Has(mailaccess.CapFolders) && !m.caps.Has(mailaccess.CapFlags)
}

// numericUIDs reports whether the handle imitates an IMAP server, whose
// messages have numeric UIDs (MessageInfo.UID, Status.UIDNext): stable
// IDs, not POP3, not a local store. A POP3 maildrop and a Maildir
// (offline) have stable IDs but no numeric UIDs, as their drivers report.
func (m *Mailbox) numericUIDs() bool {
	return m.caps.Has(mailaccess.CapUID) && !m.pop3Like() && !m.caps.Has(mailaccess.CapOffline)
}

// info builds the metadata of a message as this handle reports it.
func (m *Mailbox) info(folder string, s *stored) mailaccess.MessageInfo {
	info := mailaccess.MessageInfo{ID: idOf(s.uid), Folder: folder, Size: int64(len(s.raw))}
	if !m.pop3Like() {
		info.InternalDate = s.date // POP3 has no internal date
	}
	if m.numericUIDs() {
		info.UID = s.uid
	}
	if m.caps.Has(mailaccess.CapFlags) {
		info.Flags = slices.Clone(s.flags)
		if info.Flags == nil {
			info.Flags = []mailaccess.Flag{}
		}
	}
	if m.caps.Has(mailaccess.CapChanges) {
		info.ModSeq = s.modSeq
	}
	return info
}

type snap struct {
	info mailaccess.MessageInfo
	raw  []byte
}

// snapshot copies the visible messages of folder that pass keep. It takes
// both locks itself.
func (m *Mailbox) snapshot(folder string, keep func(*stored) bool) ([]snap, error) {
	hide := m.pendingCopy(canonFolder(folder))
	m.Store.mu.Lock()
	defer m.Store.mu.Unlock()
	f, err := m.folderLocked(folder)
	if err != nil {
		return nil, err
	}
	n := 0 // sized to what is kept: a filtered listing is usually small
	for _, s := range f.msgs {
		if !hide[s.uid] && (keep == nil || keep(s)) {
			n++
		}
	}
	out := make([]snap, 0, n)
	for _, s := range f.msgs {
		if hide[s.uid] || (keep != nil && !keep(s)) {
			continue
		}
		out = append(out, snap{info: m.info(f.name, s), raw: s.raw})
	}
	return out, nil
}

// List yields the folder's messages in UID order. ListOptions.Headers
// parses each header; MinUID and ChangedSince (which needs CapChanges)
// filter. The listing is a snapshot taken when iteration starts.
func (m *Mailbox) List(ctx context.Context, folder string, opts *mailaccess.ListOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		var o mailaccess.ListOptions
		if opts != nil {
			o = *opts
		}
		var need mailaccess.Capability
		if o.ChangedSince != 0 {
			need = mailaccess.CapChanges
		}
		if err := m.begin(ctx, OpList, folder, need); err != nil {
			yield(nil, err)
			return
		}
		minUID := o.MinUID
		if !m.numericUIDs() {
			minUID = 0 // MinUID is for stores with numeric UIDs; others ignore it
		}
		msgs, err := m.snapshot(folder, func(s *stored) bool {
			return s.uid >= minUID && (o.ChangedSince == 0 || s.modSeq > o.ChangedSince)
		})
		if err != nil {
			yield(nil, opErr(OpList, folder, err))
			return
		}
		for _, s := range msgs {
			if err := ctx.Err(); err != nil {
				yield(nil, opErr(OpList, folder, err))
				return
			}
			if o.Headers {
				h, err := mailaccess.ParseHeader(bytes.NewReader(s.raw))
				if err != nil {
					yield(nil, opErr(OpList, folder, fmt.Errorf("message %s: %w", s.info.ID, err)))
					return
				}
				s.info.Header = h
			}
			if !yield(driver.NewMessage(m, s.info), nil) {
				return
			}
		}
	}
}

// Open returns a reader over a snapshot of the message's bytes, or with
// CapPartial the part and byte range opts selects.
func (m *Mailbox) Open(ctx context.Context, folder string, id mailaccess.ID, opts *mailaccess.OpenOptions) (io.ReadCloser, error) {
	var need mailaccess.Capability
	if !opts.IsZero() {
		need = mailaccess.CapPartial
	}
	if err := m.begin(ctx, OpOpen, folder, need); err != nil {
		return nil, err
	}
	raw, err := m.raw(folder, id)
	if err != nil {
		return nil, opErr(OpOpen, folder, err)
	}
	if opts != nil {
		if len(opts.Part) > 0 {
			if raw, err = partBody(raw, opts.Part); err != nil {
				return nil, opErr(OpOpen, folder, err)
			}
		}
		if opts.Offset < 0 || opts.Length < 0 {
			return nil, opErr(OpOpen, folder, fmt.Errorf("negative offset or length: %w", mailaccess.ErrInvalid))
		}
		if opts.Offset > int64(len(raw)) {
			raw = nil
		} else {
			raw = raw[opts.Offset:]
		}
		if opts.Length > 0 && opts.Length < int64(len(raw)) {
			raw = raw[:opts.Length]
		}
	}
	var r io.Reader = bytes.NewReader(raw)
	if cut := m.bodyCut(); cut >= 0 && cut < int64(len(raw)) {
		r = &cutReader{r: io.LimitReader(r, cut), folder: folder}
	}
	return &body{r: r, ctx: ctx, folder: folder}, nil
}

func (m *Mailbox) raw(folder string, id mailaccess.ID) ([]byte, error) {
	hide := m.pendingCopy(canonFolder(folder))
	m.Store.mu.Lock()
	defer m.Store.mu.Unlock()
	f, err := m.folderLocked(folder)
	if err != nil {
		return nil, err
	}
	s, err := m.lookupLocked(f, id, hide)
	if err != nil {
		return nil, err
	}
	return s.raw, nil
}

type cutReader struct {
	r      io.Reader
	folder string
	op     Op // the operation reading; "" means OpOpen
}

func (c *cutReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		op := c.op
		if op == "" {
			op = OpOpen
		}
		err = opErr(op, c.folder, fmt.Errorf("%w (mailtest: body cut)", io.ErrUnexpectedEOF))
	}
	return n, err
}

// body is the reader Open returns: it stops with the context's error once
// the context ends, and with ErrClosed after Close.
type body struct {
	mu     sync.Mutex
	r      io.Reader
	ctx    context.Context
	folder string
	closed bool
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, opErr(OpOpen, b.folder, mailaccess.ErrClosed)
	}
	if err := b.ctx.Err(); err != nil {
		return 0, opErr(OpOpen, b.folder, err)
	}
	return b.r.Read(p)
}

func (b *body) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// FetchHeader returns the message's parsed header.
func (m *Mailbox) FetchHeader(ctx context.Context, folder string, id mailaccess.ID) (mailaccess.Header, error) {
	if err := m.begin(ctx, OpFetchHeader, folder, 0); err != nil {
		return mailaccess.Header{}, err
	}
	raw, err := m.raw(folder, id)
	if err != nil {
		return mailaccess.Header{}, opErr(OpFetchHeader, folder, err)
	}
	h, err := mailaccess.ParseHeader(bytes.NewReader(raw))
	if err != nil {
		return mailaccess.Header{}, opErr(OpFetchHeader, folder, err)
	}
	return h, nil
}

// SetFlags changes flags; needs CapFlags, and CapKeywords for keywords.
// Every message must exist, or nothing changes and the error wraps
// ErrNotFound.
func (m *Mailbox) SetFlags(ctx context.Context, folder string, ids []mailaccess.ID, op mailaccess.FlagOp, flags ...mailaccess.Flag) error {
	need := mailaccess.CapFlags
	for _, f := range flags {
		if !f.IsSystem() {
			need |= mailaccess.CapKeywords
		}
	}
	if err := m.begin(ctx, OpSetFlags, folder, need); err != nil {
		return err
	}
	if op != mailaccess.AddFlags && op != mailaccess.RemoveFlags && op != mailaccess.ReplaceFlags {
		return opErr(OpSetFlags, folder, fmt.Errorf("flag op %d: %w", op, mailaccess.ErrInvalid))
	}
	for _, f := range flags {
		if f == "" || strings.ContainsAny(string(f), " \t\r\n\x00()[]{\"%*") {
			return opErr(OpSetFlags, folder, fmt.Errorf("flag %q: %w", f, mailaccess.ErrInvalid))
		}
	}
	hide := m.pendingCopy(canonFolder(folder))
	m.Store.mu.Lock()
	defer m.Store.mu.Unlock()
	f, err := m.folderLocked(folder)
	if err != nil {
		return opErr(OpSetFlags, folder, err)
	}
	targets := make([]*stored, 0, len(ids))
	for _, id := range ids {
		s, err := m.lookupLocked(f, id, hide)
		if err != nil {
			return opErr(OpSetFlags, folder, err)
		}
		targets = append(targets, s)
	}
	changed := false
	for _, s := range targets {
		if applyFlags(s, op, flags) {
			f.modSeq++
			s.modSeq = f.modSeq
			changed = true
		}
	}
	if changed {
		m.Store.notifyLocked()
	}
	return nil
}

// Delete removes messages (every one must exist): at once, or with
// CapDeferredDelete hidden from this handle until Commit.
func (m *Mailbox) Delete(ctx context.Context, folder string, ids ...mailaccess.ID) error {
	if err := m.begin(ctx, OpDelete, folder, mailaccess.CapDelete); err != nil {
		return err
	}
	name := canonFolder(folder)
	hide := m.pendingCopy(name)
	m.Store.mu.Lock()
	f, err := m.folderLocked(folder)
	if err != nil {
		m.Store.mu.Unlock()
		return opErr(OpDelete, folder, err)
	}
	set := map[uint32]bool{}
	for _, id := range ids {
		s, err := m.lookupLocked(f, id, hide)
		if err != nil {
			m.Store.mu.Unlock()
			return opErr(OpDelete, folder, err)
		}
		set[s.uid] = true
	}
	if !m.caps.Has(mailaccess.CapDeferredDelete) {
		if len(f.removeLocked(set)) > 0 {
			m.Store.notifyLocked()
		}
		m.Store.mu.Unlock()
		return nil
	}
	m.Store.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending == nil {
		m.pending = map[string]map[uint32]bool{}
	}
	if m.pending[name] == nil {
		m.pending[name] = map[uint32]bool{}
	}
	for uid := range set {
		m.pending[name][uid] = true
	}
	return nil
}

// Commit applies pending deferred deletes (CapDeferredDelete); without
// that capability there is never anything pending and it returns nil.
func (m *Mailbox) Commit(ctx context.Context) error {
	if err := m.begin(ctx, OpCommit, "", 0); err != nil {
		return err
	}
	m.mu.Lock()
	pending := m.pending
	m.pending = nil
	m.mu.Unlock()
	m.Store.mu.Lock()
	defer m.Store.mu.Unlock()
	changed := false
	for name, set := range pending {
		if f := m.Store.folders[name]; f != nil && len(f.removeLocked(set)) > 0 {
			changed = true
		}
	}
	if changed {
		m.Store.notifyLocked()
	}
	return nil
}

// Append stores the bytes of r in folder and returns the new ID. Flags
// need CapFlags (keywords CapKeywords); a zero date means now.
func (m *Mailbox) Append(ctx context.Context, folder string, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	var o mailaccess.AppendOptions
	if opts != nil {
		o = *opts
	}
	need := mailaccess.CapAppend
	for _, f := range o.Flags {
		need |= mailaccess.CapFlags
		if !f.IsSystem() {
			need |= mailaccess.CapKeywords
		}
	}
	if err := m.begin(ctx, OpAppend, folder, need); err != nil {
		return "", err
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return "", opErr(OpAppend, folder, err)
	}
	if err := ctx.Err(); err != nil {
		return "", opErr(OpAppend, folder, err)
	}
	if o.Date.IsZero() {
		o.Date = time.Now()
	}
	m.Store.mu.Lock()
	defer m.Store.mu.Unlock()
	f, err := m.folderLocked(folder)
	if err != nil {
		return "", opErr(OpAppend, folder, err)
	}
	s := f.appendLocked(raw, o.Flags, o.Date)
	m.Store.notifyLocked()
	return idOf(s.uid), nil
}

// Copy copies messages to dest and returns their new IDs. Needs CapCopy.
func (m *Mailbox) Copy(ctx context.Context, folder string, ids []mailaccess.ID, dest string) ([]mailaccess.ID, error) {
	if err := m.begin(ctx, OpCopy, folder, mailaccess.CapCopy); err != nil {
		return nil, err
	}
	return m.transfer(OpCopy, folder, ids, dest, false)
}

// Move moves messages to dest and returns their new IDs. Needs CapMove,
// or CapCopy with CapDelete.
func (m *Mailbox) Move(ctx context.Context, folder string, ids []mailaccess.ID, dest string) ([]mailaccess.ID, error) {
	need := mailaccess.CapMove
	if !m.caps.Has(mailaccess.CapMove) && m.caps.Has(mailaccess.CapCopy|mailaccess.CapDelete) {
		need = mailaccess.CapCopy | mailaccess.CapDelete
	}
	if err := m.begin(ctx, OpMove, folder, need); err != nil {
		return nil, err
	}
	return m.transfer(OpMove, folder, ids, dest, true)
}

func (m *Mailbox) transfer(op Op, folder string, ids []mailaccess.ID, dest string, remove bool) ([]mailaccess.ID, error) {
	hide := m.pendingCopy(canonFolder(folder))
	m.Store.mu.Lock()
	defer m.Store.mu.Unlock()
	src, err := m.folderLocked(folder)
	if err != nil {
		return nil, opErr(op, folder, err)
	}
	dst, err := m.folderLocked(dest)
	if err != nil {
		return nil, opErr(op, folder, fmt.Errorf("destination: %w", err))
	}
	msgs := make([]*stored, 0, len(ids))
	for _, id := range ids {
		s, err := m.lookupLocked(src, id, hide)
		if err != nil {
			return nil, opErr(op, folder, err)
		}
		msgs = append(msgs, s)
	}
	out := make([]mailaccess.ID, 0, len(msgs))
	set := map[uint32]bool{}
	for _, s := range msgs {
		n := dst.appendLocked(s.raw, s.flags, s.date)
		out = append(out, idOf(n.uid))
		set[s.uid] = true
	}
	if remove && src != dst {
		src.removeLocked(set)
	}
	m.Store.notifyLocked()
	return out, nil
}

// CreateFolder creates a folder. Needs CapManageFolders.
func (m *Mailbox) CreateFolder(ctx context.Context, name string) error {
	if err := m.begin(ctx, OpCreateFolder, name, mailaccess.CapManageFolders|mailaccess.CapFolders); err != nil {
		return err
	}
	if err := checkFolderName(name); err != nil {
		return opErr(OpCreateFolder, name, err)
	}
	m.Store.mu.Lock()
	defer m.Store.mu.Unlock()
	if m.Store.folders[canonFolder(name)] != nil {
		return opErr(OpCreateFolder, name, fmt.Errorf("folder exists: %w", mailaccess.ErrInvalid))
	}
	m.Store.createLocked(name)
	return nil
}

// RenameFolder renames a folder other than INBOX. Needs CapManageFolders.
func (m *Mailbox) RenameFolder(ctx context.Context, name, newName string) error {
	if err := m.begin(ctx, OpRenameFolder, name, mailaccess.CapManageFolders|mailaccess.CapFolders); err != nil {
		return err
	}
	if err := checkFolderName(newName); err != nil {
		return opErr(OpRenameFolder, name, err)
	}
	m.Store.mu.Lock()
	defer m.Store.mu.Unlock()
	name, newName = canonFolder(name), canonFolder(newName)
	f := m.Store.folders[name]
	switch {
	case name == mailaccess.Inbox || newName == mailaccess.Inbox:
		return opErr(OpRenameFolder, name, fmt.Errorf("cannot rename INBOX: %w", mailaccess.ErrInvalid))
	case f == nil:
		return opErr(OpRenameFolder, name, mailaccess.ErrNotFound)
	case m.Store.folders[newName] != nil:
		return opErr(OpRenameFolder, name, fmt.Errorf("folder %q exists: %w", newName, mailaccess.ErrInvalid))
	}
	delete(m.Store.folders, name)
	f.name = newName
	m.Store.nextValid++
	f.uidValidity = m.Store.nextValid
	m.Store.folders[newName] = f
	m.Store.notifyLocked()
	return nil
}

// DeleteFolder deletes a folder other than INBOX and its messages. Needs
// CapManageFolders.
func (m *Mailbox) DeleteFolder(ctx context.Context, name string) error {
	if err := m.begin(ctx, OpDeleteFolder, name, mailaccess.CapManageFolders|mailaccess.CapFolders); err != nil {
		return err
	}
	m.Store.mu.Lock()
	defer m.Store.mu.Unlock()
	name = canonFolder(name)
	if name == mailaccess.Inbox {
		return opErr(OpDeleteFolder, name, fmt.Errorf("cannot delete INBOX: %w", mailaccess.ErrInvalid))
	}
	if m.Store.folders[name] == nil {
		return opErr(OpDeleteFolder, name, mailaccess.ErrNotFound)
	}
	delete(m.Store.folders, name)
	m.Store.notifyLocked()
	return nil
}

func checkFolderName(name string) error {
	if name == "" || strings.ContainsAny(name, "\r\n\x00") {
		return fmt.Errorf("folder name %s: %w", strconv.Quote(name), mailaccess.ErrInvalid)
	}
	return nil
}

// Watch reports changes to folder until ctx ends: pushed (Event.Push
// true) as they happen with CapPush, found by polling every
// WatchOptions.PollInterval (default 1 minute) otherwise. It is the
// polling watch every driver without push shares (driver.PollWatch); the
// fake's push only replaces the poll interval by a wake-up at each
// change. It ends with ctx.Err(), or with the error that broke the handle
// (Close, DropConnections).
func (m *Mailbox) Watch(ctx context.Context, folder string, opts *mailaccess.WatchOptions) iter.Seq2[mailaccess.Event, error] {
	return func(yield func(mailaccess.Event, error) bool) {
		if err := m.begin(ctx, OpWatch, folder, 0); err != nil {
			yield(mailaccess.Event{}, err)
			return
		}
		push := m.caps.Has(mailaccess.CapPush)
		// The watch counts in Store.Watching once its first snapshot is
		// taken (a message added after that is reported), not before.
		registered := false
		defer func() {
			if registered {
				m.Store.watchers(canonFolder(folder), -1)
			}
		}()
		poll := func(context.Context) (driver.Snapshot, error) {
			if err := m.alive(); err != nil {
				return driver.Snapshot{}, err
			}
			st, wake, err := m.watchState(folder)
			if err != nil {
				return driver.Snapshot{}, err
			}
			if !registered {
				registered = true
				m.Store.watchers(canonFolder(folder), 1)
			}
			snap := driver.Snapshot{Epoch: st.validity}
			for _, uid := range st.order {
				snap.IDs = append(snap.IDs, idOf(uid))
				snap.Versions = append(snap.Versions, strconv.FormatUint(st.mods[uid], 10))
			}
			if push {
				snap.Wake = wake
			}
			return snap, nil
		}
		permanent := func(err error) bool {
			return driver.Permanent(err) || errors.Is(err, ErrConnectionDropped)
		}
		for ev, err := range driver.PollWatch(ctx, folder, opts, driver.Poller{Errors: errs, Poll: poll, Permanent: permanent}) {
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

func (m *Mailbox) alive() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return mailaccess.ErrClosed
	case m.dropped:
		return ErrConnectionDropped
	}
	return nil
}

type watchState struct {
	validity uint32
	mods     map[uint32]uint64 // uid → modseq
	order    []uint32
}

func (m *Mailbox) watchState(folder string) (watchState, <-chan struct{}, error) {
	hide := m.pendingCopy(canonFolder(folder))
	m.Store.mu.Lock()
	defer m.Store.mu.Unlock()
	f, err := m.folderLocked(folder)
	if err != nil {
		return watchState{}, nil, err
	}
	st := watchState{validity: f.uidValidity, mods: map[uint32]uint64{}}
	for _, s := range f.msgs {
		if !hide[s.uid] {
			st.mods[s.uid] = s.modSeq
			st.order = append(st.order, s.uid)
		}
	}
	return st, m.Store.changed, nil
}
