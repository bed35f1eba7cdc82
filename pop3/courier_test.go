package pop3

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/couriertest"
	"github.com/mailaccess/go-mailaccess/internal/userharness"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
)

// courierHarness runs the suite against Courier's pop3d over STLS (scheme
// pop3) or POP3S.
func courierHarness(srv *couriertest.Server, scheme string) conformance.Harness {
	h := userharness.New(srv, func(t testing.TB, user string) mailaccess.Mailbox {
		mb, err := Dial(context.Background(), srv.Config(scheme, user))
		require.NoError(t, err)
		return mb
	}, nil)
	h.Normalize = couriertest.Wire
	return h.Harness
}

// TestConformanceCourier runs the conformance suite against Courier's
// pop3d (a real server, unpacked: see package internal/couriertest).
func TestConformanceCourier(t *testing.T) {
	srv := couriertest.Start(t)
	for _, scheme := range []string{"pop3", "pop3s"} {
		t.Run(scheme, func(t *testing.T) { conformance.TestMailbox(t, courierHarness(srv, scheme)) })
	}
}

// The edge corpus comes back from Courier's pop3d byte for byte as it
// sends it (couriertest.Wire: the Maildir file with LF line ends, each
// sent as CRLF, dot-stuffing undone), in delivery order, with LIST sizes
// the length of those bytes; through Open and through OpenAll, over STLS
// and POP3S (the second session lists them all again: reading deletes
// nothing).
func TestCourierEdgeCorpusByteExact(t *testing.T) {
	srv := couriertest.Start(t)
	edges := corpus.EdgeCases()
	raws := make([][]byte, len(edges))
	for i, m := range edges {
		raws[i] = m.Raw
	}
	user, err := srv.AddUser("edge", raws)
	require.NoError(t, err)
	for _, scheme := range []string{"pop3", "pop3s"} {
		t.Run(scheme, func(t *testing.T) {
			ctx := context.Background()
			mb, err := Dial(ctx, srv.Config(scheme, user))
			require.NoError(t, err)
			defer mb.Close()
			msgs := list(t, mb, nil)
			require.Len(t, msgs, len(edges))
			ids := make([]mailaccess.ID, len(msgs))
			for i, m := range edges {
				ids[i] = msgs[i].ID()
				want := couriertest.Wire(m.Raw)
				assert.Equal(t, int64(len(want)), msgs[i].Size(), "%s: LIST size", m.Name)
				rc, err := mb.Open(ctx, mailaccess.Inbox, ids[i], nil)
				require.NoError(t, err, m.Name)
				got, err := io.ReadAll(rc)
				rc.Close()
				require.NoError(t, err, m.Name)
				assert.True(t, bytes.Equal(want, got), "%s: Open returned %d bytes, want %d byte-exact", m.Name, len(got), len(want))
			}
			byID := map[mailaccess.ID][]byte{}
			require.NoError(t, mb.OpenAll(ctx, mailaccess.Inbox, ids, func(id mailaccess.ID, r io.Reader) error {
				b, err := io.ReadAll(r)
				byID[id] = b
				return err
			}))
			require.Len(t, byID, len(ids))
			for i, m := range edges {
				assert.True(t, bytes.Equal(couriertest.Wire(m.Raw), byID[ids[i]]), "%s: OpenAll not byte-exact", m.Name)
			}
		})
	}
}
