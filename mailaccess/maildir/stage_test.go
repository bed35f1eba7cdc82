package maildir_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// When the data sync fails, Flush fails, nothing is linked or renamed,
// and the next Flush publishes the batch.
func TestFlushSyncFailureKeepsStaged(t *testing.T) {
	for _, mode := range stageModes {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			st, ffs, dir := openFault(t, mode, nil)
			ids := map[string]mailaccess.ID{}
			for _, k := range []string{"a", "b", "c"} {
				id, err := st.AppendWithKey(ctx, "INBOX", k, strings.NewReader("Subject: "+k+"\r\n\r\n"), nil)
				require.NoError(t, err)
				ids[k] = id
			}
			ffs.set(func(f *faultFS) { f.failSync = syscall.EIO })
			assert.ErrorIs(t, st.Flush(ctx), syscall.EIO)
			assert.Zero(t, countFiles(t, dir), "nothing published when the data sync failed")
			ffs.mu.Lock()
			assert.Zero(t, ffs.linkTemps, "nothing linked before the data is synced")
			ffs.mu.Unlock()
			for k, id := range ids {
				got, ok, err := st.HasKey(ctx, "INBOX", k)
				require.NoError(t, err)
				assert.True(t, ok, k)
				assert.Equal(t, id, got, k)
			}
			ffs.set(func(f *faultFS) { f.failSync = nil })
			require.NoError(t, st.Flush(ctx))
			assert.Equal(t, 3, countFiles(t, dir))
			for k, id := range ids {
				assert.Equal(t, "Subject: "+k+"\r\n\r\n", read(t, st, "INBOX", id))
			}
			assert.Empty(t, dirNames(t, filepath.Join(dir, "tmp")))
		})
	}
}

// When publishing a file fails (linkat for an unnamed file, rename for a
// named one), Flush fails and keeps the files not yet published staged:
// nothing is visible for them, HasKey still sees them, and a later Flush
// publishes each exactly once.
func TestPublishFailureKeepsStaged(t *testing.T) {
	for _, tc := range []struct {
		mode, name string
		set        func(*faultFS, error)
		before     int // files published before the failure
	}{
		{"tmpfile", "link", func(f *faultFS, e error) { f.failLinkTemp = e }, 0},
		{"tmpfile", "link-after-one", func(f *faultFS, e error) { f.failLinkTemp, f.linkTempsBeforeFail = e, 1 }, 1},
		{"named", "rename", func(f *faultFS, e error) { f.failRename = e }, 0},
	} {
		t.Run(tc.mode+"/"+tc.name, func(t *testing.T) {
			ctx := context.Background()
			st, ffs, dir := openFault(t, tc.mode, nil)
			keys := []string{"a", "b", "c"}
			ids := map[string]mailaccess.ID{}
			for _, k := range keys {
				id, err := st.AppendWithKey(ctx, "INBOX", k, strings.NewReader("Subject: "+k+"\r\n\r\n"), nil)
				require.NoError(t, err)
				ids[k] = id
			}
			ffs.set(func(f *faultFS) { tc.set(f, syscall.EIO) })
			err := st.Flush(ctx)
			assert.ErrorIs(t, err, syscall.EIO)
			assert.Equal(t, tc.before, countFiles(t, dir), "visible after the failed Flush")
			assert.Len(t, list(t, st, "INBOX"), tc.before)
			for _, k := range keys {
				_, ok, err := st.HasKey(ctx, "INBOX", k)
				require.NoError(t, err)
				assert.True(t, ok, "%s still known by its key", k)
			}

			ffs.set(func(f *faultFS) { tc.set(f, nil) })
			require.NoError(t, st.Flush(ctx))
			assert.Equal(t, 3, countFiles(t, dir))
			for _, k := range keys {
				assert.Equal(t, "Subject: "+k+"\r\n\r\n", read(t, st, "INBOX", ids[k]))
				again, err := st.AppendWithKey(ctx, "INBOX", k, strings.NewReader("must not be read"), nil)
				require.NoError(t, err)
				assert.Equal(t, ids[k], again)
			}
			require.NoError(t, st.Flush(ctx))
			assert.Equal(t, 3, countFiles(t, dir), "no duplicate after the retry")
			assert.Empty(t, dirNames(t, filepath.Join(dir, "tmp")))
		})
	}
}

// Close without Flush discards staged messages, leaving nothing behind
// and, for unnamed files, no open descriptor.
func TestCloseDiscardsStaged(t *testing.T) {
	for _, mode := range stageModes {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			before := settledFDs(t)
			st, _, dir := openFault(t, mode, nil)
			fds := settledFDs(t)
			for _, k := range []string{"gone1", "gone2"} {
				_, err := st.AppendWithKey(ctx, "INBOX", k, strings.NewReader("Subject: x\r\n\r\n"), nil)
				require.NoError(t, err)
			}
			if mode == "tmpfile" {
				assertFDs(t, fds+2, "one descriptor per staged file")
			}
			require.NoError(t, st.Close())
			assertFDs(t, before, "descriptors closed")
			assert.Empty(t, dirNames(t, filepath.Join(dir, "tmp")))
			assert.Zero(t, countFiles(t, dir))
		})
	}
}

// assertFDs checks that the process has want open descriptors. It waits
// a little for the count to settle, so that a descriptor another
// goroutine holds for a moment (a Watch poll of an earlier test) is not
// taken for a leak; a leaked one stays.
func assertFDs(t *testing.T, want int, msgAndArgs ...any) {
	t.Helper()
	got := openFDs(t)
	for deadline := time.Now().Add(2 * time.Second); got != want && time.Now().Before(deadline); got = openFDs(t) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, want, got, msgAndArgs...)
}

// settledFDs counts the process's open descriptors as a baseline: the
// fewest of a few counts, so one that another goroutine holds for a
// moment does not count.
func settledFDs(t *testing.T) int {
	t.Helper()
	n := openFDs(t)
	for range 4 {
		time.Sleep(10 * time.Millisecond)
		n = min(n, openFDs(t))
	}
	return n
}

// openFDs counts the process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open descriptors: %v", err)
	}
	return len(ents)
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
