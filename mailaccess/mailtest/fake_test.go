package mailtest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

func msg(subject, body string) []byte {
	return []byte("From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: " + subject + "\r\n\r\n" + body + "\r\n")
}

func ids(t *testing.T, mb mailaccess.Mailbox, folder string, opts *mailaccess.ListOptions) []mailaccess.ID {
	t.Helper()
	var out []mailaccess.ID
	for m, err := range mb.List(context.Background(), folder, opts) {
		require.NoError(t, err)
		out = append(out, m.ID())
	}
	return out
}

func readAll(t *testing.T, mb mailaccess.Mailbox, folder string, id mailaccess.ID, opts *mailaccess.OpenOptions) []byte {
	t.Helper()
	rc, err := mb.Open(context.Background(), folder, id, opts)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}

func TestPOP3ProfileRefusesWhatPOP3Cannot(t *testing.T) {
	ctx := context.Background()
	mb := mailtest.New(mailtest.ProfilePOP3)
	id := mb.Add("INBOX", msg("one", "x"))
	checks := map[string]error{
		"setflags": mb.SetFlags(ctx, "INBOX", []mailaccess.ID{id}, mailaccess.AddFlags, mailaccess.FlagSeen),
		"append":   func() error { _, err := mb.Append(ctx, "INBOX", strings.NewReader("x"), nil); return err }(),
		"move":     func() error { _, err := mb.Move(ctx, "INBOX", []mailaccess.ID{id}, "INBOX"); return err }(),
		"copy":     func() error { _, err := mb.Copy(ctx, "INBOX", []mailaccess.ID{id}, "INBOX"); return err }(),
		"partial": func() error {
			_, err := mb.Open(ctx, "INBOX", id, &mailaccess.OpenOptions{Part: []int{1}})
			return err
		}(),
		"create folder": mailaccess.CreateFolder(ctx, mb, "X"),
	}
	for name, err := range checks {
		assert.ErrorIs(t, err, errors.ErrUnsupported, name)
	}
	fs, err := mb.Folders(ctx)
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.Folder{{Name: "INBOX", Role: mailaccess.RoleInbox}}, fs)
	// Search and Sort work without server-side search, as the pop3
	// driver's do (locally).
	got, err := mb.Search(ctx, "INBOX", mailaccess.Criteria{Subject: "one"})
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{id}, got)
	got, err = mb.Sort(ctx, "INBOX", mailaccess.Criteria{}, mailaccess.SortKey{By: mailaccess.SortSubject})
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{id}, got)
}

func TestOpenByURLSharesNamedStore(t *testing.T) {
	ctx := context.Background()
	name := "shared-" + t.Name()
	t.Cleanup(func() { mailtest.RemoveNamedStore(name) })
	mailtest.NamedStore(name).Add("INBOX", msg("seeded", "x"))

	a, err := mailaccess.OpenURL(ctx, "mem://"+name+"?opt.profile=pop3")
	require.NoError(t, err)
	defer a.Close()
	assert.Equal(t, mailtest.ProfilePOP3, a.Capabilities())
	b, err := mailaccess.OpenURL(ctx, "mem://"+name)
	require.NoError(t, err)
	defer b.Close()
	assert.Equal(t, mailtest.ProfileIMAP, b.Capabilities())

	_, err = b.Append(ctx, "INBOX", bytes.NewReader(msg("appended", "y")), nil)
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{"1", "2"}, ids(t, a, "INBOX", nil))

	var fake *mailtest.Mailbox
	require.True(t, a.As(&fake))
	assert.Len(t, fake.Messages("INBOX"), 2)

	_, err = mailaccess.OpenURL(ctx, "mem://x?opt.profile=bogus")
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
}

