package imap

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

func msg(subject, body string) []byte {
	return []byte("From: a@example.com\r\nSubject: " + subject + "\r\n\r\n" + body + "\r\n")
}

func listIDs(t *testing.T, mb mailaccess.Mailbox, folder string) ([]mailaccess.ID, []mailaccess.Message) {
	t.Helper()
	var ids []mailaccess.ID
	var msgs []mailaccess.Message
	for m, err := range mb.List(context.Background(), folder, nil) {
		require.NoError(t, err)
		ids = append(ids, m.ID())
		msgs = append(msgs, m)
	}
	return ids, msgs
}

// idIn returns the ID of UID uid in folder of mb (MakeID with the folder's
// current UIDVALIDITY).
func idIn(t testing.TB, mb mailaccess.Mailbox, folder string, uid imap.UID) mailaccess.ID {
	t.Helper()
	st, err := mb.Status(context.Background(), folder)
	require.NoError(t, err)
	return MakeID(st.UIDValidity, uint32(uid))
}

// watchEvents runs Watch in a goroutine and forwards what it yields.
func watchEvents(ctx context.Context, mb mailaccess.Mailbox, opts *mailaccess.WatchOptions) (<-chan mailaccess.Event, <-chan error) {
	evs := make(chan mailaccess.Event, 100)
	errs := make(chan error, 1)
	go func() {
		for ev, err := range mb.Watch(ctx, "INBOX", opts) {
			if err != nil {
				errs <- err
				return
			}
			evs <- ev
		}
		errs <- nil
	}()
	return evs, errs
}

// waitEvent waits for an event of kind holding id (any IDs if id is "").
func waitEvent(t *testing.T, evs <-chan mailaccess.Event, errs <-chan error, kind mailaccess.EventKind, id mailaccess.ID) mailaccess.Event {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-evs:
			if ev.Kind == kind && (id == "" || contains(ev.IDs, id)) {
				return ev
			}
			t.Logf("skipping event %v %v", ev.Kind, ev.IDs)
		case err := <-errs:
			t.Fatalf("watch ended while waiting for %v %s: %v", kind, id, err)
		case <-deadline:
			t.Fatalf("no %v event for %q", kind, id)
		}
	}
}

