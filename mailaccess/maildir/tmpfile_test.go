package maildir_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
)

// openTmpfile opens a store on the default FS and skips the test where
// it cannot create unnamed files.
func openTmpfile(t *testing.T) (*maildir.Store, string) {
	t.Helper()
	var base maildir.FS
	st, dir := open(t, &maildir.Options{WrapFS: func(b maildir.FS) maildir.FS { base = b; return b }})
	requireTempFS(t, base)
	return st, dir
}

// On the O_TMPFILE path a staged message has no directory entry at all
// until Flush, which then creates exactly one, in new/ or cur/, with the
// message's bytes and date.
func TestTmpfileStagingCreatesNoEntries(t *testing.T) {
	ctx := context.Background()
	st, dir := openTmpfile(t)
	require.NoError(t, mailaccess.CreateFolder(ctx, st, "Archive"))
	date := time.Date(2023, 5, 6, 7, 8, 9, 123456789, time.UTC)
	raw := "Subject: unnamed\r\n\r\nbody\r\n"
	id, err := st.AppendWithKey(ctx, "INBOX", "k-new", strings.NewReader(raw), &mailaccess.AppendOptions{Date: date})
	require.NoError(t, err)
	id2, err := st.AppendWithKey(ctx, "Archive", "k-cur", strings.NewReader(raw+"2"),
		&mailaccess.AppendOptions{Date: date, Flags: []mailaccess.Flag{mailaccess.FlagSeen}})
	require.NoError(t, err)
	for _, d := range []string{dir, filepath.Join(dir, ".Archive")} {
		for _, sub := range []string{"tmp", "new", "cur"} {
			assert.Empty(t, dirNames(t, filepath.Join(d, sub)), "%s/%s before Flush", d, sub)
		}
	}
	_, ok, err := st.HasKey(ctx, "Archive", "k-cur")
	require.NoError(t, err)
	assert.True(t, ok)

	require.NoError(t, st.Flush(ctx))
	for _, c := range []struct {
		dir, sub, name, raw string
	}{
		{dir, "new", string(id), raw},
		{filepath.Join(dir, ".Archive"), "cur", string(id2) + ":2,S", raw + "2"},
	} {
		assert.Empty(t, dirNames(t, filepath.Join(c.dir, "tmp")))
		other := map[string]string{"new": "cur", "cur": "new"}[c.sub]
		assert.Empty(t, dirNames(t, filepath.Join(c.dir, other)))
		require.Equal(t, []string{c.name}, dirNames(t, filepath.Join(c.dir, c.sub)))
		p := filepath.Join(c.dir, c.sub, c.name)
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, c.raw, string(b))
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.True(t, fi.ModTime().Equal(date), "mtime %v, want %v", fi.ModTime(), date)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}
	infos := list(t, st, "INBOX")
	require.Len(t, infos, 1)
	assert.True(t, infos[0].InternalDate.Equal(date))
}

// At the descriptor cap an append publishes the staged batch before
// staging its own message, so the store never holds more unnamed files
// than the cap; Flush and Close leave no descriptor behind.
func TestTmpfileFDCapPublishesEarly(t *testing.T) {
	ctx := context.Background()
	before := settledFDs(t)
	st, dir := openTmpfile(t)
	maildir.SetStagedFDCap(st, 4)
	base := settledFDs(t)
	ids := map[string]mailaccess.ID{}
	for i := range 10 {
		k := fmt.Sprintf("k%d", i)
		id, err := st.AppendWithKey(ctx, "INBOX", k, strings.NewReader("Subject: "+k+"\r\n\r\n"), nil)
		require.NoError(t, err)
		ids[k] = id
		staged := i%4 + 1
		assertFDs(t, base+staged, "descriptors after append %d", i+1)
		assert.Equal(t, i/4*4, countFiles(t, dir), "published before Flush, after append %d", i+1)
		assert.Empty(t, dirNames(t, filepath.Join(dir, "tmp")))
	}
	require.NoError(t, st.Flush(ctx))
	assertFDs(t, base, "Flush closes every staged descriptor")
	assert.Equal(t, 10, countFiles(t, dir))
	for k, id := range ids {
		assert.Equal(t, "Subject: "+k+"\r\n\r\n", read(t, st, "INBOX", id))
	}
	require.NoError(t, st.Close())
	assertFDs(t, before, "no descriptor leaked")
}

// Many appenders racing for a small cap: the ones finding every slot
// taken by appends still being written stage a named file instead of
// waiting; every message is published exactly once and no descriptor
// leaks.
func TestTmpfileFDCapConcurrent(t *testing.T) {
	ctx := context.Background()
	before := settledFDs(t)
	st, dir := openTmpfile(t)
	maildir.SetStagedFDCap(st, 3)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				_, err := st.AppendWithKey(ctx, "INBOX", fmt.Sprintf("g%d-%d", g, i), strings.NewReader(msg1), nil)
				assert.NoError(t, err)
				if i%7 == 6 {
					assert.NoError(t, st.Flush(ctx))
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, st.Flush(ctx))
	assert.Equal(t, 320, countFiles(t, dir))
	assert.Len(t, list(t, st, "INBOX"), 320)
	assert.Empty(t, dirNames(t, filepath.Join(dir, "tmp")))
	require.NoError(t, st.Close())
	assertFDs(t, before, "no descriptor leaked")
}