func TestDeferredDeleteAppliesOnlyAtCommit(t *testing.T) {
	ctx := context.Background()
	s := mailtest.NewStore()
	s.Add("INBOX", msg("a", "1"))
	s.Add("INBOX", msg("b", "2"))

	mb := s.Open(mailtest.ProfilePOP3)
	require.NoError(t, mb.Delete(ctx, "INBOX", "1"))
	assert.Equal(t, []mailaccess.ID{"2"}, ids(t, mb, "INBOX", nil), "hidden from the deleting session")
	assert.Len(t, s.Messages("INBOX"), 2, "not applied before Commit")
	err := mb.Close()
	assert.ErrorIs(t, err, mailaccess.ErrDeletesDiscarded, "Close without Commit says it discarded")
	assert.ErrorContains(t, err, "1 pending deletion dropped by Close")
	assert.Len(t, s.Messages("INBOX"), 2, "Close without Commit discards")

	mb = s.Open(mailtest.ProfilePOP3)
	require.NoError(t, mb.Delete(ctx, "INBOX", "1", "2"))
	require.NoError(t, mailaccess.Rollback(ctx, mb))
	assert.Equal(t, []mailaccess.ID{"1", "2"}, ids(t, mb, "INBOX", nil), "Rollback shows the messages again")
	require.NoError(t, mb.Close(), "nothing discarded after Rollback")
	assert.Len(t, s.Messages("INBOX"), 2)

	mb = s.Open(mailtest.ProfilePOP3)
	defer mb.Close()
	require.NoError(t, mb.Delete(ctx, "INBOX", "1"))
	require.NoError(t, mailaccess.Commit(ctx, mb))
	assert.Len(t, s.Messages("INBOX"), 1)
	_, err = mb.Open(ctx, "INBOX", "1", nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)
}

func TestFailNthAndFailAlways(t *testing.T) {
	ctx := context.Background()
	mb := mailtest.New(mailtest.ProfileIMAP)
	mb.Add("INBOX", msg("a", "1"))
	boom := errors.New("boom")
	mb.FailNth(mailtest.OpStatus, 2, boom)
	_, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	_, err = mb.Status(ctx, "INBOX")
	require.ErrorIs(t, err, boom)
	var oe *mailaccess.OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "status", oe.Op)
	_, err = mb.Status(ctx, "INBOX")
	require.NoError(t, err, "FailNth fails once")

	mb.FailAlways(mailtest.OpList, nil)
	for range 2 {
		for _, err := range mb.List(ctx, "INBOX", nil) {
			assert.ErrorIs(t, err, mailtest.ErrInjected)
		}
	}
	assert.Equal(t, 2, mb.Calls(mailtest.OpList))
	mb.ClearFaults()
	assert.Len(t, ids(t, mb, "INBOX", nil), 1)
}

func TestCutBodyAfter(t *testing.T) {
	mb := mailtest.New(mailtest.ProfileIMAP)
	id := mb.Add("INBOX", msg("a", strings.Repeat("x", 100)))
	mb.CutBodyAfter(10)
	rc, err := mb.Open(context.Background(), "INBOX", id, nil)
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Len(t, b, 10)
	mb.CutBodyAfter(-1)
	assert.Equal(t, msg("a", strings.Repeat("x", 100)), readAll(t, mb, "INBOX", id, nil))
}

func TestLatencyHonoursContext(t *testing.T) {
	mb := mailtest.New(mailtest.ProfileIMAP)
	mb.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	_, err := mb.Status(ctx, "INBOX")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestDropConnections(t *testing.T) {
	ctx := context.Background()
	s := mailtest.NewStore()
	s.Add("INBOX", msg("a", "1"))
	mb := s.Open(mailtest.ProfilePOP3)
	require.NoError(t, mb.Delete(ctx, "INBOX", "1"))
	s.DropConnections()
	_, err := mb.Status(ctx, "INBOX")
	assert.ErrorIs(t, err, mailtest.ErrConnectionDropped)
	assert.ErrorIs(t, mailaccess.Commit(ctx, mb), mailtest.ErrConnectionDropped)

	again := s.Open(mailtest.ProfilePOP3)
	defer again.Close()
	st, err := again.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, 1, st.Messages, "the dropped session's delete was discarded")
}

