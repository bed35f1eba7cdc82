package mailsync

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// stateVersion is the version of the state record format. Records of
// versions 1 and 2 (one JSON record holding every message) are read too,
// and rewritten in this format by the first pass that changes anything;
// version 1 IMAP source IDs are bare UIDs ("17"), which that pass maps to
// the IDs the source lists now (see [folderRun.upgradeIDs]).
const stateVersion = 3

// A folder's state is kept in a StateStore under several keys, so that
// what a pass reads and writes grows with what changed, not with the
// folder:
//
//   - the head, under "ACCOUNT\nFOLDER": a small JSON object with the
//     source's counters at the last clean pass and the counts the fast
//     paths check (a few hundred bytes, whatever the folder's size):
//
//     {"v":3, "account":"imap", "folder":"INBOX", "dest":"INBOX",
//     "mode":"uid", "uidvalidity":17, "uidnext":42, "modseq":99,
//     "count":41, "clean":true, "live":41, "topuid":41, "uids":true,
//     "base":{"slot":1,"gen":7,"n":41}, "journal":2, "journal_ops":12}
//
//   - the base, under "ACCOUNT\nFOLDER\nbase.SLOT": every recorded
//     message, one line each, sorted by source ID (see statecodec.go);
//
//   - the journal, under "ACCOUNT\nFOLDER\njournal.SLOT.K" for K from 1 to
//     "journal": the changes saved since the base was written.
//
// A commit writes one journal segment and then the head; once the
// journal holds more than a quarter of the base's lines (or a pass
// rewrote the records whole) it writes a new base under the other slot
// and then the head, so a record is replaced only after its successor is
// saved, each Save being atomic: a crash between the two leaves the head
// pointing at records that are all there, and what the interrupted save
// wrote is never read (its generation does not match) and is overwritten
// later. Two slots keep the number of keys bounded without a delete.
//
// Each entry is a message stored in the destination and made durable
// before the record naming it was saved; "x" marks a message this engine
// deleted from the source (a tombstone, kept until a listing shows the
// deletion took effect), "g" counts reuses of a POP3 UIDL after deletion,
// "r" marks a message matched to the source by Message-ID and size after a
// UIDVALIDITY change (its identity is not proven, so retention does not
// delete it on that match alone), "hp" is the fingerprint of its header
// and "lz" its size as listed (when other than "z"), what proves before a
// deletion that a reusable ID (a POP3 UIDL) still names the message
// stored.
type stateHead struct {
	Version     int    `json:"v"`
	Account     string `json:"account"`
	Folder      string `json:"folder"`
	Dest        string `json:"dest"`
	Mode        idMode `json:"mode"`
	UIDValidity uint32 `json:"uidvalidity,omitempty"`
	UIDNext     uint32 `json:"uidnext,omitempty"`
	ModSeq      uint64 `json:"modseq,omitempty"`
	Count       int    `json:"count"`
	Clean       bool   `json:"clean,omitempty"` // last run finished the folder without error
	// Listing is the version 2 digest of a "list" mode listing; read (and
	// ignored: such a record takes the full pass once), never written.
	Listing string `json:"listing,omitempty"`
	// Prefix is, in "list" mode (POP3 UIDL, Maildir), the digest of the
	// source's listing at the end of the last clean pass, in the source's
	// order: a later listing that starts with the same entries has only
	// new mail after them (see [folderRun.incrementalList]).
	Prefix *listPrefix `json:"prefix,omitempty"`

	counts
	// Open says a transfer may have stored messages in the destination
	// that no saved record names (it is saved before a transfer starts and
	// cleared by a clean pass): until then every new message is looked up
	// in the destination by its key before it is stored.
	Open bool `json:"open,omitempty"`

	Base       baseRef `json:"base"`
	Journal    int     `json:"journal,omitempty"`     // journal segments saved since the base
	JournalOps int     `json:"journal_ops,omitempty"` // lines in them
}

// counts are the head's counts of the entries.
type counts struct {
	// Live counts the entries that are not tombstones (what the source
	// should still list), Tombs the tombstones, Pending the pending
	// appends.
	Live    int `json:"live"`
	Tombs   int `json:"tombs,omitempty"`
	Pending int `json:"pending,omitempty"`
	// TopUID is the largest UID of an entry in "uid" mode; UIDsKnown says
	// every entry carries its UID, so that a message above TopUID is
	// known not to be recorded without looking it up.
	TopUID    uint32 `json:"topuid,omitempty"`
	UIDsKnown bool   `json:"uids,omitempty"`
}

