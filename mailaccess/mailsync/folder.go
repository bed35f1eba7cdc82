package mailsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// idMode is how the messages of a source folder are identified in the
// state (the "mode" of a state record).
type idMode string

// The identification modes (see [New]).
const (
	// modeUID: IMAP-like sources, UIDs under a UIDVALIDITY, new mail
	// found from UIDNEXT.
	modeUID idMode = "uid"
	// modeList: stable IDs but no UIDNEXT (POP3 UIDL, Maildir): a full
	// listing and a set difference.
	modeList idMode = "list"
	// modeHash: no stable IDs; messages are identified by content.
	modeHash idMode = "hash"
)

// modeOf is the identification mode of a source with caps whose folder
// has status.
func modeOf(caps mailaccess.Capability, status mailaccess.FolderStatus) idMode {
	switch {
	case !caps.Has(mailaccess.CapUID):
		return modeHash
	case status.UIDValidity != 0 && status.UIDNext != 0:
		return modeUID
	}
	return modeList
}

// item is a message listed on the source: what a pass keeps of its
// metadata (a listing of a large folder is held whole, so not the whole
// MessageInfo).
type item struct {
	key   mailaccess.ID // state key: the source ID, or "h:"+identity in hash mode
	id    mailaccess.ID // the source's ID
	uid   uint32
	size  int64
	date  time.Time         // the internal date, for the destination
	flags []mailaccess.Flag // when the source keeps flags
	msgID string            // when the listing carried headers
	// unstable: the source's ID holds only for this session
	// (MessageInfo.UnstableID).
	unstable bool
	akey     string // destination append key (set before the transfer)
	pos      int    // position in the transfer, in the source's order
	// fresh: proven neither recorded nor in the destination (see
	// [folderRun.incremental]), so the destination is not asked whether
	// it holds the key.
	fresh bool
}

// itemOf keeps what a pass needs of a listed message whose state key is
// key.
func itemOf(key mailaccess.ID, info *mailaccess.MessageInfo, headers bool) item {
	it := item{key: key, id: info.ID, uid: info.UID, size: info.Size, date: info.InternalDate, unstable: info.UnstableID}
	if len(info.Flags) > 0 {
		it.flags = info.Flags
	}
	if headers {
		it.msgID = info.Header.MessageID()
	}
	return it
}

// folderRun is one pass over one source folder.
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
	// claimed is the message count Status claims: it bounds a growth step
	// of a listing, never sizes one.
	claimed int
	// start is when the current transfer began: with each message's
	// position, the order an ordered destination keeps.
	start time.Time
	// mode is how this pass identifies messages; reident holds the
	// records of an earlier identification that this pass must map to
	// the listing (a UIDVALIDITY or mode change), with the mode and
	// UIDVALIDITY they were made under.
	mode idMode
	// incomplete: the pass did less than it planned without an error
	// (messages gone before they could be downloaded): its checkpoint is
	// not recorded, so the next pass looks again.
	incomplete   bool
	reident      []stateMsg
	prevMode     idMode
	prevValidity uint32
	// upgrade: the record is of version 1, whose IMAP source IDs are
	// bare UIDs: this pass lists the whole folder to map them.
	upgrade bool
	// kept caches, by lower-case flag, whether the destination folder
	// keeps a flag its capabilities allow (driver.FlagKeeper: an IMAP
	// folder without \* in PERMANENTFLAGS); see learnKept.
	kept map[string]bool
}

func (r *folderRun) fail(err error) {
	r.errs = append(r.errs, err)
	r.fr.Errors = append(r.fr.Errors, err.Error())
}

func (r *folderRun) note(format string, args ...any) {
	r.fr.Notes = append(r.fr.Notes, fmt.Sprintf(format, args...))
	r.s.o.Logger.Info("sync: "+fmt.Sprintf(format, args...), "folder", r.folder)
}

