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
	require.NoError(t, c.Quit(testCtx(t)))
	<-watched
	assert.False(t, clientHungUpFirst.Load(), "Quit closed the connection before the server ended the session")
	assert.ErrorIs(t, c.Noop(testCtx(t)), ErrBroken)
}
