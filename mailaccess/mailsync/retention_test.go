package mailsync_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// TestSyncDeletesUnderTightSessionLimit (item 5): deleting N stored
// messages from a POP3 server takes about 2N+3 commands in one session
// (a TOP to prove each message, a DELE each, QUIT to apply them); a
// server that ends every session after a few commands discards the marks
// of each, so deleting all at once never finishes. The engine deletes in
// chunks that each end with QUIT, shrinking them when a session ends
// under one, so every reconnection makes progress: the run completes with
// every message stored once and deleted from the server.
func TestSyncDeletesUnderTightSessionLimit(t *testing.T) {
	ctx := context.Background()
	const n, limit = 40, 12
	raws := genRaws(51, n)
	backing := mailtest.New(mailtest.ProfileMaildir)
	for _, r := range raws {
		backing.Add(mailaccess.Inbox, r)
	}
	srv := pop3test.Start(t, backing, &pop3test.Options{DropAfter: limit, DropText: "[SYS/TEMP] autologout"})
	client, err := pop3.Dial(ctx, srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword))
	require.NoError(t, err)
	defer client.Close()
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	s, err := mailsync.New(client, dst, &mailsync.Options{Retry: fastRetry, BatchSize: 4,
		Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err, "%q", rep.Total().Notes)
	assert.Equal(t, n, rep.Total().New)
	assert.Equal(t, n, rep.Total().SourceDeleted)
	assert.Empty(t, backing.Messages(mailaccess.Inbox), "every message deleted from the server")
	requireExactlyOnce(t, dir, raws)
	assert.Contains(t, strings.Join(rep.Total().Notes, "\n"), "reconnecting and resuming")

	// A rerun has nothing left to do.
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Total().New)
	assert.Zero(t, rep.Total().SourceDeleted)
}