func contains(ids []mailaccess.ID, id mailaccess.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// testWatchKill: Watch reports a message added by add while it idles;
// after the test closes the watch's TCP connection and adds a second
// message while the watch cannot reconnect, it reconnects and reports the
// second message in its catch-up.
//
// The first message is added once the watch has caught up, which may be
// before its IDLE reaches the server: the server reports the change when
// IDLE starts (Dovecot and imaptest do; see
// TestWatchReportsChangeMadeJustBeforeIdle), so no sleep is needed.
func testWatchKill(t *testing.T, cfg mailaccess.Config, add func(t *testing.T, raw []byte) mailaccess.ID) {
	var (
		gate    atomic.Pointer[chan struct{}]
		readyMu sync.Mutex
		ready   = make(chan net.Conn, 10)
	)
	h := hooks{
		wrapConn: func(c net.Conn) net.Conn {
			if ch := gate.Load(); ch != nil {
				<-*ch
			}
			return c
		},
		watchReady: func(c net.Conn) {
			readyMu.Lock()
			defer readyMu.Unlock()
			ready <- c
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	mb, err := dial(ctx, cfg, h)
	require.NoError(t, err)
	defer mb.Close()
	require.True(t, mb.Capabilities().Has(mailaccess.CapPush))

	evs, errs := watchEvents(ctx, mb, &mailaccess.WatchOptions{MaxBackoff: 100 * time.Millisecond})
	var watchConn net.Conn
	select {
	case watchConn = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not start")
	}
	id1 := add(t, msg("pushed", "1"))
	ev := waitEvent(t, evs, errs, mailaccess.EventNew, id1)
	assert.True(t, ev.Push, "IDLE delivered the new message")
	assert.Equal(t, "INBOX", ev.Folder)

	// Kill the connection mid-IDLE and keep the watch from reconnecting
	// until a message has arrived meanwhile.
	block := make(chan struct{})
	gate.Store(&block)
	require.NoError(t, watchConn.Close())
	id2 := add(t, msg("while away", "2"))
	close(block)
	gate.Store(nil)
	waitEvent(t, evs, errs, mailaccess.EventReconnect, "")
	ev = waitEvent(t, evs, errs, mailaccess.EventNew, id2)
	assert.False(t, ev.Push, "the catch-up found it, not IDLE")

	cancel()
	select {
	case err := <-errs:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not end after cancel")
	}
}

func TestWatchMemServerKill(t *testing.T) {
	srv := imaptest.Start(t, &imaptest.Options{Caps: []imap.Cap{imap.CapUIDPlus, imap.CapMove, imap.CapIdle}},
		imaptest.User{Name: "u", Password: "p", Messages: [][]byte{msg("old", "0")}})
	testWatchKill(t, srv.Config("u", "p"), func(t *testing.T, raw []byte) mailaccess.ID {
		other, err := Dial(context.Background(), srv.Config("u", "p"))
		require.NoError(t, err)
		defer other.Close()
		id, err := other.Append(context.Background(), "INBOX", bytes.NewReader(raw), nil)
		require.NoError(t, err)
		require.NotEmpty(t, id)
		return id
	})
}

// watchWithChangeBeforeIdle starts a Watch of INBOX on srv whose first
// connection, once caught up and before it sends IDLE, sees a message
// delivered; it returns the message's ID and the watch's events.
func watchWithChangeBeforeIdle(t *testing.T, ctx context.Context, srv *imaptest.Server, opts *mailaccess.WatchOptions) (mailaccess.ID, <-chan mailaccess.Event, <-chan error) {
	t.Helper()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	t.Cleanup(func() { mb.Close() })
	st, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	delivered := make(chan imap.UID, 1)
	var once sync.Once
	mb.hooks.watchReady = func(net.Conn) {
		once.Do(func() {
			uid, err := srv.Append("u", "INBOX", msg("just before IDLE", "x"), nil)
			if err != nil {
				t.Errorf("append: %v", err)
			}
			delivered <- uid
		})
	}
	evs, errs := watchEvents(ctx, mb, opts)
	var uid imap.UID
	select {
	case uid = <-delivered:
	case err := <-errs:
		t.Fatalf("watch ended before it was ready: %v", err)
	}
	return MakeID(st.UIDValidity, uint32(uid)), evs, errs
}

// TestWatchReportsChangeMadeJustBeforeIdle: a message delivered after the
// watch's catch-up and before its IDLE is reported as soon as the server
// says so at the start of IDLE (as Dovecot and imaptest do), not at the
// next IDLE refresh nine minutes later.
func TestWatchReportsChangeMadeJustBeforeIdle(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: [][]byte{msg("old", "0")}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, evs, errs := watchWithChangeBeforeIdle(t, ctx, srv, nil)
	ev := waitEvent(t, evs, errs, mailaccess.EventNew, id)
	assert.True(t, ev.Push)
	assert.Equal(t, 2, ev.Count)
}

// TestWatchHeldBackChangeReportedByIdleRefresh: a server that holds back a
// change made just before IDLE until the next change or the end of IDLE
// (Quirks.IdleHoldsBack) delays the event at most until Watch restarts
// IDLE (WatchOptions.IdleRefresh); the message is not lost.
func TestWatchHeldBackChangeReportedByIdleRefresh(t *testing.T) {
	srv := imaptest.Start(t, &imaptest.Options{Caps: []imap.Cap{imap.CapUIDPlus}, Quirks: &imaptest.Quirks{IdleHoldsBack: true}},
		imaptest.User{Name: "u", Password: "p"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, evs, errs := watchWithChangeBeforeIdle(t, ctx, srv, &mailaccess.WatchOptions{IdleRefresh: 50 * time.Millisecond})
	waitEvent(t, evs, errs, mailaccess.EventNew, id)
}

// TestWatchPollWithoutIdle: without IDLE Watch polls and says so.
func TestWatchPollWithoutIdle(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// imapmemserver always offers IDLE to IMAP4rev1 clients; hide it.
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	ready := make(chan net.Conn, 1)
	mb.hooks.watchReady = func(c net.Conn) { ready <- c }
	mb.hooks.noIdle = true
	evs, errs := watchEvents(ctx, mb, &mailaccess.WatchOptions{PollInterval: 50 * time.Millisecond})
	<-ready
	uid, err := srv.Append("u", "INBOX", msg("polled", "x"), nil)
	require.NoError(t, err)
	ev := waitEvent(t, evs, errs, mailaccess.EventNew, idIn(t, mb, "INBOX", uid))
	assert.False(t, ev.Push)
}

// scriptedServer accepts connections on loopback, sends greeting, and
// hands each tagged command line (split into fields, at least two) to
// handle, which answers on c and returns false to end the connection.
func scriptedServer(t *testing.T, greeting string, handle func(c net.Conn, br *bufio.Reader, f []string) bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, greeting+"\r\n")
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					f := strings.Fields(line)
					if len(f) < 2 {
						continue
					}
					if !handle(c, br, f) {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// silentServer accepts connections, greets, answers CAPABILITY and LOGIN,
// then never answers again (like a half-open connection).
func silentServer(t *testing.T, loginToo bool) string {
	return scriptedServer(t, "* OK silent server ready", func(c net.Conn, br *bufio.Reader, f []string) bool {
		switch strings.ToUpper(f[1]) {
		case "CAPABILITY":
			io.WriteString(c, "* CAPABILITY IMAP4rev1 IDLE UIDPLUS\r\n"+f[0]+" OK done\r\n")
			return true
		case "LOGIN":
			if loginToo {
				io.WriteString(c, f[0]+" OK logged in\r\n")
				return true
			}
		}
		// Silence: read and discard until the client goes.
		io.Copy(io.Discard, br)
		return false
	})
}

func cfgFor(addr string) mailaccess.Config {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return mailaccess.Config{Scheme: "imap", Host: host, Port: p, User: "u", Password: "p", Auth: "login",
		TLS: mailaccess.TLSInsecurePlaintext}
}

// TestCancelOnSilentServer: a call on a server that stops answering returns
// with the context's error, within a generous bound.
func TestCancelOnSilentServer(t *testing.T) {
	t.Run("dial", func(t *testing.T) {
		cfg := cfgFor(silentServer(t, false))
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() { _, err := Dial(ctx, cfg); done <- err }()
		select {
		case err := <-done:
			require.ErrorIs(t, err, context.DeadlineExceeded)
		case <-time.After(5 * time.Second):
			t.Fatal("Dial did not return after its context expired")
		}
	})
	for _, op := range []string{"status", "open", "list", "search", "watch"} {
		t.Run(op, func(t *testing.T) {
			cfg := cfgFor(silentServer(t, true))
			mb, err := Dial(context.Background(), cfg)
			require.NoError(t, err)
			defer mb.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				var err error
				switch op {
				case "status":
					_, err = mb.Status(ctx, "INBOX")
				case "open":
					_, err = mb.Open(ctx, "INBOX", MakeID(1, 1), nil)
				case "list":
					for _, e := range mb.List(ctx, "INBOX", nil) {
						err = e
					}
				case "search":
					_, err = mb.Search(ctx, "INBOX", mailaccess.Criteria{Subject: "x"})
				case "watch":
					for _, e := range mb.Watch(ctx, "INBOX", nil) {
						err = e
					}
				}
				done <- err
			}()
			select {
			case err := <-done:
				require.ErrorIs(t, err, context.DeadlineExceeded)
			case <-time.After(5 * time.Second):
				t.Fatalf("%s did not return after its context expired", op)
			}
		})
	}
}

// TestCommandTimeout: Config.CommandTimeout bounds a call even without a
// context deadline.
func TestCommandTimeout(t *testing.T) {
	cfg := cfgFor(silentServer(t, true))
	cfg.CommandTimeout = mailaccess.Duration(200 * time.Millisecond)
	mb, err := Dial(context.Background(), cfg)
	require.NoError(t, err)
	defer mb.Close()
	_, err = mb.Status(context.Background(), "INBOX")
	require.Error(t, err)
	assert.ErrorIs(t, err, errCommandTimeout)
}

// TestDeleteSparesOthersDeleted: a message another client flagged
// \Deleted survives our Delete and our (emulated and real) Move.
func TestDeleteSparesOthersDeleted(t *testing.T) {
	for _, caps := range [][]imap.Cap{
		{imap.CapUIDPlus, imap.CapMove},
		{imap.CapUIDPlus}, // Move emulated with COPY + UID EXPUNGE
	} {
		t.Run(fmt.Sprint(caps), func(t *testing.T) {
			srv := imaptest.Start(t, &imaptest.Options{Caps: caps},
				imaptest.User{Name: "u", Password: "p", Messages: [][]byte{msg("1", "1"), msg("2", "2"), msg("3", "3"), msg("4", "4")}})
			ctx := context.Background()
			mb, err := Dial(ctx, srv.Config("u", "p"))
			require.NoError(t, err)
			defer mb.Close()
			other, err := Dial(ctx, srv.Config("u", "p"))
			require.NoError(t, err)
			defer other.Close()
			hasMove := mb.Capabilities().Has(mailaccess.CapMove)
			assert.Equal(t, slicesContains(caps, imap.CapMove), hasMove)

			all, _ := listIDs(t, mb, "INBOX")
			require.Len(t, all, 4)
			require.NoError(t, other.SetFlags(ctx, "INBOX", all[0:1], mailaccess.AddFlags, mailaccess.FlagDeleted))
			require.NoError(t, mb.Delete(ctx, "INBOX", all[1]))
			newIDs, err := mb.Move(ctx, "INBOX", all[2:3], "Trash")
			require.NoError(t, err)
			assert.Equal(t, []mailaccess.ID{idIn(t, mb, "Trash", 1)}, newIDs, "COPYUID gives the new UID, with the destination's UIDVALIDITY")
			ids, msgs := listIDs(t, mb, "INBOX")
			assert.Equal(t, []mailaccess.ID{all[0], all[3]}, ids, "only the messages asked for are gone")
			assert.True(t, msgs[0].HasFlag(mailaccess.FlagDeleted), "the other client's mark is kept")
			trash, _ := listIDs(t, mb, "Trash")
			assert.Len(t, trash, 1)
		})
	}
}

func slicesContains(s []imap.Cap, c imap.Cap) bool {
	for _, x := range s {
		if x == c {
			return true
		}
	}
	return false
}

// TestNoUIDPlusRefuses: without UIDPLUS, Delete and Move refuse instead of
// sending a bare EXPUNGE; Copy still works.
func TestNoUIDPlusRefuses(t *testing.T) {
	srv := imaptest.Start(t, &imaptest.Options{Caps: []imap.Cap{}},
		imaptest.User{Name: "u", Password: "p", Messages: [][]byte{msg("1", "1"), msg("2", "2")}})
	ctx := context.Background()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	caps := mb.Capabilities()
	assert.False(t, caps.Has(mailaccess.CapDelete))
	assert.False(t, caps.Has(mailaccess.CapMove))
	all, _ := listIDs(t, mb, "INBOX")
	err = mb.Delete(ctx, "INBOX", all[0])
	require.ErrorIs(t, err, errors.ErrUnsupported)
	var ue *mailaccess.UnsupportedError
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, ue.Reason, "UIDPLUS")
	_, err = mb.Move(ctx, "INBOX", all[:1], "Trash")
	require.ErrorIs(t, err, errors.ErrUnsupported)
	_, err = mb.Copy(ctx, "INBOX", all[:1], "Trash")
	require.NoError(t, err)
	ids, _ := listIDs(t, mb, "INBOX")
	assert.Equal(t, all, ids)
}

// TestStartTLSUnavailable: imap:// requires STARTTLS and never falls back.
func TestStartTLSUnavailable(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p"})
	cfg := srv.Config("u", "p")
	cfg.TLS = mailaccess.TLSDefault
	_, err := Dial(context.Background(), cfg)
	require.ErrorIs(t, err, mailaccess.ErrStartTLSUnavailable)
}

// TestInsecureRefused: credentials are never sent on an unencrypted
// connection unless tls=insecure-plaintext.
func TestInsecureRefused(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p"})
	cfg := srv.Config("u", "p")
	cfg.TLS = mailaccess.TLSStartTLS
	var trace bytes.Buffer
	cfg.Trace = &trace
	_, err := dial(context.Background(), cfg, hooks{noTLS: true})
	require.ErrorIs(t, err, mailaccess.ErrInsecure)
	assert.NotContains(t, trace.String(), "AUTHENTICATE")
	assert.NotContains(t, trace.String(), "LOGIN")
}

// TestAuthFailureAndTrace: a wrong password is ErrAuth without the
// password in the error, and the trace redacts credentials and literals.
func TestAuthFailureAndTrace(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "right-password", Messages: [][]byte{msg("s", "BODYTEXT-XYZ")}})
	ctx := context.Background()
	for _, auth := range []string{"plain", "login"} {
		cfg := srv.Config("u", "wrong-password")
		cfg.Auth = auth
		_, err := Dial(ctx, cfg)
		require.ErrorIs(t, err, mailaccess.ErrAuth, auth)
		assert.NotContains(t, err.Error(), "wrong-password")

		cfg.Password = "right-password"
		var trace bytes.Buffer
		cfg.Trace = &trace
		mb, err := Dial(ctx, cfg)
		require.NoError(t, err, auth)
		rc, err := mb.Open(ctx, "INBOX", idIn(t, mb, "INBOX", 1), nil)
		require.NoError(t, err)
		body, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		assert.Contains(t, string(body), "BODYTEXT-XYZ")
		mb.Close()
		tr := trace.String()
		assert.NotContains(t, tr, "right-password", auth)
		assert.NotContains(t, tr, base64.StdEncoding.EncodeToString([]byte("\x00u\x00right-password")), auth)
		assert.Contains(t, tr, "[redacted]", auth)
		assert.NotContains(t, tr, "BODYTEXT-XYZ", "bodies are summarised")
		assert.Contains(t, tr, "literal of", auth)
	}
}

// oauthServer is a scripted server offering XOAUTH2 that refuses the first
// token and accepts "good-token".
func oauthServer(t *testing.T) string {
	return scriptedServer(t, "* OK ready", func(c net.Conn, br *bufio.Reader, f []string) bool {
		switch strings.ToUpper(f[1]) {
		case "CAPABILITY":
			io.WriteString(c, "* CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2\r\n"+f[0]+" OK done\r\n")
		case "AUTHENTICATE":
			ir, _ := base64.StdEncoding.DecodeString(f[len(f)-1])
			if strings.Contains(string(ir), "auth=Bearer good-token") {
				io.WriteString(c, f[0]+" OK welcome\r\n")
				return true
			}
			io.WriteString(c, "+ "+base64.StdEncoding.EncodeToString([]byte(`{"status":"401","schemes":"Bearer"}`))+"\r\n")
			br.ReadString('\n')
			io.WriteString(c, f[0]+" NO [AUTHENTICATIONFAILED] invalid token\r\n")
		case "LOGOUT":
			io.WriteString(c, "* BYE\r\n"+f[0]+" OK bye\r\n")
			return false
		default:
			io.WriteString(c, f[0]+" OK\r\n")
		}
		return true
	})
}

// TestXOAUTH2TokenRefresh: a refused token makes the driver ask the token
// function once more; tokens never reach errors or the trace.
func TestXOAUTH2TokenRefresh(t *testing.T) {
	cfg := cfgFor(oauthServer(t))
	cfg.Password, cfg.Auth = "", ""
	var calls atomic.Int32
	cfg.Token = func(ctx context.Context) (string, error) {
		if calls.Add(1) == 1 {
			return "stale-token", nil
		}
		return "good-token", nil
	}
	var trace bytes.Buffer
	cfg.Trace = &trace
	mb, err := Dial(context.Background(), cfg)
	require.NoError(t, err)
	mb.Close()
	assert.Equal(t, int32(2), calls.Load())
	assert.NotContains(t, trace.String(), "stale-token")
	assert.NotContains(t, trace.String(), "good-token")
	assert.NotContains(t, trace.String(), base64.StdEncoding.EncodeToString([]byte("user=u\x01auth=Bearer good-token\x01\x01")))

	calls.Store(0)
	cfg.Token = func(ctx context.Context) (string, error) { calls.Add(1); return "always-bad", nil }
	_, err = Dial(context.Background(), cfg)
	require.ErrorIs(t, err, mailaccess.ErrAuth)
	assert.NotContains(t, err.Error(), "always-bad")
	assert.Contains(t, err.Error(), "401", "the server's JSON status is reported")
	assert.Equal(t, int32(2), calls.Load(), "asked again once, not more")
}

// TestWireInjectionRejected: CR/LF/NUL in folder names, flags and search
// strings never reach the wire.
func TestWireInjectionRejected(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: [][]byte{msg("1", "1")}})
	ctx := context.Background()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	_, err = mb.Status(ctx, "INBOX\r\nA1 DELETE Trash")
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
	_, err = mb.Search(ctx, "INBOX", mailaccess.Criteria{Subject: "x\r\nA1 DELETE Trash"})
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
	assert.ErrorIs(t, mb.SetFlags(ctx, "INBOX", []mailaccess.ID{idIn(t, mb, "INBOX", 1)}, mailaccess.AddFlags, "$a b"), mailaccess.ErrInvalid)
	assert.ErrorIs(t, mailaccess.CreateFolder(ctx, mb, "x\x00y"), mailaccess.ErrInvalid)
	cfg := srv.Config("u\r\nA1 LOGOUT", "p")
	_, err = Dial(ctx, cfg)
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
	fs, err := mb.Folders(ctx)
	require.NoError(t, err)
	assert.Len(t, fs, 5, "nothing was created or deleted")
}

