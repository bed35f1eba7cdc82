package mailtest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
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
		"search":   func() error { _, err := mb.Search(ctx, "INBOX", mailaccess.Criteria{Subject: "one"}); return err }(),
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
	require.NoError(t, mb.Close())
	assert.Len(t, s.Messages("INBOX"), 2, "Close without Commit discards")

	mb = s.Open(mailtest.ProfilePOP3)
	defer mb.Close()
	require.NoError(t, mb.Delete(ctx, "INBOX", "1"))
	require.NoError(t, mailaccess.Commit(ctx, mb))
	assert.Len(t, s.Messages("INBOX"), 1)
	_, err := mb.Open(ctx, "INBOX", "1", nil)
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
