package mailsync

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// stateVersion is the version of the state record format. Version 1
// records are read too: their IMAP source IDs are bare UIDs ("17"), which
// the first pass maps to the IDs the source lists now (the imap driver's
// "<uidvalidity>.<uid>"; see [folderRun.upgradeIDs]).
const stateVersion = 2

// folderState is the sync state of one source account and folder, saved
// as JSON through the StateStore under the key "ACCOUNT\nFOLDER":
//
//	{"v":2, "account":"imap", "folder":"INBOX", "dest":"INBOX",
//	 "mode":"uid", "uidvalidity":17, "uidnext":42, "modseq":99,
//	 "count":41, "clean":true, "listing":"5f0c...",
//	 "msgs":[{"s":"17.7","d":"1700000000.K3f...,S=812","z":812,"t":1700000000,
//	          "f":["\\Seen"],"m":"<id@host>"}, ...]}
//
// msgs is sorted by source ID. Each entry is a message stored in the
// destination and made durable before the record was saved; "x" marks a
// message this engine deleted from the source (a tombstone, kept until
// a listing shows the deletion took effect), "g" counts reuses of a POP3
// UIDL after deletion, "r" marks a message matched to the source by
// Message-ID and size after a UIDVALIDITY change (its identity is not
// proven, so retention does not delete it on that match alone), "hp" is
// the fingerprint of its header and "lz" its size as listed (when other
// than "z"), what proves before a deletion that a reusable ID (a POP3
// UIDL) still names the message stored.
type folderState struct {
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
	// Listing is the digest of the source's listing at the end of the
	// last clean pass ("list" mode: POP3 UIDL, Maildir), so that a resync
	// whose listing has the same digest is a no-op decided without
	// decoding Msgs. Empty when unknown.
	Listing string     `json:"listing,omitempty"`
	Msgs    []stateMsg `json:"msgs"`

	index map[mailaccess.ID]int // source ID -> position in Msgs
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

func loadState(ctx context.Context, ss StateStore, account, folder string) (*folderState, error) {
	b, err := ss.Load(ctx, stateKey(account, folder))
	if err != nil {
		return nil, err
	}
	st := &folderState{Version: stateVersion, Account: account, Folder: folder, Count: -1}
	if b != nil {
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("sync state of %s %q is corrupt: %w", account, folder, err)
		}
		if st.Version != stateVersion && st.Version != 1 {
			return nil, fmt.Errorf("sync state of %s %q has version %d, want %d: %w", account, folder, st.Version, stateVersion, mailaccess.ErrInvalid)
		}
	}
	st.reindex()
	return st, nil
}

// loadStateHead reads the fields of a state record that come before its
// message list ("msgs", written last), without decoding the list: what a
// no-op resync needs, in time independent of the folder's size. ok is
// false when there is no record or the head could not be read that way
// (the caller then loads the whole record).
//
// A [StateOpener] is read as a stream, so only the head is read.
func loadStateHead(ctx context.Context, ss StateStore, account, folder string) (head *folderState, ok bool) {
	var r io.Reader
	if so, isOpener := ss.(StateOpener); isOpener {
		rc, err := so.OpenState(ctx, stateKey(account, folder))
		if err != nil || rc == nil {
			return nil, false
		}
		defer rc.Close()
		r = rc
	} else {
		b, err := ss.Load(ctx, stateKey(account, folder))
		if err != nil || b == nil {
			return nil, false
		}
		r = bytes.NewReader(b)
	}
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	// Re-encode the head fields into a small object and decode that with
	// the same struct tags, so both paths read fields identically.
	var small bytes.Buffer
	small.WriteByte('{')
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, isKey := t.(string)
		if !isKey {
			return nil, false
		}
		if key == "msgs" {
			small.WriteByte('}')
			head = &folderState{}
			if err := json.Unmarshal(small.Bytes(), head); err != nil || head.Version != stateVersion {
				return nil, false
			}
			return head, true
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		if small.Len() > 1 {
			small.WriteByte(',')
		}
		kb, _ := json.Marshal(key)
		small.Write(kb)
		small.WriteByte(':')
		small.Write(v)
	}
	return nil, false
}