// TestPoolNestedCalls: with one connection, the body of a List loop can
// still call Open and SetFlags (List does not hold the connection while
// yielding), and concurrent callers wait instead of failing.
func TestPoolNestedCalls(t *testing.T) {
	var raws [][]byte
	for i := range 30 {
		raws = append(raws, msg(strconv.Itoa(i), strings.Repeat("x", i*100)))
	}
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: raws})
	cfg := srv.Config("u", "p")
	cfg.MaxConns = 1
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mb, err := Dial(ctx, cfg)
	require.NoError(t, err)
	defer mb.Close()
	n := 0
	for m, err := range mb.List(ctx, "INBOX", &mailaccess.ListOptions{BatchSize: 7}) {
		require.NoError(t, err)
		rc, err := m.Open(ctx)
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		assert.Equal(t, raws[n], b)
		require.NoError(t, mb.SetFlags(ctx, "INBOX", []mailaccess.ID{m.ID()}, mailaccess.AddFlags, mailaccess.FlagSeen))
		n++
	}
	assert.Equal(t, 30, n)

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			folder := "INBOX"
			if i%2 == 1 {
				folder = "Trash"
			}
			_, err := mb.Status(ctx, folder)
			errs <- err
			for _, err := range mb.List(ctx, folder, nil) {
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, 0, st.Unseen)
}

