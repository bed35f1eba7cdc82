package mailsync

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// plan is what one pass over a folder will do, decided from the source's
// Status and listing and the folder's state before anything is changed:
// the planning step ([folderRun.plan]) reads, the applying step
// ([folderRun.apply]) writes.
type plan struct {
	status mailaccess.FolderStatus
	// full: items is the whole folder, so a recorded message it lacks is
	// gone from the source. Otherwise items holds what changed (new mail
	// from UIDNEXT, flag changes from HIGHESTMODSEQ).
	full bool
	// emptyReset: the complete listing is empty while the state knows
	// messages; nothing else is planned (see [folderRun.keepOnEmpty]).
	emptyReset bool
	items      []item                 // listed, each ID once
	listed     listing                // items by state key
	dup        map[mailaccess.ID]int  // IDs listed more than once, and how often
	fetch      []item                 // to download and store
	tooLarge   []item                 // new, but listed as larger than Options.MaxMessageSize
	reused     []item                 // in fetch: a new message under the ID of one deleted by retention
	redelete   []item                 // deleted by retention, still listed: the deletion did not take effect
	flags      []flagUpdate           // flag changes to carry over
	gone       map[mailaccess.ID]bool // recorded, no longer on the source (full listings only)
	goneDst    []mailaccess.ID        // their copies in the destination (for MirrorDeletes)
	deletes    []deletion             // candidates for deletion from the source (Retention)
	// prefix is the digest of the whole listing of a fast "list" mode
	// pass, which keeps only the new messages in items.
	prefix *listPrefix
}

// flagUpdate is a flag change to carry from one side to the other.
type flagUpdate struct {
	key mailaccess.ID // state key of the message
	// toSource: the change was made in the destination and goes up to the
	// source (TwoWayFlags); else it came from the source and goes down.
	toSource bool
	id       mailaccess.ID // the message on the side that changes
	flags    []mailaccess.Flag
	// was is the recorded flags: what the side that changes carries, if
	// nothing else changed it (a hint for the destination).
	was  []string
	both bool // changed on both sides (the source's change wins)
}

// deletionReason says why a message is to be deleted from the source.
type deletionReason int

const (
	// deleteByPolicy: stored, and the Retention policy says so.
	deleteByPolicy deletionReason = iota
	// deleteAgain: deleted by an earlier pass, still listed; the deletion
	// did not take effect (a POP3 session that ended without QUIT).
	deleteAgain
)

// deletion is a candidate for deletion from the source. It is deleted
// only if, when deletions are sent, it is recorded as stored in the
// committed state.
type deletion struct {
	key    mailaccess.ID // state key
	id     mailaccess.ID // source ID to delete
	reason deletionReason
}

// plan decides what this pass does.
func (r *folderRun) plan(ctx context.Context, status mailaccess.FolderStatus) (*plan, error) {
	p := &plan{status: status}
	if err := r.planListing(ctx, p); err != nil {
		return nil, err
	}
	if r.upgrade {
		r.upgradeIDs(p.items)
	}
	r.dedupe(p)
	st := r.st
	// An empty listing while the state knows messages is not a mass
	// deletion (a server reset, a wrong account).
	if p.full && len(p.items) == 0 && (st.live() > 0 || len(r.reident) > 0) {
		p.emptyReset = true
		return p, nil
	}
	if r.reident != nil {
		if err := r.reidentify(ctx, r.reident, p.items); err != nil {
			return nil, err
		}
	}
	r.classify(p)
	if err := r.settleIdentities(ctx, p); err != nil {
		return nil, err
	}
	if r.mode == modeUID && len(p.fetch) > 0 {
		if err := r.checkEpoch(ctx, status); err != nil {
			return nil, err
		}
	}
	if p.full {
		r.planGone(p)
	}
	if (len(p.items) > 0 || r.s.o.TwoWayFlags) && r.caps.Has(mailaccess.CapFlags) {
		if err := r.planFlags(ctx, p); err != nil {
			r.fail(err) // no flag changes this pass; the rest goes on
		}
	}
	switch {
	case r.s.o.Retention.Policy == KeepOnServer:
	case r.reident != nil:
		// Identities matched by Message-ID and size are not proof, and
		// what is new here arrived in a folder that was just replaced.
		r.note("retention %s skipped in this pass: the folder's messages were re-identified, nothing is deleted from it", r.s.o.Retention)
	default:
		r.planDeletes(p, r.s.o.Now())
	}
	return p, nil
}