// syncFolder syncs one folder: one pass, and more after failures that a
// new session may cure (see [Retry]).
func (s *syncer) syncFolder(ctx context.Context, f srcFolder) (mailaccess.FolderReport, error) {
	fr := mailaccess.FolderReport{Folder: f.name}
	rt := retrier{o: s.o.Retry}
	for pass := 1; ; pass++ {
		r := &folderRun{s: s, folder: f.name, fr: &fr, caps: s.src.Capabilities(), dstCaps: s.dst.Capabilities()}
		before, skipped, progressBefore := len(fr.Errors), fr.Skipped, progressOf(&fr)
		if err := r.run(ctx, f); err != nil {
			r.fail(err)
		}
		if len(r.errs) == 0 {
			return fr, nil
		}
		err := errors.Join(r.errs...)
		wait, retry := rt.next(err, progressOf(&fr) > progressBefore)
		if !retry || ctx.Err() != nil {
			if rt.failures > 1 {
				r.note("gave up after %d passes that failed without progress", rt.failures)
			}
			return fr, &mailaccess.OpError{Op: "sync", Protocol: driver.ProtocolOf(s.src), Folder: f.name, Err: err}
		}
		// The errors of this pass are overcome by the next: they become
		// a note, so the report keeps them without failing the folder;
		// what it skipped the next pass tries again.
		fr.Errors, fr.Skipped = fr.Errors[:before], skipped
		if errors.Is(err, mailaccess.ErrUIDValidity) {
			r.note("pass %d: the folder's UIDVALIDITY changed under it (%v); nothing was deleted from it; syncing it again", pass, err)
		} else {
			r.note("pass %d ended (%v); reconnecting and resuming in %s", pass, err, wait.Round(time.Millisecond))
		}
		if serr := sleep(ctx, wait); serr != nil {
			// Cancelled while waiting to retry: the pass's error is the
			// cause the caller needs (a lost lease cancels the context
			// right after the save it refused fails).
			fr.Errors = append(fr.Errors, err.Error())
			return fr, &mailaccess.OpError{Op: "sync", Protocol: driver.ProtocolOf(s.src), Folder: f.name, Err: errors.Join(err, serr)}
		}
	}
}

// progressOf sums what a folder's passes changed.
func progressOf(fr *mailaccess.FolderReport) int {
	return fr.New + fr.Updated + fr.Deleted + fr.SourceDeleted
}

// retrier decides whether a failed pass is run again, and after what
// wait.
type retrier struct {
	o        Retry
	failures int // passes in a row that failed without progress
	wait     time.Duration
}