// TestListExpungedBetweenBatches: messages expunged by another client
// between two batches neither make List skip a message nor repeat one.
func TestListExpungedBetweenBatches(t *testing.T) {
	var raws [][]byte
	for i := range 20 {
		raws = append(raws, msg(strconv.Itoa(i), "b"))
	}
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: raws})
	ctx := context.Background()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	other, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer other.Close()
	var got []mailaccess.ID
	for m, err := range mb.List(ctx, "INBOX", &mailaccess.ListOptions{BatchSize: 5}) {
		require.NoError(t, err)
		got = append(got, m.ID())
		if m.Info().UID == 5 {
			// Remove two already listed and one not yet listed.
			require.NoError(t, other.Delete(ctx, "INBOX", idIn(t, mb, "INBOX", 2), idIn(t, mb, "INBOX", 3), idIn(t, mb, "INBOX", 12)))
		}
	}
	var want []mailaccess.ID
	for i := 1; i <= 20; i++ {
		if i != 12 {
			want = append(want, idIn(t, mb, "INBOX", imap.UID(i)))
		}
	}
	assert.Equal(t, want, got)
	var from7 []mailaccess.ID
	for m, err := range mb.List(ctx, "INBOX", &mailaccess.ListOptions{BatchSize: 3, MinUID: 7}) {
		require.NoError(t, err)
		from7 = append(from7, m.ID())
	}
	var want7 []mailaccess.ID
	for i := 7; i <= 20; i++ {
		if i != 12 {
			want7 = append(want7, idIn(t, mb, "INBOX", imap.UID(i)))
		}
	}
	assert.Equal(t, want7, from7, "MinUID")
}