// A file system without O_TMPFILE turns unnamed files off for the Store
// at the first refusal: later appends stage named files without asking
// again.
func TestTmpfileUnsupportedFallsBackOnce(t *testing.T) {
	ctx := context.Background()
	ffs := &faultFS{failCreateTemp: syscall.EOPNOTSUPP}
	st, dir := open(t, &maildir.Options{WrapFS: func(base maildir.FS) maildir.FS { ffs.FS = base; return ffs }})
	for i := range 3 {
		_, err := st.AppendWithKey(ctx, "INBOX", fmt.Sprintf("k%d", i), strings.NewReader(msg1), nil)
		require.NoError(t, err)
	}
	ffs.mu.Lock()
	assert.Equal(t, 1, ffs.createTemps, "asked once")
	ffs.mu.Unlock()
	names := dirNames(t, filepath.Join(dir, "tmp"))
	assert.Len(t, names, 3)
	for _, n := range names {
		assert.True(t, strings.HasSuffix(n, ".staged"), n)
	}
	require.NoError(t, st.Flush(ctx))
	assert.Equal(t, 3, countFiles(t, dir))
	assert.Empty(t, dirNames(t, filepath.Join(dir, "tmp")))
}

// Running out of descriptors stages that one message under a name; the
// next one is unnamed again.
func TestTmpfileEMFILEStagesOneNamed(t *testing.T) {
	ctx := context.Background()
	st, ffs, dir := openFault(t, "tmpfile", nil)
	ffs.set(func(f *faultFS) { f.failCreateTemp = syscall.EMFILE })
	_, err := st.AppendWithKey(ctx, "INBOX", "named", strings.NewReader(msg1), nil)
	require.NoError(t, err)
	assert.Len(t, dirNames(t, filepath.Join(dir, "tmp")), 1)
	ffs.set(func(f *faultFS) { f.failCreateTemp = nil })
	_, err = st.AppendWithKey(ctx, "INBOX", "unnamed", strings.NewReader(msg1), nil)
	require.NoError(t, err)
	assert.Len(t, dirNames(t, filepath.Join(dir, "tmp")), 1, "the second message has no name")
	ffs.mu.Lock()
	assert.Equal(t, 2, ffs.createTemps)
	ffs.mu.Unlock()
	require.NoError(t, st.Flush(ctx))
	assert.Equal(t, 2, countFiles(t, dir))
	assert.Empty(t, dirNames(t, filepath.Join(dir, "tmp")))
	ffs.mu.Lock()
	assert.Equal(t, 1, ffs.linkTemps)
	ffs.mu.Unlock()
}

// Unnamed files are created and linked only through the os.Root: a tmp/
// or new/ that is a symbolic link out of the root is refused, and nothing
// lands outside.
func TestTmpfileCannotEscapeRoot(t *testing.T) {
	ctx := context.Background()
	for _, sub := range []string{"tmp", "new"} {
		t.Run(sub, func(t *testing.T) {
			st, dir := openTmpfile(t)
			outside := t.TempDir()
			require.NoError(t, os.Remove(filepath.Join(dir, sub)))
			require.NoError(t, os.Symlink(outside, filepath.Join(dir, sub)))
			_, err := st.AppendWithKey(ctx, "INBOX", "evil", strings.NewReader(msg1), nil)
			if err == nil {
				err = st.Flush(ctx)
			}
			require.Error(t, err)
			assert.Empty(t, dirNames(t, outside), "nothing written outside the root")
		})
	}
}

// An append that finds every descriptor slot taken while a publish is
// running (here a Flush stuck in its file-system sync) stages its message
// under a name at once instead of waiting for that publish; the next Flush
// publishes it, and nothing is stored twice.
func TestTmpfileCapDuringPublishDoesNotWait(t *testing.T) {
	ctx := context.Background()
	st, ffs, dir := openFault(t, "tmpfile", nil)
	maildir.SetStagedFDCap(st, 2)
	for _, k := range []string{"k1", "k2"} {
		_, err := st.AppendWithKey(ctx, "INBOX", k, strings.NewReader("Subject: "+k+"\r\n\r\n"), nil)
		require.NoError(t, err)
	}
	entered, gate := make(chan struct{}, 4), make(chan struct{})
	ffs.mu.Lock()
	ffs.syncEntered, ffs.syncGate = entered, gate
	ffs.mu.Unlock()
	flushed := make(chan error, 1)
	go func() { flushed <- st.Flush(ctx) }()
	<-entered // the Flush holds the publish, its two files still open

	appended := make(chan error, 1)
	go func() {
		_, err := st.AppendWithKey(ctx, "INBOX", "k3", strings.NewReader("Subject: k3\r\n\r\n"), nil)
		appended <- err
	}()
	select {
	case err := <-appended:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		close(gate)
		t.Fatal("an append at the descriptor cap waited for a running publish")
	}
	assert.Len(t, dirNames(t, filepath.Join(dir, "tmp")), 1, "k3 is staged under a name")

	ffs.mu.Lock()
	ffs.syncEntered, ffs.syncGate = nil, nil
	ffs.mu.Unlock()
	close(gate)
	require.NoError(t, <-flushed)
	require.NoError(t, st.Flush(ctx))
	assert.Equal(t, 3, countFiles(t, dir))
	assert.Empty(t, dirNames(t, filepath.Join(dir, "tmp")))
}
