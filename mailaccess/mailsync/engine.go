package mailsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// batchBodyLimit is the largest message the batch reader buffers in memory
// to hand to a writer goroutine; larger ones are written while streaming.
// Memory in flight is bounded by (Concurrency+1) × batchBodyLimit.
const batchBodyLimit = 1 << 20

// New returns a [Sync] that brings dst up to date with src.
//
// How changes are found, per source folder:
//   - IMAP-like sources ([mailaccess.CapUID], a non-zero UIDVALIDITY and UIDNEXT):
//     Status first; if UIDVALIDITY, UIDNEXT, the message count and (with
//     [mailaccess.CapChanges]) HIGHESTMODSEQ equal the committed state, nothing else
//     is asked of the source: a no-op resync costs one Status per folder.
//     Otherwise new mail is listed with ListOptions.MinUID, flag changes
//     with ChangedSince ([mailaccess.CapChanges]) and, when the count does not add
//     up, a full metadata listing finds deletions by set difference.
//     Without CapChanges but with [mailaccess.CapFlags] every run lists the folder's
//     metadata to see flag changes.
//   - Sources with stable IDs but no UIDs (POP3 UIDL, Maildir): a full
//     listing (one round trip for POP3) and a set difference.
//   - Sources without [mailaccess.CapUID]: messages are identified by content. With
//     [mailaccess.CapHeaders] the identity is SHA-256(Message-ID, Date, size) from a
//     header fetch per message per run; otherwise SHA-256 of the whole
//     message, which downloads every message on every run. Two messages
//     with the same identity are treated as duplicates.
//
// Storing: Concurrency workers append the downloaded messages to dst
// (sources with a batch read, both drivers, stream many bodies per round
// trip; Maildir stages keyed appends without a name and without an fsync).
// Every BatchSize stored messages (or every eighth of the folder's recorded
// messages when that is more, so that rewriting the whole state record
// stays linear in the folder's size), and at the end or on cancellation,
// the engine calls [Flush] on dst (Maildir: one file-system sync for the
// data of the whole batch, then the names, then one fsync per changed
// directory) and then saves the state that records them. A message counts
// as stored only after both. Commits run in the background: the workers
// go on downloading and writing the next batch while one commits, so the
// disk's sync and the network overlap. Deletions from the source
// (Retention) are sent only for messages in saved state, and [mailaccess.Commit] is
// called on sources with [mailaccess.CapDeferredDelete] (POP3) after them.
//
// Duplicates after a crash are prevented with idempotent appends when dst
// offers them (maildir.Store.AppendWithKey: the file name carries a hash of
// account, folder, UIDVALIDITY and source ID). For other destinations the
// engine first saves "pending" entries for the messages it is about to
// append; on the next run a pending entry is matched against the
// destination by Message-ID and size before anything is appended again
// (a message without Message-ID may then be stored twice).
//
// Options.Account defaults to "protocol:user@host:port" for sources
// that expose their Config through As (the imap and pop3 drivers), else to
// the protocol name ("mem", "maildir"). Set it whenever more than one such
// source syncs into the same store: both the state records and the keys
// that recognise already-stored messages are per account.
//
// New fails if dst cannot append, if no StateStore is given and dst
// does not provide one, or if a Retention or TwoWayFlags needs a
// capability src lacks.
func New(src, dst mailaccess.Mailbox, opts *Options) (mailaccess.Sync, error) {
	if src == nil || dst == nil {
		return nil, fmt.Errorf("mailsync: New: nil source or destination: %w", mailaccess.ErrInvalid)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if !dst.Capabilities().Has(mailaccess.CapAppend) {
		return nil, driver.Unsupported(driver.ProtocolOf(dst), "sync into", mailaccess.CapAppend)
	}
	if o.Retention.Policy != KeepOnServer && !src.Capabilities().Has(mailaccess.CapDelete) {
		return nil, &mailaccess.UnsupportedError{Op: "sync retention " + o.Retention.String(), Protocol: driver.ProtocolOf(src), Missing: mailaccess.CapDelete}
	}
	if o.Retention.Policy == DeleteAfterAge && o.Retention.MaxAge <= 0 {
		return nil, fmt.Errorf("mailsync: New: retention after age needs a positive MaxAge: %w", mailaccess.ErrInvalid)
	}
	if o.TwoWayFlags && !src.Capabilities().Has(mailaccess.CapFlags) {
		return nil, &mailaccess.UnsupportedError{Op: "sync two-way flags", Protocol: driver.ProtocolOf(src), Missing: mailaccess.CapFlags}
	}
	if o.State == nil {
		p, ok := driver.Find[StateStoreProvider](dst)
		if !ok {
			return nil, fmt.Errorf("mailsync: New: Options.State is nil and the destination (%s) keeps no sync state: %w", driver.ProtocolOf(dst), mailaccess.ErrInvalid)
		}
		ss, err := p.SyncState()
		if err != nil {
			return nil, err
		}
		o.State = ss
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.Account == "" {
		o.Account = defaultAccount(src)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &syncer{src: src, dst: dst, o: o}
	// The batch forms of Append and Open are found like every optional
	// interface, through As too, so a wrapper that only embeds a Mailbox
	// syncs exactly as the Mailbox would. A wrapper that replaces Append
	// or Open keeps them from being found around it (see package driver).
	if ka, ok := driver.Find[driver.KeyedAppender](dst); ok {
		s.keyed = ka
	}
	if bo, ok := driver.Find[driver.BatchOpener](src); ok {
		s.batch = bo
	}
	return s, nil
}

type syncer struct {
	src, dst mailaccess.Mailbox
	o        Options
	keyed    driver.KeyedAppender
	batch    driver.BatchOpener
	dstDelim *string
}

// Run syncs every selected folder; see [Sync].
func (s *syncer) Run(ctx context.Context) (*mailaccess.SyncReport, error) {
	rep := &mailaccess.SyncReport{Started: s.o.Now()}
	start := time.Now()
	defer func() { rep.Duration = time.Since(start) }()
	unlock, err := s.o.State.Lock(ctx)
	if err != nil {
		return rep, err
	}
	defer unlock()
	folders, err := s.folders(ctx)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, f := range folders {
		fr, err := s.syncFolder(ctx, f)
		rep.Folders = append(rep.Folders, fr)
		if err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
	}
	return rep, errors.Join(errs...)
}

type srcFolder struct {
	name, delim string
}

// folders resolves Options.Folders against the source.
func (s *syncer) folders(ctx context.Context) ([]srcFolder, error) {
	if len(s.o.Folders) == 0 {
		return []srcFolder{{name: mailaccess.Inbox}}, nil
	}
	var all []mailaccess.Folder
	if s.src.Capabilities().Has(mailaccess.CapFolders) {
		var err error
		if all, err = s.src.Folders(ctx); err != nil {
			return nil, err
		}
	} else {
		all = []mailaccess.Folder{{Name: mailaccess.Inbox}}
	}
	var out []srcFolder
	seen := map[string]bool{}
	for _, pat := range s.o.Folders {
		re, err := regexp.Compile("^(?i:" + strings.ReplaceAll(regexp.QuoteMeta(pat), `\*`, ".*") + ")$")
		if err != nil {
			return nil, fmt.Errorf("mailsync: folder pattern %q: %w", pat, mailaccess.ErrInvalid)
		}
		matched := false
		for _, f := range all {
			if f.NoSelect || !re.MatchString(f.Name) {
				continue
			}
			matched = true
			if !seen[f.Name] {
				seen[f.Name] = true
				out = append(out, srcFolder{f.Name, f.Delimiter})
			}
		}
		if !matched && !strings.Contains(pat, "*") && !seen[pat] {
			seen[pat] = true
			out = append(out, srcFolder{name: pat}) // Status will report it missing
		}
	}
	return out, nil
}

// destFolder maps a source folder to the destination, by default keeping
// the name with the source's hierarchy delimiter replaced by the
// destination's.
func (s *syncer) destFolder(ctx context.Context, f srcFolder) string {
	if s.o.DestFolder != nil {
		return s.o.DestFolder(f.name)
	}
	if strings.EqualFold(f.name, mailaccess.Inbox) || f.delim == "" {
		return f.name
	}
	if s.dstDelim == nil {
		d := ""
		if s.dst.Capabilities().Has(mailaccess.CapFolders) {
			if fs, err := s.dst.Folders(ctx); err == nil && len(fs) > 0 {
				d = fs[0].Delimiter
			}
		}
		s.dstDelim = &d
	}
	if *s.dstDelim == "" || *s.dstDelim == f.delim {
		return f.name
	}
	return strings.ReplaceAll(f.name, f.delim, *s.dstDelim)
}

// item is a message listed on the source.
type item struct {
	key  mailaccess.ID // state key: the source ID, or "h:"+identity in hash mode
	info mailaccess.MessageInfo
	akey string // destination append key (set before the transfer)
}

type folderRun struct {
	s         *syncer
	folder    string
	dest      string
	st        *folderState
	fr        *mailaccess.FolderReport
	caps      mailaccess.Capability
	dstCaps   mailaccess.Capability
	errs      []error
	dstExists bool
	// count is the folder's message count from Status: the capacity a
	// full listing starts with.
	count int
}

func (r *folderRun) fail(err error) {
	r.errs = append(r.errs, err)
	r.fr.Errors = append(r.fr.Errors, err.Error())
}

func (r *folderRun) note(format string, args ...any) {
	r.fr.Notes = append(r.fr.Notes, fmt.Sprintf(format, args...))
	r.s.o.Logger.Info("sync: "+fmt.Sprintf(format, args...), "folder", r.folder)
}

func (s *syncer) syncFolder(ctx context.Context, f srcFolder) (mailaccess.FolderReport, error) {
	fr := mailaccess.FolderReport{Folder: f.name}
	r := &folderRun{s: s, folder: f.name, fr: &fr, caps: s.src.Capabilities(), dstCaps: s.dst.Capabilities()}
	err := r.run(ctx, f)
	if err != nil {
		r.fail(err)
	}
	if len(r.errs) > 0 {
		return fr, &mailaccess.OpError{Op: "sync", Protocol: driver.ProtocolOf(s.src), Folder: f.name, Err: errors.Join(r.errs...)}
	}
	return fr, nil
}

func (r *folderRun) run(ctx context.Context, f srcFolder) error {
	s := r.s
	r.dest = s.destFolder(ctx, f)
	status, err := s.src.Status(ctx, r.folder)
	if err != nil {
		return err
	}
	r.count = status.Messages
	listed0, same, err := r.unchanged(ctx, status)
	if err != nil || same {
		return err
	}
	st, err := loadState(ctx, s.o.State, s.o.Account, r.folder)
	if err != nil {
		return err
	}
	r.st = st
	mode := "hash"
	if r.caps.Has(mailaccess.CapUID) {
		mode = "list"
		if status.UIDValidity != 0 && status.UIDNext != 0 {
			mode = "uid"
		}
	}
	if st.Dest != "" && st.Dest != r.dest {
		r.note("destination folder changed from %q to %q; messages already stored stay in %q", st.Dest, r.dest, st.Dest)
	}

	// A UIDVALIDITY change (or a change of identification mode) voids
	// every recorded source ID: re-identify by Message-ID and size.
	var reident []stateMsg
	if st.Mode != "" && len(st.Msgs) > 0 && (st.Mode != mode || st.UIDValidity != status.UIDValidity) {
		if st.Mode != mode {
			r.note("source identification changed from %s to %s; re-identifying %d stored messages by Message-ID and size", st.Mode, mode, len(st.Msgs))
		} else {
			r.note("UIDVALIDITY changed from %d to %d; re-identifying %d stored messages by Message-ID and size, no local mail is deleted", st.UIDValidity, status.UIDValidity, len(st.Msgs))
		}
		reident = st.Msgs
		st.Msgs = nil
		st.reindex()
		st.UIDNext, st.ModSeq, st.Count, st.Clean = 0, 0, -1, false
	}
	prevMode, prevValidity := st.Mode, st.UIDValidity
	st.Mode, st.UIDValidity, st.Dest = mode, status.UIDValidity, r.dest
	if st.Account == "" {
		st.Account, st.Folder = s.o.Account, r.folder
	}

	// Pending entries of a destination without keyed appends.
	if err := r.reconcilePending(ctx); err != nil {
		return err
	}

	// Decide what to list.
	trackFlags := r.caps.Has(mailaccess.CapFlags)
	noop := mode == "uid" && st.Clean && st.UIDNext == status.UIDNext && st.Count == status.Messages &&
		(r.caps.Has(mailaccess.CapChanges) && status.HighestModSeq == st.ModSeq || !trackFlags)
	var items []item
	full := false
	switch {
	case noop:
	case mode == "uid" && st.Clean && st.UIDNext != 0 && reident == nil && (r.caps.Has(mailaccess.CapChanges) || !trackFlags):
		if items, err = r.list(ctx, &mailaccess.ListOptions{MinUID: st.UIDNext}, mode); err != nil {
			return err
		}
		if trackFlags && status.HighestModSeq != st.ModSeq {
			changed, err := r.list(ctx, &mailaccess.ListOptions{ChangedSince: st.ModSeq}, mode)
			if err != nil {
				return err
			}
			have := make(map[mailaccess.ID]bool, len(items))
			for _, it := range items {
				have[it.key] = true
			}
			for _, it := range changed {
				if !have[it.key] {
					items = append(items, it)
				}
			}
		}
		newCount := 0
		for _, it := range items {
			if m, ok := st.get(it.key); !ok || m.Pending {
				newCount++
			}
		}
		if status.Messages != st.live()+newCount {
			full = true
		}
	default:
		full = true
	}
	if full && listed0 != nil && reident == nil {
		items = listed0
	} else if full {
		if items, err = r.list(ctx, &mailaccess.ListOptions{Headers: reident != nil && r.caps.Has(mailaccess.CapHeaders)}, mode); err != nil {
			return err
		}
	}
	r.s.o.Logger.Debug("sync: listed", "folder", r.folder, "mode", mode, "noop", noop, "full", full, "items", len(items))

	// Duplicate IDs (POP3 UIDL collisions): keep the first, report the rest.
	dup := map[mailaccess.ID]int{}
	uniq := items[:0:0]
	for _, it := range items {
		if dup[it.key]++; dup[it.key] == 1 {
			uniq = append(uniq, it)
		}
	}
	for id, n := range dup {
		if n > 1 {
			r.note("source lists ID %q %d times; only the first is stored (the others cannot be told apart by ID) and none of them is deleted from the source", id, n)
			r.fr.Skipped += n - 1
		} else {
			delete(dup, id)
		}
	}
	items = uniq

	// An empty listing while the state knows messages is not a mass
	// deletion (a server reset, a wrong account): keep the state as it was.
	if full && len(items) == 0 && (st.live() > 0 || len(reident) > 0) {
		if reident != nil {
			st.Msgs, st.Mode, st.UIDValidity = reident, prevMode, prevValidity
			st.reindex()
		}
		r.note("source lists no messages while %d are recorded as stored; not treated as deletions (nothing deleted locally, state kept)", st.live())
		if st.Clean || reident != nil {
			st.Clean = false
			if err := st.save(ctx, s.o.State); err != nil {
				return fmt.Errorf("commit sync state: %w", err)
			}
		}
		return nil
	}
	if reident != nil {
		r.reidentify(reident, items)
	}

	// What to fetch, what changed, what is gone.
	now := s.o.Now()
	var fetch []item
	var redelete []item
	listed := make(map[mailaccess.ID]item, len(items))
	for _, it := range items {
		listed[it.key] = it
		m, ok := st.get(it.key)
		switch {
		case !ok || m.Pending:
			fetch = append(fetch, it)
		case m.Deleted && m.Size == it.info.Size:
			redelete = append(redelete, it) // our delete did not take effect yet
		case m.Deleted:
			r.note("source ID %q was deleted by retention and is reused by a new message (size %d, was %d); storing it as new", it.key, it.info.Size, m.Size)
			m.Gen++
			m.Deleted = false
			m.Pending = true // fetch again under a new key
			m.First = now.Unix()
			fetch = append(fetch, it)
		}
	}

	// Store new messages.
	if len(fetch) > 0 {
		if err := r.transfer(ctx, fetch); err != nil {
			return err
		}
	}
	dirty := len(fetch) > 0 || reident != nil

	// Flags.
	if (len(items) > 0 || s.o.TwoWayFlags) && trackFlags {
		changed, err := r.syncFlags(ctx, listed)
		if err != nil {
			r.fail(err)
		}
		dirty = dirty || changed
	}

	// Deletions on the source.
	if full {
		gone := map[mailaccess.ID]bool{}
		var goneDst []mailaccess.ID
		for _, m := range st.Msgs {
			if _, ok := listed[m.Src]; ok {
				continue
			}
			gone[m.Src] = true
			if !m.Deleted && !m.Pending && m.Dst != "" {
				goneDst = append(goneDst, m.Dst)
			}
		}
		if len(goneDst) > 0 && s.o.MirrorDeletes {
			if err := r.mirrorDeletes(ctx, goneDst); err != nil {
				return err
			}
		}
		if len(gone) > 0 {
			st.remove(gone)
			dirty = true
		}
	}

	// Record the checkpoint only for a complete, error-free pass.
	if len(r.errs) == 0 {
		listing := ""
		if mode == "list" && full && len(dup) == 0 {
			listing = listingDigest(items, trackFlags)
		}
		if st.UIDNext != status.UIDNext || st.ModSeq != status.HighestModSeq || st.Count != status.Messages || !st.Clean || st.Listing != listing {
			dirty = true
		}
		st.UIDNext, st.ModSeq, st.Count, st.Clean, st.Listing = status.UIDNext, status.HighestModSeq, status.Messages, true, listing
	} else if st.Clean {
		st.Clean, st.Listing = false, ""
		dirty = true
	}
	if dirty {
		if err := st.save(ctx, s.o.State); err != nil {
			return fmt.Errorf("commit sync state: %w", err)
		}
	}

	// Retention, only for messages recorded in saved state.
	if s.o.Retention.Policy != KeepOnServer && len(r.errs) == 0 {
		return r.retention(ctx, listed, redelete, dup, full, now)
	}
	return nil
}

// defaultAccount names a source in the sync state when Options.Account
// is empty: "protocol:user@host:port" when the driver exposes its Config
// (driver.ConfigProvider: the imap and pop3 drivers do), so two accounts
// syncing into one store keep apart; else the protocol name.
func defaultAccount(src mailaccess.Mailbox) string {
	if c, ok := driver.ConfigOf(src); ok && c.Host != "" {
		cfg := driver.NewConfig(c)
		return cfg.Protocol() + ":" + c.User + "@" + cfg.Addr()
	}
	return driver.ProtocolOf(src)
}

// unchanged reports whether the committed state says the folder is
// exactly as the source shows it, so that nothing at all needs doing. It
// reads only the head of the state record, so its cost does not grow with
// the folder:
//   - an IMAP-like source (UIDVALIDITY and UIDNEXT): Status alone decides,
//     with HIGHESTMODSEQ when the source tracks flags;
//   - a source with stable IDs but no UIDNEXT (POP3 UIDL, Maildir): the
//     folder is listed and the listing's digest compared with the one the
//     last clean pass recorded. When it differs, listed is that listing,
//     for the full pass to use.
//
// Anything that needs the per-message records (two-way flags, retention,
// pending appends of a destination without keyed appends) takes the full
// path.
func (r *folderRun) unchanged(ctx context.Context, status mailaccess.FolderStatus) (listed []item, same bool, err error) {
	s := r.s
	if s.keyed == nil || s.o.TwoWayFlags || s.o.Retention.Policy != KeepOnServer || !r.caps.Has(mailaccess.CapUID) {
		return nil, false, nil
	}
	head, ok := loadStateHead(ctx, s.o.State, s.o.Account, r.folder)
	if !ok || !head.Clean || head.Dest != r.dest || head.Count != status.Messages {
		return nil, false, nil
	}
	trackFlags := r.caps.Has(mailaccess.CapFlags)
	if status.UIDValidity != 0 && status.UIDNext != 0 {
		return nil, head.Mode == "uid" && head.UIDValidity == status.UIDValidity && head.UIDNext == status.UIDNext &&
			(r.caps.Has(mailaccess.CapChanges) && status.HighestModSeq == head.ModSeq || !trackFlags), nil
	}
	if head.Mode != "list" || head.Listing == "" {
		return nil, false, nil
	}
	if listed, err = r.list(ctx, nil, "list"); err != nil {
		return nil, false, err
	}
	return listed, listingDigest(listed, trackFlags) == head.Listing, nil
}

// list lists the source folder and computes each message's state key.
func (r *folderRun) list(ctx context.Context, opts *mailaccess.ListOptions, mode string) ([]item, error) {
	var out []item
	if opts == nil || opts.MinUID == 0 && opts.ChangedSince == 0 {
		out = make([]item, 0, min(max(r.count, 0), 1<<20))
	}
	for m, err := range r.s.src.List(ctx, r.folder, opts) {
		if err != nil {
			return nil, err
		}
		info := m.Info()
		key := info.ID
		if mode == "hash" {
			k, err := r.identity(ctx, info)
			if err != nil {
				return nil, err
			}
			key = k
		}
		out = append(out, item{key: key, info: info})
	}
	return out, nil
}

// identity is the content identity of a message of a source without
// stable IDs: SHA-256 of Message-ID, Date and size when headers can be
// fetched alone, else of the whole message.
func (r *folderRun) identity(ctx context.Context, info mailaccess.MessageInfo) (mailaccess.ID, error) {
	h := sha256.New()
	if r.caps.Has(mailaccess.CapHeaders) {
		hdr := info.Header
		if hdr.IsZero() {
			var err error
			if hdr, err = r.s.src.FetchHeader(ctx, r.folder, info.ID); err != nil {
				return "", err
			}
		}
		if mid := hdr.MessageID(); mid != "" {
			fmt.Fprintf(h, "mid\x00%s\x00%s\x00%d", mid, hdr.Get("Date"), info.Size)
			return mailaccess.ID("h:" + hex.EncodeToString(h.Sum(nil)[:16])), nil
		}
	}
	rc, err := r.s.src.Open(ctx, r.folder, info.ID, nil)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return mailaccess.ID("h:" + hex.EncodeToString(h.Sum(nil)[:16])), nil
}

// reidentify maps old entries to newly listed messages by Message-ID and
// size after a UIDVALIDITY change.
func (r *folderRun) reidentify(old []stateMsg, items []item) {
	type k struct {
		mid  string
		size int64
	}
	byKey := map[k][]stateMsg{}
	for _, m := range old {
		if m.MsgID != "" && !m.Deleted && !m.Pending {
			byKey[k{m.MsgID, m.Size}] = append(byKey[k{m.MsgID, m.Size}], m)
		}
	}
	matched := 0
	for _, it := range items {
		mid := it.info.Header.MessageID()
		c := byKey[k{mid, it.info.Size}]
		if mid == "" || len(c) == 0 {
			continue
		}
		m := c[0]
		byKey[k{mid, it.info.Size}] = c[1:]
		m.Src = it.key
		m.Gen = 0
		r.st.put(m)
		matched++
	}
	if lost := len(old) - matched; lost > 0 {
		r.note("%d of %d stored messages could not be re-identified; they stay in the destination, and any still on the source is stored again", lost, len(old))
	} else {
		r.note("all %d stored messages re-identified", matched)
	}
}

// reconcilePending resolves entries saved as pending (destinations
// without keyed appends) by looking for them in the destination.
func (r *folderRun) reconcilePending(ctx context.Context) error {
	var pending []*stateMsg
	for i := range r.st.Msgs {
		if r.st.Msgs[i].Pending {
			pending = append(pending, &r.st.Msgs[i])
		}
	}
	if len(pending) == 0 || r.s.keyed != nil {
		return nil
	}
	type k struct {
		mid  string
		size int64
	}
	have := map[k][]mailaccess.ID{}
	for m, err := range r.s.dst.List(ctx, r.dest, &mailaccess.ListOptions{Headers: true}) {
		if err != nil {
			if errors.Is(err, mailaccess.ErrNotFound) {
				break
			}
			return err
		}
		info := m.Info()
		if mid := info.Header.MessageID(); mid != "" {
			have[k{mid, info.Size}] = append(have[k{mid, info.Size}], info.ID)
		}
	}
	used := map[mailaccess.ID]bool{}
	for _, m := range r.st.Msgs {
		if !m.Pending && m.Dst != "" {
			used[m.Dst] = true
		}
	}
	adopted := 0
	for _, p := range pending {
		hdr, err := r.s.src.FetchHeader(ctx, r.folder, p.Src)
		if err != nil {
			continue // gone or unreadable: fetched again if still listed
		}
		for _, id := range have[k{hdr.MessageID(), p.Size}] {
			if hdr.MessageID() != "" && !used[id] {
				used[id] = true
				p.Dst, p.Pending, p.MsgID = id, false, hdr.MessageID()
				adopted++
				break
			}
		}
	}
	if adopted > 0 {
		r.note("%d messages stored by an interrupted run were found in the destination and not stored again", adopted)
	}
	return nil
}

// result is a worker's outcome for one message.
type result struct {
	it    item
	dst   mailaccess.ID
	size  int64
	msgID string
	err   error
}

// headCapture keeps the first bytes of a message, to read its Message-ID.
type headCapture struct{ b []byte }

func (h *headCapture) Write(p []byte) (int, error) {
	if room := headLimit - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// dstFlags filters flags to what the destination can keep.
func (r *folderRun) dstFlags(flags []mailaccess.Flag) []mailaccess.Flag {
	if !r.dstCaps.Has(mailaccess.CapFlags) {
		return nil
	}
	var out []mailaccess.Flag
	for _, f := range flags {
		if strings.EqualFold(string(f), `\Recent`) {
			continue
		}
		if f.IsSystem() || r.dstCaps.Has(mailaccess.CapKeywords) {
			out = append(out, f)
		}
	}
	return out
}

// srcFlags filters flags to what the source can keep.
func (r *folderRun) srcFlags(flags []mailaccess.Flag) []mailaccess.Flag {
	var out []mailaccess.Flag
	for _, f := range flags {
		if strings.EqualFold(string(f), `\Recent`) {
			continue
		}
		if f.IsSystem() || r.caps.Has(mailaccess.CapKeywords) {
			out = append(out, f)
		}
	}
	return out
}

func (r *folderRun) ensureDest(ctx context.Context) error {
	if r.dstExists || strings.EqualFold(r.dest, mailaccess.Inbox) {
		return nil
	}
	if _, err := r.s.dst.Status(ctx, r.dest); err == nil {
		r.dstExists = true
		return nil
	} else if !errors.Is(err, mailaccess.ErrNotFound) {
		return err
	}
	if err := mailaccess.CreateFolder(ctx, r.s.dst, r.dest); err != nil {
		return err
	}
	r.dstExists = true
	return nil
}

func (r *folderRun) keyOf(it item) string {
	gen := 0
	if m, ok := r.st.get(it.key); ok {
		gen = m.Gen
	}
	return appendKey(r.s.o.Account, r.folder, r.st.UIDValidity, it.key, gen)
}

// transfer stores the messages with a pool of workers and commits the
// state every BatchSize messages.
func (r *folderRun) transfer(ctx context.Context, fetch []item) error {
	s := r.s
	if err := r.ensureDest(ctx); err != nil {
		return err
	}
	now := s.o.Now().Unix()
	if s.keyed == nil {
		// Write-ahead: record what is about to be appended, so a crash
		// is reconciled instead of storing twice.
		for _, it := range fetch {
			m, ok := r.st.get(it.key)
			if !ok {
				r.st.put(stateMsg{Src: it.key, Size: it.info.Size, First: now, Pending: true})
			} else {
				m.Pending = true
			}
		}
		if err := r.st.save(ctx, s.o.State); err != nil {
			return fmt.Errorf("commit sync state: %w", err)
		}
	}
	var bytesTotal int64
	for i, it := range fetch {
		bytesTotal += it.info.Size
		if s.keyed != nil {
			fetch[i].akey = r.keyOf(it)
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job)
	results := make(chan result)
	var wg sync.WaitGroup
	for range min(s.o.Concurrency, len(fetch)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				// Every result is delivered: the main loop drains results
				// until the channel is closed, even after a cancel.
				results <- r.store(wctx, j)
			}
		}()
	}
	wg.Add(1)
	if bo := s.batch; bo != nil {
		go func() {
			defer wg.Done()
			defer close(jobs)
			r.feedBatch(wctx, bo, fetch, jobs, results)
		}()
	} else {
		go func() {
			defer wg.Done()
			defer close(jobs)
			for _, it := range fetch {
				select {
				case jobs <- job{it: it}:
				case <-wctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	// Commits run in the background while the writers go on: a commit
	// makes the destination durable (Flush: one file-system sync, the
	// renames or links, the directory syncs) and then saves the state,
	// and the writers would otherwise wait for it. At most one commit runs
	// at a time; results that arrive meanwhile join the next batch. Only
	// the committing goroutine touches r.st while a commit runs; the
	// channel done hands it back.
	var (
		batch     []result
		commitErr error
		busy      bool
		done      = make(chan error, 1)
	)
	commit := func(b []result) error {
		// Commit even when ctx is cancelled: what is on disk is recorded.
		cctx := context.WithoutCancel(ctx)
		if err := driver.Flush(cctx, s.dst); err != nil {
			return fmt.Errorf("flush destination: %w", err)
		}
		for _, res := range b {
			m, ok := r.st.get(res.it.key)
			e := stateMsg{Src: res.it.key, First: now}
			if ok {
				e = *m
			}
			e.Dst, e.Size, e.MsgID, e.Pending, e.Deleted = res.dst, res.size, res.msgID, false, false
			e.Flags = flagStrings(res.it.info.Flags)
			if e.First == 0 {
				e.First = now
			}
			r.st.put(e)
		}
		if err := r.st.save(cctx, s.o.State); err != nil {
			return fmt.Errorf("commit sync state: %w", err)
		}
		return nil
	}
	finished := func(err error) {
		busy = false
		if err != nil && commitErr == nil {
			commitErr = err
			cancel()
		}
	}
	// maybeCommit starts a background commit of the batch when it is full
	// and no commit runs. A batch is BatchSize messages, or an eighth of
	// the folder's records if that is more, so that rewriting the state
	// stays linear in the folder's size (the record is rewritten whole).
	maybeCommit := func() {
		if busy || commitErr != nil || len(batch) == 0 || len(batch) < max(s.o.BatchSize, len(r.st.Msgs)/8) {
			return
		}
		b := batch
		batch = nil
		busy = true
		go func() { done <- commit(b) }()
	}
	stored, consecutive := 0, 0
	var doneBytes int64
	in := results
	for in != nil || busy {
		select {
		case err := <-done:
			finished(err)
			maybeCommit()
		case res, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			if res.err != nil {
				r.fr.Skipped++
				if wctx.Err() == nil || !errors.Is(res.err, context.Canceled) {
					r.fail(fmt.Errorf("message %s: %w", res.it.info.ID, res.err))
				}
				if consecutive++; consecutive >= 8 {
					cancel() // the source or destination is failing: stop, keep what is stored
				}
				continue
			}
			consecutive = 0
			batch = append(batch, res)
			stored++
			doneBytes += res.size
			r.fr.New++
			r.fr.Bytes += res.size
			if s.o.Progress != nil {
				s.o.Progress(Progress{Folder: r.folder, Messages: stored, MessagesTotal: len(fetch), Bytes: doneBytes, BytesTotal: bytesTotal})
			}
			maybeCommit()
		}
	}
	if commitErr == nil && len(batch) > 0 {
		finished(commit(batch))
	}
	if commitErr != nil {
		return commitErr
	}
	return ctx.Err()
}

// job is one message for a writer goroutine; with hasBody the message's
// bytes were already read (batch download).
type job struct {
	it      item
	body    []byte
	hasBody bool
	rest    io.Reader // with hasBody, the unread remainder (large messages)
}

// feedBatch downloads the messages in pipelined batches and hands them to
// the writers: small messages as buffers, large ones written while
// streaming (the batch reader waits for them).
func (r *folderRun) feedBatch(ctx context.Context, bo driver.BatchOpener, fetch []item, jobs chan<- job, results chan<- result) {
	const chunk = 512
	for start := 0; start < len(fetch); start += chunk {
		part := fetch[start:min(start+chunk, len(fetch))]
		byID := make(map[mailaccess.ID]item, len(part))
		ids := make([]mailaccess.ID, len(part))
		for i, it := range part {
			byID[it.info.ID], ids[i] = it, it.info.ID
		}
		delivered := 0
		err := bo.OpenAll(ctx, r.folder, ids, func(id mailaccess.ID, rd io.Reader) error {
			it, ok := byID[id]
			if !ok {
				return fmt.Errorf("batch download returned unrequested message %q: %w", id, mailaccess.ErrProtocol)
			}
			delivered++
			if r.s.keyed != nil {
				if _, ok, err := r.s.keyed.HasKey(ctx, r.dest, it.akey); err == nil && ok {
					select { // already stored: the writer records it, nothing read
					case jobs <- job{it: it}:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				}
			}
			buf, err := readBody(rd, it.info.Size)
			if err != nil {
				return err
			}
			if len(buf) > batchBodyLimit {
				// Too big to buffer: write it now, streaming.
				res := r.store(ctx, job{it: it, body: buf, hasBody: true, rest: rd})
				select {
				case results <- res:
				case <-ctx.Done():
					results <- res
				}
				return res.err
			}
			select {
			case jobs <- job{it: it, body: buf, hasBody: true}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil {
			if ctx.Err() == nil {
				// The messages not delivered stay for the next run.
				results <- result{it: part[max(delivered-1, 0)], err: fmt.Errorf("batch download: %w", err)}
			}
			return
		}
	}
}

// store copies one message from the source to the destination.
func (r *folderRun) store(ctx context.Context, j job) result {
	s := r.s
	it := j.it
	res := result{it: it}
	opts := &mailaccess.AppendOptions{Flags: r.dstFlags(it.info.Flags), Date: it.info.InternalDate}
	var key string
	if s.keyed != nil {
		key = it.akey
		if _, ok, err := s.keyed.HasKey(ctx, r.dest, key); err != nil {
			res.err = err
			return res
		} else if ok {
			// Stored by a run that did not commit: no download.
			res.dst, res.err = s.keyed.AppendWithKey(ctx, r.dest, key, strings.NewReader(""), opts)
			res.size = it.info.Size
			return res
		}
	}
	if j.hasBody && j.rest == nil {
		// A buffered body: no copy of its head to keep, its size known.
		res.dst, res.err = r.append(ctx, key, bytes.NewReader(j.body), opts)
		res.size = int64(len(j.body))
		if res.err == nil {
			res.msgID = messageID(j.body[:min(len(j.body), headLimit)])
		}
		releaseBody(j.body)
		return res
	}
	var src io.Reader
	if j.hasBody {
		src = io.MultiReader(bytes.NewReader(j.body), j.rest)
	} else {
		rc, err := s.src.Open(ctx, r.folder, it.info.ID, nil)
		if err != nil {
			res.err = err
			return res
		}
		defer rc.Close()
		src = rc
	}
	var head headCapture
	var cnt countWriter
	body := io.TeeReader(src, io.MultiWriter(&head, &cnt))
	res.dst, res.err = r.append(ctx, key, body, opts)
	res.size = cnt.n
	if res.err == nil {
		res.msgID = messageID(head.b)
	}
	return res
}

// append appends a message to the destination folder: with key when the
// destination has keyed appends, else plainly.
func (r *folderRun) append(ctx context.Context, key string, body io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	if r.s.keyed != nil {
		return r.s.keyed.AppendWithKey(ctx, r.dest, key, body, opts)
	}
	return r.s.dst.Append(ctx, r.dest, body, opts)
}

// headLimit is how much of a message is kept to read its Message-ID.
const headLimit = 64 << 10

// messageID returns the Message-ID of a message whose first bytes are
// head, or "".
func messageID(head []byte) string {
	if h, err := mailaccess.ParseHeader(bytes.NewReader(head)); err == nil {
		return h.MessageID()
	}
	return ""
}

// bodyPool recycles the buffers of bodies read by the batch download, so
// that a sync does not allocate (and clear, and collect) one per message.
// Only buffers up to pooledBody bytes are kept (most messages are
// smaller): a pool of 1 MiB buffers would hold a megabyte for every small
// message in flight.
var bodyPool = sync.Pool{New: func() any { return new([]byte) }}

// pooledBody is the largest buffer kept in bodyPool.
const pooledBody = 128 << 10

// readBody reads a message of about expect bytes into a buffer, pooled
// when small: at most batchBodyLimit+1 bytes (more means "too big to
// buffer").
func readBody(r io.Reader, expect int64) ([]byte, error) {
	r = io.LimitReader(r, batchBodyLimit+1)
	want := int(min(max(expect, 0), batchBodyLimit)) + 512
	var buf []byte
	if want <= pooledBody {
		bp := bodyPool.Get().(*[]byte)
		buf = (*bp)[:0]
	}
	if cap(buf) < want {
		buf = make([]byte, 0, want)
	}
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// releaseBody returns a buffer from readBody to the pool.
func releaseBody(b []byte) {
	if cap(b) <= pooledBody {
		b = b[:0]
		bodyPool.Put(&b)
	}
}

// syncFlags brings flag changes down (and up with TwoWayFlags): listed
// holds the source messages seen in this pass; the others are unchanged.
func (r *folderRun) syncFlags(ctx context.Context, listed map[mailaccess.ID]item) (bool, error) {
	s, st := r.s, r.st
	var dstFlags map[mailaccess.ID][]mailaccess.Flag
	if s.o.TwoWayFlags && r.dstCaps.Has(mailaccess.CapFlags) {
		dstFlags = map[mailaccess.ID][]mailaccess.Flag{}
		for m, err := range s.dst.List(ctx, r.dest, nil) {
			if err != nil {
				if errors.Is(err, mailaccess.ErrNotFound) {
					break
				}
				return false, err
			}
			dstFlags[m.ID()] = m.Flags()
		}
	}
	changed := false
	var errs []error
	for i := range st.Msgs {
		m := &st.Msgs[i]
		if m.Pending || m.Deleted || m.Dst == "" {
			continue
		}
		it, listedNow := listed[m.Src]
		recorded := flagKey(m.Flags)
		srcChanged := listedNow && flagKey(flagStrings(it.info.Flags)) != recorded
		var dstChanged bool
		var df []mailaccess.Flag
		if dstFlags != nil {
			var ok bool
			if df, ok = dstFlags[m.Dst]; ok {
				// Compare only what both sides can hold.
				dstChanged = flagKey(flagStrings(r.srcFlags(r.dstFlags(df)))) != flagKey(flagStrings(r.srcFlags(r.dstFlags(toFlags(m.Flags)))))
			}
		}
		switch {
		case srcChanged:
			if dstChanged {
				r.note("flags of %s changed on both sides; the source's win", m.Src)
			}
			nf := r.dstFlags(it.info.Flags)
			if r.dstCaps.Has(mailaccess.CapFlags) {
				if err := s.dst.SetFlags(ctx, r.dest, []mailaccess.ID{m.Dst}, mailaccess.ReplaceFlags, nf...); err != nil && !errors.Is(err, mailaccess.ErrNotFound) {
					errs = append(errs, err)
					continue
				}
			}
			m.Flags = flagStrings(it.info.Flags)
			r.fr.Updated++
			changed = true
		case dstChanged && (r.st.Mode != "hash" || listedNow):
			id := m.Src
			if listedNow {
				id = it.info.ID
			}
			// The destination's flags the source can hold, plus the
			// recorded ones the destination cannot hold (kept as they were).
			up := r.srcFlags(r.dstFlags(df))
			for _, f := range toFlags(m.Flags) {
				if len(r.dstFlags([]mailaccess.Flag{f})) == 0 {
					up = append(up, f)
				}
			}
			if err := s.src.SetFlags(ctx, r.folder, []mailaccess.ID{id}, mailaccess.ReplaceFlags, up...); err != nil {
				if !errors.Is(err, mailaccess.ErrNotFound) {
					errs = append(errs, err)
				}
				continue
			}
			m.Flags = flagStrings(up)
			r.fr.Updated++
			changed = true
		}
	}
	return changed, errors.Join(errs...)
}

// mirrorDeletes deletes from the destination the messages gone from the
// source.
func (r *folderRun) mirrorDeletes(ctx context.Context, ids []mailaccess.ID) error {
	if !r.dstCaps.Has(mailaccess.CapDelete) {
		r.note("%d messages were deleted on the source; the destination cannot delete, so they are kept", len(ids))
		return nil
	}
	err := r.s.dst.Delete(ctx, r.dest, ids...)
	if err != nil && !errors.Is(err, mailaccess.ErrNotFound) {
		return fmt.Errorf("mirror deletions: %w", err)
	}
	if err := driver.Flush(ctx, r.s.dst); err != nil {
		return fmt.Errorf("mirror deletions: %w", err)
	}
	r.fr.Deleted += len(ids)
	return nil
}

// retention deletes stored messages from the source per the policy.
// Every candidate is in saved state; tombstones are saved before the
// deletion is sent, so a rerun never fetches them again.
func (r *folderRun) retention(ctx context.Context, listed map[mailaccess.ID]item, redelete []item, dup map[mailaccess.ID]int, full bool, now time.Time) error {
	s, st := r.s, r.st
	var ids []mailaccess.ID
	seen := map[mailaccess.ID]bool{}
	for _, it := range redelete {
		if dup[it.key] == 0 {
			ids = append(ids, it.info.ID)
			seen[it.key] = true
		}
	}
	for i := range st.Msgs {
		m := &st.Msgs[i]
		if m.Pending || m.Deleted || dup[m.Src] > 0 || seen[m.Src] {
			continue
		}
		if s.o.Retention.Policy == DeleteAfterAge && now.Sub(time.Unix(m.First, 0)) < s.o.Retention.MaxAge {
			continue
		}
		id := m.Src
		if it, ok := listed[m.Src]; ok {
			id = it.info.ID
		} else if st.Mode == "hash" || full {
			continue // not on the source any more, or no usable ID
		}
		m.Deleted = true
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil
	}
	st.Clean = false // the source's counters change: verify next time
	if err := st.save(ctx, s.o.State); err != nil {
		return fmt.Errorf("commit sync state before deleting from the source: %w", err)
	}
	if err := s.src.Delete(ctx, r.folder, ids...); err != nil {
		return fmt.Errorf("retention %s: %w", s.o.Retention, err)
	}
	if err := mailaccess.Commit(ctx, s.src); err != nil {
		return fmt.Errorf("retention %s: commit deletions: %w", s.o.Retention, err)
	}
	r.fr.SourceDeleted += len(ids)
	return nil
}