// TestSearchNonASCII: non-ASCII criteria are sent with CHARSET UTF-8.
func TestSearchNonASCII(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: [][]byte{
		msg("plain", "nothing"), []byte("Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\r\nhallo\r\n"), msg("other", "x")}})
	ctx := context.Background()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	ids, err := mb.Search(ctx, "INBOX", mailaccess.Criteria{Subject: "grüße"})
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{idIn(t, mb, "INBOX", 2)}, ids)
	ids, err = mb.Search(ctx, "INBOX", mailaccess.Criteria{MinUID: 2})
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{idIn(t, mb, "INBOX", 2), idIn(t, mb, "INBOX", 3)}, ids)
	ids, err = mb.Search(ctx, "INBOX", mailaccess.Criteria{MinUID: 10})
	require.NoError(t, err)
	assert.Empty(t, ids, "MinUID above every UID matches nothing (no n:* trap)")
}

// TestSearchBadCharsetFallback: when the server refuses CHARSET UTF-8,
// the non-ASCII criteria are checked on the client.
func TestSearchBadCharsetFallback(t *testing.T) {
	raws := [][]byte{msg("plain", "nothing"), []byte("Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhallo wörld\r\n"), msg("other", "x")}
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: raws})
	ctx := context.Background()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	// The in-memory server accepts UTF-8, so check the fallback directly.
	st, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	uv := st.UIDValidity
	uids, err := mb.filterClientSide(ctx, "INBOX", uv, []imap.UID{1, 2, 3}, mailaccess.Criteria{Subject: "GRÜSSE"})
	require.NoError(t, err)
	assert.Empty(t, uids, "ß is not SS: no match")
	uids, err = mb.filterClientSide(ctx, "INBOX", uv, []imap.UID{1, 2, 3}, mailaccess.Criteria{Subject: "grüße"})
	require.NoError(t, err)
	assert.Equal(t, []imap.UID{2}, uids)
	uids, err = mb.filterClientSide(ctx, "INBOX", uv, []imap.UID{1, 2, 3}, mailaccess.Criteria{Body: "wörld"})
	require.NoError(t, err)
	assert.Equal(t, []imap.UID{2}, uids)
	uids, err = mb.filterClientSide(ctx, "INBOX", uv, []imap.UID{1, 2, 3}, mailaccess.Criteria{Text: "grüße"})
	require.NoError(t, err)
	assert.Equal(t, []imap.UID{2}, uids, "Text matches the decoded header too")
}

