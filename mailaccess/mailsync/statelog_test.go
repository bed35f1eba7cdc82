package mailsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// An entry whose every string field holds the separators of the line
// format reads back equal.
func TestStateCodecRoundTrip(t *testing.T) {
	awkward := "a\tb\nc\rd e\\f\\t"
	for _, m := range []stateMsg{
		{Src: "1"},
		{Src: mailaccess.ID(awkward), Dst: mailaccess.ID(awkward), Size: 1 << 40, First: 1700000000, Flags: []string{`\Seen`, awkward, ""},
			MsgID: awkward, Deleted: true, Pending: true, Reident: true, Gen: 3, Print: awkward, Listed: 7, UID: 1<<32 - 1},
		{Src: "h:00ff", Flags: []string{`\Flagged`}, MsgID: "<x@y>"},
	} {
		line := appendEntry(nil, &m)
		require.Zero(t, bytes.Count(line, []byte{'\n'}))
		got, err := parseEntry(line)
		require.NoError(t, err)
		if len(m.Flags) == 0 {
			m.Flags = nil
		}
		assert.Equal(t, m, got)
		for _, op := range []stateOp{{kind: opPut, m: m}, {kind: opFlags, src: m.Src, flags: m.Flags}, {kind: opDrop, src: m.Src}} {
			b := appendOp(nil, &op)
			got, err := parseOp(b[:len(b)-1])
			require.NoError(t, err)
			assert.Equal(t, op, got)
		}
	}
	for _, bad := range []string{"", "x", "1\t\t\t\t\t\t\t\t\t", "1\t\tz\t\t\t\t\t\t\t\t", "1\t\t\t\t\t\tq\t\t\t\t", "1\\\t\t\t\t\t\t\t\t\t\t", "\t\t\t\t\t\t\t\t\t\t"} {
		_, err := parseEntry([]byte(bad))
		assert.ErrorIs(t, err, errCorrupt, "%q", bad)
	}
}

