package imap

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// commandLog records the command names a scripted server received, on
// every connection, in order.
type commandLog struct {
	mu     sync.Mutex
	cmds   []string
	conns  map[net.Conn]bool
	logout chan struct{} // if set, closed at the first LOGOUT
}

func (l *commandLog) add(c net.Conn, cmd string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns == nil {
		l.conns = map[net.Conn]bool{}
	}
	l.conns[c] = true
	l.cmds = append(l.cmds, strings.ToUpper(cmd))
	if l.logout != nil && strings.EqualFold(cmd, "LOGOUT") {
		select {
		case <-l.logout:
		default:
			close(l.logout)
		}
	}
}

func (l *commandLog) get() (cmds []string, conns int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.cmds...), len(l.conns)
}

// statusServer is a scripted server shaped like Dovecot: pre-login
// capabilities in the greeting, and a LOGIN whose OK carries the
// post-login set (with CONDSTORE, which the greeting lacks) when
// capsInLogin, or a plain OK otherwise. It answers CAPABILITY with the
// post-login set, STATUS INBOX, and never answers LOGOUT.
func statusServer(t *testing.T, capsInLogin bool, log *commandLog) string {
	const post = "IMAP4rev1 CONDSTORE UIDPLUS IDLE"
	return scriptedServer(t, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready", func(c net.Conn, br *bufio.Reader, f []string) bool {
		log.add(c, f[1])
		switch strings.ToUpper(f[1]) {
		case "LOGIN":
			if capsInLogin {
				io.WriteString(c, f[0]+" OK [CAPABILITY "+post+"] Logged in\r\n")
			} else {
				io.WriteString(c, f[0]+" OK Logged in\r\n")
			}
		case "CAPABILITY":
			io.WriteString(c, "* CAPABILITY "+post+"\r\n"+f[0]+" OK done\r\n")
		case "STATUS":
			io.WriteString(c, "* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 7 UNSEEN 0 HIGHESTMODSEQ 9)\r\n"+f[0]+" OK done\r\n")
		case "LOGOUT":
			// No BYE, no OK: Close must not wait for them.
			io.Copy(io.Discard, br)
			return false
		default:
			io.WriteString(c, f[0]+" BAD unexpected\r\n")
		}
		return true
	})
}

// TestStatusThenCloseRoundTrips: the no-op resync of the sync engine (Dial,
// Status, Close) sends LOGIN, STATUS and LOGOUT on one connection and
// nothing else when the server gives its capabilities in the login's OK:
// no second CAPABILITY, no SELECT or NOOP; and Close does not wait for the
// answer to LOGOUT.
func TestStatusThenCloseRoundTrips(t *testing.T) {
	log := commandLog{logout: make(chan struct{})}
	cfg := cfgFor(statusServer(t, true, &log))
	ctx := context.Background()
	// The server never answers LOGOUT, and the timer that bounds sending
	// it is too long to end a Close that would wait for the answer.
	mb, err := dial(ctx, cfg, hooks{logoutTimeout: time.Hour})
	require.NoError(t, err)
	assert.True(t, mb.Capabilities().Has(mailaccess.CapChanges), "post-login capabilities (CONDSTORE) from the login's OK")
	st, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, mailaccess.FolderStatus{Name: "INBOX", Messages: 3, UIDNext: 4, UIDValidity: 7, HighestModSeq: 9}, st)

	closed := make(chan error, 1)
	go func() { closed <- mb.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(time.Minute): // a bound for the failure only
		t.Fatal("Close waits for LOGOUT's answer, which this server never sends")
	}
	select {
	case <-log.logout:
	case <-time.After(time.Minute): // a bound for the failure only
		t.Fatal("the server never saw LOGOUT")
	}
	cmds, conns := log.get()
	assert.Equal(t, []string{"LOGIN", "STATUS", "LOGOUT"}, cmds)
	assert.Equal(t, 1, conns, "one connection for a Status")
}

// TestCapabilitiesAskedAfterPlainLoginOK: when the login's OK carries no
// capabilities, the driver asks CAPABILITY and never keeps the pre-login
// set (go-imap still holds it for a moment after the login completes).
func TestCapabilitiesAskedAfterPlainLoginOK(t *testing.T) {
	var log commandLog
	cfg := cfgFor(statusServer(t, false, &log))
	for i := range 30 {
		mb, err := Dial(context.Background(), cfg)
		require.NoError(t, err)
		caps := mb.Capabilities()
		mb.Close()
		require.True(t, caps.Has(mailaccess.CapChanges), "dial %d kept the pre-login capabilities", i)
	}
	cmds, _ := log.get()
	assert.Contains(t, cmds, "CAPABILITY")
}