// tally adds (d = 1) or removes (d = -1) an entry. TopUID only grows,
// and UIDsKnown only falls, between recounts.
func (c *counts) tally(m *stateMsg, d int) {
	if m.Deleted {
		c.Tombs += d
	} else {
		c.Live += d
	}
	if m.Pending {
		c.Pending += d
	}
	if d > 0 {
		c.TopUID = max(c.TopUID, m.UID)
		if m.UID == 0 {
			c.UIDsKnown = false
		}
	}
}

// baseRef names the base record a head refers to.
type baseRef struct {
	Slot int    `json:"slot"`
	Gen  uint64 `json:"gen"`
	N    int    `json:"n"`
}

// listPrefix is the digest of the first N entries of a listing.
type listPrefix struct {
	N      int    `json:"n"`
	Digest string `json:"digest"`
}

// legacyRecord is a version 1 or 2 record: the head's fields and every
// message in one JSON object, "msgs" last.
type legacyRecord struct {
	stateHead
	Msgs []stateMsg `json:"msgs"`
}

// folderState is the sync state of one source account and folder: the
// head, and the entries either all in memory (loaded: Msgs, sorted by
// source ID at save) or looked up on demand (lazy: what a fast pass
// touches), with the changes not yet saved.
type folderState struct {
	stateHead
	// Msgs holds every entry when loaded.
	Msgs  []stateMsg
	index map[mailaccess.ID]int // source ID -> position in Msgs

	ss StateStore
	// savedClean is Clean as last saved (or read).
	savedClean bool
	loaded     bool
	lazy       *lazyEntries // when not loaded
	// legacy: read from a version 1 or 2 record, rewritten whole at the
	// first save.
	legacy bool
	// ops are the changes since the last save; rewrite makes the next save
	// write a new base (the entries changed as a whole).
	ops     []stateOp
	rewrite bool
	// err is a misuse found without a way to report it at once (a lazy
	// lookup of an entry never resolved): every later save fails with it.
	err error
}

// stateMsg records one stored message.
type stateMsg struct {
	Src     mailaccess.ID `json:"s"`           // source ID (hash mode: "h:" + identity hash)
	Dst     mailaccess.ID `json:"d,omitempty"` // destination ID ("" if the destination did not say)
	Size    int64         `json:"z"`
	First   int64         `json:"t"` // first seen, Unix seconds
	Flags   []string      `json:"f,omitempty"`
	MsgID   string        `json:"m,omitempty"` // Message-ID header, for re-identification
	Deleted bool          `json:"x,omitempty"` // deleted from the source by retention
	Gen     int           `json:"g,omitempty"`
	Pending bool          `json:"p,omitempty"` // append started, not known to be stored
	Reident bool          `json:"r,omitempty"` // matched by Message-ID and size after a UIDVALIDITY change
	// Print is the header fingerprint of the message stored ([headerPrint]),
	// recorded for sources whose IDs can be reused (all but UID mode), so
	// that a message can be shown to be the one stored before it is
	// deleted from the source. Empty for records made without it.
	Print string `json:"hp,omitempty"`
	// Listed is the size the source listed for the message when it differs
	// from Size (servers that count line ends as one octet), 0 otherwise:
	// the size to compare with a later listing.
	Listed int64 `json:"lz,omitempty"`
	// UID is the message's numeric UID in "uid" mode (0 for entries of
	// records older than version 3, until a full listing fills it in).
	UID uint32 `json:"u,omitempty"`
}

// renew makes the record that of a new message under the same source ID
// (a reused POP3 UIDL): a new generation, so that it is stored under a
// new key, pending until it is.
func (m *stateMsg) renew(now int64) {
	m.Gen++
	m.Deleted, m.Reident = false, false
	m.Pending = true
	m.First = now
	m.Print, m.Listed = "", 0
}

// listedSize is the size the source listed for the stored message.
func (m *stateMsg) listedSize() int64 {
	if m.Listed != 0 {
		return m.Listed
	}
	return m.Size
}

