package mailsync

import (
	"context"
	"fmt"
	"slices"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// lazyEntries are the entries of a state whose head alone was read: a
// fast pass looks up the few entries it touches (resolve) and records
// those it knows are not there (markAbsent), so that it neither reads nor
// decodes the rest. The base and the journal are read at the first
// lookup; a lookup decodes one line.
type lazyEntries struct {
	// mem is what this pass knows of each entry it touched: resolved,
	// known absent, or changed (the latest value).
	mem map[mailaccess.ID]*lazyEntry
	// read: base is loaded.
	read bool
	base []byte // the base's body: lines sorted by source ID
	// saved is, per source ID, the effect of the saved journal on it: for
	// every entry once complete, else for the entries in scanned.
	saved    map[mailaccess.ID]*savedEntry
	complete bool
	scanned  map[mailaccess.ID]bool
}

// lazyEntry is an entry, or the knowledge that there is none.
type lazyEntry struct {
	m      stateMsg
	absent bool
}

// savedEntry is what the journal did to one entry: replaced it (put),
// dropped it (absent), or changed only its flags (flagsOnly: the rest is
// the base's).
type savedEntry struct {
	m         stateMsg
	absent    bool
	flagsOnly bool
	flags     []string
}

// readRecords loads the base of a lazy state and what the journal did to
// the entries of ids (to every entry for a nil ids).
func (st *folderState) readRecords(ctx context.Context, ids []mailaccess.ID) error {
	lz := st.lazy
	if !lz.read {
		body, err := st.loadBase(ctx)
		if err != nil {
			return err
		}
		lz.base, lz.read, lz.saved = body, true, map[mailaccess.ID]*savedEntry{}
		lz.complete = st.Journal == 0
	}
	if lz.complete {
		return nil
	}
	var wanted map[mailaccess.ID]bool
	if ids != nil {
		wanted = make(map[mailaccess.ID]bool, len(ids))
		for _, id := range ids {
			if _, done := lz.scanned[id]; !done {
				wanted[id] = true
			}
		}
		if len(wanted) == 0 {
			return nil
		}
	}
	// Per entry, only its last put or drop and the last flag change after
	// it count: the lines are kept (they point into the segments read)
	// and at most two of them decoded, however often the entry changed.
	// The entries go to a map of their own, merged once the whole journal
	// was read: a failed read leaves the entries as they were.
	lastOf := map[mailaccess.ID]*lastLines{}
	err := st.scanJournal(ctx, wanted, func(src mailaccess.ID, line []byte) error {
		if wanted == nil {
			op, err := parseOp(line)
			if err != nil {
				return err
			}
			src = op.key()
		}
		l := lastOf[src]
		if l == nil {
			l = &lastLines{}
			lastOf[src] = l
		}
		switch opKind(line[0]) {
		case opFlags:
			l.flags = line
		case opPut, opDrop:
			l.entry, l.flags = line, nil
		default:
			return fmt.Errorf("%w: journal line %.40q", errCorrupt, line)
		}
		return nil
	})
	if err != nil {
		return err
	}
	saved, err := st.decodeLast(lastOf)
	if err != nil {
		return err
	}
	if wanted == nil {
		lz.saved, lz.complete = saved, true // the whole journal, replayed
		return nil
	}
	for k, e := range saved {
		lz.saved[k] = e
	}
	if lz.scanned == nil {
		lz.scanned = map[mailaccess.ID]bool{}
	}
	for id := range wanted {
		lz.scanned[id] = true
	}
	return nil
}

// lastLines are the journal lines of one entry that count: its last put or
// drop, and the last flag change after it.
type lastLines struct{ entry, flags []byte }

// decodeLast decodes the lines that count of each entry into what the
// journal did to it.
func (st *folderState) decodeLast(lastOf map[mailaccess.ID]*lastLines) (map[mailaccess.ID]*savedEntry, error) {
	saved := make(map[mailaccess.ID]*savedEntry, len(lastOf))
	for src, l := range lastOf {
		e := &savedEntry{}
		var flags *stateOp
		if l.flags != nil {
			op, err := parseOp(l.flags)
			if err != nil {
				return nil, st.corrupt("journal", err)
			}
			flags = &op
		}
		switch {
		case l.entry == nil:
			e.flagsOnly, e.flags = true, flags.flags
		case opKind(l.entry[0]) == opDrop:
			e.absent = true
		default:
			op, err := parseOp(l.entry)
			if err != nil {
				return nil, st.corrupt("journal", err)
			}
			e.m = op.m
			if flags != nil {
				e.m.Flags = flags.flags
			}
		}
		saved[src] = e
	}
	return saved, nil
}

// fromBase returns the base's entry of id.
func (st *folderState) fromBase(id mailaccess.ID) (stateMsg, bool, error) {
	line, ok, err := searchBase(st.lazy.base, string(id))
	if err != nil || !ok {
		return stateMsg{}, false, err
	}
	m, err := parseEntry(line)
	if err != nil {
		return stateMsg{}, false, st.corrupt("base record", err)
	}
	return m, true, nil
}

// resolve looks up the entries of ids, so that get answers for them. A
// loaded state has nothing to do.
func (st *folderState) resolve(ctx context.Context, ids []mailaccess.ID) error {
	if st.loaded {
		return nil
	}
	lz := st.lazy
	var todo []mailaccess.ID
	for _, id := range ids {
		if _, ok := lz.mem[id]; !ok {
			todo = append(todo, id)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if err := st.readRecords(ctx, todo); err != nil {
		return err
	}
	for _, id := range todo {
		if _, ok := lz.mem[id]; ok {
			continue // listed twice
		}
		e := &lazyEntry{}
		s := lz.saved[id]
		switch {
		case s != nil && s.absent:
			e.absent = true
		case s != nil && !s.flagsOnly:
			e.m = s.m
		default:
			m, ok, err := st.fromBase(id)
			if err != nil {
				return err
			}
			e.m, e.absent = m, !ok
			if ok && s != nil {
				e.m.Flags = s.flags
			}
		}
		lz.mem[id] = e
	}
	return nil
}

// markAbsent records that ids are known to have no entry (a caller that
// proved it without a lookup: UIDs above every recorded one, or a listing
// whose recorded part is unchanged), so that get answers for them.
func (st *folderState) markAbsent(ids []mailaccess.ID) {
	if st.loaded {
		return
	}
	for _, id := range ids {
		if _, ok := st.lazy.mem[id]; !ok {
			st.lazy.mem[id] = &lazyEntry{absent: true}
		}
	}
}

// mergedBase returns the body of a new base for a lazy state: the base's
// lines, in order, with the journal's changes and this pass's merged in,
// each line copied as it is unless it changed, so that compacting decodes
// only what changed, and the counts of its entries.
func (st *folderState) mergedBase(ctx context.Context) ([]byte, int, counts, error) {
	var c counts
	if err := st.readRecords(ctx, nil); err != nil {
		return nil, 0, c, err
	}
	lz := st.lazy
	// The latest value of every changed entry: this pass's over the
	// journal's; nil for a dropped one, flagsOnly for one whose flags
	// alone changed.
	type change struct {
		m         *stateMsg
		flagsOnly bool
		flags     []string
	}
	changes := make(map[mailaccess.ID]change, len(lz.saved)+len(lz.mem))
	for id, s := range lz.saved {
		switch {
		case s.absent:
			changes[id] = change{}
		case s.flagsOnly:
			changes[id] = change{flagsOnly: true, flags: s.flags}
		default:
			changes[id] = change{m: &s.m}
		}
	}
	for id, e := range lz.mem {
		if e.absent {
			changes[id] = change{}
		} else {
			changes[id] = change{m: &e.m}
		}
	}
	keys := make([]string, 0, len(changes))
	for id := range changes {
		keys = append(keys, string(id))
	}
	slices.Sort(keys)

	out := make([]byte, 0, len(lz.base)+len(keys)*160)
	n := 0
	c.UIDsKnown = st.Mode == modeUID
	emit := func(m *stateMsg) {
		out = appendEntry(out, m)
		out = append(out, '\n')
		c.tally(m, 1)
		n++
	}
	emitChange := func(ch change, baseLine []byte) error {
		switch {
		case ch.flagsOnly && baseLine == nil:
			// Flags of an entry the base does not hold: nothing to keep.
		case ch.flagsOnly:
			m, err := parseEntry(baseLine)
			if err != nil {
				return st.corrupt("base record", err)
			}
			m.Flags = ch.flags
			emit(&m)
		case ch.m != nil:
			emit(ch.m)
		}
		return nil
	}
	ki := 0
	for line := range lines(lz.base) {
		src, err := entrySrc(line)
		if err != nil {
			return nil, 0, c, st.corrupt("base record", err)
		}
		for ki < len(keys) && keys[ki] < src {
			if err := emitChange(changes[mailaccess.ID(keys[ki])], nil); err != nil {
				return nil, 0, c, err
			}
			ki++
		}
		if ki < len(keys) && keys[ki] == src {
			if err := emitChange(changes[mailaccess.ID(keys[ki])], line); err != nil {
				return nil, 0, c, err
			}
			ki++
			continue
		}
		deleted, pending, uid, err := lineCounts(line)
		if err != nil {
			return nil, 0, c, st.corrupt("base record", err)
		}
		out = append(append(out, line...), '\n')
		c.tally(&stateMsg{Deleted: deleted, Pending: pending, UID: uid}, 1)
		n++
	}
	for ; ki < len(keys); ki++ {
		if err := emitChange(changes[mailaccess.ID(keys[ki])], nil); err != nil {
			return nil, 0, c, err
		}
	}
	return out, n, c, nil
}
