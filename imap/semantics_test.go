package imap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// quirkServer starts an in-memory server with quirks and n messages in
// INBOX (UIDs 1..n), and dials it.
func quirkServer(t *testing.T, q *imaptest.Quirks, n int, opt map[string]string) (*imaptest.Server, *Mailbox, [][]byte) {
	t.Helper()
	var raws [][]byte
	for i := 1; i <= n; i++ {
		raws = append(raws, msg(fmt.Sprintf("m%d", i), strings.Repeat(fmt.Sprintf("line %d\r\n", i), i)))
	}
	srv := imaptest.Start(t, &imaptest.Options{Quirks: q}, imaptest.User{Name: "u", Password: "p", Messages: raws})
	cfg := srv.Config("u", "p")
	cfg.Options = opt
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mb, err := Dial(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { mb.Close() })
	return srv, mb, raws
}

// listHeaders is listIDs with headers.
func listHeaders(t *testing.T, mb mailaccess.Mailbox, folder string) ([]mailaccess.ID, []mailaccess.Message) {
	t.Helper()
	var (
		ids  []mailaccess.ID
		msgs []mailaccess.Message
	)
	for m, err := range mb.List(context.Background(), folder, &mailaccess.ListOptions{Headers: true}) {
		require.NoError(t, err)
		ids, msgs = append(ids, m.ID()), append(msgs, m)
	}
	return ids, msgs
}

// readAllOpenAll runs OpenAll over ids and returns what each message read
// to EOF without error, and the errors the readers returned.
func readAllOpenAll(t *testing.T, mb *Mailbox, ids []mailaccess.ID) (got map[mailaccess.ID][]byte, readErrs map[mailaccess.ID]error, err error) {
	got, readErrs = map[mailaccess.ID][]byte{}, map[mailaccess.ID]error{}
	err = mb.OpenAll(context.Background(), "INBOX", ids, func(id mailaccess.ID, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			readErrs[id] = err
			return nil // go on: OpenAll must still report it
		}
		got[id] = b
		return nil
	})
	return got, readErrs, err
}

// Item 1: a body that is not the message (NIL, empty, short, long) is
// never handed out as a good one, by OpenAll or by Open; the other
// messages of the batch still arrive. Also with the UID (and RFC822.SIZE)
// sent after the body.
func TestBodyNotTheMessageIsAnError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    func([]byte) []byte
		uidLast bool // UID and RFC822.SIZE after the body
	}{
		{"nil", func([]byte) []byte { return nil }, false},
		{"empty", func([]byte) []byte { return []byte{} }, false},
		{"short", func(b []byte) []byte { return b[:len(b)-7] }, false},
		{"long", func(b []byte) []byte { return append(append([]byte{}, b...), "X-Extra: 1\r\n"...) }, false},
		{"nil-uid-last", func([]byte) []byte { return nil }, true},
		{"short-uid-last", func(b []byte) []byte { return b[:len(b)-7] }, true},
		{"long-uid-last", func(b []byte) []byte { return append(append([]byte{}, b...), "X-Extra: 1\r\n"...) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const bad = 3
			q := &imaptest.Quirks{UIDLast: tc.uidLast, SizeLast: tc.uidLast, Body: func(uid imap.UID, b []byte) []byte {
				if uid == bad {
					return tc.body(b)
				}
				return b
			}}
			_, mb, raws := quirkServer(t, q, 5, nil)
			ids, _ := listIDs(t, mb, "INBOX")
			require.Len(t, ids, 5)
			badID := ids[bad-1]

			got, readErrs, err := readAllOpenAll(t, mb, ids)
			require.Error(t, err, "OpenAll must report the bad body")
			assert.ErrorIs(t, err, mailaccess.ErrProtocol)
			assert.Contains(t, err.Error(), string(badID), "the error names the message")
			assert.NotContains(t, got, badID, "the bad body never read to a clean EOF")
			if !strings.HasPrefix(tc.name, "nil") {
				assert.ErrorIs(t, readErrs[badID], mailaccess.ErrProtocol, "the reader itself fails where EOF would come")
			}
			for i, id := range ids {
				if id != badID {
					assert.Equal(t, raws[i], got[id], "message %s delivered intact", id)
				}
			}

			rc, err := mb.Open(context.Background(), "INBOX", badID, nil)
			if err == nil {
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			require.Error(t, err, "Open must not hand out the bad body as good")
			assert.ErrorIs(t, err, mailaccess.ErrProtocol)
			// The Mailbox is still usable.
			rc, err = mb.Open(context.Background(), "INBOX", ids[0], nil)
			require.NoError(t, err)
			b, err := io.ReadAll(rc)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			assert.Equal(t, raws[0], b)
		})
	}
}