func TestClosedMailbox(t *testing.T) {
	mb := mailtest.New(mailtest.ProfileIMAP)
	require.NoError(t, mb.Close())
	require.NoError(t, mb.Close(), "idempotent")
	_, err := mb.Status(context.Background(), "INBOX")
	assert.ErrorIs(t, err, mailaccess.ErrClosed)
}

func TestUIDValidityResetAndCounters(t *testing.T) {
	ctx := context.Background()
	mb := mailtest.New(mailtest.ProfileIMAP)
	for i := range 3 {
		mb.Add("INBOX", msg(fmt.Sprint(i), "x"))
	}
	mb.Expunge("INBOX", "1")
	st1, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, 2, st1.Messages)
	assert.Equal(t, uint32(4), st1.UIDNext)
	assert.NotZero(t, st1.UIDValidity)

	mb.ResetUIDValidity("INBOX")
	st2, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.NotEqual(t, st1.UIDValidity, st2.UIDValidity)
	assert.Equal(t, uint32(3), st2.UIDNext)
	assert.Greater(t, st2.HighestModSeq, st1.HighestModSeq)
	assert.Equal(t, []mailaccess.ID{"1", "2"}, ids(t, mb, "INBOX", nil))
	assert.Equal(t, msg("1", "x"), readAll(t, mb, "INBOX", "1", nil))
}

func TestMinUIDAndChangedSince(t *testing.T) {
	ctx := context.Background()
	mb := mailtest.New(mailtest.ProfileIMAP)
	for i := range 4 {
		mb.Add("INBOX", msg(fmt.Sprint(i), "x"))
	}
	assert.Equal(t, []mailaccess.ID{"3", "4"}, ids(t, mb, "INBOX", &mailaccess.ListOptions{MinUID: 3}))

	st, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	require.NoError(t, mb.SetFlags(ctx, "INBOX", []mailaccess.ID{"2"}, mailaccess.AddFlags, mailaccess.FlagSeen))
	st2, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Greater(t, st2.HighestModSeq, st.HighestModSeq)
	assert.Equal(t, []mailaccess.ID{"2"}, ids(t, mb, "INBOX", &mailaccess.ListOptions{ChangedSince: st.HighestModSeq}))

	for m, err := range mb.List(ctx, "INBOX", &mailaccess.ListOptions{MinUID: 2}) {
		require.NoError(t, err)
		assert.Equal(t, m.Info().UID, uint32(2))
		assert.Equal(t, st2.HighestModSeq, m.Info().ModSeq)
		assert.True(t, m.HasFlag(mailaccess.FlagSeen))
		break
	}

	pop := mailtest.New(mailtest.ProfilePOP3)
	for _, err := range pop.List(ctx, "INBOX", &mailaccess.ListOptions{ChangedSince: 1}) {
		assert.ErrorIs(t, err, errors.ErrUnsupported)
	}
}

func TestWatchPushAndPoll(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps mailaccess.Capability
		push bool
	}{{"push", mailtest.ProfileIMAP, true}, {"poll", mailtest.ProfilePOP3, false}} {
		t.Run(tc.name, func(t *testing.T) {
			mb := mailtest.New(tc.caps)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var kinds []mailaccess.EventKind
			var lastErr error
			go func() {
				for mb.Watching("INBOX") == 0 {
					if ctx.Err() != nil {
						return
					}
					time.Sleep(time.Millisecond)
				}
				mb.Add("INBOX", msg("new", "x"))
			}()
			for ev, err := range mb.Watch(ctx, "INBOX", &mailaccess.WatchOptions{PollInterval: 5 * time.Millisecond}) {
				if err != nil {
					lastErr = err
					break
				}
				kinds = append(kinds, ev.Kind)
				assert.Equal(t, tc.push, ev.Push)
				assert.Equal(t, []mailaccess.ID{"1"}, ev.IDs)
				cancel()
			}
			assert.Equal(t, []mailaccess.EventKind{mailaccess.EventNew}, kinds)
			assert.ErrorIs(t, lastErr, context.Canceled)
		})
	}
}

