package chaostest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// reading is what a clean connection reads of a mailbox: the reference
// the chaotic reads are compared with.
type reading struct {
	ids     []mailaccess.ID
	sizes   map[mailaccess.ID]int64
	msgIDs  map[mailaccess.ID]string // Message-ID of the header
	subject map[mailaccess.ID]string
	bodies  map[mailaccess.ID]string
	parts   map[mailaccess.ID][]int // the first text part
	texts   map[mailaccess.ID]string
	found   []mailaccess.ID // what the search finds
}

// searchFor is the criteria every run searches with: a header criterion
// and a body criterion, so POP3 reads headers (TOP) and bodies (RETR).
var searchFor = mailaccess.Or(mailaccess.Criteria{Subject: "e"}, mailaccess.Criteria{Body: "the"})

// read reads everything the property compares, failing on no error:
// it is the clean reference.
func read(t *testing.T, ctx context.Context, mb mailaccess.Mailbox) *reading {
	r := &reading{sizes: map[mailaccess.ID]int64{}, msgIDs: map[mailaccess.ID]string{}, subject: map[mailaccess.ID]string{},
		bodies: map[mailaccess.ID]string{}, parts: map[mailaccess.ID][]int{}, texts: map[mailaccess.ID]string{}}
	for m, err := range mb.List(ctx, mailaccess.Inbox, &mailaccess.ListOptions{Headers: true}) {
		require.NoError(t, err)
		r.ids = append(r.ids, m.ID())
		r.sizes[m.ID()] = m.Size()
		r.msgIDs[m.ID()] = m.Header().MessageID()
		r.subject[m.ID()] = m.Header().Subject()
	}
	for _, id := range r.ids {
		b, err := readAll(mb.Open(ctx, mailaccess.Inbox, id, nil))
		require.NoError(t, err)
		r.bodies[id] = b
		st, err := mb.Structure(ctx, mailaccess.Inbox, id)
		require.NoError(t, err)
		if p := st.Text(); p != nil {
			r.parts[id] = p.Path
			r.texts[id], err = readAll(mb.OpenPart(ctx, mailaccess.Inbox, id, p.Path, &mailaccess.PartOptions{UTF8: true}))
			require.NoError(t, err)
		}
	}
	var err error
	r.found, err = mb.Search(ctx, mailaccess.Inbox, searchFor)
	require.NoError(t, err)
	return r
}

