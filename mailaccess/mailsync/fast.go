package mailsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"hash/maphash"
	"strconv"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// The fast passes: what a pass costs when little changed in a large
// folder. They start from the head of the state alone and look up only
// the entries they touch, so neither the listing they keep nor the state
// they read or write grows with the folder:
//
//   - "uid" mode with CONDSTORE (or without flags): new mail is listed
//     from UIDNEXT, flag changes from HIGHESTMODSEQ; a message above every
//     recorded UID (TopUID) is known to be new without a lookup, the
//     others are looked up by binary search in the base; the count the
//     source reports must equal the live entries plus the new ones, else
//     something was deleted and the full pass runs.
//   - "list" mode (POP3 UIDL, Maildir): the listing is read in the
//     source's order through a running digest; when its first N entries
//     have the digest the last clean pass recorded of its N entries,
//     nothing recorded changed and what follows is new mail, which only
//     has to be told apart from the first N by a hash of each ID.
//
// A fast pass needs a keyed destination, no two-way flags, no retention,
// and a clean last pass with no pending entries or tombstones; whatever it
// cannot decide that way (a deletion, a changed UIDVALIDITY, an entry it
// cannot account for) it leaves to the full pass, having changed nothing
// on either side. New mail the fast pass proves absent from the state is
// also absent from the destination unless a transfer was left unfinished
// (the head's Open mark, see [folderRun.markOpen]), so the destination is
// not asked for its keys, which in a Maildir costs a scan of the folder.

// incremental runs the fast pass of the folder when the head of its
// state allows one. done is false when the full pass must run instead.
func (r *folderRun) incremental(ctx context.Context, head *stateHead, status mailaccess.FolderStatus) (done bool, err error) {
	s := r.s
	if s.keyed == nil || s.o.TwoWayFlags || s.o.Retention.Policy != KeepOnServer || !r.caps.Has(mailaccess.CapUID) {
		return false, nil
	}
	if !head.Clean || head.Dest != r.dest || head.Pending != 0 || head.Tombs != 0 {
		return false, nil
	}
	mode := modeOf(r.caps, status)
	if head.Mode != mode {
		return false, nil
	}
	switch mode {
	case modeUID:
		return r.incrementalUID(ctx, head, status)
	case modeList:
		return r.incrementalList(ctx, head, status)
	}
	return false, nil
}

// incrementalUID is the fast pass of an IMAP-like folder.
func (r *folderRun) incrementalUID(ctx context.Context, head *stateHead, status mailaccess.FolderStatus) (bool, error) {
	trackFlags := r.caps.Has(mailaccess.CapFlags)
	if head.UIDValidity != status.UIDValidity || head.UIDNext == 0 || trackFlags && !r.caps.Has(mailaccess.CapChanges) {
		return false, nil
	}
	items, err := r.list(ctx, &mailaccess.ListOptions{MinUID: head.UIDNext}, modeUID)
	if err != nil {
		return false, err
	}
	if trackFlags && status.HighestModSeq != head.ModSeq {
		changed, err := r.list(ctx, &mailaccess.ListOptions{ChangedSince: head.ModSeq}, modeUID)
		if err != nil {
			return false, err
		}
		have := make(map[mailaccess.ID]bool, len(items))
		for _, it := range items {
			have[it.key] = true
		}
		for _, it := range changed {
			if !have[it.key] {
				have[it.key] = true
				items = append(items, it)
			}
		}
	}
	st := lazyState(r.s.o.State, head)
	r.st, r.mode = st, modeUID
	// Above every recorded UID a message is new without a lookup.
	var absent, lookup []mailaccess.ID
	for i := range items {
		if head.UIDsKnown && items[i].uid > head.TopUID {
			absent = append(absent, items[i].key)
		} else {
			lookup = append(lookup, items[i].key)
		}
	}
	st.markAbsent(absent)
	if err := st.resolve(ctx, lookup); err != nil {
		return false, err
	}
	p := &plan{status: status, items: items}
	for i := range items {
		it := &items[i]
		m, ok := st.get(it.key)
		switch {
		case !ok:
			it.fresh = !head.Open
			if it.size > r.s.o.MaxMessageSize {
				p.tooLarge = append(p.tooLarge, *it)
			} else {
				p.fetch = append(p.fetch, *it)
			}
		case m.Pending || m.Deleted:
			return false, nil // not what a clean head promises: the full pass decides
		case trackFlags && m.Dst != "" && flagKey(flagStrings(it.flags)) != flagKey(m.Flags):
			p.flags = append(p.flags, flagUpdate{key: m.Src, id: m.Dst, flags: it.flags, was: m.Flags})
		}
	}
	if status.Messages != head.Live+len(p.fetch)+len(p.tooLarge) {
		return false, nil // something was deleted: the full pass finds what
	}
	if len(p.fetch) > 0 {
		if err := r.checkEpoch(ctx, status); err != nil {
			return false, err
		}
	}
	return true, r.apply(ctx, p)
}