func TestOpenPartsAndRanges(t *testing.T) {
	mb := mailtest.New(mailtest.ProfileIMAP)
	var nested []byte
	for _, s := range mailtest.EdgeCases() {
		if s.Name == "nested-multipart" {
			nested = s.Raw
		}
	}
	id := mb.Add("INBOX", nested)
	assert.Equal(t, "<p>HTML part</p>", string(readAll(t, mb, "INBOX", id, &mailaccess.OpenOptions{Part: []int{1, 2}})))
	assert.Equal(t, "HTML", string(readAll(t, mb, "INBOX", id, &mailaccess.OpenOptions{Part: []int{1, 2}, Offset: 3, Length: 4})))
	assert.Equal(t, "Inner message body.\r\n", string(readAll(t, mb, "INBOX", id, &mailaccess.OpenOptions{Part: []int{3, 1}})))
	assert.Empty(t, readAll(t, mb, "INBOX", id, &mailaccess.OpenOptions{Offset: int64(len(nested)) + 5}))
	for _, p := range [][]int{{4}, {0}, {2, 1}, {1, 3}} {
		_, err := mb.Open(context.Background(), "INBOX", id, &mailaccess.OpenOptions{Part: p})
		assert.ErrorIs(t, err, mailaccess.ErrNotFound, "part %v", p)
	}
}

func TestSearchDatesAndHeaders(t *testing.T) {
	ctx := context.Background()
	mb := mailtest.New(mailtest.ProfileIMAP)
	d := func(day int) time.Time { return time.Date(2024, 5, day, 12, 0, 0, 0, time.UTC) }
	mb.AddWithDate("INBOX", msg("=?UTF-8?Q?Caf=C3=A9?= menu", "quoted"), d(1))
	mb.AddWithDate("INBOX", []byte("From: x@example.com\r\nSubject: b64\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGlkZGVuIHdvcmQ=\r\n"), d(2), mailaccess.FlagFlagged)
	mb.AddWithDate("INBOX", msg("third", "x"), d(3))
	search := func(c mailaccess.Criteria) []mailaccess.ID {
		got, err := mb.Search(ctx, "INBOX", c)
		require.NoError(t, err)
		return got
	}
	assert.Equal(t, []mailaccess.ID{"1"}, search(mailaccess.Criteria{Subject: "café"}), "encoded words are decoded")
	assert.Equal(t, []mailaccess.ID{"2"}, search(mailaccess.Criteria{Body: "hidden word"}), "transfer encoding is undone")
	assert.Equal(t, []mailaccess.ID{"2", "3"}, search(mailaccess.Criteria{Since: time.Date(2024, 5, 2, 23, 0, 0, 0, time.UTC)}), "Since is by day, inclusive")
	assert.Equal(t, []mailaccess.ID{"1"}, search(mailaccess.Criteria{Before: time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)}), "Before is exclusive")
	assert.Equal(t, []mailaccess.ID{"2"}, search(mailaccess.Criteria{WithFlags: []mailaccess.Flag{"\\flagged"}}), "flags compare case-insensitively")
	assert.Equal(t, []mailaccess.ID{"2"}, search(mailaccess.Criteria{Header: map[string]string{"Content-Transfer-Encoding": ""}}), "an empty value means the field is present")
}