// next takes the error of a failed pass and whether it made progress.
func (rt *retrier) next(err error, progress bool) (time.Duration, bool) {
	// A locked POP3 maildrop ([IN-USE]) right after a dropped session is
	// usually that session's lock, not yet released by the server.
	temporary := errors.Is(err, mailaccess.ErrTemporary) || errors.Is(err, mailaccess.ErrLocked)
	if rt.o.Attempts < 0 || isFenced(err) || !temporary && !errors.Is(err, mailaccess.ErrUIDValidity) {
		return 0, false
	}
	if progress {
		rt.failures, rt.wait = 0, 0
	}
	rt.failures++
	if rt.failures > rt.o.Attempts {
		return 0, false
	}
	if !temporary {
		return 0, true // a changed UIDVALIDITY: look again at once
	}
	switch {
	case rt.wait == 0:
		rt.wait = rt.o.Backoff
	default:
		rt.wait = min(2*rt.wait, rt.o.MaxBackoff)
	}
	// Jitter: between half and all of the wait.
	return rt.wait/2 + rand.N(rt.wait/2+1), true
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is one pass: Status, the no-op check, the fast incremental pass
// when the head of the state allows one, else the whole state, then a plan
// of what to do and its application.
func (r *folderRun) run(ctx context.Context, f srcFolder) error {
	r.dest = r.s.destFolder(ctx, f)
	status, err := r.s.src.Status(ctx, r.folder)
	if err != nil {
		return err
	}
	r.claimed = status.Messages
	head, legacy, err := readHead(ctx, r.s.o.State, r.s.o.Account, r.folder)
	if err != nil {
		return err
	}
	if r.unchanged(head, status) {
		return nil
	}
	if head != nil && !legacy {
		done, err := r.incremental(ctx, head, status)
		if err != nil || done {
			return err
		}
	}
	if err := r.loadState(ctx, status); err != nil {
		return err
	}
	// Pending entries of a destination without keyed appends.
	if err := r.reconcilePending(ctx); err != nil {
		return err
	}
	p, err := r.plan(ctx, status)
	if err != nil {
		return err
	}
	return r.apply(ctx, p)
}

// loadState loads the folder's whole state and decides the identification
// mode. A UIDVALIDITY change (or a change of identification mode) voids
// every recorded source ID: the records are set aside in r.reident, to be
// mapped to the listing by Message-ID and size.
func (r *folderRun) loadState(ctx context.Context, status mailaccess.FolderStatus) error {
	s := r.s
	st, err := loadState(ctx, s.o.State, s.o.Account, r.folder)
	if err != nil {
		return err
	}
	r.st = st
	r.mode = modeOf(r.caps, status)
	if st.Dest != "" && st.Dest != r.dest {
		r.note("destination folder changed from %q to %q; messages already stored stay in %q", st.Dest, r.dest, st.Dest)
	}
	if st.Mode != "" && len(st.Msgs) > 0 && (st.Mode != r.mode || st.UIDValidity != status.UIDValidity) {
		if st.Mode != r.mode {
			r.note("source identification changed from %s to %s; re-identifying %d stored messages by Message-ID and size", st.Mode, r.mode, len(st.Msgs))
		} else {
			r.note("UIDVALIDITY changed from %d to %d; re-identifying %d stored messages by Message-ID and size, no local mail is deleted", st.UIDValidity, status.UIDValidity, len(st.Msgs))
		}
		r.reident = st.Msgs
		st.replaceAll(nil)
		st.clearCheckpoint()
		st.UIDNext, st.ModSeq, st.Count = 0, 0, -1
	}
	// A record of an older version in UID mode: this pass lists the whole
	// folder, to map bare UIDs (version 1) and record each message's UID.
	r.upgrade = st.Version < stateVersion && r.reident == nil && r.mode == modeUID && len(st.Msgs) > 0
	r.prevMode, r.prevValidity = st.Mode, st.UIDValidity
	st.Version, st.Mode, st.UIDValidity, st.Dest = stateVersion, r.mode, status.UIDValidity, r.dest
	if st.Account == "" {
		st.Account, st.Folder = s.o.Account, r.folder
	}
	return nil
}

// unchanged reports whether the head of the committed state says an
// IMAP-like folder (UIDVALIDITY and UIDNEXT) is exactly as Status shows it
// ([stateHead.matches]), so that nothing at all needs doing, in time
// independent of the folder's size. A source with stable IDs but no
// UIDNEXT (POP3 UIDL, Maildir) is listed: [folderRun.incrementalList]
// decides that case.
//
// Anything that needs the per-message records (two-way flags, retention,
// pending appends of a destination without keyed appends) takes the full
// path.
func (r *folderRun) unchanged(head *stateHead, status mailaccess.FolderStatus) bool {
	s := r.s
	if head == nil || s.keyed == nil || s.o.TwoWayFlags || s.o.Retention.Policy != KeepOnServer || !r.caps.Has(mailaccess.CapUID) {
		return false
	}
	if !head.Clean || head.Dest != r.dest || head.Count != status.Messages || modeOf(r.caps, status) != modeUID {
		return false
	}
	return head.matches(status, r.caps)
}

// list lists the source folder and computes each message's state key.
// The listing grows with what arrives, doubling: nothing is sized from the
// count the server claims in Status, which only keeps a step from growing
// past it (so a listing of exactly the claimed size is not overshot).
func (r *folderRun) list(ctx context.Context, opts *mailaccess.ListOptions, mode idMode) ([]item, error) {
	var out []item
	for m, err := range r.s.src.List(ctx, r.folder, opts) {
		if err != nil {
			return nil, err
		}
		if len(out) == cap(out) {
			grow := max(len(out), 64)
			if r.claimed > len(out) {
				grow = min(grow, r.claimed-len(out))
			}
			out = slices.Grow(out, grow)
		}
		info := m.Info()
		key, err := r.keyOfInfo(ctx, &info, mode)
		if err != nil {
			return nil, err
		}
		out = append(out, itemOf(key, &info, opts != nil && opts.Headers))
	}
	return out, nil
}

// keyOfInfo is the state key of a listed message: its ID, or its
// content identity in hash mode and for a message whose ID holds only for
// the session.
func (r *folderRun) keyOfInfo(ctx context.Context, info *mailaccess.MessageInfo, mode idMode) (mailaccess.ID, error) {
	if mode == modeHash || info.UnstableID {
		return r.identity(ctx, info)
	}
	return info.ID, nil
}

// identity is the content identity of a message of a source without
// stable IDs: SHA-256 of Message-ID, Date and size when headers can be
// fetched alone, else of the whole message. A message whose ID holds only
// for the session (MessageInfo.UnstableID: POP3 messages that share a
// UIDL, which popa3d gives to messages with the same leading header
// lines) is identified by its whole content, so that each of them is
// stored once, across runs, whatever ID the next session gives it.
func (r *folderRun) identity(ctx context.Context, info *mailaccess.MessageInfo) (mailaccess.ID, error) {
	h := sha256.New()
	if r.caps.Has(mailaccess.CapHeaders) && !info.UnstableID {
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

// reidentify maps old entries to newly listed messages after a
// UIDVALIDITY change: by Message-ID and size, and, for stored messages
// without a Message-ID, by content (a listed message of the same size
// is read and compared with the stored copy: it would be downloaded as
// new otherwise). Entries marked as deleted from the source count too:
// they are stored, and a message still listed that matches one was not
// deleted (the delete was refused when the folder was renumbered under
// it); it keeps the mark, so a later pass deletes it again once proven
// (Reident) to be the message stored.
func (r *folderRun) reidentify(ctx context.Context, old []stateMsg, items []item) error {
	type k struct {
		mid  string
		size int64
	}
	byKey := map[k][]stateMsg{}
	bySize := map[int64][]stateMsg{} // without Message-ID
	for _, m := range old {
		switch {
		case m.Pending || m.Dst == "":
		case m.MsgID != "":
			byKey[k{m.MsgID, m.Size}] = append(byKey[k{m.MsgID, m.Size}], m)
		default:
			bySize[m.Size] = append(bySize[m.Size], m)
		}
	}
	matched := 0
	adopt := func(m stateMsg, it item) {
		m.Src, m.UID = it.key, it.uid
		m.Gen = 0
		m.Reident = true
		r.st.put(m)
		matched++
	}
	for _, it := range items {
		mid := it.msgID
		if mid == "" {
			continue
		}
		c := byKey[k{mid, it.size}]
		if len(c) == 0 {
			continue
		}
		byKey[k{mid, it.size}] = c[1:]
		adopt(c[0], it)
	}
	stored := map[mailaccess.ID][32]byte{} // digests of stored copies
	for _, it := range items {
		c := bySize[it.size]
		if len(c) == 0 || it.msgID != "" {
			continue
		}
		if _, taken := r.st.get(it.key); taken {
			continue
		}
		src, err := r.digest(ctx, r.s.src, r.folder, it.id)
		if errors.Is(err, mailaccess.ErrNotFound) || errors.Is(err, mailaccess.ErrProtocol) {
			continue
		}
		if err != nil {
			return fmt.Errorf("re-identifying %s by content: %w", it.id, err)
		}
		for i, m := range c {
			dst, ok := stored[m.Dst]
			if !ok {
				var err error
				if dst, err = r.digest(ctx, r.s.dst, r.dest, m.Dst); err != nil {
					continue
				}
				stored[m.Dst] = dst
			}
			if dst == src {
				bySize[it.size] = slices.Delete(c, i, i+1)
				adopt(m, it)
				break
			}
		}
	}
	if lost := len(old) - matched; lost > 0 {
		r.note("%d of %d stored messages could not be re-identified; they stay in the destination, and any still on the source is stored again", lost, len(old))
	} else {
		r.note("all %d stored messages re-identified", matched)
	}
	return nil
}

// reconcilePending resolves entries saved as pending (destinations
// without keyed appends) by looking for them in the destination.
func (r *folderRun) reconcilePending(ctx context.Context) error {
	var pending []stateMsg
	for _, m := range r.st.Msgs {
		if m.Pending {
			pending = append(pending, m)
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
				r.st.update(p.Src, func(m *stateMsg) { m.Dst, m.Pending, m.MsgID = id, false, hdr.MessageID() })
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

// dstFlags filters flags to what the destination can keep: what its
// capabilities allow, less what its folder was found not to keep
// (learnKept).
func (r *folderRun) dstFlags(flags []mailaccess.Flag) []mailaccess.Flag {
	if !r.dstCaps.Has(mailaccess.CapFlags) {
		return nil
	}
	var out []mailaccess.Flag
	for _, f := range flags {
		if strings.EqualFold(string(f), `\Recent`) {
			continue
		}
		if kept, known := r.kept[strings.ToLower(string(f))]; known && !kept {
			continue
		}
		if f.IsSystem() || r.dstCaps.Has(mailaccess.CapKeywords) {
			out = append(out, f)
		}
	}
	return out
}

// learnKept asks the destination folder which of flags it keeps
// (driver.KeptFlags) for those not asked about yet, so that dstFlags
// leaves out what it would refuse: a message is stored without a keyword
// its folder cannot keep (noted once per keyword) rather than not stored.
// A destination folder that does not exist yet is asked later.
func (r *folderRun) learnKept(ctx context.Context, flagSets ...[]mailaccess.Flag) error {
	var ask []mailaccess.Flag
	seen := map[string]bool{}
	for _, flags := range flagSets {
		for _, f := range r.dstFlags(flags) {
			k := strings.ToLower(string(f))
			if _, known := r.kept[k]; !known && !seen[k] {
				seen[k] = true
				ask = append(ask, f)
			}
		}
	}
	if len(ask) == 0 {
		return nil
	}
	kept, err := driver.KeptFlags(ctx, r.s.dst, r.dest, ask)
	if errors.Is(err, mailaccess.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.kept == nil {
		r.kept = map[string]bool{}
	}
	for _, f := range kept {
		r.kept[strings.ToLower(string(f))] = true
	}
	var dropped []string
	for _, f := range ask {
		if k := strings.ToLower(string(f)); !r.kept[k] {
			r.kept[k] = false
			dropped = append(dropped, string(f))
		}
	}
	if len(dropped) > 0 {
		r.note("the destination folder %q does not keep the flags %s: messages are stored without them", r.dest, strings.Join(dropped, " "))
	}
	return nil
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

// keyOf is the destination key of a listed message: from the account,
// the folder, the UIDVALIDITY the pass runs under, the source ID and its
// reuse generation. The ID of an IMAP source carries its own epoch, so
// even a listing served from a stale view of a re-created folder cannot
// give a new message the key of a stored one.
func (r *folderRun) keyOf(it item) string {
	gen := 0
	if !it.fresh {
		if m, ok := r.st.get(it.key); ok {
			gen = m.Gen
		}
	}
	return appendKey(r.s.o.Account, r.folder, r.st.UIDValidity, it.key, gen)
}

// upgradeIDs brings the records of an older version, read whole, up to
// this one with the folder's complete listing: a version 1 record's IMAP
// source IDs are bare UIDs, mapped to the IDs the source lists for the
// same UIDs, under the same UIDVALIDITY (nothing is downloaded or stored
// again), and every record gets its UID. Records the listing does not
// name are handled as usual (gone).
func (r *folderRun) upgradeIDs(items []item) {
	st := r.st
	moved := 0
	for _, it := range items {
		if it.uid == 0 {
			continue
		}
		if m, ok := st.get(it.key); ok {
			if m.UID != it.uid {
				st.update(it.key, func(m *stateMsg) { m.UID = it.uid })
			}
			continue
		}
		bare := mailaccess.ID(strconv.FormatUint(uint64(it.uid), 10))
		if st.update(bare, func(m *stateMsg) { m.Src, m.UID = it.key, it.uid }) {
			moved++
		}
	}
	if moved > 0 {
		r.note("state upgraded: %d stored messages recorded by bare UID now carry the source's IDs", moved)
	}
}

// checkEpoch asks Status again after a listing in UID mode: if the
// folder's UIDVALIDITY is no longer the one the pass started with, the
// folder was deleted and re-created meanwhile (or renumbered), the
// listing may hold messages of the new folder under UIDs that the state
// and the destination's keys know as others, and nothing may be stored
// from it. The pass ends with an error matching
// [mailaccess.ErrUIDValidity]; the next pass re-identifies the folder.
func (r *folderRun) checkEpoch(ctx context.Context, status mailaccess.FolderStatus) error {
	now, err := r.s.src.Status(ctx, r.folder)
	if err != nil {
		return err
	}
	if now.UIDValidity != status.UIDValidity {
		return fmt.Errorf("the UIDVALIDITY of %q changed from %d to %d during the pass (the folder was deleted and re-created, or renumbered): nothing is stored from its listing or deleted from it: %w",
			r.folder, status.UIDValidity, now.UIDValidity, mailaccess.ErrUIDValidity)
	}
	return nil
}
