package imaptest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
)

func raw(subject string) []byte {
	return []byte("From: a@example.com\r\nSubject: " + subject + "\r\n\r\nbody\r\n")
}

// login dials srv as u, selects INBOX and returns the client with the
// unilateral data it receives from then on ("EXISTS n", "EXPUNGE n",
// "FETCH n").
func login(t *testing.T, srv *imaptest.Server) (*imapclient.Client, <-chan string) {
	t.Helper()
	ch := make(chan string, 100)
	c, err := imapclient.DialInsecure(srv.Addr, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				ch <- fmt.Sprintf("EXISTS %d", *d.NumMessages)
			}
		},
		Expunge: func(seq uint32) { ch <- fmt.Sprintf("EXPUNGE %d", seq) },
		Fetch: func(m *imapclient.FetchMessageData) {
			for item := m.Next(); item != nil; item = m.Next() {
			}
			ch <- fmt.Sprintf("FETCH %d", m.SeqNum)
		},
	}})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Login("u", "p").Wait())
	_, err = c.Select("INBOX", nil).Wait()
	require.NoError(t, err)
	for len(ch) > 0 { // what SELECT said is not under test
		<-ch
	}
	return c, ch
}

// expect waits for want among the unilateral data of ch.
func expect(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	guard := time.After(30 * time.Second)
	for {
		select {
		case got := <-ch:
			if got == want {
				return
			}
		case <-guard:
			t.Fatalf("the idling client was not sent %q", want)
		}
	}
}

// TestIdleReportsChangesMadeBeforeIt: a message delivered after the
// session's last command and before its IDLE is sent when IDLE begins,
// not held back until IDLE ends.
func TestIdleReportsChangesMadeBeforeIt(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: [][]byte{raw("old")}})
	c, ch := login(t, srv)
	_, err := srv.Append("u", "INBOX", raw("new"), nil)
	require.NoError(t, err)
	idle, err := c.Idle()
	require.NoError(t, err)
	expect(t, ch, "EXISTS 2")
	require.NoError(t, idle.Close())
	require.NoError(t, idle.Wait())
}

// TestIdlePushesChangesOfOtherSessions: once WaitIdle has returned, every
// command of another session that changes the folder (APPEND, STORE,
// MOVE, EXPUNGE, COPY into it) is pushed to the idling session.
func TestIdlePushesChangesOfOtherSessions(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: [][]byte{raw("1"), raw("2")}})
	c, ch := login(t, srv)
	idle, err := c.Idle()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, srv.WaitIdle(ctx, "u"))

	other, _ := login(t, srv)
	b := raw("3")
	app := other.Append("INBOX", int64(len(b)), nil)
	_, err = app.Write(b)
	require.NoError(t, err)
	require.NoError(t, app.Close())
	_, err = app.Wait()
	require.NoError(t, err)
	expect(t, ch, "EXISTS 3")

	seen := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}, Silent: true}
	require.NoError(t, other.Store(imap.SeqSetNum(1), seen, nil).Close())
	expect(t, ch, "FETCH 1")

	_, err = other.Move(imap.SeqSetNum(2), "Trash").Wait()
	require.NoError(t, err)
	expect(t, ch, "EXPUNGE 2")

	deleted := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}
	require.NoError(t, other.Store(imap.SeqSetNum(1), deleted, nil).Close())
	require.NoError(t, other.Expunge().Close())
	expect(t, ch, "EXPUNGE 1") // INBOX holds one message now

	_, err = other.Select("Trash", nil).Wait()
	require.NoError(t, err)
	_, err = other.Copy(imap.SeqSetNum(1), "INBOX").Wait()
	require.NoError(t, err)
	expect(t, ch, "EXISTS 2")

	require.NoError(t, idle.Close())
	require.NoError(t, idle.Wait())
}

// TestWaitIdleEndsWithContext: WaitIdle for a user who is not idling
// returns the context's error.
func TestWaitIdleEndsWithContext(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, srv.WaitIdle(ctx, "u"), context.Canceled)
}