func TestFoldersRolesCopyMoveAndManage(t *testing.T) {
	ctx := context.Background()
	mb := mailtest.New(mailtest.ProfileIMAP)
	for _, n := range []string{"Sent", "Trash", "Junk", "Archive", "Drafts", "Work"} {
		mb.AddFolder(n)
	}
	fs, err := mb.Folders(ctx)
	require.NoError(t, err)
	roles := map[string]mailaccess.Role{}
	for _, f := range fs {
		roles[f.Name] = f.Role
	}
	assert.Equal(t, map[string]mailaccess.Role{"INBOX": mailaccess.RoleInbox, "Sent": mailaccess.RoleSent, "Trash": mailaccess.RoleTrash,
		"Junk": mailaccess.RoleJunk, "Archive": mailaccess.RoleArchive, "Drafts": mailaccess.RoleDrafts, "Work": mailaccess.RoleNone}, roles)

	a := mb.Add("inbox", msg("a", "1"), mailaccess.FlagSeen)
	mb.Add("Work", msg("w", "w"))
	got, err := mb.Copy(ctx, "INBOX", []mailaccess.ID{a}, "Work")
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{"2"}, got)
	got, err = mb.Move(ctx, "INBOX", []mailaccess.ID{a}, "Trash")
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{"1"}, got)
	assert.Empty(t, mb.Messages("INBOX"))
	assert.Equal(t, []mailaccess.Flag{mailaccess.FlagSeen}, mb.Messages("Trash")[0].Flags, "flags travel with the message")
	_, err = mb.Move(ctx, "INBOX", []mailaccess.ID{"1"}, "Nowhere")
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)

	assert.ErrorIs(t, mailaccess.CreateFolder(ctx, mb, "Work"), mailaccess.ErrInvalid, "exists")
	assert.ErrorIs(t, mailaccess.RenameFolder(ctx, mb, "INBOX", "X"), mailaccess.ErrInvalid)
	assert.ErrorIs(t, mailaccess.DeleteFolder(ctx, mb, "INBOX"), mailaccess.ErrInvalid)
	assert.ErrorIs(t, mailaccess.DeleteFolder(ctx, mb, "Nope"), mailaccess.ErrNotFound)
	require.NoError(t, mailaccess.RenameFolder(ctx, mb, "Work", "Work/Old"))
	assert.Len(t, mb.Messages("Work/Old"), 2)
}

func TestSeedEMLAndAddFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.eml"), msg("b", "2"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.eml"), msg("a", "1"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "skip.txt"), []byte("x"), 0o644))
	mb := mailtest.New(mailtest.ProfileIMAP)
	got, err := mb.SeedEML(dir)
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{"1", "2"}, got)
	assert.Equal(t, msg("a", "1"), mb.Messages("INBOX")[0].Raw, "name order")
	got, err = mb.AddFiles("Other", filepath.Join(dir, "*.txt"))
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{"1"}, got)
}

func TestReaderKeepsSnapshotAfterDelete(t *testing.T) {
	ctx := context.Background()
	mb := mailtest.New(mailtest.ProfileIMAP)
	raw := msg("a", strings.Repeat("body ", 1000))
	id := mb.Add("INBOX", raw)
	rc, err := mb.Open(ctx, "INBOX", id, nil)
	require.NoError(t, err)
	defer rc.Close()
	head := make([]byte, 10)
	_, err = io.ReadFull(rc, head)
	require.NoError(t, err)
	require.NoError(t, mb.Delete(ctx, "INBOX", id))
	rest, err := io.ReadAll(rc)
	require.NoError(t, err)
	assert.Equal(t, raw, append(head, rest...))
	_, err = mb.Open(ctx, "INBOX", id, nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)
}