// matches reports whether the state records a clean pass of an
// IMAP-like folder that status shows unchanged: same UIDVALIDITY, UIDNEXT
// and message count, and, for a source that keeps flags, the same
// HIGHESTMODSEQ (without [mailaccess.CapChanges] flag changes cannot be
// seen from Status, so it never matches). It is the one test of "nothing
// changed" of the engine's IMAP-like path, used on the head of the record
// (the no-op resync) and on the whole record alike.
func (st *folderState) matches(status mailaccess.FolderStatus, caps mailaccess.Capability) bool {
	return st.Mode == modeUID && st.Clean && st.UIDValidity == status.UIDValidity &&
		st.UIDNext == status.UIDNext && st.Count == status.Messages &&
		(caps.Has(mailaccess.CapChanges) && status.HighestModSeq == st.ModSeq || !caps.Has(mailaccess.CapFlags))
}

// checkpoint is what a clean pass records of the source's counters.
type checkpoint struct {
	UIDNext uint32
	ModSeq  uint64
	Count   int
	Listing string
}

// checkpoint returns the recorded checkpoint, and whether it is one (the
// last pass was clean).
func (st *folderState) checkpoint() (checkpoint, bool) {
	return checkpoint{st.UIDNext, st.ModSeq, st.Count, st.Listing}, st.Clean
}

// setCheckpoint records a clean pass's checkpoint and reports whether the
// record changed.
func (st *folderState) setCheckpoint(c checkpoint) bool {
	old, clean := st.checkpoint()
	st.UIDNext, st.ModSeq, st.Count, st.Listing, st.Clean = c.UIDNext, c.ModSeq, c.Count, c.Listing, true
	return !clean || old != c
}

func (st *folderState) reindex() {
	slices.SortFunc(st.Msgs, func(a, b stateMsg) int { return cmp.Compare(a.Src, b.Src) })
	st.Msgs = slices.CompactFunc(st.Msgs, func(a, b stateMsg) bool { return a.Src == b.Src })
	st.index = make(map[mailaccess.ID]int, len(st.Msgs))
	for i, m := range st.Msgs {
		st.index[m.Src] = i
	}
}

func (st *folderState) get(id mailaccess.ID) (*stateMsg, bool) {
	i, ok := st.index[id]
	if !ok {
		return nil, false
	}
	return &st.Msgs[i], true
}

// put adds or replaces an entry (the slice is re-sorted at save).
func (st *folderState) put(m stateMsg) {
	if i, ok := st.index[m.Src]; ok {
		st.Msgs[i] = m
		return
	}
	st.index[m.Src] = len(st.Msgs)
	st.Msgs = append(st.Msgs, m)
}

func (st *folderState) remove(ids map[mailaccess.ID]bool) {
	if len(ids) == 0 {
		return
	}
	st.Msgs = slices.DeleteFunc(st.Msgs, func(m stateMsg) bool { return ids[m.Src] })
	st.reindex()
}

// live counts the entries that are not tombstones.
func (st *folderState) live() int {
	n := 0
	for _, m := range st.Msgs {
		if !m.Deleted {
			n++
		}
	}
	return n
}

func (st *folderState) save(ctx context.Context, ss StateStore) error {
	st.reindex()
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return ss.Save(ctx, stateKey(st.Account, st.Folder), b)
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

// listingDigest is a digest of a source listing's IDs, independent of
// their order: what the no-op check of a "list" mode resync compares.
// IDs count, as in the full comparison (a POP3 UIDL names one message for
// as long as it exists), with their sizes (a server that gives a deleted
// message's UIDL to a new one lists the same IDs for other messages), and
// with flags their flags, which the full pass would bring down.
func listingDigest(items []item, flags bool) string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = digestEntry(it.key, it.info, flags)
	}
	return digestOf(ids)
}

// digestEntry is what listingDigest takes of one listed message.
func digestEntry(key mailaccess.ID, info mailaccess.MessageInfo, flags bool) string {
	e := string(key) + "\x00" + strconv.FormatInt(info.Size, 10)
	if flags {
		e += "\x00" + flagKey(flagStrings(info.Flags))
	}
	return e
}

// digestOf is the digest of the entries of a listing, in any order (it
// sorts ids).
func digestOf(ids []string) string {
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