// TestOpenPartialAndPart checks BODY.PEEK[part]<offset.length>.
func TestOpenPartialAndPart(t *testing.T) {
	mp := "Subject: mp\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--BB\r\nContent-Type: text/plain\r\n\r\nsecond part\r\n--BB--\r\n"
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: [][]byte{[]byte(mp)}})
	ctx := context.Background()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	read := func(o *mailaccess.OpenOptions) string {
		rc, err := mb.Open(ctx, "INBOX", idIn(t, mb, "INBOX", 1), o)
		require.NoError(t, err)
		defer rc.Close()
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		return string(b)
	}
	assert.Equal(t, "second part", read(&mailaccess.OpenOptions{Part: []int{2}}))
	assert.Equal(t, "bjec", read(&mailaccess.OpenOptions{Offset: 2, Length: 4}))
	assert.Equal(t, mp[10:], read(&mailaccess.OpenOptions{Offset: 10}))
	_, err = mb.Open(ctx, "INBOX", idIn(t, mb, "INBOX", 99), nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)
	_, err = mb.Open(ctx, "NoSuchFolder", idIn(t, mb, "INBOX", 1), nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)
}

// TestOpenEarlyCloseKeepsPoolUsable: closing a body reader early (small or
// large remainder) leaves the Mailbox usable.
func TestOpenEarlyCloseKeepsPoolUsable(t *testing.T) {
	big := append([]byte("Subject: big\r\n\r\n"), bytes.Repeat([]byte("0123456789abcdef\r\n"), 200000)...)
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: [][]byte{msg("small", "s"), big}})
	cfg := srv.Config("u", "p")
	cfg.MaxConns = 1
	ctx := context.Background()
	mb, err := Dial(ctx, cfg)
	require.NoError(t, err)
	defer mb.Close()
	for _, id := range []mailaccess.ID{idIn(t, mb, "INBOX", 1), idIn(t, mb, "INBOX", 2), idIn(t, mb, "INBOX", 2)} {
		rc, err := mb.Open(ctx, "INBOX", id, nil)
		require.NoError(t, err)
		buf := make([]byte, 5)
		_, err = io.ReadFull(rc, buf)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		st, err := mb.Status(ctx, "INBOX")
		require.NoError(t, err)
		assert.Equal(t, 2, st.Messages)
	}
}