// searchBase finds every line of a sorted base, and nothing between or
// around them.
func TestSearchBase(t *testing.T) {
	var body []byte
	var ids []string
	for i := range 200 {
		id := fmt.Sprintf("%05d", i*2+1)
		if i%17 == 0 {
			id += "\tx"
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		body = appendEntry(body, &stateMsg{Src: mailaccess.ID(id), Size: 1})
		body = append(body, '\n')
	}
	for _, id := range ids {
		line, ok, err := searchBase(body, id)
		require.NoError(t, err)
		require.True(t, ok, id)
		m, err := parseEntry(line)
		require.NoError(t, err)
		assert.Equal(t, id, string(m.Src))
	}
	for _, id := range []string{"", "00000", "00002", "00400", "99999", "00001\t"} {
		_, ok, err := searchBase(body, id)
		require.NoError(t, err)
		assert.False(t, ok, id)
	}
	_, ok, err := searchBase(nil, "1")
	require.NoError(t, err)
	assert.False(t, ok)
}

// faultState is a StateStore in memory that can fail a chosen Save (the
// failed one is not applied, as a crash before an atomic Save completes),
// and counts what it reads.
type faultState struct {
	m        map[string][]byte
	saves    int
	failAt   int // 1-based Save to fail; 0: none
	loads    int
	loadedKB int
}

func (s *faultState) Lock(context.Context) (func() error, error) {
	return func() error { return nil }, nil
}
func (s *faultState) Load(_ context.Context, k string) ([]byte, error) {
	s.loads++
	s.loadedKB += len(s.m[k]) / 1024
	return s.m[k], nil
}
func (s *faultState) Save(_ context.Context, k string, b []byte) error {
	s.saves++
	if s.saves == s.failAt {
		return errors.New("injected crash")
	}
	s.m[k] = bytes.Clone(b)
	return nil
}

// model is what the state must hold.
type model map[mailaccess.ID]stateMsg

func (md model) counts() (live, tombs, pending int) {
	for _, m := range md {
		switch {
		case m.Deleted:
			tombs++
		default:
			live++
		}
		if m.Pending {
			pending++
		}
	}
	return
}

func checkModel(t *testing.T, ss StateStore, md model, step string) {
	t.Helper()
	ctx := context.Background()
	st, err := loadState(ctx, ss, "a", "F")
	require.NoError(t, err, step)
	got := model{}
	for _, m := range st.Msgs {
		got[m.Src] = m
	}
	require.Equal(t, len(md), len(got), step)
	for id, m := range md {
		require.Equal(t, m, got[id], "%s: entry %q", step, id)
	}
	live, tombs, pending := md.counts()
	assert.Equal(t, []int{live, tombs, pending}, []int{st.Live, st.Tombs, st.Pending}, "%s: head counts", step)
}

func randomEntry(rng *rand.Rand, id mailaccess.ID) stateMsg {
	m := stateMsg{Src: id, Dst: mailaccess.ID(fmt.Sprintf("d%d", rng.IntN(1e6))), Size: rng.Int64N(1e6), First: 1700000000 + rng.Int64N(1e6),
		MsgID: fmt.Sprintf("<%d@x>", rng.IntN(1e6)), UID: uint32(rng.IntN(1e6) + 1)}
	if rng.IntN(3) == 0 {
		m.Flags = []string{`\Seen`}
	}
	if rng.IntN(10) == 0 {
		m.Deleted = true
	}
	if rng.IntN(10) == 0 {
		m.Pending = true
	}
	if rng.IntN(10) == 0 {
		m.Src = mailaccess.ID(string(m.Src) + " \t odd")
	}
	return m
}

// TestStateJournalModel drives the state through many passes, loaded and
// lazy, each changing a few random entries, with compactions along the
// way, and after each commit loads it back and compares it with a model;
// lazy lookups must agree with the model too. Some passes fail at a random
// Save, as a crash would stop them: the state loaded afterwards is the one
// before the pass, whichever record the failed Save was for.
func TestStateJournalModel(t *testing.T) {
	defer func(n int) { compactMin = n }(compactMin)
	compactMin = 8
	ctx := context.Background()
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		ss := &faultState{m: map[string][]byte{}}
		md := model{}
		next := 0
		newID := func() mailaccess.ID { next++; return mailaccess.ID(fmt.Sprintf("%04d", next)) }
		for pass := range 60 {
			step := fmt.Sprintf("seed %d pass %d", seed, pass)
			want := maps.Clone(md)
			head, _, err := readHead(ctx, ss, "a", "F")
			require.NoError(t, err, step)
			var st *folderState
			lazy := head != nil && rng.IntN(2) == 0
			switch {
			case head == nil:
				st = newState(ss, "a", "F")
			case lazy:
				st = lazyState(ss, head)
			default:
				st, err = loadState(ctx, ss, "a", "F")
				require.NoError(t, err, step)
			}
			known := slices.Sorted(maps.Keys(md))
			// Resolve some entries that exist and some that do not.
			var touch []mailaccess.ID
			for range rng.IntN(6) {
				if len(known) > 0 {
					touch = append(touch, known[rng.IntN(len(known))])
				}
			}
			touch = append(touch, "nope"+mailaccess.ID(fmt.Sprint(rng.IntN(3))))
			require.NoError(t, st.resolve(ctx, touch), step)
			for _, id := range touch {
				m, ok := st.get(id)
				w, wok := want[id]
				require.Equal(t, wok, ok, "%s: lookup %q", step, id)
				require.Equal(t, w, m, "%s: lookup %q", step, id)
			}
			// Change some of them, and add new entries.
			for _, id := range touch {
				if _, ok := want[id]; !ok {
					continue
				}
				switch rng.IntN(4) {
				case 0:
					flags := []string{fmt.Sprintf("$k%d", rng.IntN(9))}
					st.setFlags(id, flags)
					m := want[id]
					m.Flags = flags
					want[id] = m
				case 1:
					st.update(id, func(m *stateMsg) { m.Size++ })
					m := want[id]
					m.Size++
					want[id] = m
				case 2:
					if !lazy {
						st.remove(map[mailaccess.ID]bool{id: true})
						delete(want, id)
					}
				}
			}
			var fresh []mailaccess.ID
			for range rng.IntN(12) {
				fresh = append(fresh, newID())
			}
			st.markAbsent(fresh)
			for _, id := range fresh {
				m := randomEntry(rng, id)
				m.Src = id
				st.put(m)
				want[id] = m
			}
			if !lazy && rng.IntN(8) == 0 {
				// The entries replaced as a whole (a re-identification).
				all := slices.Collect(maps.Values(want))
				st.replaceAll(all)
			}
			st.Clean = true
			crash := rng.IntN(5) == 0
			if crash {
				ss.failAt = ss.saves + 1 + rng.IntN(2)
			}
			err = st.save(ctx, ss)
			ss.failAt = 0
			if crash && err != nil {
				checkModel(t, ss, md, step+" (crashed)")
				continue
			}
			require.NoError(t, err, step)
			md = want
			checkModel(t, ss, md, step)
		}
		// The records stay bounded: a head, two bases, and the journal
		// segments of two generations at most.
		assert.LessOrEqual(t, len(ss.m), 3+2*(compactAt(len(md))+1), "seed %d: keys", seed)
	}
}

