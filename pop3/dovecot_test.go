package pop3

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// TestDovecotEdgeCasesByteExact retrieves every edge-case message from a
// real Dovecot over POP3+STLS and POP3S, through Open and OpenAll, and
// compares bytes with corpus.Normalize(raw).
func TestDovecotEdgeCasesByteExact(t *testing.T) {
	dc := dovecottest.Start(t, nil)
	edge := corpus.EdgeCases()
	var raws [][]byte
	for _, m := range edge {
		raws = append(raws, m.Raw)
	}
	for _, scheme := range []string{"pop3", "pop3s"} {
		t.Run(scheme, func(t *testing.T) {
			user := "edge" + scheme
			require.NoError(t, dc.AddUser(user, "pw", raws))
			addr := dc.POP3Addr
			if scheme == "pop3s" {
				addr = dc.POP3SAddr
			}
			cfg, err := mailaccess.ParseURL(scheme + "://" + addr)
			require.NoError(t, err)
			cfg.User, cfg.Password, cfg.TLSConfig = user, "pw", dc.TLSConfig()
			mb := dialDovecot(t, cfg)
			defer mb.Close()
			assert.Equal(t, mailaccess.CapUID|mailaccess.CapHeaders|mailaccess.CapDelete|mailaccess.CapDeferredDelete, mb.Capabilities())

			msgs := list(t, mb, &mailaccess.ListOptions{Headers: true})
			require.Len(t, msgs, len(edge))
			var ids []mailaccess.ID
			for i, m := range msgs {
				want := corpus.Normalize(edge[i].Raw)
				assert.Equal(t, int64(len(want)), m.Size(), edge[i].Name)
				assert.Equal(t, edge[i].Subject, m.Header().Subject(), edge[i].Name)
				got := readAll(t, mb, m.ID())
				assert.True(t, string(want) == got, "%s: Open not byte-exact (%d vs %d bytes)", edge[i].Name, len(want), len(got))
				ids = append(ids, m.ID())
			}
			i := 0
			err = mb.OpenAll(context.Background(), "INBOX", ids, func(id mailaccess.ID, r io.Reader) error {
				b, err := io.ReadAll(r)
				assert.Equal(t, ids[i], id)
				assert.True(t, string(corpus.Normalize(edge[i].Raw)) == string(b), "%s: OpenAll not byte-exact", edge[i].Name)
				i++
				return err
			})
			require.NoError(t, err)
			assert.Equal(t, len(edge), i)
		})
	}
}

// TestDovecotLockAndCommit checks the maildrop lock and deferred deletes
// against Dovecot's real semantics.
func TestDovecotLockAndCommit(t *testing.T) {
	// Dovecot locks a POP3 maildrop only when asked to.
	dc := dovecottest.Start(t, &dovecottest.Options{ExtraConfig: []string{"pop3_lock_session = yes"}})
	require.NoError(t, dc.AddUser("lock", "pw", [][]byte{[]byte(testMsgs[0]), []byte(testMsgs[1])}))
	cfg, err := mailaccess.ParseURL("pop3://" + dc.POP3Addr)
	require.NoError(t, err)
	cfg.User, cfg.Password, cfg.TLSConfig = "lock", "pw", dc.TLSConfig()
	mb := dialDovecot(t, cfg)
	defer mb.Close()
	msgs := list(t, mb, nil)
	require.Len(t, msgs, 2)

	second, err := Dial(context.Background(), cfg)
	if err == nil {
		second.Close()
	}
	assert.ErrorIs(t, err, mailaccess.ErrLocked, "Dovecot answers [IN-USE] to a second session")

	require.NoError(t, mb.Delete(context.Background(), "INBOX", msgs[0].ID()))
	require.ErrorIs(t, mb.Close(), mailaccess.ErrDeletesDiscarded) // no Commit: nothing deleted, and Close says so
	mb2 := dialDovecot(t, cfg)
	defer mb2.Close()
	require.Len(t, list(t, mb2, nil), 2)
	require.NoError(t, mb2.Delete(context.Background(), "INBOX", msgs[0].ID()))
	require.NoError(t, mb2.Commit(context.Background()))
	left := list(t, mb2, nil)
	require.Len(t, left, 1)
	assert.Equal(t, msgs[1].ID(), left[0].ID(), "UIDLs are stable across sessions")
}