// opt.size-check=off accepts a body whose length differs from
// RFC822.SIZE (servers that report approximate sizes), but never NIL or
// an empty body for a non-empty message.
func TestVerifySizeOptOut(t *testing.T) {
	var mode string
	q := &imaptest.Quirks{Body: func(uid imap.UID, b []byte) []byte {
		if uid != 2 {
			return b
		}
		switch mode {
		case "short":
			return b[:len(b)-3]
		case "nil":
			return nil
		}
		return []byte{}
	}}
	_, mb, raws := quirkServer(t, q, 3, map[string]string{OptSizeCheck: "off"})
	ids, _ := listIDs(t, mb, "INBOX")
	mode = "short"
	got, readErrs, err := readAllOpenAll(t, mb, ids)
	require.NoError(t, err)
	assert.Empty(t, readErrs)
	assert.Equal(t, raws[1][:len(raws[1])-3], got[ids[1]])
	for _, mode = range []string{"nil", "empty"} {
		_, _, err = readAllOpenAll(t, mb, ids)
		assert.ErrorIs(t, err, mailaccess.ErrProtocol, mode)
	}

	_, err = Dial(context.Background(), func() mailaccess.Config {
		cfg := mb.cfg.Get()
		cfg.Options = map[string]string{OptSizeCheck: "maybe"}
		return cfg
	}())
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
	assert.ErrorContains(t, err, "opt.size-check")
}

// A byte range is checked against what RFC822.SIZE implies for it.
func TestOpenRangeVerified(t *testing.T) {
	_, mb, raws := quirkServer(t, &imaptest.Quirks{}, 1, nil)
	ids, _ := listIDs(t, mb, "INBOX")
	for _, o := range []mailaccess.OpenOptions{{Offset: 3, Length: 5}, {Offset: 10}, {Offset: int64(len(raws[0])) + 5, Length: 3}} {
		rc, err := mb.Open(context.Background(), "INBOX", ids[0], &o)
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err, "%+v", o)
		require.NoError(t, rc.Close())
		want := []byte{}
		if o.Offset < int64(len(raws[0])) {
			end := int64(len(raws[0]))
			if o.Length > 0 {
				end = min(end, o.Offset+o.Length)
			}
			want = raws[0][o.Offset:end]
		}
		assert.Equal(t, string(want), string(b), "%+v", o)
	}
	// A checkedBody for a range refuses a body longer than the range.
	exp := rangeExpect(3, 5)
	assert.Equal(t, int64(5), exp(100))
	assert.Equal(t, int64(2), exp(5))
	assert.Equal(t, int64(0), exp(2))
}

// Item 2: FETCH responses whose UID comes after the body literal are
// delivered (OpenAll, Open, FetchHeader, List with headers).
func TestUIDAfterLiteral(t *testing.T) {
	_, mb, raws := quirkServer(t, &imaptest.Quirks{UIDLast: true, SizeLast: true}, 6, nil)
	ctx := context.Background()
	var (
		ids  []mailaccess.ID
		subj []string
	)
	for m, err := range mb.List(ctx, "INBOX", &mailaccess.ListOptions{Headers: true}) {
		require.NoError(t, err)
		ids = append(ids, m.ID())
		subj = append(subj, m.Header().Subject())
	}
	require.Len(t, ids, 6, "List with headers sees every message")
	assert.Equal(t, []string{"m1", "m2", "m3", "m4", "m5", "m6"}, subj)

	got, readErrs, err := readAllOpenAll(t, mb, ids)
	require.NoError(t, err)
	assert.Empty(t, readErrs)
	require.Len(t, got, 6, "every message delivered")
	for i, id := range ids {
		assert.Equal(t, raws[i], got[id], "message %s byte-exact", id)
	}

	rc, err := mb.Open(ctx, "INBOX", ids[4], nil)
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	assert.Equal(t, raws[4], b)

	h, err := mb.FetchHeader(ctx, "INBOX", ids[2])
	require.NoError(t, err)
	assert.Equal(t, "m3", h.Subject())
}