// A journal or base left by an interrupted save under a key that is reused
// later is never read for the one the head names: a record of another
// generation, or another position, is an error, not data.
func TestStateRejectsStaleRecords(t *testing.T) {
	ctx := context.Background()
	ss := &faultState{m: map[string][]byte{}}
	st := newState(ss, "a", "F")
	st.put(stateMsg{Src: "1", Size: 1})
	st.rewrite = true
	require.NoError(t, st.save(ctx, ss)) // base generation 1
	require.Equal(t, uint64(1), st.Base.Gen)
	st.put(stateMsg{Src: "2", Size: 2})
	require.NoError(t, st.save(ctx, ss)) // journal segment 1
	require.Equal(t, 1, st.Journal)
	seg := st.journalKey(st.Base.Slot, 1)
	good := ss.m[seg]
	require.True(t, bytes.HasPrefix(good, []byte("mailsync-journal 1 1 1\n")), "%q", good)
	ss.m[seg] = bytes.Replace(good, []byte(" 1 1 1\n"), []byte(" 1 7 1\n"), 1)
	_, err := loadState(ctx, ss, "a", "F")
	assert.ErrorIs(t, err, errCorrupt, "another generation")
	ss.m[seg] = bytes.Replace(good, []byte(" 1 1 1\n"), []byte(" 1 1 2\n"), 1)
	_, err = loadState(ctx, ss, "a", "F")
	assert.ErrorIs(t, err, errCorrupt, "another position")
	delete(ss.m, seg)
	_, err = loadState(ctx, ss, "a", "F")
	assert.ErrorIs(t, err, errCorrupt, "a missing segment")
	assert.ErrorContains(t, err, "journal segment 1")
	ss.m[seg] = good
	st2, err := loadState(ctx, ss, "a", "F")
	require.NoError(t, err)
	assert.Len(t, st2.Msgs, 2)
	base := st.baseKey(st.Base.Slot)
	require.True(t, strings.HasPrefix(string(ss.m[base]), "mailsync-base 1 1 1\n"), "%q", ss.m[base])
	ss.m[base] = []byte(strings.Replace(string(ss.m[base]), "mailsync-base 1 1 1", "mailsync-base 1 1 2", 1))
	_, err = loadState(ctx, ss, "a", "F")
	assert.ErrorIs(t, err, errCorrupt, "a base of another size")
}