func stateKey(account, folder string) string { return account + "\n" + folder }

func (st *folderState) key() string { return stateKey(st.Account, st.Folder) }

func (st *folderState) baseKey(slot int) string { return st.key() + "\nbase." + strconv.Itoa(slot) }

func (st *folderState) journalKey(slot, k int) string {
	return st.key() + "\njournal." + strconv.Itoa(slot) + "." + strconv.Itoa(k)
}

// newState is the state of a folder with no record.
func newState(ss StateStore, account, folder string) *folderState {
	st := &folderState{stateHead: stateHead{Version: stateVersion, Account: account, Folder: folder, Count: -1}, ss: ss, loaded: true}
	st.UIDsKnown = true // of no entry
	st.reindex()
	return st
}

// readHead reads the head of a folder's record without its entries: the
// fields of a version 3 head, or those that come before the message list
// of a version 1 or 2 record ("msgs", written last), in time independent
// of the folder's size. It returns nil when there is no record; legacy
// reports a version 1 or 2 record. A [StateOpener] is read as a stream,
// so only the head of a legacy record is read.
func readHead(ctx context.Context, ss StateStore, account, folder string) (head *stateHead, legacy bool, err error) {
	var r io.Reader
	if so, isOpener := ss.(StateOpener); isOpener {
		rc, err := so.OpenState(ctx, stateKey(account, folder))
		if err != nil || rc == nil {
			return nil, false, err
		}
		defer rc.Close()
		r = rc
	} else {
		b, err := ss.Load(ctx, stateKey(account, folder))
		if err != nil || b == nil {
			return nil, false, err
		}
		r = bytes.NewReader(b)
	}
	corrupt := func(err error) error {
		return fmt.Errorf("sync state of %s %q is corrupt: %w", account, folder, errors.Join(errCorrupt, err))
	}
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false, corrupt(err)
	}
	// Re-encode the head fields into a small object and decode that with
	// the same struct tags, so every path reads fields identically.
	var small bytes.Buffer
	small.WriteByte('{')
	for {
		if !dec.More() {
			legacy = false
			break
		}
		t, err := dec.Token()
		if err != nil {
			return nil, false, corrupt(err)
		}
		key, isKey := t.(string)
		if !isKey {
			return nil, false, corrupt(nil)
		}
		if key == "msgs" {
			legacy = true
			break
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false, corrupt(err)
		}
		if small.Len() > 1 {
			small.WriteByte(',')
		}
		kb, _ := json.Marshal(key)
		small.Write(kb)
		small.WriteByte(':')
		small.Write(v)
	}
	small.WriteByte('}')
	head = &stateHead{}
	if err := json.Unmarshal(small.Bytes(), head); err != nil {
		return nil, false, corrupt(err)
	}
	switch {
	case legacy && (head.Version == 1 || head.Version == 2):
	case !legacy && head.Version == stateVersion:
	default:
		return nil, false, fmt.Errorf("sync state of %s %q has version %d, want %d: %w", account, folder, head.Version, stateVersion, mailaccess.ErrInvalid)
	}
	return head, legacy, nil
}