// Item 2: a message the server withholds from a body FETCH while it still
// exists is an error naming it; one expunged meanwhile is skipped.
func TestOpenAllAccountsForEveryID(t *testing.T) {
	var (
		mu       sync.Mutex
		withhold = map[imap.UID]bool{}
	)
	q := &imaptest.Quirks{Withhold: func(uid imap.UID) bool {
		mu.Lock()
		defer mu.Unlock()
		return withhold[uid]
	}}
	srv, mb, raws := quirkServer(t, q, 6, nil)
	ids, _ := listIDs(t, mb, "INBOX")
	mu.Lock()
	withhold[4] = true
	mu.Unlock()
	got, _, err := readAllOpenAll(t, mb, ids)
	require.Error(t, err, "a withheld message must not pass silently")
	assert.ErrorIs(t, err, mailaccess.ErrProtocol)
	assert.Contains(t, err.Error(), string(ids[3]))
	assert.Len(t, got, 5, "the others are delivered")
	assert.Equal(t, raws[4], got[ids[4]])

	// Withheld because it was expunged meanwhile: skipped, no error.
	other, err := Dial(context.Background(), srv.Config("u", "p"))
	require.NoError(t, err)
	defer other.Close()
	require.NoError(t, other.Delete(context.Background(), "INBOX", ids[3]))
	got, _, err = readAllOpenAll(t, mb, ids)
	require.NoError(t, err)
	assert.Len(t, got, 5)
	assert.NotContains(t, got, ids[3])
}

// Item 3: IDs carry the UIDVALIDITY; bare UIDs are refused.
func TestIDsCarryUIDValidity(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: [][]byte{msg("a", "1"), msg("b", "2")}})
	ctx := context.Background()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	st, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	ids, msgs := listIDs(t, mb, "INBOX")
	for i, id := range ids {
		uv, uid, err := ParseID(id)
		require.NoError(t, err)
		assert.Equal(t, st.UIDValidity, uv)
		assert.Equal(t, msgs[i].Info().UID, uid)
		assert.Equal(t, id, MakeID(uv, uid))
	}
	for _, bad := range []mailaccess.ID{"1", "", "1.", ".1", "1.0", "01.1", "1.01", "+1.1", "1.2.3", "x.1", "4294967296.1"} {
		_, _, err := ParseID(bad)
		assert.ErrorIs(t, err, mailaccess.ErrInvalid, "%q", bad)
	}
	_, err = mb.Open(ctx, "INBOX", "1", nil)
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
	assert.ErrorContains(t, err, "MakeID", "the error says what to use")
	assert.ErrorIs(t, mb.SetFlags(ctx, "INBOX", []mailaccess.ID{"1"}, mailaccess.AddFlags, mailaccess.FlagSeen), mailaccess.ErrInvalid)
	assert.ErrorIs(t, mb.Delete(ctx, "INBOX", "1"), mailaccess.ErrInvalid)
	_, err = mb.FetchHeader(ctx, "INBOX", "1")
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
	_, err = mb.Copy(ctx, "INBOX", []mailaccess.ID{"1"}, "Trash")
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
	// IDs of two epochs in one call.
	err = mb.Delete(ctx, "INBOX", ids[0], MakeID(st.UIDValidity+1, 2))
	assert.ErrorIs(t, err, mailaccess.ErrUIDValidity)
	// Append and Copy return IDs of the destination's epoch.
	trash, err := mb.Status(ctx, "Trash")
	require.NoError(t, err)
	newIDs, err := mb.Copy(ctx, "INBOX", ids, "Trash")
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{MakeID(trash.UIDValidity, 1), MakeID(trash.UIDValidity, 2)}, newIDs)
	id, err := mb.Append(ctx, "Trash", bytes.NewReader(msg("c", "3")), nil)
	require.NoError(t, err)
	assert.Equal(t, MakeID(trash.UIDValidity, 3), id)
	found, err := mb.Search(ctx, "INBOX", mailaccess.Criteria{Subject: "b"})
	require.NoError(t, err)
	assert.Equal(t, ids[1:], found)
	assert.ErrorIs(t, mb.SetFlags(ctx, "INBOX", []mailaccess.ID{ids[0]}, mailaccess.AddFlags, mailaccess.FlagSeen), nil)
	assert.ErrorIs(t, mb.SetFlags(ctx, "INBOX", []mailaccess.ID{MakeID(st.UIDValidity+1, 1)}, mailaccess.AddFlags, mailaccess.FlagSeen), mailaccess.ErrUIDValidity)
}