func readAll(rc io.ReadCloser, err error) (string, error) {
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

// TestChaosMailbox runs the plain Mailbox calls (List, Fetch, Open,
// Structure, OpenPart, Search) through the chaos proxy and checks that
// each either fails or returns exactly what a clean connection returns;
// memory stays bounded and nothing hangs.
func TestChaosMailbox(t *testing.T) {
	ks := kinds(t)
	for _, tg := range targets() {
		for _, seed := range seeds("mailbox", tg) {
			t.Run(fmt.Sprintf("%s/seed=%d", tg.name, seed), func(t *testing.T) {
				runMailbox(t, tg, withTimes(RandomPlan(seed, ks)))
			})
		}
	}
}

func runMailbox(t *testing.T, tg target, plan Plan) {
	msgs := messages(plan.Seed)
	srv := tg.start(t, msgs)
	addr, user, pass := srv.addr, srv.user, srv.pass
	plan.Bodies = msgs
	p, err := Start(tg.proto, addr, plan)
	require.NoError(t, err)
	defer p.Close()
	defer func() {
		if t.Failed() || testing.Verbose() {
			for _, e := range p.Events() {
				t.Logf("fault: %s", e)
			}
		}
	}()
	t.Logf("plan %s, %d messages", plan, len(msgs))
	ctx, cancel := context.WithTimeout(context.Background(), runDeadline)
	defer cancel()

	clean, err := dial(ctx, config(tg.proto, addr, user, pass, 0))
	require.NoError(t, err)
	ref := read(t, ctx, clean)
	clean.Close()

	hw := watchHeap()
	defer func() {
		peak := hw.Stop()
		t.Logf("peak heap %d MiB", peak>>20)
		require.Less(t, peak, uint64(heapCeiling), "peak heap")
		require.NoError(t, ctx.Err(), "the calls were still going after %s (hung)", runDeadline)
	}()
	var mb mailaccess.Mailbox
	for range 5 { // Dial itself meets the chaos
		if mb, err = dial(ctx, config(tg.proto, p.Addr, user, pass, chaosTimeout)); err == nil {
			break
		}
		requireErrorNamed(t, err)
	}
	if mb == nil {
		t.Logf("no session: %v", err)
		return
	}
	defer mb.Close()
	if !mb.Capabilities().Has(mailaccess.CapUID) {
		// The server refused UIDL (or CAPA, and UIDL when probed) at login:
		// the IDs are the session's message numbers, not the reference's.
		t.Logf("no stable IDs in this session (%s): nothing to compare by ID", mb.Capabilities())
		return
	}
	errs := 0
	note := func(op string, err error) bool {
		if err == nil {
			return false
		}
		requireErrorNamed(t, err)
		errs++
		t.Logf("%s: %v", op, err)
		return true
	}

	// List: no ID twice, in ascending order; what it says of a message
	// is what the clean listing says, unless sizes were lied about.
	var listed []mailaccess.ID
	for m, err := range mb.List(ctx, mailaccess.Inbox, &mailaccess.ListOptions{Headers: true}) {
		if note("List", err) {
			break
		}
		id := m.ID()
		require.NotContains(t, listed, id, "List yielded %s twice", id)
		listed = append(listed, id)
		if want, ok := ref.msgIDs[id]; ok && !swapped(p) {
			require.Equal(t, want, m.Header().MessageID(), "List: header of %s", id)
		}
	}

	// Fetch with headers and structure: each ID at most once, the
	// headers those of the messages.
	seen := map[mailaccess.ID]bool{}
	for m, err := range mb.Fetch(ctx, mailaccess.Inbox, ref.ids, &mailaccess.FetchOptions{Headers: true, Structure: true}) {
		if note("Fetch", err) {
			break
		}
		require.False(t, seen[m.ID()], "Fetch yielded %s twice", m.ID())
		seen[m.ID()] = true
		require.Contains(t, ref.ids, m.ID(), "Fetch yielded an ID not asked for")
		if !swapped(p) {
			require.Equal(t, ref.msgIDs[m.ID()], m.Header().MessageID(), "Fetch: header of %s", m.ID())
			require.Equal(t, ref.subject[m.ID()], m.Header().Subject(), "Fetch: header of %s", m.ID())
		}
	}

	// Open and OpenPart: the message's bytes, or an error.
	for _, id := range ref.ids {
		b, err := readAll(mb.Open(ctx, mailaccess.Inbox, id, nil))
		switch {
		case note("Open "+string(id), err):
		case swapped(p):
			require.Contains(t, slices.Collect(maps.Values(ref.bodies)), b, "Open %s returned bytes of no message", id)
		default:
			require.Equal(t, ref.bodies[id], b, "Open %s returned other bytes without an error", id)
		}
		if path := ref.parts[id]; path != nil && !swapped(p) {
			b, err := readAll(mb.OpenPart(ctx, mailaccess.Inbox, id, path, &mailaccess.PartOptions{UTF8: true}))
			if !note(fmt.Sprintf("OpenPart %s %v", id, path), err) {
				require.Equal(t, ref.texts[id], b, "OpenPart %s %v returned other text without an error", id, path)
			}
		}
	}

	// Search: the same IDs, or an error.
	found, err := mb.Search(ctx, mailaccess.Inbox, searchFor)
	if !note("Search", err) && !swapped(p) {
		want := slices.Clone(ref.found)
		if p.Fired(UIDValidity) {
			// The server said the folder is another: its IDs carry the
			// new UIDVALIDITY; the UIDs are the same messages (the proxy
			// changes the number only).
			want, found = uids(want), uids(found)
		}
		slices.Sort(found)
		slices.Sort(want)
		require.Equal(t, want, found, "Search found other messages without an error")
	}
	t.Logf("%d calls failed; faults: %d", errs, len(p.Events()))
}

// uids strips the UIDVALIDITY from IMAP IDs ("uidvalidity.uid").
func uids(ids []mailaccess.ID) []mailaccess.ID {
	out := make([]mailaccess.ID, len(ids))
	for i, id := range ids {
		_, uid, _ := strings.Cut(string(id), ".")
		out[i] = mailaccess.ID(uid)
	}
	return out
}

// swapped reports whether the server gave IDs to the wrong messages (a
// recycled UIDL), a lie no client can see through: what an ID names is
// then compared by content only.
func swapped(p *Proxy) bool { return p.Fired(RecycleUIDL) }