func TestRegistered(t *testing.T) {
	assert.Contains(t, mailaccess.Schemes(), "imap")
	assert.Contains(t, mailaccess.Schemes(), "imaps")
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p"})
	mb, err := mailaccess.Open(context.Background(), srv.Config("u", "p"), mailaccess.CapPush|mailaccess.CapMove)
	require.NoError(t, err)
	defer mb.Close()
	cfg, ok := driver.ConfigOf(mb)
	require.True(t, ok, "the imap driver is a driver.ConfigProvider")
	assert.Equal(t, "u", cfg.User)
	assert.Equal(t, "imap", mb.(driver.Protocoler).Protocol())
}

// TestTraceRedactsLiteralPassword: a password sent as a literal (non-ASCII)
// is redacted too.
func TestTraceRedactsLiteralPassword(t *testing.T) {
	const pw = "pässwörd\"x"
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: pw})
	cfg := srv.Config("u", pw)
	cfg.Auth = "login"
	var trace bytes.Buffer
	cfg.Trace = &trace
	mb, err := Dial(context.Background(), cfg)
	require.NoError(t, err)
	mb.Close()
	assert.NotContains(t, trace.String(), "pässwörd")
	assert.NotContains(t, trace.String(), "p\xc3")
	assert.Contains(t, trace.String(), "LOGIN [redacted]")
}