// testRecreatedFolder: IDs listed before the folder was deleted and
// recreated (new UIDVALIDITY, UIDs starting over) act on nothing in the new
// folder: every call that takes them fails with ErrUIDValidity, or at
// worst reaches the old folder; the new messages keep their flags and
// stay. recreate deletes and recreates "Work" from another session and
// puts three new messages in it.
func testRecreatedFolder(t *testing.T, mb mailaccess.Mailbox, recreate func()) {
	ctx := context.Background()
	ids, _ := listIDs(t, mb, "Work")
	require.Len(t, ids, 3)
	// A first flag change leaves "Work" selected read-write on the pool.
	require.NoError(t, mb.SetFlags(ctx, "Work", ids[:1], mailaccess.AddFlags, "$Old"))
	recreate()

	// SetFlags runs on the connection's current selection: the driver
	// catches the change there if the server told (or closed) it; if not,
	// the server acts on the folder it still has selected, the old one.
	err := mb.SetFlags(ctx, "Work", ids, mailaccess.AddFlags, mailaccess.FlagDeleted)
	t.Logf("SetFlags on the old selection: %v", err)
	if err != nil {
		assert.ErrorIs(t, err, mailaccess.ErrUIDValidity, "SetFlags")
	}
	err = mb.Delete(ctx, "Work", ids...)
	assert.ErrorIs(t, err, mailaccess.ErrUIDValidity, "Delete")
	_, err = mb.Move(ctx, "Work", ids, "Trash")
	assert.ErrorIs(t, err, mailaccess.ErrUIDValidity, "Move")
	err = mb.SetFlags(ctx, "Work", ids, mailaccess.AddFlags, mailaccess.FlagDeleted)
	assert.ErrorIs(t, err, mailaccess.ErrUIDValidity, "SetFlags after a fresh selection")
	_, err = mb.Copy(ctx, "Work", ids, "Trash")
	assert.ErrorIs(t, err, mailaccess.ErrUIDValidity, "Copy")
	_, err = mb.Open(ctx, "Work", ids[0], nil)
	assert.ErrorIs(t, err, mailaccess.ErrUIDValidity, "Open")
	_, err = mb.FetchHeader(ctx, "Work", ids[0])
	assert.ErrorIs(t, err, mailaccess.ErrUIDValidity, "FetchHeader")
	err = mb.(interface {
		OpenAll(context.Context, string, []mailaccess.ID, func(mailaccess.ID, io.Reader) error) error
	}).OpenAll(ctx, "Work", ids, func(mailaccess.ID, io.Reader) error { return errors.New("called") })
	assert.ErrorIs(t, err, mailaccess.ErrUIDValidity, "OpenAll")
	if rc, err := mb.OpenPart(ctx, "Work", ids[0], []int{1}, nil); assert.ErrorIs(t, err, mailaccess.ErrUIDValidity, "OpenPart") {
		assert.Nil(t, rc)
	} else if rc != nil {
		rc.Close()
	}
	_, err = mb.Structure(ctx, "Work", ids[0])
	assert.ErrorIs(t, err, mailaccess.ErrUIDValidity, "Structure")
	n := 0
	for m, err := range mb.Fetch(ctx, "Work", ids, nil) {
		n++
		assert.Nil(t, m, "Fetch")
		assert.ErrorIs(t, err, mailaccess.ErrUIDValidity, "Fetch")
	}
	assert.Equal(t, 1, n, "Fetch yields the error alone")

	now, msgs := listHeaders(t, mb, "Work")
	require.Len(t, now, 3, "the new folder's messages are all there")
	for _, m := range msgs {
		assert.Empty(t, m.Info().Flags, "message %s untouched", m.ID())
		assert.Contains(t, m.Header().Subject(), "new")
	}
	trash, _ := listIDs(t, mb, "Trash")
	assert.Empty(t, trash, "nothing moved or copied")
	for _, id := range now {
		assert.NotContains(t, ids, id, "new IDs differ from old ones")
	}
}

func TestRecreatedFolderMemServer(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p"})
	ctx := context.Background()
	cfg := srv.Config("u", "p")
	cfg.MaxConns = 1 // one connection, which keeps the folder selected
	mb, err := Dial(ctx, cfg)
	require.NoError(t, err)
	defer mb.Close()
	require.NoError(t, mb.CreateFolder(ctx, "Work"))
	for i := range 3 {
		_, err := srv.Append("u", "Work", msg(fmt.Sprintf("old %d", i), "x"), nil)
		require.NoError(t, err)
	}
	testRecreatedFolder(t, mb, func() {
		other, err := Dial(ctx, srv.Config("u", "p"))
		require.NoError(t, err)
		defer other.Close()
		require.NoError(t, other.DeleteFolder(ctx, "Work"))
		require.NoError(t, other.CreateFolder(ctx, "Work"))
		for i := range 3 {
			_, err := srv.Append("u", "Work", msg(fmt.Sprintf("new %d", i), "y"), nil)
			require.NoError(t, err)
		}
	})
}

