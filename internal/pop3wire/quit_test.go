package pop3wire

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Some servers answer QUIT before they remove the messages marked deleted
// and close the connection when done (Courier's pop3d); RFC 1939 has
// them remove first. Quit returns only once the server has closed the
// connection, so that its UPDATE state is over: a session opened right
// after must not list messages still being removed. Here the server,
// after its +OK, watches whether the client hangs up before the server
// closes (within a grace the client must outwait).
func TestQuitWaitsForTheServerToClose(t *testing.T) {
	var clientHungUpFirst atomic.Bool
	watched := make(chan struct{})
	c, _ := connect(t, func(s *srv) {
		defer close(watched)
		if !s.expect("DELE 1") {
			return
		}
		s.send("+OK marked")
		if !s.expect("QUIT") {
			return
		}
		s.send("+OK bye, removing the deleted messages now")
		_ = s.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, err := s.br.ReadByte()
		if errors.Is(err, io.EOF) {
			clientHungUpFirst.Store(true)
		} else if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("server: after QUIT: %v", err)
		}
	})
	require.NoError(t, c.Dele(testCtx(t), 1))
	require.NoError(t, c.Quit(testCtx(t)))
	<-watched
	assert.False(t, clientHungUpFirst.Load(), "Quit closed the connection before the server ended the session")
	assert.ErrorIs(t, c.Noop(testCtx(t)), ErrBroken)
}

// A session that marked nothing (or unmarked it with RSET) has nothing
// for the server to remove: Quit closes the connection after the +OK
// without waiting for a server that keeps it open. (The server here
// holds the connection until Quit has returned; Quit, were it to wait,
// would wait the client's 10 s timeout: the 5 s bound only detects that
// hang.)
func TestQuitWithNothingMarkedDoesNotWait(t *testing.T) {
	for _, rset := range []bool{false, true} {
		release := make(chan struct{})
		c, _ := connect(t, func(s *srv) {
			if rset {
				if !s.expect("DELE 1") {
					return
				}
				s.send("+OK marked")
				if !s.expect("RSET") {
					return
				}
				s.send("+OK unmarked")
			}
			if !s.expect("QUIT") {
				return
			}
			s.send("+OK bye")
			<-release
		})
		if rset {
			require.NoError(t, c.Dele(testCtx(t), 1))
			require.NoError(t, c.Rset(testCtx(t)))
		}
		done := make(chan error, 1)
		go func() { done <- c.Quit(testCtx(t)) }()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Errorf("rset=%v: Quit waited for a server that had nothing to remove", rset)
		}
		close(release)
	}
}