func TestWatchReportsExpungeFlagsAndReset(t *testing.T) {
	mb := mailtest.New(mailtest.ProfileIMAP)
	a := mb.Add("INBOX", msg("a", "1"))
	b := mb.Add("INBOX", msg("b", "2"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	steps := []func(){
		func() { mb.SetFlagsDirect("INBOX", a, mailaccess.AddFlags, "$Label") },
		func() { mb.Expunge("INBOX", b) },
		func() { mb.ResetUIDValidity("INBOX") },
	}
	want := [][]mailaccess.Event{
		{{Kind: mailaccess.EventFlags, Folder: "INBOX", IDs: []mailaccess.ID{"1"}, Count: 2, Push: true}},
		{{Kind: mailaccess.EventExpunge, Folder: "INBOX", IDs: []mailaccess.ID{"2"}, Count: 1, Push: true}},
		{{Kind: mailaccess.EventExpunge, Folder: "INBOX", IDs: []mailaccess.ID{"1"}, Count: 1, Push: true},
			{Kind: mailaccess.EventNew, Folder: "INBOX", IDs: []mailaccess.ID{"1"}, Count: 1, Push: true}},
	}
	go func() {
		for mb.Watching("INBOX") == 0 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		steps[0]()
	}()
	var got []mailaccess.Event
	step := 0
	for ev, err := range mb.Watch(ctx, "INBOX", nil) {
		require.NoError(t, err)
		got = append(got, ev)
		if len(got) == len(want[step]) {
			assert.Equal(t, want[step], got, "step %d", step)
			got = nil
			step++
			if step == len(steps) {
				break
			}
			steps[step]()
		}
	}
	assert.Equal(t, len(steps), step)
}

func TestWatchEndsWhenHandleCloses(t *testing.T) {
	mb := mailtest.New(mailtest.ProfileIMAP)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		for mb.Watching("INBOX") == 0 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		mb.Close()
	}()
	var last error
	for _, err := range mb.Watch(ctx, "INBOX", nil) {
		last = err
	}
	assert.ErrorIs(t, last, mailaccess.ErrClosed)
}

// Many goroutines on several handles of one store; run with -race.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s := mailtest.NewStore()
	for i := range 20 {
		s.Add("INBOX", msg(fmt.Sprint(i), "x"))
	}
	s.FailNth(mailtest.OpOpen, 7, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mb := s.Open(mailtest.ProfileIMAP)
			defer mb.Close()
			for i := range 20 {
				for m, err := range mb.List(ctx, "INBOX", &mailaccess.ListOptions{Headers: true}) {
					if err != nil {
						break
					}
					if rc, err := m.Open(ctx); err == nil {
						_, _ = io.Copy(io.Discard, rc)
						rc.Close()
					}
				}
				id := mailaccess.ID(fmt.Sprint(i + 1))
				_ = mb.SetFlags(ctx, "INBOX", []mailaccess.ID{id}, mailaccess.AddFlags, mailaccess.FlagSeen)
				if g == 0 {
					_ = mb.Delete(ctx, "INBOX", id)
				}
				_, _ = mb.Append(ctx, "INBOX", bytes.NewReader(msg("new", "y")), nil)
				_, _ = mb.Search(ctx, "INBOX", mailaccess.Criteria{Subject: "new"})
				_, _ = mb.Status(ctx, "INBOX")
			}
		}()
	}
	wg.Wait()
	st, err := s.Open(mailtest.ProfileIMAP).Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, 20+8*20-20, st.Messages, "every append and delete applied once")
	assert.Equal(t, uint32(20+8*20+1), st.UIDNext)
}

func TestResetDropsPendingDeletes(t *testing.T) {
	ctx := context.Background()
	s := mailtest.NewStore()
	s.Add("INBOX", msg("a", "1"))
	s.Add("INBOX", msg("b", "2"))
	mb := s.Open(mailtest.ProfilePOP3)
	defer mb.Close()
	require.NoError(t, mb.Delete(ctx, "INBOX", "2"))
	s.Expunge("INBOX", "1")
	s.ResetUIDValidity("INBOX") // "b" is now UID 1
	require.NoError(t, mailaccess.Commit(ctx, mb))
	require.Len(t, s.Messages("INBOX"), 1, "a delete naming a voided UID must not hit another message")
	assert.Equal(t, msg("b", "2"), s.Messages("INBOX")[0].Raw)
}

func BenchmarkListAndOpen(b *testing.B) {
	ctx := context.Background()
	mb := mailtest.New(mailtest.ProfileIMAP)
	for i := range 1000 {
		mb.Add("INBOX", msg(fmt.Sprint(i), strings.Repeat("body line\r\n", 50)))
	}
	for b.Loop() {
		for m, err := range mb.List(ctx, "INBOX", nil) {
			if err != nil {
				b.Fatal(err)
			}
			rc, err := m.Open(ctx)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, rc)
			rc.Close()
		}
	}
}
