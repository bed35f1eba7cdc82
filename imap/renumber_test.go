package imap

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// renumberingServer is a scripted server (fakeServer underneath) that,
// like GNU Mailutils' imap4d 3.15 on a Maildir, gives messages still in
// new/ fresh UIDs each time the folder is opened read-only (EXAMINE): it
// assigns them and remembers only the advanced UIDNEXT, since a read-only
// session may not move the files to cur/. A SELECT assigns them for good.
type renumberingServer struct {
	fakeServer
	mu        sync.Mutex
	next      int
	persisted bool
	examines  int
}

func (s *renumberingServer) start(t *testing.T) string {
	inner := s.fakeServer.handle()
	return scriptedServer(t, "* OK renumbering server ready", func(c net.Conn, br *bufio.Reader, f []string) bool {
		if cmd := strings.ToUpper(f[1]); cmd == "EXAMINE" || cmd == "SELECT" {
			s.mu.Lock()
			if cmd == "EXAMINE" {
				s.examines++
			}
			if !s.persisted {
				for i := range s.uids {
					s.next++
					s.uids[i] = s.next
				}
				s.persisted = cmd == "SELECT"
			}
			s.mu.Unlock()
		}
		return inner(c, br, f)
	})
}

// TestIDsStableOnServerThatRenumbersReadOnlySessions: the driver opens
// folders read-write (SELECT), as mainstream clients do, so the IDs it
// lists are the ones the server keeps, and a second session lists the
// same IDs. (With EXAMINE, Mailutils gave the same messages new UIDs under
// the same UIDVALIDITY in every session: a sync would have downloaded them
// again each run.)
func TestIDsStableOnServerThatRenumbersReadOnlySessions(t *testing.T) {
	s := &renumberingServer{fakeServer: fakeServer{uids: []int{0, 0, 0}}}
	addr := s.start(t)
	ctx := context.Background()
	var sessions [][]mailaccess.ID
	for range 2 {
		mb, err := Dial(ctx, wireCfg(addr))
		require.NoError(t, err)
		var ids []mailaccess.ID
		for m, err := range mb.List(ctx, "INBOX", nil) {
			require.NoError(t, err)
			ids = append(ids, m.ID())
		}
		require.NoError(t, mb.Close())
		sessions = append(sessions, ids)
	}
	require.Len(t, sessions[0], 3)
	assert.Equal(t, sessions[0], sessions[1], "the same messages keep their IDs in a new session")
	assert.Zero(t, s.examines, "no read-only selection")
}