// loadState loads the whole state of a folder: its head and every entry,
// from a record of this version (base and journal) or of an older one.
func loadState(ctx context.Context, ss StateStore, account, folder string) (*folderState, error) {
	head, legacy, err := readHead(ctx, ss, account, folder)
	if err != nil {
		return nil, err
	}
	if head == nil {
		return newState(ss, account, folder), nil
	}
	if legacy {
		b, err := ss.Load(ctx, stateKey(account, folder))
		if err != nil {
			return nil, err
		}
		var rec legacyRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("sync state of %s %q is corrupt: %w", account, folder, errors.Join(errCorrupt, err))
		}
		st := &folderState{stateHead: rec.stateHead, Msgs: rec.Msgs, ss: ss, loaded: true, legacy: true, rewrite: true, savedClean: rec.Clean}
		if st.Account == "" {
			st.Account, st.Folder = account, folder
		}
		st.reindex()
		st.recount()
		return st, nil
	}
	st := lazyState(ss, head)
	if err := st.materialize(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

// lazyState is the state of a version 3 head whose entries are looked up
// on demand.
func lazyState(ss StateStore, head *stateHead) *folderState {
	return &folderState{stateHead: *head, ss: ss, savedClean: head.Clean, lazy: &lazyEntries{mem: map[mailaccess.ID]*lazyEntry{}}}
}

// corrupt wraps an error of the folder's records.
func (st *folderState) corrupt(what string, err error) error {
	return fmt.Errorf("sync state of %s %q: %s: %w", st.Account, st.Folder, what, errors.Join(errCorrupt, err))
}

// loadBase returns the body of the base record the head refers to.
func (st *folderState) loadBase(ctx context.Context) ([]byte, error) {
	if st.Base.Gen == 0 {
		return nil, nil // no base written yet
	}
	b, err := st.ss.Load(ctx, st.baseKey(st.Base.Slot))
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, st.corrupt("base record", errors.New("missing"))
	}
	body, n, err := parseHeader(b, baseMagic, st.Base.Gen)
	if err != nil {
		return nil, st.corrupt("base record", err)
	}
	if n != st.Base.N {
		return nil, st.corrupt("base record", fmt.Errorf("%d entries, the head says %d", n, st.Base.N))
	}
	return body, nil
}

