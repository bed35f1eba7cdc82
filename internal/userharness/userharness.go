// Package userharness builds the conformance suite's Harness for a real
// server run by the tests whose every mailbox is a fresh user: the servers
// of internal/mailutilstest and internal/couriertest, whatever the
// protocol the driver under test speaks to them.
package userharness

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
)

// Users creates users whose mailbox holds messages, and delivers more.
type Users interface {
	AddUser(prefix string, msgs [][]byte) (string, error)
	AddMessages(name string, msgs [][]byte) error
}

// Harness is a conformance.Harness over Users: Open creates a user
// holding the messages and dials it, Reopen dials the Mailbox's user
// again, Deliver adds a message to it. The caller sets the rest
// (Normalize, UnknownID, Skip, OpenFolder), with [Harness.User] to find
// the user of a Mailbox the harness opened.
type Harness struct {
	conformance.Harness

	mu    sync.Mutex
	users map[mailaccess.Mailbox]string
}

// New returns a Harness that dials a user with dial, and passes every
// message through seed (if not nil) before it is stored: how the server
// would leave it, when that is not how it was delivered.
func New(u Users, dial func(t testing.TB, user string) mailaccess.Mailbox, seed func([]byte) []byte) *Harness {
	h := &Harness{users: map[mailaccess.Mailbox]string{}}
	seedAll := func(msgs [][]byte) [][]byte {
		if seed == nil {
			return msgs
		}
		out := make([][]byte, len(msgs))
		for i, m := range msgs {
			out[i] = seed(m)
		}
		return out
	}
	open := func(t testing.TB, user string) mailaccess.Mailbox {
		mb := dial(t, user)
		h.mu.Lock()
		h.users[mb] = user
		h.mu.Unlock()
		return mb
	}
	h.Open = func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
		user, err := u.AddUser("conf", seedAll(msgs))
		require.NoError(t, err)
		return open(t, user)
	}
	h.Reopen = func(t testing.TB, old mailaccess.Mailbox) mailaccess.Mailbox {
		return open(t, h.User(old))
	}
	h.Deliver = func(t testing.TB, mb mailaccess.Mailbox, raw []byte) {
		require.NoError(t, u.AddMessages(h.User(mb), seedAll([][]byte{raw})))
	}
	return h
}

// User returns the user of a Mailbox the harness opened ("" for another).
func (h *Harness) User(mb mailaccess.Mailbox) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.users[mb]
}