// Item 8: no command line over 1000 octets, whatever the set of UIDs; the
// server answers BAD beyond that.
func TestCommandLinesWithin1000Octets(t *testing.T) {
	const n = 1400
	q := &imaptest.Quirks{MaxCommandLine: 1000}
	var raws [][]byte
	for i := 1; i <= n; i++ {
		raws = append(raws, []byte(fmt.Sprintf("Subject: s%d\r\n\r\n%d\r\n", i, i)))
	}
	srv := imaptest.Start(t, &imaptest.Options{Quirks: q}, imaptest.User{Name: "u", Password: "p", Messages: raws})
	ctx := context.Background()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	all, _ := listIDs(t, mb, "INBOX")
	require.Len(t, all, n)
	// Make the UIDs sparse: remove every other message, a few at a time.
	var odd []mailaccess.ID
	for start := 0; start < n; start += 40 {
		var even []mailaccess.ID
		for i := start; i < min(start+40, n); i++ {
			if i%2 == 1 {
				even = append(even, all[i])
			} else {
				odd = append(odd, all[i])
			}
		}
		require.NoError(t, mb.Delete(ctx, "INBOX", even...))
	}

	got := 0
	require.NoError(t, mb.OpenAll(ctx, "INBOX", odd, func(id mailaccess.ID, r io.Reader) error {
		got++
		_, err := io.Copy(io.Discard, r)
		return err
	}), "OpenAll")
	assert.Equal(t, len(odd), got)
	require.NoError(t, mb.SetFlags(ctx, "INBOX", odd, mailaccess.AddFlags, mailaccess.FlagSeen, mailaccess.FlagFlagged, "$Label1"), "SetFlags")
	copied, err := mb.Copy(ctx, "INBOX", odd, "Trash")
	require.NoError(t, err, "Copy")
	assert.NotContains(t, copied, mailaccess.ID(""), "COPYUID of every chunk")
	moved, err := mb.Move(ctx, "INBOX", odd[:len(odd)/2], "Junk")
	require.NoError(t, err, "Move")
	assert.Len(t, moved, len(odd)/2)
	require.NoError(t, mb.Delete(ctx, "INBOX", odd[len(odd)/2:]...), "Delete")
	left, _ := listIDs(t, mb, "INBOX")
	assert.Empty(t, left)
	st, err := mb.Status(ctx, "Trash")
	require.NoError(t, err)
	assert.Equal(t, len(odd), st.Messages)
	assert.LessOrEqual(t, srv.LongestCommandLine(), maxCommandLine)

	// The same without MOVE: COPY, STORE and UID EXPUNGE in chunks.
	srv2 := imaptest.Start(t, &imaptest.Options{Quirks: q, Caps: []imap.Cap{imap.CapUIDPlus}}, imaptest.User{Name: "u", Password: "p", Messages: raws})
	mb2, err := Dial(ctx, srv2.Config("u", "p"))
	require.NoError(t, err)
	defer mb2.Close()
	require.False(t, mb2.Capabilities().Has(mailaccess.CapMove))
	all2, _ := listIDs(t, mb2, "INBOX")
	var odd2 []mailaccess.ID
	for i := 0; i < len(all2); i += 2 {
		odd2 = append(odd2, all2[i])
	}
	_, err = mb2.Move(ctx, "INBOX", odd2, "Junk")
	require.NoError(t, err, "emulated Move")
	left2, _ := listIDs(t, mb2, "INBOX")
	assert.Len(t, left2, len(all2)-len(odd2))
	assert.LessOrEqual(t, srv2.LongestCommandLine(), maxCommandLine)
}