// loadJournal returns the saved journal's changes, in order.
func (st *folderState) loadJournal(ctx context.Context) ([]stateOp, error) {
	var ops []stateOp
	err := st.scanJournal(ctx, nil, func(_ mailaccess.ID, line []byte) error {
		op, err := parseOp(line)
		ops = append(ops, op)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ops, nil
}

// scanJournal passes the saved journal's lines about the entries of
// wanted to fn, in order, with their source IDs (all of them, without
// the source ID, for a nil wanted). A line about another entry is skipped
// after reading its source ID, so looking up a few entries decodes no
// more of the journal than concerns them; fn decodes what it needs. An
// error of fn is one of the journal's. When it fails, fn may have seen
// some of the lines.
func (st *folderState) scanJournal(ctx context.Context, wanted map[mailaccess.ID]bool, fn func(src mailaccess.ID, line []byte) error) error {
	total := 0
	for k := 1; k <= st.Journal; k++ {
		b, err := st.ss.Load(ctx, st.journalKey(st.Base.Slot, k))
		if err != nil {
			return err
		}
		if b == nil {
			return st.corrupt(fmt.Sprintf("journal segment %d", k), errors.New("missing"))
		}
		body, pos, err := parseHeader(b, journalMagic, st.Base.Gen)
		if err == nil && pos != k {
			err = fmt.Errorf("segment %d saved as segment %d", k, pos)
		}
		if err != nil {
			return st.corrupt(fmt.Sprintf("journal segment %d", k), err)
		}
		for line := range lines(body) {
			total++
			var src mailaccess.ID
			if wanted != nil {
				s, err := opSrc(line)
				if err != nil {
					return st.corrupt(fmt.Sprintf("journal segment %d", k), err)
				}
				if src = mailaccess.ID(s); !wanted[src] {
					continue
				}
			}
			if err := fn(src, line); err != nil {
				return st.corrupt(fmt.Sprintf("journal segment %d", k), err)
			}
		}
	}
	if total != st.JournalOps {
		return st.corrupt("journal", fmt.Errorf("%d changes, the head says %d", total, st.JournalOps))
	}
	return nil
}

// materialize loads every entry of a lazy state (base, then journal),
// keeping the changes made so far.
func (st *folderState) materialize(ctx context.Context) error {
	if st.loaded {
		return nil
	}
	body, err := st.loadBase(ctx)
	if err != nil {
		return err
	}
	saved, err := st.loadJournal(ctx)
	if err != nil {
		return err
	}
	msgs := make([]stateMsg, 0, st.Base.N)
	for line := range lines(body) {
		m, err := parseEntry(line)
		if err != nil {
			return st.corrupt("base record", err)
		}
		msgs = append(msgs, m)
	}
	pending := st.ops
	st.Msgs, st.loaded, st.lazy, st.ops = msgs, true, nil, nil
	st.reindex()
	// Drops leave a hole (an empty source ID), removed once at the end.
	holes := false
	for _, ops := range [][]stateOp{saved, pending} {
		for _, op := range ops {
			if op.kind != opDrop {
				st.applyOp(op)
				continue
			}
			if i, ok := st.index[op.src]; ok {
				st.Msgs[i].Src = ""
				delete(st.index, op.src)
				holes = true
			}
		}
	}
	if holes {
		st.Msgs = slices.DeleteFunc(st.Msgs, func(m stateMsg) bool { return m.Src == "" })
		st.reindex()
	}
	st.ops = pending
	return nil
}

// applyOp applies a change to the loaded entries.
func (st *folderState) applyOp(op stateOp) {
	switch op.kind {
	case opPut:
		if i, ok := st.index[op.m.Src]; ok {
			st.Msgs[i] = op.m
			return
		}
		st.index[op.m.Src] = len(st.Msgs)
		st.Msgs = append(st.Msgs, op.m)
	case opFlags:
		if i, ok := st.index[op.src]; ok {
			st.Msgs[i].Flags = op.flags
		}
	case opDrop:
		if i, ok := st.index[op.src]; ok {
			st.Msgs = slices.Delete(st.Msgs, i, i+1)
			st.reindex()
		}
	}
}

// matches reports whether the state records a clean pass of an
// IMAP-like folder that status shows unchanged: same UIDVALIDITY, UIDNEXT
// and message count, and, for a source that keeps flags, the same
// HIGHESTMODSEQ (without [mailaccess.CapChanges] flag changes cannot be
// seen from Status, so it never matches). It is the one test of "nothing
// changed" of the engine's IMAP-like path, used on the head of the record
// (the no-op resync) and on the whole record alike.
func (st *stateHead) matches(status mailaccess.FolderStatus, caps mailaccess.Capability) bool {
	return st.Mode == modeUID && st.Clean && st.UIDValidity == status.UIDValidity &&
		st.UIDNext == status.UIDNext && st.Count == status.Messages &&
		(caps.Has(mailaccess.CapChanges) && status.HighestModSeq == st.ModSeq || !caps.Has(mailaccess.CapFlags))
}

// checkpoint is what a clean pass records of the source's counters.
type checkpoint struct {
	UIDNext uint32
	ModSeq  uint64
	Count   int
	Prefix  listPrefix
}

// checkpoint returns the recorded checkpoint, and whether it is one (the
// last pass was clean).
func (st *folderState) checkpoint() (checkpoint, bool) {
	c := checkpoint{UIDNext: st.UIDNext, ModSeq: st.ModSeq, Count: st.Count}
	if st.Prefix != nil {
		c.Prefix = *st.Prefix
	}
	return c, st.Clean
}

// setCheckpoint records a clean pass's checkpoint and reports whether the
// record changed.
func (st *folderState) setCheckpoint(c checkpoint) bool {
	old, clean := st.checkpoint()
	st.UIDNext, st.ModSeq, st.Count, st.Clean, st.Listing = c.UIDNext, c.ModSeq, c.Count, true, ""
	st.Prefix = nil
	if c.Prefix.Digest != "" {
		p := c.Prefix
		st.Prefix = &p
	}
	return !clean || old != c
}

// clearCheckpoint records that the last pass was not clean, and reports
// whether the record changed.
func (st *folderState) clearCheckpoint() bool {
	if !st.Clean {
		return false
	}
	st.Clean, st.Listing, st.Prefix = false, "", nil
	return true
}

func (st *folderState) reindex() {
	slices.SortFunc(st.Msgs, func(a, b stateMsg) int { return cmp.Compare(a.Src, b.Src) })
	st.Msgs = slices.CompactFunc(st.Msgs, func(a, b stateMsg) bool { return a.Src == b.Src })
	st.index = make(map[mailaccess.ID]int, len(st.Msgs))
	for i, m := range st.Msgs {
		st.index[m.Src] = i
	}
}

// recount sets the head's counts from the loaded entries.
func (st *folderState) recount() { st.counts = countsOf(st.Msgs, st.Mode) }

// countsOf counts entries of a folder in mode.
func countsOf(msgs []stateMsg, mode idMode) counts {
	c := counts{UIDsKnown: mode == modeUID}
	for i := range msgs {
		c.tally(&msgs[i], 1)
	}
	return c
}

// get returns the entry of source ID id. In a lazy state, id must have
// been resolved ([folderState.resolve]) or marked absent first.
func (st *folderState) get(id mailaccess.ID) (stateMsg, bool) {
	if st.loaded {
		i, ok := st.index[id]
		if !ok {
			return stateMsg{}, false
		}
		return st.Msgs[i], true
	}
	e, ok := st.lazy.mem[id]
	if !ok {
		if st.err == nil {
			st.err = fmt.Errorf("mailsync: internal error: state entry %q used before it was looked up", id)
		}
		return stateMsg{}, false
	}
	if e.absent {
		return stateMsg{}, false
	}
	return e.m, true
}

// record queues a change for the next save. A loaded state whose next
// save writes a new base anyway keeps no journal of its changes.
func (st *folderState) record(op stateOp) {
	if st.loaded && (st.rewrite || st.legacy) {
		return
	}
	st.ops = append(st.ops, op)
}

// put adds or replaces an entry.
func (st *folderState) put(m stateMsg) {
	if prev, ok := st.get(m.Src); ok {
		st.counts.tally(&prev, -1)
	}
	st.counts.tally(&m, 1)
	st.record(stateOp{kind: opPut, m: m})
	if st.loaded {
		st.applyOp(stateOp{kind: opPut, m: m})
		return
	}
	st.lazy.mem[m.Src] = &lazyEntry{m: m}
}

// update changes the entry of id with fn, if there is one, and reports
// whether there was. fn may change the source ID (an upgraded record).
func (st *folderState) update(id mailaccess.ID, fn func(*stateMsg)) bool {
	prev, ok := st.get(id)
	if !ok {
		return false
	}
	m := prev
	fn(&m)
	if m.Src == id {
		st.put(m)
		return true
	}
	st.counts.tally(&prev, -1)
	st.counts.tally(&m, 1)
	st.record(stateOp{kind: opDrop, src: id})
	st.record(stateOp{kind: opPut, m: m})
	if st.loaded {
		// In place: the slice is sorted again at the next save.
		i := st.index[id]
		st.Msgs[i] = m
		delete(st.index, id)
		st.index[m.Src] = i
		return true
	}
	st.lazy.mem[id] = &lazyEntry{absent: true}
	st.lazy.mem[m.Src] = &lazyEntry{m: m}
	return true
}

// setFlags records new flags for the entry of id.
func (st *folderState) setFlags(id mailaccess.ID, flags []string) {
	m, ok := st.get(id)
	if !ok {
		return
	}
	m.Flags = flags
	op := stateOp{kind: opFlags, src: id, flags: flags}
	st.record(op)
	if st.loaded {
		st.applyOp(op)
		return
	}
	st.lazy.mem[id] = &lazyEntry{m: m}
}

// remove drops the entries of ids (of a loaded state).
func (st *folderState) remove(ids map[mailaccess.ID]bool) {
	if len(ids) == 0 {
		return
	}
	for id := range ids {
		if m, ok := st.get(id); ok {
			st.counts.tally(&m, -1)
			st.record(stateOp{kind: opDrop, src: id})
		}
	}
	st.Msgs = slices.DeleteFunc(st.Msgs, func(m stateMsg) bool { return ids[m.Src] })
	st.reindex()
}

// replaceAll replaces every entry of a loaded state; the next save
// writes a new base.
func (st *folderState) replaceAll(msgs []stateMsg) {
	st.Msgs = msgs
	st.reindex()
	st.recount()
	st.ops, st.rewrite = nil, true
}

// rekeyed is called after entries of a loaded state changed their source
// IDs in place (a message found under another ID): the next save writes
// a new base, which such a change needs (a journal names entries by ID).
func (st *folderState) rekeyed() {
	st.reindex()
	st.recount()
	st.ops, st.rewrite = nil, true
}

// live counts the entries that are not tombstones.
func (st *folderState) live() int { return st.Live }

// count is the number of entries.
func (st *folderState) count() int { return st.Live + st.Tombs }

// compactAt is how many journal lines a base of n entries may gather
// before it is rewritten: a quarter of it, at least compactMin, so that
// what is written over many passes stays linear in what changed, and what
// a lazy lookup reads besides the base stays below a quarter of it.
func compactAt(n int) int { return max(compactMin, n/4) }

// compactMin is the least journal compactAt allows (tests lower it).
var compactMin = 4096

// save commits the state: a journal segment with the changes since the
// last save, or a new base when the journal has grown past compactAt or
// the entries changed as a whole, then the head. When it fails, the
// state in memory is as before, the changes still to save.
func (st *folderState) save(ctx context.Context, ss StateStore) error {
	if st.err != nil {
		return st.err
	}
	head := st.stateHead
	head.Version, head.Listing = stateVersion, ""
	var newBase []byte
	switch {
	case st.rewrite || st.legacy || head.JournalOps+len(st.ops) > compactAt(st.count()):
		body, n, c, err := st.compacted(ctx)
		if err != nil {
			return err
		}
		head.counts = c
		head.Base = baseRef{Slot: 1 - head.Base.Slot, Gen: head.Base.Gen + 1, N: n}
		head.Journal, head.JournalOps = 0, 0
		if err := ss.Save(ctx, st.baseKey(head.Base.Slot), append(recordHeader(baseMagic, head.Base.Gen, n), body...)); err != nil {
			return err
		}
		newBase = body
	case len(st.ops) > 0:
		head.Journal++
		head.JournalOps += len(st.ops)
		rec := recordHeader(journalMagic, head.Base.Gen, head.Journal)
		for i := range st.ops {
			rec = appendOp(rec, &st.ops[i])
		}
		if err := ss.Save(ctx, st.journalKey(head.Base.Slot, head.Journal), rec); err != nil {
			return err
		}
	}
	b, err := json.Marshal(&head)
	if err != nil {
		return err
	}
	if err := ss.Save(ctx, st.key(), b); err != nil {
		return err
	}
	st.stateHead = head
	st.savedClean = head.Clean
	st.ops, st.rewrite, st.legacy = nil, false, false
	if newBase != nil && !st.loaded {
		// What this pass knows (mem) stays true; the records behind it
		// are now the new base alone.
		st.lazy.base, st.lazy.saved, st.lazy.read, st.lazy.complete = newBase, map[mailaccess.ID]*savedEntry{}, true, true
	}
	return nil
}

// finishCompact is the journal a pass that loaded every entry leaves
// behind at most: past it the pass's last save writes a new base (the
// entries are in memory already), so that the fast passes after it look
// up entries in the base alone.
const finishCompact = 1024

// finish is the last save of a pass: save, writing a new base instead of
// a journal segment when the state is loaded and the journal would pass
// finishCompact.
func (st *folderState) finish(ctx context.Context, ss StateStore) error {
	if st.loaded && st.JournalOps+len(st.ops) > finishCompact {
		st.rewrite = true
	}
	return st.save(ctx, ss)
}

// compacted returns the body of a new base holding every entry, its
// number of lines and the counts of its entries.
func (st *folderState) compacted(ctx context.Context) ([]byte, int, counts, error) {
	if !st.loaded {
		return st.mergedBase(ctx)
	}
	st.reindex()
	var b []byte
	for i := range st.Msgs {
		b = appendEntry(b, &st.Msgs[i])
		b = append(b, '\n')
	}
	return b, len(st.Msgs), countsOf(st.Msgs, st.Mode), nil
}

// flagKey is a canonical form of a flag set for comparison.
func flagKey(flags []string) string {
	s := make([]string, 0, len(flags))
	for _, f := range flags {
		if strings.EqualFold(f, `\Recent`) {
			continue
		}
		s = append(s, strings.ToLower(f))
	}
	slices.Sort(s)
	return strings.Join(slices.Compact(s), " ")
}

func flagStrings(flags []mailaccess.Flag) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if strings.EqualFold(string(f), `\Recent`) {
			continue
		}
		out = append(out, string(f))
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return out
}

func toFlags(s []string) []mailaccess.Flag {
	out := make([]mailaccess.Flag, len(s))
	for i, f := range s {
		out[i] = mailaccess.Flag(f)
	}
	return out
}

// appendKey is the destination key of a source message: a hash of the
// account, folder, UIDVALIDITY, source ID and reuse generation.
func appendKey(account, folder string, uidValidity uint32, src mailaccess.ID, gen int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d\x00%s\x00%d", account, folder, uidValidity, src, gen))
	return hex.EncodeToString(h[:20])
}
