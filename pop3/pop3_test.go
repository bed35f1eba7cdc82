package pop3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

var testMsgs = []string{
	"Subject: one\r\nFrom: a@example.org\r\n\r\n.leading dot\r\nbody one\r\n",
	"Subject: two\r\n\r\nbody two\r\n..\r\n.\r\n",
	"Subject: three\r\n\r\n" + strings.Repeat("x", 10000) + "\r\n",
}

// fixture starts a fake-backed pop3test server holding msgs.
func fixture(t testing.TB, opts *pop3test.Options, msgs ...string) (*mailtest.Mailbox, *pop3test.Server) {
	t.Helper()
	fake := mailtest.New(mailtest.ProfilePOP3)
	for _, m := range msgs {
		fake.Add(mailaccess.Inbox, []byte(m))
	}
	return fake, pop3test.Start(t, fake, opts)
}

func dial(t testing.TB, cfg mailaccess.Config) *Mailbox {
	t.Helper()
	mb, err := Dial(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { mb.Close() })
	return mb
}

func list(t testing.TB, mb mailaccess.Mailbox, opts *mailaccess.ListOptions) []mailaccess.Message {
	t.Helper()
	var out []mailaccess.Message
	for m, err := range mb.List(context.Background(), mailaccess.Inbox, opts) {
		require.NoError(t, err)
		out = append(out, m)
	}
	return out
}

func readAll(t testing.TB, mb mailaccess.Mailbox, id mailaccess.ID) string {
	t.Helper()
	rc, err := mb.Open(context.Background(), mailaccess.Inbox, id, nil)
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	return string(b)
}

func fakeRaw(fake *mailtest.Mailbox) []string {
	var out []string
	for _, m := range fake.Messages(mailaccess.Inbox) {
		out = append(out, string(m.Raw))
	}
	return out
}

func countCmd(cmds []string, verb string) int {
	n := 0
	for _, c := range cmds {
		if c == verb || strings.HasPrefix(c, verb+" ") {
			n++
		}
	}
	return n
}

func TestCapabilitiesFollowTheServer(t *testing.T) {
	cases := []struct {
		opts *pop3test.Options
		want mailaccess.Capability
	}{
		{nil, mailaccess.CapUID | mailaccess.CapHeaders | mailaccess.CapDelete | mailaccess.CapDeferredDelete},
		{&pop3test.Options{NoUIDL: true}, mailaccess.CapHeaders | mailaccess.CapDelete | mailaccess.CapDeferredDelete},
		{&pop3test.Options{NoTOP: true}, mailaccess.CapUID | mailaccess.CapDelete | mailaccess.CapDeferredDelete},
		// Without CAPA, UIDL and TOP are probed.
		{&pop3test.Options{NoCAPA: true}, mailaccess.CapUID | mailaccess.CapHeaders | mailaccess.CapDelete | mailaccess.CapDeferredDelete},
		{&pop3test.Options{NoCAPA: true, NoUIDL: true, NoTOP: true}, mailaccess.CapDelete | mailaccess.CapDeferredDelete},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, srv := fixture(t, tc.opts, testMsgs...)
			cfg := srv.Config("user", "pass")
			if tc.opts != nil && tc.opts.NoCAPA {
				cfg.TLS = mailaccess.TLSInsecurePlaintext // STLS cannot be discovered without CAPA... but is tried
			}
			mb := dial(t, cfg)
			assert.Equal(t, tc.want, mb.Capabilities(), mb.Capabilities().String())
		})
	}
}

