package imap

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

const doveadm = "/usr/bin/doveadm"

// kick ends every session of user on srv the way an administrator does
// (doveadm kick): Dovecot answers "* BYE Server shutting down." and
// closes the connection.
func kick(t *testing.T, configPath, user string) {
	t.Helper()
	out, err := exec.Command(doveadm, "-c", configPath, "kick", user).CombinedOutput()
	require.NoError(t, err, "doveadm kick: %s", out)
	require.Contains(t, string(out), user)
}

// TestDovecotKickedSession (issue 10 item 7, against a real server): a
// pooled connection whose session Dovecot ended between two calls is
// replaced without the caller seeing an error; a call interrupted by the
// end of the session (a body being streamed) fails with ErrTemporary; the
// next call works on a new connection.
func TestDovecotKickedSession(t *testing.T) {
	srv := startDovecot(t)
	if _, err := os.Stat(doveadm); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("doveadm missing under CI: %v", err)
		}
		t.Skip("doveadm not installed")
	}
	ctx := context.Background()
	cfg := dovecotUser(t, srv, "imaps", [][]byte{msg("small", "body")})
	big := msg("big", strings.Repeat("0123456789abcdef", 2<<20)) // 32 MiB
	require.NoError(t, srv.AddMessageReader(cfg.User, bytes.NewReader(big)))
	cfg.MaxConns = 1
	trace := &lockedBuffer{b: &bytes.Buffer{}}
	cfg.Trace = trace
	mb, err := Dial(ctx, cfg)
	require.NoError(t, err)
	defer mb.Close()
	var ids []mailaccess.ID
	for m, err := range mb.List(ctx, "INBOX", nil) {
		require.NoError(t, err)
		ids = append(ids, m.Info().ID)
	}
	require.Len(t, ids, 2)

	// Kicked while idle in the pool: once the connection has seen the
	// end of its session, the pool replaces it.
	mb.mu.Lock()
	require.Len(t, mb.idle, 1)
	idle := mb.idle[0]
	mb.mu.Unlock()
	kick(t, srv.ConfigPath, cfg.User)
	select {
	case <-idle.c.Closed():
	case <-time.After(20 * time.Second):
		t.Fatal("the kicked connection was not closed")
	}
	st, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err, "an idle connection whose session ended is replaced")
	assert.Equal(t, 2, st.Messages)

	// Kicked while a body is streamed.
	rc, err := mb.Open(ctx, "INBOX", ids[1], nil)
	require.NoError(t, err)
	_, err = io.ReadFull(rc, make([]byte, 1))
	require.NoError(t, err)
	kick(t, srv.ConfigPath, cfg.User)
	_, err = io.Copy(io.Discard, rc)
	require.Error(t, err, "a 32 MiB body cannot have been in flight whole")
	assert.ErrorIs(t, err, mailaccess.ErrTemporary)
	assert.Contains(t, err.Error(), "server 127.0.0.1")
	require.NoError(t, rc.Close())

	st, err = mb.Status(ctx, "INBOX")
	require.NoError(t, err, "the next call works on a new connection")
	assert.Equal(t, 2, st.Messages)
	assert.Contains(t, trace.String(), "* BYE Server shutting down.")
	assert.NotContains(t, trace.String(), "secret-pw")
}

// lockedBuffer is a bytes.Buffer safe for a trace written by several
// connections while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