// maxPrefixPrealloc bounds the hashes incrementalList allocates ahead.
const maxPrefixPrealloc = 1 << 20

// incrementalList is the fast pass of a folder with stable IDs but no
// UIDNEXT (POP3 UIDL, Maildir): see the comment at the top of this file.
func (r *folderRun) incrementalList(ctx context.Context, head *stateHead, status mailaccess.FolderStatus) (bool, error) {
	if head.Prefix == nil || head.Live != head.Prefix.N {
		return false, nil
	}
	flags := r.caps.Has(mailaccess.CapFlags)
	n := head.Prefix.N
	pd := newPrefixDigest(flags)
	matched := n == 0 && pd.sum() == head.Prefix.Digest
	seed := maphash.MakeSeed()
	// prefix holds the hashes of the first n IDs: its size is known from
	// the record (bounded, so that a corrupt head cannot ask for more).
	prefix := make([]uint64, 0, min(n, maxPrefixPrealloc))
	var suffix []item
	i := 0
	for m, err := range r.s.src.List(ctx, r.folder, nil) {
		if err != nil {
			return false, err
		}
		info := m.Info()
		key, err := r.keyOfInfo(ctx, &info, modeList)
		if err != nil {
			return false, err
		}
		pd.add(key, info.Size, info.Flags)
		if i < n {
			prefix = append(prefix, maphash.String(seed, string(key)))
		} else {
			suffix = append(suffix, itemOf(key, &info, false))
		}
		if i++; i == n {
			if pd.sum() != head.Prefix.Digest {
				return false, nil // a recorded message changed or went
			}
			matched = true
		}
	}
	if !matched {
		return false, nil
	}
	// New mail must not share an ID with a recorded message (nor with
	// itself): the full pass handles such a listing. A hash match may be
	// a collision: the full pass decides then too.
	if len(suffix) > 0 {
		fresh := make(map[uint64]bool, len(suffix))
		for _, it := range suffix {
			h := maphash.String(seed, string(it.key))
			if fresh[h] {
				return false, nil
			}
			fresh[h] = true
		}
		for _, h := range prefix {
			if fresh[h] {
				return false, nil
			}
		}
	}
	st := lazyState(r.s.o.State, head)
	r.st, r.mode = st, modeList
	p := &plan{status: status, items: suffix, prefix: &listPrefix{N: i, Digest: pd.sum()}}
	keys := make([]mailaccess.ID, len(suffix))
	for j := range suffix {
		keys[j] = suffix[j].key
		suffix[j].fresh = !head.Open
		if suffix[j].size > r.s.o.MaxMessageSize {
			p.tooLarge = append(p.tooLarge, suffix[j])
		} else {
			p.fetch = append(p.fetch, suffix[j])
		}
	}
	st.markAbsent(keys)
	return true, r.apply(ctx, p)
}

// prefixDigest is the running digest of a "list" mode listing, in the
// source's order: each entry's state key, listed size and, for a source
// that keeps flags, flags. Entries are gathered in a buffer and hashed a
// few kilobytes at a time.
type prefixDigest struct {
	h     hash.Hash
	flags bool
	buf   []byte
}

func newPrefixDigest(flags bool) *prefixDigest {
	return &prefixDigest{h: sha256.New(), flags: flags, buf: make([]byte, 0, 8192)}
}

func (d *prefixDigest) add(key mailaccess.ID, size int64, flags []mailaccess.Flag) {
	b := append(d.buf, key...)
	b = append(b, 0)
	b = strconv.AppendInt(b, size, 10)
	if d.flags {
		b = append(b, 0)
		b = append(b, flagKey(flagStrings(flags))...)
	}
	b = append(b, '\n')
	if len(b) >= 4096 {
		d.h.Write(b)
		b = b[:0]
	}
	d.buf = b
}

// sum is the digest of the entries added so far (adding more goes on
// from there).
func (d *prefixDigest) sum() string {
	d.h.Write(d.buf)
	d.buf = d.buf[:0]
	return hex.EncodeToString(d.h.Sum(nil)[:16])
}

// listingPrefix is the digest of a whole listing, as the fast pass
// computes it.
func listingPrefix(items []item, flags bool) listPrefix {
	d := newPrefixDigest(flags)
	for _, it := range items {
		d.add(it.key, it.size, it.flags)
	}
	return listPrefix{N: len(items), Digest: d.sum()}
}