// The splitting itself: chunks cover every number once, in order, within
// the room and the count.
func TestSplitNums(t *testing.T) {
	var nums []uint32
	for i := uint32(1); i < 5000; i += 2 {
		nums = append(nums, 4000000000+i, i)
	}
	nums = append(nums, 7, 7, 100000, 100001, 100002)
	chunks := splitNums(nums, 100, 300)
	var seen []uint32
	for _, ch := range chunks {
		set := make(imap.UIDSet, len(ch))
		count := 0
		for i, r := range ch {
			set[i] = imap.UIDRange{Start: imap.UID(r.lo), Stop: imap.UID(r.hi)}
			for v := r.lo; ; v++ {
				seen = append(seen, v)
				count++
				if v == r.hi {
					break
				}
			}
		}
		assert.LessOrEqual(t, len(set.String()), 100)
		assert.LessOrEqual(t, count, 300)
	}
	want := append([]uint32(nil), nums...)
	want = want[:0]
	for i := uint32(1); i < 5000; i += 2 {
		want = append(want, i)
	}
	want = append(want, 100000, 100001, 100002)
	for i := uint32(1); i < 5000; i += 2 {
		want = append(want, 4000000000+i)
	}
	assert.Equal(t, want, seen)
	assert.Len(t, splitNums([]uint32{1, 2, 3, 4, 5}, 100, 2), 3, "a run is cut at the count")
}

// Item 10: UTF8=ACCEPT is enabled where offered, so a server that
// downgrades messages with UTF-8 headers for clients that did not enable
// it sends them as stored, and folder names travel as UTF-8.
func TestUTF8AcceptEnabled(t *testing.T) {
	raw := []byte("From: Jörg <j@example.com>\r\nSubject: Grüße aus Köln\r\n\r\nHallo\r\n")
	q := &imaptest.Quirks{Downgrade8bit: true}
	srv := imaptest.Start(t, &imaptest.Options{Quirks: q}, imaptest.User{Name: "u", Password: "p", Messages: [][]byte{raw}})
	ctx := context.Background()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	require.NoError(t, mb.CreateFolder(ctx, "Grüße & Co"))
	ids, _ := listIDs(t, mb, "INBOX")
	require.Len(t, ids, 1)
	rc, err := mb.Open(ctx, "INBOX", ids[0], nil)
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	assert.Equal(t, string(raw), string(b), "the message as stored, not a downgraded copy")
	var got []byte
	require.NoError(t, mb.OpenAll(ctx, "INBOX", ids, func(_ mailaccess.ID, r io.Reader) error {
		got, err = io.ReadAll(r)
		return err
	}))
	assert.Equal(t, string(raw), string(got))

	_, err = mb.Copy(ctx, "INBOX", ids, "Grüße & Co")
	require.NoError(t, err)
	copied, msgs := listHeaders(t, mb, "Grüße & Co")
	require.Len(t, copied, 1)
	assert.Equal(t, "Grüße aus Köln", msgs[0].Header().Subject())
	folders, err := mb.Folders(ctx)
	require.NoError(t, err)
	var names []string
	for _, f := range folders {
		names = append(names, f.Name)
	}
	assert.Contains(t, names, "Grüße & Co")

	lines := strings.Join(srv.CommandLines(), "\n")
	assert.Contains(t, lines, "ENABLE UTF8=ACCEPT")
	assert.Contains(t, lines, `"Grüße &- Co"`, "the folder name travels as UTF-8 (only & escaped)")
	assert.NotContains(t, lines, "&APw-", "no modified UTF-7 after ENABLE")

	// A fresh connection whose first command is APPEND enables UTF-8
	// first: such a server refuses UTF-8 headers otherwise (RFC 6855 4).
	mb2, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb2.Close()
	before := len(srv.CommandLines())
	_, err = mb2.Append(ctx, "INBOX", bytes.NewReader(raw), nil)
	require.NoError(t, err)
	var cmds []string
	for _, l := range srv.CommandLines()[before:] {
		if f := strings.Fields(l); len(f) >= 2 {
			cmds = append(cmds, f[1])
		}
	}
	assert.Equal(t, []string{"ENABLE", "APPEND"}, cmds)
}

// Without UTF8=ACCEPT on offer nothing is enabled, and names go as
// modified UTF-7.
func TestUTF8AcceptNotOffered(t *testing.T) {
	q := &imaptest.Quirks{HideCaps: []imap.Cap{imap.CapUTF8Accept}}
	srv := imaptest.Start(t, &imaptest.Options{Quirks: q}, imaptest.User{Name: "u", Password: "p", Messages: [][]byte{msg("a", "b")}})
	ctx := context.Background()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	require.NoError(t, mb.CreateFolder(ctx, "Grüße"))
	ids, _ := listIDs(t, mb, "Grüße")
	assert.Empty(t, ids)
	ids, _ = listIDs(t, mb, "INBOX")
	assert.Len(t, ids, 1)
	lines := strings.Join(srv.CommandLines(), "\n")
	assert.NotContains(t, lines, "ENABLE")
	assert.Contains(t, lines, "Gr&APwA3w-e")
}
