package maildir_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
)

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		require.NoError(t, err)
		n += len(ents)
	}
	return n
}

// A keyed append is staged: HasKey sees it, but it is neither listed nor
// in new/ until Flush publishes it, with its bytes intact.
func TestKeyedAppendIsPublishedByFlush(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := maildir.Open(dir, nil)
	require.NoError(t, err)
	defer st.Close()
	raw := "Subject: staged\r\n\r\nbody\r\n"
	id, err := st.AppendWithKey(ctx, "INBOX", "k1", strings.NewReader(raw), &mailaccess.AppendOptions{Flags: []mailaccess.Flag{mailaccess.FlagSeen}})
	require.NoError(t, err)
	got, ok, err := st.HasKey(ctx, "INBOX", "k1")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, id, got)
	again, err := st.AppendWithKey(ctx, "INBOX", "k1", strings.NewReader("must not be read"), nil)
	require.NoError(t, err)
	assert.Equal(t, id, again, "a staged key is not appended twice")
	assert.Zero(t, countFiles(t, dir), "nothing outside tmp/ before Flush")
	for _, err := range st.List(ctx, "INBOX", nil) {
		require.NoError(t, err)
		t.Fatal("a staged message is not listed")
	}

	require.NoError(t, st.Flush(ctx))
	assert.Equal(t, 1, countFiles(t, dir))
	rc, err := st.Open(ctx, "INBOX", id, nil)
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	rc.Close()
	require.NoError(t, err)
	assert.Equal(t, raw, string(b))
	n := 0
	for m, err := range st.List(ctx, "INBOX", nil) {
		require.NoError(t, err)
		assert.True(t, m.HasFlag(mailaccess.FlagSeen))
		n++
	}
	assert.Equal(t, 1, n)
}

// When the data sync fails, Flush fails, nothing is published, and the
// next Flush publishes the batch.
func TestFlushSyncFailureKeepsStaged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ffs := &faultFS{}
	st, err := maildir.Open(dir, &maildir.Options{WrapFS: func(base maildir.FS) maildir.FS { ffs.FS = base; return ffs }})
	require.NoError(t, err)
	defer st.Close()
	for _, k := range []string{"a", "b", "c"} {
		_, err := st.AppendWithKey(ctx, "INBOX", k, strings.NewReader("Subject: "+k+"\r\n\r\n"), nil)
		require.NoError(t, err)
	}
	ffs.mu.Lock()
	ffs.failSync = syscall.EIO
	ffs.mu.Unlock()
	assert.ErrorIs(t, st.Flush(ctx), syscall.EIO)
	assert.Zero(t, countFiles(t, dir))
	ffs.mu.Lock()
	ffs.failSync = nil
	ffs.mu.Unlock()
	require.NoError(t, st.Flush(ctx))
	assert.Equal(t, 3, countFiles(t, dir))
}

// Close without Flush discards staged messages, leaving nothing behind.
func TestCloseDiscardsStaged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := maildir.Open(dir, nil)
	require.NoError(t, err)
	_, err = st.AppendWithKey(ctx, "INBOX", "gone", strings.NewReader("Subject: x\r\n\r\n"), nil)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, ents)
	assert.Zero(t, countFiles(t, dir))
}

// Taking the sync lock removes staged files left in tmp/ by a sync that
// died before its Flush, but not other programs' tmp/ files nor what this
// Store has staged itself.
func TestLockSweepsDeadStagedFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := maildir.Open(dir, nil)
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, mailaccess.CreateFolder(ctx, st, "Archive"))
	dead := []string{filepath.Join(dir, "tmp", "1.M1P1.host.staged"), filepath.Join(dir, ".Archive", "tmp", "2.M2P2.host.staged")}
	other := filepath.Join(dir, "tmp", "3.M3P3.othermua")
	for _, p := range append(dead, other) {
		require.NoError(t, os.WriteFile(p, []byte("partial"), 0o600))
	}
	id, err := st.AppendWithKey(ctx, "INBOX", "live", strings.NewReader("Subject: live\r\n\r\n"), nil)
	require.NoError(t, err)

	ss, err := st.SyncState()
	require.NoError(t, err)
	unlock, err := ss.Lock(ctx)
	require.NoError(t, err)
	defer unlock()
	for _, p := range dead {
		assert.NoFileExists(t, p)
	}
	assert.FileExists(t, other, "other programs' tmp/ files are left alone")
	require.NoError(t, st.Flush(ctx))
	rc, err := st.Open(ctx, "INBOX", id, nil)
	require.NoError(t, err, "this Store's own staged message survived the sweep")
	rc.Close()
}