// planListing lists what the pass must look at: nothing when the state
// matches Status; new mail and flag changes when the folder's counters
// allow an incremental pass; else the whole folder.
func (r *folderRun) planListing(ctx context.Context, p *plan) error {
	st, status := r.st, p.status
	trackFlags := r.caps.Has(mailaccess.CapFlags)
	switch {
	case st.matches(status, r.caps):
		return nil
	case r.mode == modeUID && st.Clean && st.UIDNext != 0 && r.reident == nil && !r.upgrade && (r.caps.Has(mailaccess.CapChanges) || !trackFlags):
		items, err := r.list(ctx, &mailaccess.ListOptions{MinUID: st.UIDNext}, r.mode)
		if err != nil {
			return err
		}
		if trackFlags && status.HighestModSeq != st.ModSeq {
			changed, err := r.list(ctx, &mailaccess.ListOptions{ChangedSince: st.ModSeq}, r.mode)
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
		p.items = items
		if status.Messages == st.live()+newCount {
			return nil
		}
	}
	// The counters do not add up, or there is no checkpoint: list it all.
	p.full = true
	var err error
	p.items, err = r.list(ctx, &mailaccess.ListOptions{Headers: r.reident != nil && r.caps.Has(mailaccess.CapHeaders)}, r.mode)
	return err
}

// dedupe keeps the first of several listed messages with one ID (POP3
// UIDL collisions) and reports the rest. It sorts positions, not the
// listing (which keeps the source's order), and keeps no map of it.
func (r *folderRun) dedupe(p *plan) {
	p.dup = map[mailaccess.ID]int{}
	byKey := sortedPositions(p.items)
	drop := make([]bool, len(p.items))
	for i := 0; i < len(byKey); {
		j := i + 1
		for j < len(byKey) && p.items[byKey[j]].key == p.items[byKey[i]].key {
			drop[byKey[j]] = true // a later position: the first one stays
			j++
		}
		if n := j - i; n > 1 {
			key := p.items[byKey[i]].key
			p.dup[key] = n
			r.note("source lists ID %q %d times; only the first is stored (the others cannot be told apart by ID) and none of them is deleted from the source", key, n)
			r.fr.Skipped += n - 1
		}
		i = j
	}
	if len(p.dup) > 0 {
		k := 0
		for i, it := range p.items {
			if !drop[i] {
				p.items[k] = it
				k++
			}
		}
		clear(p.items[k:])
		p.items = p.items[:k]
	}
}

// sortedPositions returns the positions of items sorted by state key
// (ties by position).
func sortedPositions(items []item) []int32 {
	pos := make([]int32, len(items))
	for i := range pos {
		pos[i] = int32(i)
	}
	slices.SortFunc(pos, func(a, b int32) int {
		if c := strings.Compare(string(items[a].key), string(items[b].key)); c != 0 {
			return c
		}
		return int(a - b)
	})
	return pos
}

// listing finds a pass's listed items by state key, by binary search over
// their positions sorted by key: what a map of the whole listing would do,
// in four bytes a message.
type listing struct {
	items []item
	byKey []int32
}

func newListing(items []item) listing {
	return listing{items: items, byKey: sortedPositions(items)}
}

// get returns the listed item of key.
func (l listing) get(key mailaccess.ID) (item, bool) {
	i, ok := slices.BinarySearchFunc(l.byKey, key, func(pos int32, k mailaccess.ID) int {
		return strings.Compare(string(l.items[pos].key), string(k))
	})
	if !ok {
		return item{}, false
	}
	return l.items[l.byKey[i]], true
}

// has reports whether key is listed.
func (l listing) has(key mailaccess.ID) bool {
	_, ok := l.get(key)
	return ok
}

// classify sorts the listed messages: new (to fetch), deleted by an
// earlier pass and still listed, or reusing the ID of a stored one. A new
// message listed as larger than Options.MaxMessageSize is not fetched.
func (r *folderRun) classify(p *plan) {
	p.listed = newListing(p.items)
	for _, it := range p.items {
		m, ok := r.st.get(it.key)
		isNew := !ok || m.Pending
		redelete := ok && !m.Pending && m.Deleted && m.listedSize() == it.size
		// Another message under the ID of one stored (a POP3 UIDL reused
		// after retention deleted the first, or while it is still
		// recorded, on servers that break RFC 1939).
		reused := ok && !m.Pending && !redelete && (m.Deleted || r.mode != modeUID && m.listedSize() != it.size)
		switch {
		case (isNew || reused) && it.size > r.s.o.MaxMessageSize:
			p.tooLarge = append(p.tooLarge, it)
		case isNew:
			p.fetch = append(p.fetch, it)
		case redelete:
			p.redelete = append(p.redelete, it) // our delete did not take effect yet, or the ID is reused: see prove
		case reused:
			p.reused = append(p.reused, it)
			p.fetch = append(p.fetch, it)
		}
	}
}

// planGone finds the recorded messages a full listing lacks.
func (r *folderRun) planGone(p *plan) {
	p.gone = map[mailaccess.ID]bool{}
	for _, m := range r.st.Msgs {
		if p.listed.has(m.Src) {
			continue
		}
		p.gone[m.Src] = true
		if !m.Deleted && !m.Pending && m.Dst != "" {
			p.goneDst = append(p.goneDst, m.Dst)
		}
	}
}

// planFlags finds the flag changes to carry over: down from the source
// for listed messages, and with TwoWayFlags up from the destination.
func (r *folderRun) planFlags(ctx context.Context, p *plan) error {
	dstFlags, err := r.destinationFlags(ctx)
	if err != nil {
		return err
	}
	if dstFlags != nil {
		// Comparing with what the destination holds needs to know what
		// its folder keeps, for the recorded flags as for the listed.
		if err := r.learnKept(ctx, distinctFlags(r.st.Msgs, p.items)); err != nil {
			return err
		}
	}
	for _, m := range r.st.Msgs {
		if m.Pending || m.Deleted || m.Dst == "" {
			continue
		}
		it, listedNow := p.listed.get(m.Src)
		srcChanged := listedNow && flagKey(flagStrings(it.flags)) != flagKey(m.Flags)
		df, dstChanged := dstFlags[m.Dst]
		// Compare only what both sides can hold.
		dstChanged = dstChanged && flagKey(flagStrings(r.srcFlags(r.dstFlags(df)))) != flagKey(flagStrings(r.srcFlags(r.dstFlags(toFlags(m.Flags)))))
		switch {
		case srcChanged:
			p.flags = append(p.flags, flagUpdate{key: m.Src, id: m.Dst, flags: it.flags, was: m.Flags, both: dstChanged})
		case dstChanged && (r.mode != modeHash || listedNow):
			id := m.Src
			if listedNow {
				id = it.id
			}
			// The destination's flags the source can hold, plus the
			// recorded ones the destination cannot hold (kept as they were).
			up := r.srcFlags(r.dstFlags(df))
			for _, f := range toFlags(m.Flags) {
				if len(r.dstFlags([]mailaccess.Flag{f})) == 0 {
					up = append(up, f)
				}
			}
			p.flags = append(p.flags, flagUpdate{key: m.Src, toSource: true, id: id, flags: up, was: m.Flags})
		}
	}
	return nil
}

// distinctFlags returns each flag recorded in msgs or listed in items
// once.
func distinctFlags(msgs []stateMsg, items []item) []mailaccess.Flag {
	var out []mailaccess.Flag
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, mailaccess.Flag(f))
		}
	}
	for _, m := range msgs {
		for _, f := range m.Flags {
			add(f)
		}
	}
	for _, it := range items {
		for _, f := range it.flags {
			add(string(f))
		}
	}
	return out
}