func TestListOpenByteExactAndUIDLIDs(t *testing.T) {
	fake, srv := fixture(t, nil, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	msgs := list(t, mb, nil)
	require.Len(t, msgs, 3)
	stored := fake.Messages(mailaccess.Inbox)
	for i, m := range msgs {
		assert.Equal(t, stored[i].ID, m.ID(), "IDs are the UIDLs, here the fake's IDs")
		assert.Equal(t, int64(len(testMsgs[i])), m.Size())
		assert.Equal(t, testMsgs[i], readAll(t, mb, m.ID()))
	}
	st, err := mb.Status(context.Background(), "INBOX")
	require.NoError(t, err)
	assert.Equal(t, 3, st.Messages)
	assert.Equal(t, int64(len(testMsgs[0])+len(testMsgs[1])+len(testMsgs[2])), st.Size)

	// The listing is cached for the session: LIST and UIDL once each.
	list(t, mb, nil)
	cmds := srv.Commands()
	assert.Equal(t, 1, countCmd(cmds, "LIST"))
	assert.Equal(t, 1, countCmd(cmds, "UIDL"))
	assert.Equal(t, 3, countCmd(cmds, "RETR"))
}

func TestListHeadersUsesPipelinedTop(t *testing.T) {
	_, srv := fixture(t, nil, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	msgs := list(t, mb, &mailaccess.ListOptions{Headers: true, BatchSize: 2})
	require.Len(t, msgs, 3)
	assert.Equal(t, []string{"one", "two", "three"}, []string{msgs[0].Header().Subject(), msgs[1].Header().Subject(), msgs[2].Header().Subject()})
	cmds := srv.Commands()
	assert.Equal(t, 3, countCmd(cmds, "TOP"))
	assert.Equal(t, 0, countCmd(cmds, "RETR"))

	h, err := mb.FetchHeader(context.Background(), "INBOX", msgs[0].ID())
	require.NoError(t, err)
	assert.Equal(t, "a@example.org", h.Get("From"))
}

func TestFetchHeaderWithoutTOPUsesRetr(t *testing.T) {
	_, srv := fixture(t, &pop3test.Options{NoTOP: true}, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	msgs := list(t, mb, &mailaccess.ListOptions{Headers: true})
	assert.Equal(t, "three", msgs[2].Header().Subject())
	h, err := mb.FetchHeader(context.Background(), "INBOX", msgs[1].ID())
	require.NoError(t, err)
	assert.Equal(t, "two", h.Subject())
	assert.Equal(t, 0, countCmd(srv.Commands(), "TOP"))
}

func TestNoUIDLSessionIDs(t *testing.T) {
	fake, srv := fixture(t, &pop3test.Options{NoUIDL: true}, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	assert.False(t, mb.Capabilities().Has(mailaccess.CapUID))
	msgs := list(t, mb, nil)
	require.Len(t, msgs, 3)
	assert.Regexp(t, `^#1 s[0-9]+$`, msgs[0].ID())
	assert.True(t, msgs[0].Info().UnstableID)
	assert.Equal(t, testMsgs[1], readAll(t, mb, msgs[1].ID()))
	_, err := mb.Open(context.Background(), "INBOX", mailaccess.ID(fake.Messages("INBOX")[0].ID), nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound, "a UIDL-like ID means nothing without UIDL")

	require.NoError(t, mb.Delete(context.Background(), "INBOX", msgs[0].ID()))
	require.NoError(t, mb.Commit(context.Background()))
	assert.Equal(t, testMsgs[1:], fakeRaw(fake))

	// A new session: the old numbers are void rather than silently
	// naming another message.
	_, err = mb.Open(context.Background(), "INBOX", msgs[1].ID(), nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)
	again := list(t, mb, nil)
	assert.Regexp(t, `^#1 s[0-9]+$`, again[0].ID())
	assert.NotEqual(t, msgs[0].ID(), again[0].ID(), "another session, another ID")
	assert.Equal(t, testMsgs[1], readAll(t, mb, again[0].ID()))
}

func TestDeleteOnlyAtCommit(t *testing.T) {
	fake, srv := fixture(t, nil, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	ctx := context.Background()
	msgs := list(t, mb, nil)
	require.NoError(t, mb.Delete(ctx, "INBOX", msgs[0].ID(), msgs[2].ID()))

	assert.Equal(t, 0, countCmd(srv.Commands(), "DELE"), "no DELE reaches the server before Commit")
	assert.Len(t, list(t, mb, nil), 1, "marked messages vanish from the session")
	_, err := mb.Open(ctx, "INBOX", msgs[0].ID(), nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)
	st, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, 1, st.Messages)
	assert.Len(t, fake.Messages("INBOX"), 3)

	require.NoError(t, mb.Commit(ctx))
	cmds := srv.Commands()
	assert.Equal(t, 2, countCmd(cmds, "DELE"))
	assert.Equal(t, "QUIT", cmds[len(cmds)-1], "DELE then QUIT")
	assert.Equal(t, []string{testMsgs[1]}, fakeRaw(fake))

	// The Mailbox reconnects lazily.
	again := list(t, mb, nil)
	require.Len(t, again, 1)
	assert.Equal(t, testMsgs[1], readAll(t, mb, again[0].ID()))
	assert.NoError(t, mb.Commit(ctx), "nothing pending")
}

func TestCloseWithoutCommitAppliesNothing(t *testing.T) {
	fake, srv := fixture(t, nil, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	msgs := list(t, mb, nil)
	require.NoError(t, mb.Delete(context.Background(), "INBOX", msgs[0].ID()))
	err := mb.Close()
	require.ErrorIs(t, err, mailaccess.ErrDeletesDiscarded, "Close reports the delete it dropped")
	assert.EqualError(t, err, "pop3: close: 1 pending deletion dropped by Close without Commit, the messages are still there (call mailaccess.Commit before Close to apply deletions, or mailaccess.Rollback to drop them on purpose): pending deletions were discarded, nothing was deleted")
	require.NoError(t, mb.Close(), "idempotent")
	cmds := srv.Commands()
	assert.Equal(t, 0, countCmd(cmds, "DELE"))
	// The idle session ends with RSET then QUIT, so the server releases
	// the maildrop lock at once; RSET first means nothing could be applied.
	require.GreaterOrEqual(t, len(cmds), 2)
	assert.Equal(t, []string{"RSET", "QUIT"}, cmds[len(cmds)-2:])
	assert.Len(t, fake.Messages("INBOX"), 3)
	_, err = mb.Status(context.Background(), "INBOX")
	assert.ErrorIs(t, err, mailaccess.ErrClosed)
}

func TestDroppedConnectionDiscardsDeletes(t *testing.T) {
	fake, srv := fixture(t, nil, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	ctx := context.Background()
	msgs := list(t, mb, nil)
	require.NoError(t, mb.Delete(ctx, "INBOX", msgs[0].ID()))
	srv.CloseClientConnections()

	_, err := mb.Open(ctx, "INBOX", msgs[1].ID(), nil)
	require.Error(t, err, "the dropped session surfaces as an error")
	err = mb.Commit(ctx)
	require.ErrorIs(t, err, ErrDeletesDiscarded)
	assert.Len(t, fake.Messages("INBOX"), 3)
	assert.Equal(t, 0, countCmd(srv.Commands(), "DELE"))

	// The Mailbox recovers with a new session, once the server has seen
	// the old one end and released its maildrop lock (before that, the
	// new session's login meets [IN-USE]: ErrLocked, a temporary error).
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, srv.WaitIdle(wctx))
	assert.Len(t, list(t, mb, nil), 3)
}

func TestCancelMidRetrDiscardsDeletes(t *testing.T) {
	big := "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 200000)
	fake, srv := fixture(t, nil, testMsgs[0], big)
	mb := dial(t, srv.Config("user", "pass"))
	msgs := list(t, mb, nil)
	require.NoError(t, mb.Delete(context.Background(), "INBOX", msgs[0].ID()))

	ctx, cancel := context.WithCancel(context.Background())
	rc, err := mb.Open(ctx, "INBOX", msgs[1].ID(), nil)
	require.NoError(t, err)
	_, err = io.CopyN(io.Discard, rc, 1000)
	require.NoError(t, err)
	cancel()
	_, err = io.ReadAll(rc)
	assert.Error(t, err, "reading after cancel fails")
	rc.Close()

	assert.ErrorIs(t, mb.Commit(context.Background()), ErrDeletesDiscarded)
	assert.Len(t, fake.Messages("INBOX"), 2)
	assert.Equal(t, 0, countCmd(srv.Commands(), "DELE"))
}

func TestCommitRefusedDeleAppliesNothing(t *testing.T) {
	fake, srv := fixture(t, &pop3test.Options{Faults: []pop3test.Fault{{Command: "DELE", Action: pop3test.FaultError, Text: "[SYS/TEMP] cannot", Skip: 1}}}, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	msgs := list(t, mb, nil)
	require.NoError(t, mb.Delete(context.Background(), "INBOX", msgs[0].ID(), msgs[1].ID()))
	err := mb.Commit(context.Background())
	require.Error(t, err)
	assert.ErrorIs(t, err, mailaccess.ErrTemporary)
	assert.Len(t, fake.Messages("INBOX"), 3, "the first DELE succeeded but no QUIT followed")
	assert.Equal(t, 0, countCmd(srv.Commands(), "QUIT"))
}

func TestCancelledCommitSendsNothing(t *testing.T) {
	fake, srv := fixture(t, nil, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	msgs := list(t, mb, nil)
	require.NoError(t, mb.Delete(context.Background(), "INBOX", msgs[0].ID()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, mb.Commit(ctx))
	assert.Equal(t, 0, countCmd(srv.Commands(), "DELE"))
	assert.Len(t, fake.Messages("INBOX"), 3)
}

func TestOpenAllPipelined(t *testing.T) {
	for _, noPipe := range []bool{false, true} {
		t.Run(fmt.Sprint("nopipelining=", noPipe), func(t *testing.T) {
			_, srv := fixture(t, &pop3test.Options{NoPipelining: noPipe}, testMsgs...)
			mb := dial(t, srv.Config("user", "pass"))
			var ids []mailaccess.ID
			for _, m := range list(t, mb, nil) {
				ids = append(ids, m.ID())
			}
			var got []string
			var bo driver.BatchOpener = mb
			err := bo.OpenAll(context.Background(), "INBOX", ids, func(id mailaccess.ID, r io.Reader) error {
				b, err := io.ReadAll(r)
				got = append(got, string(b))
				return err
			})
			require.NoError(t, err)
			assert.Equal(t, testMsgs, got)

			stop := errors.New("stop")
			err = mb.OpenAll(context.Background(), "INBOX", ids, func(mailaccess.ID, io.Reader) error { return stop })
			assert.ErrorIs(t, err, stop)
			assert.Equal(t, testMsgs[2], readAll(t, mb, ids[2]), "session still in sync")
		})
	}
}

func TestLockedTemporaryAndAuthErrors(t *testing.T) {
	_, srv := fixture(t, nil, testMsgs...)
	dial(t, srv.Config("user", "pass"))
	_, err := Dial(context.Background(), srv.Config("user", "pass"))
	require.ErrorIs(t, err, mailaccess.ErrLocked, "a second session on the maildrop")

	_, srv2 := fixture(t, &pop3test.Options{LoginError: "[IN-USE] busy"})
	_, err = Dial(context.Background(), srv2.Config("user", "pass"))
	assert.ErrorIs(t, err, mailaccess.ErrLocked)
	assert.NotErrorIs(t, err, mailaccess.ErrAuth)

	_, srv3 := fixture(t, &pop3test.Options{LoginError: "[SYS/TEMP] later"})
	_, err = Dial(context.Background(), srv3.Config("user", "pass"))
	assert.ErrorIs(t, err, mailaccess.ErrTemporary)

	_, srv4 := fixture(t, &pop3test.Options{LoginError: "[LOGIN-DELAY] wait"})
	_, err = Dial(context.Background(), srv4.Config("user", "pass"))
	assert.ErrorIs(t, err, mailaccess.ErrTemporary)

	for _, auth := range []string{"", "user", "plain", "login", "apop"} {
		cfg := srv3.Config("user", "hunter2-wrong")
		cfg.Auth = auth
		_, srv5 := fixture(t, nil)
		cfg.Port = srv5.Port()
		_, err = Dial(context.Background(), cfg)
		require.ErrorIs(t, err, mailaccess.ErrAuth, "auth=%s", auth)
		assert.NotContains(t, err.Error(), "hunter2")
		var oe *mailaccess.OpError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, "pop3", oe.Protocol)
	}
}

func TestAuthMechanisms(t *testing.T) {
	for _, auth := range []string{"", "user", "plain", "login", "apop"} {
		t.Run("auth="+auth, func(t *testing.T) {
			_, srv := fixture(t, &pop3test.Options{User: "alice", Password: "pw"}, testMsgs...)
			cfg := srv.Config("alice", "pw")
			cfg.Auth = auth
			mb := dial(t, cfg)
			assert.Len(t, list(t, mb, nil), 3)
			want := map[string]string{"": "AUTH PLAIN", "user": "USER alice", "plain": "AUTH PLAIN", "login": "AUTH LOGIN", "apop": "APOP alice"}[auth]
			assert.True(t, slices.ContainsFunc(srv.Commands(), func(c string) bool { return strings.HasPrefix(c, want) }), "%v", srv.Commands())
		})
	}
}

func TestTokenAskedAgainAfterFailure(t *testing.T) {
	for _, mech := range []string{"", "oauthbearer"} {
		t.Run("auth="+mech, func(t *testing.T) {
			_, srv := fixture(t, &pop3test.Options{User: "alice", Password: "pw", Tokens: map[string]string{"alice": "fresh"}}, testMsgs...)
			cfg := srv.Config("alice", "")
			cfg.Auth = mech
			var calls atomic.Int32
			cfg.Token = func(context.Context) (string, error) {
				if calls.Add(1) == 1 {
					return "expired", nil
				}
				return "fresh", nil
			}
			mb := dial(t, cfg)
			assert.Len(t, list(t, mb, nil), 3)
			assert.Equal(t, int32(2), calls.Load())
			for _, c := range srv.Commands() {
				assert.NotContains(t, c, "fresh")
			}
		})
	}
}

func TestTLSPolicies(t *testing.T) {
	ctx := context.Background()
	t.Run("implicit", func(t *testing.T) {
		_, srv := fixture(t, &pop3test.Options{ImplicitTLS: true}, testMsgs...)
		mb := dial(t, srv.Config("user", "pass"))
		assert.Equal(t, testMsgs[0], readAll(t, mb, list(t, mb, nil)[0].ID()))
	})
	t.Run("wrong CA", func(t *testing.T) {
		for _, implicit := range []bool{false, true} {
			_, srv := fixture(t, &pop3test.Options{ImplicitTLS: implicit})
			cfg := srv.Config("user", "pass")
			cfg.TLSConfig = nil // system roots do not know the test CA
			_, err := Dial(ctx, cfg)
			require.Error(t, err)
			assert.Equal(t, 0, countCmd(srv.Commands(), "USER")+countCmd(srv.Commands(), "AUTH"), "no credentials sent")
		}
	})
	t.Run("STLS not offered", func(t *testing.T) {
		for _, opts := range []*pop3test.Options{{NoSTLS: true}, {NoSTLS: true, NoCAPA: true}} {
			_, srv := fixture(t, opts)
			_, err := Dial(ctx, srv.Config("user", "pass"))
			require.ErrorIs(t, err, mailaccess.ErrStartTLSUnavailable)
			for _, c := range srv.Commands() {
				assert.False(t, strings.HasPrefix(c, "USER") || strings.HasPrefix(c, "PASS") || strings.HasPrefix(c, "AUTH"), "no plaintext credentials: %q", c)
			}
		}
	})
	t.Run("insecure plaintext only when asked", func(t *testing.T) {
		_, srv := fixture(t, &pop3test.Options{NoSTLS: true}, testMsgs...)
		cfg := srv.Config("user", "pass")
		cfg.TLS = mailaccess.TLSInsecurePlaintext
		mb := dial(t, cfg)
		assert.Len(t, list(t, mb, nil), 3)
	})
	t.Run("RequireTLS server sees STLS first", func(t *testing.T) {
		_, srv := fixture(t, &pop3test.Options{RequireTLS: true}, testMsgs...)
		dial(t, srv.Config("user", "pass"))
		cmds := srv.Commands()
		assert.Less(t, slices.Index(cmds, "STLS"), slices.IndexFunc(cmds, func(c string) bool { return strings.HasPrefix(c, "AUTH") }))
	})
}

func TestUserNameWithControlCharsRejected(t *testing.T) {
	_, srv := fixture(t, nil)
	for _, u := range []string{"a\rb", "a\nb", "a\x00b", "user\r\nDELE 1"} {
		_, err := Dial(context.Background(), srv.Config(u, "pass"))
		require.ErrorIs(t, err, mailaccess.ErrInvalid)
	}
	assert.Equal(t, 0, srv.Sessions(), "nothing reached the server")
}

func TestUnsupportedOperations(t *testing.T) {
	_, srv := fixture(t, nil, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	ctx := context.Background()
	check := func(err error, missing mailaccess.Capability) {
		t.Helper()
		require.ErrorIs(t, err, errors.ErrUnsupported)
		var ue *mailaccess.UnsupportedError
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, missing, ue.Missing)
		assert.Equal(t, "pop3", ue.Protocol)
	}
	check(mb.SetFlags(ctx, "INBOX", []mailaccess.ID{"x"}, mailaccess.AddFlags, mailaccess.FlagSeen), mailaccess.CapFlags)
	_, err := mb.Append(ctx, "INBOX", strings.NewReader("x"), nil)
	check(err, mailaccess.CapAppend)
	_, err = mb.Move(ctx, "INBOX", nil, "x")
	check(err, mailaccess.CapMove)
	_, err = mb.Copy(ctx, "INBOX", nil, "x")
	check(err, mailaccess.CapCopy)
	_, err = mb.Open(ctx, "INBOX", "m", &mailaccess.OpenOptions{Offset: 3})
	check(err, mailaccess.CapPartial)
	check(mailaccess.CreateFolder(ctx, mb, "x"), mailaccess.CapManageFolders)

	folders, err := mb.Folders(ctx)
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.Folder{{Name: "INBOX", Role: mailaccess.RoleInbox}}, folders)
	_, err = mb.Status(ctx, "Sent")
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)
}

func TestAsReachesWireConnection(t *testing.T) {
	_, srv := fixture(t, nil, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	var c *Conn
	require.True(t, mb.As(&c))
	n, _, err := c.Stat(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	var s string
	assert.False(t, mb.As(&s))
}

func TestRegisteredSchemes(t *testing.T) {
	_, srv := fixture(t, &pop3test.Options{ImplicitTLS: true}, testMsgs...)
	mb, err := mailaccess.Open(context.Background(), srv.Config("user", "pass"), mailaccess.CapUID)
	require.NoError(t, err)
	assert.Len(t, list(t, mb, nil), 3)
	mb.Close()
	_, err = mailaccess.Open(context.Background(), srv.Config("user", "pass"), mailaccess.CapFlags)
	assert.ErrorIs(t, err, errors.ErrUnsupported)
}

func TestWatchPollsWithFreshSessions(t *testing.T) {
	fake, srv := fixture(t, nil, testMsgs[0])
	mb := dial(t, srv.Config("user", "pass"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	newID := make(chan mailaccess.ID, 1)
	go func() {
		// Session 1 is Dial's; the baseline poll is session 2.
		srv.WaitSessions(ctx, 3)
		newID <- fake.Add(mailaccess.Inbox, []byte(testMsgs[1]))
	}()
	var got []mailaccess.Event
	for ev, err := range mb.Watch(ctx, "INBOX", &mailaccess.WatchOptions{PollInterval: 10 * time.Millisecond}) {
		require.NoError(t, err)
		got = append(got, ev)
		if len(got) == 1 {
			fake.Expunge(mailaccess.Inbox, fake.Messages(mailaccess.Inbox)[0].ID)
		}
		if len(got) == 2 {
			break
		}
	}
	id := <-newID
	require.Len(t, got, 2)
	assert.Equal(t, mailaccess.Event{Kind: mailaccess.EventNew, Folder: "INBOX", IDs: []mailaccess.ID{id}, Count: 2}, got[0])
	assert.Equal(t, mailaccess.EventExpunge, got[1].Kind)
	assert.False(t, got[1].Push)
	assert.Equal(t, 1, got[1].Count)
	// Between polls the maildrop is not held: another client can log in.
	c2, err := Dial(context.Background(), srv.Config("user", "pass"))
	require.NoError(t, err)
	c2.Close()
}

func TestWatchCancelYieldsContextError(t *testing.T) {
	_, srv := fixture(t, nil, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var last error
	for _, err := range mb.Watch(ctx, "INBOX", nil) {
		last = err
	}
	assert.ErrorIs(t, last, context.Canceled)
}

func TestSecretsNeverInLogsTracesOrErrors(t *testing.T) {
	_, srv := fixture(t, &pop3test.Options{User: "alice", Password: "hunter2-secret"}, testMsgs...)
	var logs, trace strings.Builder
	for _, auth := range []string{"user", "plain", "login", "apop"} {
		cfg := srv.Config("alice", "hunter2-secret")
		cfg.Auth = auth
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg.Trace = &trace
		mb := dial(t, cfg)
		list(t, mb, nil)
		srv.CloseClientConnections() // provoke a logged drop
		_, err := mb.Status(context.Background(), "INBOX")
		if err != nil {
			assert.NotContains(t, err.Error(), "hunter2")
		}
		mb.Close()
		bad := cfg
		bad.Password = "hunter2-wrong"
		_, err = Dial(context.Background(), bad)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "hunter2")
	}
	assert.NotEmpty(t, trace.String())
	assert.NotContains(t, trace.String(), "hunter2")
	assert.Contains(t, logs.String(), "session open")
	assert.NotContains(t, logs.String(), "hunter2")
}

func TestListing100kMessagesIsOneRoundTripEach(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	fake := mailtest.New(mailtest.ProfilePOP3)
	for i := range n {
		fake.Add(mailaccess.Inbox, []byte(fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i)))
	}
	srv := pop3test.Start(t, fake, nil)
	mb := dial(t, srv.Config("user", "pass"))
	count := 0
	var last mailaccess.Message
	for m, err := range mb.List(context.Background(), "INBOX", nil) {
		require.NoError(t, err)
		count++
		last = m
	}
	assert.Equal(t, n, count)
	st, err := mb.Status(context.Background(), "INBOX")
	require.NoError(t, err)
	assert.Equal(t, n, st.Messages)
	assert.Equal(t, fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", n-1), readAll(t, mb, last.ID()))
	cmds := srv.Commands()
	assert.Equal(t, 1, countCmd(cmds, "LIST"))
	assert.Equal(t, 1, countCmd(cmds, "UIDL"))
	assert.LessOrEqual(t, len(cmds), 12, "no per-message commands: %v", cmds)
}
