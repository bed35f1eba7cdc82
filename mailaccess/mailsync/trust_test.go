package mailsync_test

import (
	"context"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// TestSyncNoAllocationFromClaimedCount: a server whose STAT or STATUS
// claims 2^31-1 messages (issue 10 item 14) while it lists three. The
// listing grows with what arrives; nothing is sized from the claim.
func TestSyncNoAllocationFromClaimedCount(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfilePOP3)
	raws := seed(t, fake, 3, 30)
	src := &counting{Mailbox: fake, status: func(st mailaccess.FolderStatus) mailaccess.FolderStatus {
		st = pop3Like(st)
		st.Messages = math.MaxInt32
		return st
	}}
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	s, err := mailsync.New(src, dst, nil)
	require.NoError(t, err)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = s.Run(ctx)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "bytes allocated by a sync of three small messages")
	requireExactlyOnce(t, dir, raws)
}