// destinationFlags returns the flags of the destination's messages by
// ID, with TwoWayFlags; else nil.
func (r *folderRun) destinationFlags(ctx context.Context) (map[mailaccess.ID][]mailaccess.Flag, error) {
	if !r.s.o.TwoWayFlags || !r.dstCaps.Has(mailaccess.CapFlags) {
		return nil, nil
	}
	out := map[mailaccess.ID][]mailaccess.Flag{}
	for m, err := range r.s.dst.List(ctx, r.dest, nil) {
		if err != nil {
			if errors.Is(err, mailaccess.ErrNotFound) {
				break
			}
			return nil, err
		}
		out[m.ID()] = m.Flags()
	}
	return out, nil
}

// planDeletes lists the candidates for deletion from the source under the
// Retention policy: deletions that did not take effect, recorded messages
// old enough, and (DeleteAfterDownload) the messages this pass stores.
// An ID listed more than once is never deleted.
func (r *folderRun) planDeletes(p *plan, now time.Time) {
	st, ret := r.st, r.s.o.Retention
	seen := map[mailaccess.ID]bool{}
	renewed := map[mailaccess.ID]bool{}
	for _, it := range p.reused {
		renewed[it.key] = true // a new message, first seen now: not its record's age
	}
	for _, it := range p.redelete {
		if p.dup[it.key] == 0 {
			p.deletes = append(p.deletes, deletion{key: it.key, id: it.id, reason: deleteAgain})
			seen[it.key] = true
		}
	}
	for _, m := range st.Msgs {
		if m.Pending || m.Deleted || p.dup[m.Src] > 0 || seen[m.Src] || renewed[m.Src] {
			continue
		}
		if m.Reident && !p.listed.has(m.Src) {
			continue // its identity can only be proven against a listing
		}
		if !r.oldEnough(&m, now) {
			continue
		}
		id := m.Src
		if it, ok := p.listed.get(m.Src); ok {
			id = it.id
		} else if r.mode == modeHash || p.full {
			continue // not on the source any more, or no usable ID
		}
		p.deletes = append(p.deletes, deletion{key: m.Src, id: id, reason: deleteByPolicy})
		seen[m.Src] = true
	}
	for _, it := range p.fetch {
		if p.dup[it.key] > 0 || seen[it.key] {
			continue
		}
		if ret.Policy == DeleteAfterAge {
			// Stored by this pass: first seen now, unless it was recorded
			// as pending (a destination without keyed appends) by an
			// earlier one.
			m, ok := st.get(it.key)
			if !ok || m.Deleted || !r.oldEnough(&m, now) {
				continue
			}
		}
		p.deletes = append(p.deletes, deletion{key: it.key, id: it.id, reason: deleteByPolicy})
		seen[it.key] = true
	}
}

// oldEnough reports whether a recorded message is old enough for the
// Retention policy to delete it.
func (r *folderRun) oldEnough(m *stateMsg, now time.Time) bool {
	ret := r.s.o.Retention
	return ret.Policy != DeleteAfterAge || now.Sub(time.Unix(m.First, 0)) >= ret.MaxAge
}
