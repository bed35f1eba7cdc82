package maildir_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

const msg1 = "From: a@example.org\r\nTo: b@example.org\r\nSubject: Hello there\r\nMessage-ID: <1@x>\r\n\r\nBody text with NEEDLE inside.\r\n"

func open(t *testing.T, o *maildir.Options) (*maildir.Store, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := maildir.Open(dir, o)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st, dir
}

func list(t *testing.T, mb mailaccess.Mailbox, folder string) []mailaccess.MessageInfo {
	t.Helper()
	var out []mailaccess.MessageInfo
	for m, err := range mb.List(context.Background(), folder, nil) {
		require.NoError(t, err)
		out = append(out, m.Info())
	}
	return out
}

func read(t *testing.T, mb mailaccess.Mailbox, folder string, id mailaccess.ID) string {
	t.Helper()
	rc, err := mb.Open(context.Background(), folder, id, nil)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return string(b)
}

func TestAppendLayoutAndRead(t *testing.T) {
	ctx := context.Background()
	st, dir := open(t, nil)
	id, err := st.Append(ctx, "INBOX", strings.NewReader(msg1), nil)
	require.NoError(t, err)
	// Without flags the file lands in new/, named by its ID.
	_, err = os.Stat(filepath.Join(dir, "new", string(id)))
	require.NoError(t, err)
	assert.Contains(t, string(id), ",S=")
	ents, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	assert.Empty(t, ents, "tmp/ is left empty after a successful append")

	date := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	id2, err := st.Append(ctx, "INBOX", strings.NewReader(msg1), &mailaccess.AppendOptions{
		Flags: []mailaccess.Flag{mailaccess.FlagSeen, mailaccess.FlagFlagged, "$Label1"}, Date: date})
	require.NoError(t, err)
	ents, _ = os.ReadDir(filepath.Join(dir, "cur"))
	require.Len(t, ents, 1)
	assert.Equal(t, string(id2)+":2,FSa", ents[0].Name(), "letters in ASCII order, keyword as a")
	kw, err := os.ReadFile(filepath.Join(dir, "dovecot-keywords"))
	require.NoError(t, err)
	assert.Equal(t, "0 $Label1\n", string(kw))

	infos := list(t, st, "INBOX")
	require.Len(t, infos, 2)
	byID := map[mailaccess.ID]mailaccess.MessageInfo{}
	for _, mi := range infos {
		byID[mi.ID] = mi
		assert.Equal(t, int64(len(msg1)), mi.Size)
	}
	assert.ElementsMatch(t, []mailaccess.Flag{mailaccess.FlagSeen, mailaccess.FlagFlagged, "$Label1"}, byID[id2].Flags)
	assert.Empty(t, byID[id].Flags)
	assert.True(t, byID[id2].InternalDate.Equal(date))
	assert.Equal(t, msg1, read(t, st, "INBOX", id))

	status, err := st.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, 2, status.Messages)
	assert.Equal(t, 1, status.Unseen)
	assert.NotZero(t, status.UIDValidity)
	status2, err := st.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, status.UIDValidity, status2.UIDValidity, "UIDVALIDITY is constant")

	h, err := st.FetchHeader(ctx, "INBOX", id)
	require.NoError(t, err)
	assert.Equal(t, "Hello there", h.Subject())
}

func TestAllSystemFlagLetters(t *testing.T) {
	ctx := context.Background()
	st, dir := open(t, nil)
	all := []mailaccess.Flag{mailaccess.FlagDraft, mailaccess.FlagFlagged, mailaccess.FlagForwarded,
		mailaccess.FlagAnswered, mailaccess.FlagSeen, mailaccess.FlagDeleted}
	id, err := st.Append(ctx, "INBOX", strings.NewReader(msg1), &mailaccess.AppendOptions{Flags: all})
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "cur", string(id)+":2,DFPRST"))
	require.NoError(t, err)
	assert.ElementsMatch(t, all, list(t, st, "INBOX")[0].Flags)

	require.NoError(t, st.SetFlags(ctx, "INBOX", []mailaccess.ID{id}, mailaccess.RemoveFlags, mailaccess.FlagDeleted, mailaccess.FlagDraft))
	_, err = os.Stat(filepath.Join(dir, "cur", string(id)+":2,FPRS"))
	require.NoError(t, err)
	require.NoError(t, st.SetFlags(ctx, "INBOX", []mailaccess.ID{id}, mailaccess.ReplaceFlags, mailaccess.FlagSeen))
	_, err = os.Stat(filepath.Join(dir, "cur", string(id)+":2,S"))
	require.NoError(t, err)
}

func TestIDStableAcrossReaderRenamesAndReadsDoNotRename(t *testing.T) {
	ctx := context.Background()
	st, dir := open(t, nil)
	id, err := st.Append(ctx, "INBOX", strings.NewReader(msg1), nil)
	require.NoError(t, err)
	// Reading leaves the file in new/.
	read(t, st, "INBOX", id)
	_, err = st.Search(ctx, "INBOX", mailaccess.Criteria{Body: "needle"})
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "new", string(id)))
	require.NoError(t, err, "reading must not move the file")

	// A mail reader moves it to cur/ and marks it seen.
	require.NoError(t, os.Rename(filepath.Join(dir, "new", string(id)), filepath.Join(dir, "cur", string(id)+":2,RS")))
	infos := list(t, st, "INBOX")
	require.Len(t, infos, 1)
	assert.Equal(t, id, infos[0].ID)
	assert.ElementsMatch(t, []mailaccess.Flag{mailaccess.FlagSeen, mailaccess.FlagAnswered}, infos[0].Flags)
	assert.Equal(t, msg1, read(t, st, "INBOX", id))
}

func TestFoldersAndEscapes(t *testing.T) {
	ctx := context.Background()
	st, dir := open(t, nil)
	for _, bad := range []string{"..", "a/../b", "../x", "a/b", `a\b`, "a\x00b", ".hidden", "x.", "a..b"} {
		err := mailaccess.CreateFolder(ctx, st, bad)
		require.Error(t, err, bad)
		assert.ErrorIs(t, err, mailaccess.ErrInvalid, bad)
		_, err = st.Append(ctx, bad, strings.NewReader(msg1), nil)
		assert.ErrorIs(t, err, mailaccess.ErrInvalid, bad)
	}
	require.NoError(t, mailaccess.CreateFolder(ctx, st, "Archive"))
	require.NoError(t, mailaccess.CreateFolder(ctx, st, "Archive.2024"))
	for _, sub := range []string{"cur", "new", "tmp"} {
		_, err := os.Stat(filepath.Join(dir, ".Archive.2024", sub))
		require.NoError(t, err)
	}
	fs, err := st.Folders(ctx)
	require.NoError(t, err)
	var names []string
	for _, f := range fs {
		names = append(names, f.Name)
		assert.Equal(t, ".", f.Delimiter)
	}
	assert.Equal(t, []string{"INBOX", "Archive", "Archive.2024"}, names)

	id, err := st.Append(ctx, "INBOX", strings.NewReader(msg1), &mailaccess.AppendOptions{Flags: []mailaccess.Flag{mailaccess.FlagSeen}})
	require.NoError(t, err)
	ids, err := st.Move(ctx, "INBOX", []mailaccess.ID{id}, "Archive.2024")
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{id}, ids, "a move keeps the unique name")
	assert.Empty(t, list(t, st, "INBOX"))
	moved := list(t, st, "Archive.2024")
	require.Len(t, moved, 1)
	assert.Equal(t, []mailaccess.Flag{mailaccess.FlagSeen}, moved[0].Flags)

	cp, err := st.Copy(ctx, "Archive.2024", []mailaccess.ID{id}, "INBOX")
	require.NoError(t, err)
	require.Len(t, cp, 1)
	assert.Equal(t, msg1, read(t, st, "INBOX", cp[0]))

	require.NoError(t, mailaccess.RenameFolder(ctx, st, "Archive", "Old"))
	_, err = os.Stat(filepath.Join(dir, ".Old.2024", "cur"))
	require.NoError(t, err, "subfolders follow a rename")
	require.Len(t, list(t, st, "Old.2024"), 1)
	require.NoError(t, mailaccess.DeleteFolder(ctx, st, "Old.2024"))
	_, err = st.Status(ctx, "Old.2024")
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)

	// A symlink pointing out of the root cannot be followed.
	outside := t.TempDir()
	for _, sub := range []string{"cur", "new", "tmp"} {
		require.NoError(t, os.Mkdir(filepath.Join(outside, sub), 0o700))
	}
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, ".Evil")))
	_, err = st.Append(ctx, "Evil", strings.NewReader(msg1), nil)
	require.Error(t, err)
	ents, _ := os.ReadDir(filepath.Join(outside, "new"))
	assert.Empty(t, ents, "nothing written outside the root")
}

func TestDeleteAndSearch(t *testing.T) {
	ctx := context.Background()
	st, _ := open(t, nil)
	a, err := st.Append(ctx, "INBOX", strings.NewReader(msg1), nil)
	require.NoError(t, err)
	b, err := st.Append(ctx, "INBOX", strings.NewReader("Subject: other\r\n\r\nnothing\r\n"), &mailaccess.AppendOptions{Flags: []mailaccess.Flag{mailaccess.FlagSeen}})
	require.NoError(t, err)
	for _, tc := range []struct {
		c    mailaccess.Criteria
		want []mailaccess.ID
	}{
		{mailaccess.Criteria{Body: "needle"}, []mailaccess.ID{a}},
		{mailaccess.Criteria{Text: "OTHER"}, []mailaccess.ID{b}},
		{mailaccess.Criteria{Subject: "hello"}, []mailaccess.ID{a}},
		{mailaccess.Criteria{From: "a@example"}, []mailaccess.ID{a}},
		{mailaccess.Criteria{WithoutFlags: []mailaccess.Flag{mailaccess.FlagSeen}}, []mailaccess.ID{a}},
		{mailaccess.Criteria{WithFlags: []mailaccess.Flag{mailaccess.FlagSeen}}, []mailaccess.ID{b}},
		{mailaccess.Criteria{Larger: 50}, []mailaccess.ID{a}},
		{mailaccess.Criteria{Header: map[string]string{"Message-ID": "1@x"}}, []mailaccess.ID{a}},
	} {
		got, err := st.Search(ctx, "INBOX", tc.c)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%+v", tc.c)
	}
	require.NoError(t, st.Delete(ctx, "INBOX", a))
	assert.Len(t, list(t, st, "INBOX"), 1)
	assert.ErrorIs(t, st.Delete(ctx, "INBOX", a), mailaccess.ErrNotFound)
	_, err = st.Open(ctx, "INBOX", a, nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)
	_, err = st.Open(ctx, "INBOX", b, &mailaccess.OpenOptions{Offset: 1})
	assert.ErrorIs(t, err, errors.ErrUnsupported)
}

func TestAppendWithKeyIsIdempotent(t *testing.T) {
	ctx := context.Background()
	st, dir := open(t, nil)
	id, err := st.AppendWithKey(ctx, "INBOX", "acct-1_uid-7", strings.NewReader(msg1), nil)
	require.NoError(t, err)
	require.NoError(t, st.Flush(ctx))
	// A second store (a rerun after a crash) finds it by key, even after
	// a mail reader moved it to cur/.
	require.NoError(t, os.Rename(filepath.Join(dir, "new", string(id)), filepath.Join(dir, "cur", string(id)+":2,S")))
	st2, err := maildir.Open(dir, nil)
	require.NoError(t, err)
	defer st2.Close()
	id2, err := st2.AppendWithKey(ctx, "INBOX", "acct-1_uid-7", strings.NewReader("never read"), nil)
	require.NoError(t, err)
	assert.Equal(t, id, id2)
	assert.Len(t, list(t, st2, "INBOX"), 1)
	_, err = st2.AppendWithKey(ctx, "INBOX", "bad/key", strings.NewReader(msg1), nil)
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
}

func TestConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	st, _ := open(t, &maildir.Options{DeferDirSync: true})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.Append(ctx, "INBOX", strings.NewReader(msg1), &mailaccess.AppendOptions{Flags: []mailaccess.Flag{mailaccess.Flag("$k" + string(rune('a'+i%5)))}})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	require.NoError(t, st.Flush(ctx))
	assert.Len(t, list(t, st, "INBOX"), 40)
}

// faultFS injects errors into the default file-system layer. It is a
// [maildir.TempFS] when the layer it wraps is one, unless noTemp is set:
// then CreateTemp answers ErrUnsupported and the Store stages named files.
type faultFS struct {
	maildir.FS
	mu                   sync.Mutex
	failWrite, failSync  error
	failRename, failLink error
	failCreateTemp       error
	failLinkTemp         error
	linkTempsBeforeFail  int // LinkTemp calls that succeed before failLinkTemp applies
	noTemp               bool
	syncDirs             []string
	createTemps          int // CreateTemp calls
	linkTemps            int // LinkTemp calls that linked
	// With syncGate set, SyncFS announces itself on syncEntered (if set)
	// and waits until syncGate is closed.
	syncEntered chan struct{}
	syncGate    chan struct{}
}

type faultFile struct {
	maildir.File
	fs *faultFS
}

// stageModes are the two ways a keyed append holds its bytes until Flush.
var stageModes = []string{"tmpfile", "named"}

// openFault opens a store on a faultFS staging keyed appends the mode's
// way. "tmpfile" is skipped where the file system has no unnamed files.
func openFault(t *testing.T, mode string, o *maildir.Options) (*maildir.Store, *faultFS, string) {
	t.Helper()
	ffs := &faultFS{noTemp: mode == "named"}
	var oo maildir.Options
	if o != nil {
		oo = *o
	}
	oo.WrapFS = func(base maildir.FS) maildir.FS { ffs.FS = base; return ffs }
	st, dir := open(t, &oo)
	if mode == "tmpfile" {
		requireTempFS(t, ffs.FS)
	}
	return st, ffs, dir
}

// requireTempFS skips the test unless fsys can create unnamed files.
func requireTempFS(t testing.TB, fsys maildir.FS) {
	t.Helper()
	tfs, ok := fsys.(maildir.TempFS)
	if !ok {
		t.Skip("the default FS has no unnamed files on this OS")
	}
	f, err := tfs.CreateTemp("tmp", 0o600)
	if err != nil {
		t.Skipf("the file system under t.TempDir() has no O_TMPFILE: %v", err)
	}
	f.Close()
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (maildir.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return faultFile{file, f}, nil
}

func (f *faultFS) CreateTemp(dir string, perm fs.FileMode) (maildir.File, error) {
	f.mu.Lock()
	f.createTemps++
	noTemp, err := f.noTemp, f.failCreateTemp
	f.mu.Unlock()
	if noTemp {
		return nil, fmt.Errorf("faultFS: no unnamed files: %w", errors.ErrUnsupported)
	}
	if err != nil {
		return nil, err
	}
	tfs, ok := f.FS.(maildir.TempFS)
	if !ok {
		return nil, fmt.Errorf("faultFS: base has no unnamed files: %w", errors.ErrUnsupported)
	}
	file, err := tfs.CreateTemp(dir, perm)
	if err != nil {
		return nil, err
	}
	return faultFile{file, f}, nil
}

func (f *faultFS) LinkTemp(file maildir.File, newname string) error {
	f.mu.Lock()
	err := f.failLinkTemp
	if err != nil && f.linkTempsBeforeFail > 0 {
		f.linkTempsBeforeFail--
		err = nil
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	if ff, ok := file.(faultFile); ok {
		file = ff.File
	}
	err = f.FS.(maildir.TempFS).LinkTemp(file, newname)
	if err == nil {
		f.mu.Lock()
		f.linkTemps++
		f.mu.Unlock()
	}
	return err
}

func (f faultFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	err := f.fs.failWrite
	f.fs.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

func (f faultFile) Sync() error {
	f.fs.mu.Lock()
	err := f.fs.failSync
	f.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFS) Rename(o, n string) error {
	f.mu.Lock()
	err := f.failRename
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.FS.Rename(o, n)
}

func (f *faultFS) Link(o, n string) error {
	f.mu.Lock()
	err := f.failLink
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.FS.Link(o, n)
}

func (f *faultFS) SyncFS() error {
	f.mu.Lock()
	err, entered, gate := f.failSync, f.syncEntered, f.syncGate
	f.mu.Unlock()
	if gate != nil {
		if entered != nil {
			entered <- struct{}{}
		}
		<-gate
	}
	if err != nil {
		return err
	}
	return f.FS.SyncFS()
}

func (f *faultFS) SyncDir(name string) error {
	f.mu.Lock()
	f.syncDirs = append(f.syncDirs, name)
	f.mu.Unlock()
	return f.FS.SyncDir(name)
}

// set changes the faultFS under its lock.
func (f *faultFS) set(change func(*faultFS)) {
	f.mu.Lock()
	change(f)
	f.mu.Unlock()
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// Each fault fails the step that meets it, with its error, and leaves no
// message visible, half-written or not; once it is gone, the next Flush
// publishes exactly what was appended. Keyed appends run it on both ways
// of staging: a rename fault does not touch unnamed files, a link fault
// not named ones.
func TestFaultsLeaveNothingVisible(t *testing.T) {
	for _, mode := range stageModes {
		for _, fc := range []struct {
			name  string
			errno error
			set   func(*faultFS, error)
			// which step fails: the plain Append, the keyed append, the Flush
			append, keyed, flush bool
		}{
			{"write", syscall.ENOSPC, func(f *faultFS, e error) { f.failWrite = e }, true, true, false},
			{"fsync", syscall.EIO, func(f *faultFS, e error) { f.failSync = e }, true, false, true},
			{"rename", syscall.ENOSPC, func(f *faultFS, e error) { f.failRename = e }, true, false, mode == "named"},
			{"link", syscall.EIO, func(f *faultFS, e error) { f.failLinkTemp = e }, false, false, mode == "tmpfile"},
		} {
			t.Run(mode+"/"+fc.name, func(t *testing.T) {
				ctx := context.Background()
				st, ffs, dir := openFault(t, mode, nil)
				empty := func(what string, subs ...string) {
					t.Helper()
					for _, sub := range subs {
						assert.Empty(t, dirNames(t, filepath.Join(dir, sub)), "%s: %s/", what, sub)
					}
				}
				ffs.set(func(f *faultFS) { fc.set(f, fc.errno) })
				if fc.append {
					_, err := st.Append(ctx, "INBOX", strings.NewReader(msg1), nil)
					require.Error(t, err)
					assert.ErrorIs(t, err, fc.errno)
					var oe *mailaccess.OpError
					assert.ErrorAs(t, err, &oe)
					empty("after a failed append", "new", "cur", "tmp")
				}

				id, err := st.AppendWithKey(ctx, "INBOX", "key-"+fc.name, strings.NewReader(msg1), nil)
				if fc.keyed {
					assert.ErrorIs(t, err, fc.errno)
					_, ok, err := st.HasKey(ctx, "INBOX", "key-"+fc.name)
					require.NoError(t, err)
					assert.False(t, ok, "a failed keyed append is not staged")
					empty("after a failed keyed append", "new", "cur", "tmp")
				} else {
					require.NoError(t, err)
					empty("before Flush", "new", "cur")
					staged := 0
					if mode == "named" {
						staged = 1
					}
					assert.Len(t, dirNames(t, filepath.Join(dir, "tmp")), staged, "tmp/ before Flush")
				}
				err = st.Flush(ctx)
				if fc.flush {
					assert.ErrorIs(t, err, fc.errno)
					empty("after a failed Flush", "new", "cur")
					if mode == "named" {
						assert.Len(t, dirNames(t, filepath.Join(dir, "tmp")), 1, "the staged file waits in tmp/")
					} else {
						empty("after a failed Flush", "tmp")
					}
					assert.Empty(t, list(t, st, "INBOX"))
				} else {
					require.NoError(t, err)
				}

				ffs.set(func(f *faultFS) { fc.set(f, nil) })
				require.NoError(t, st.Flush(ctx))
				empty("after the retry", "tmp", "cur")
				if fc.keyed {
					empty("after the retry", "new")
					return
				}
				assert.Equal(t, []string{string(id)}, dirNames(t, filepath.Join(dir, "new")))
				assert.Equal(t, msg1, read(t, st, "INBOX", id))
				ffs.mu.Lock()
				defer ffs.mu.Unlock()
				if mode == "tmpfile" {
					assert.Equal(t, 1, ffs.linkTemps, "staged as an unnamed file")
				} else {
					assert.Zero(t, ffs.linkTemps, "staged as a named file")
				}
			})
		}
	}
}

// A failed state save keeps the old record.
func TestStateSaveFaultKeepsOldRecord(t *testing.T) {
	ctx := context.Background()
	st, ffs, _ := openFault(t, "named", nil)
	ss, err := st.SyncState()
	require.NoError(t, err)
	require.NoError(t, ss.Save(ctx, "k", []byte("old")))
	ffs.set(func(f *faultFS) { f.failRename = syscall.EIO })
	assert.ErrorIs(t, ss.Save(ctx, "k", []byte("new")), syscall.EIO)
	ffs.set(func(f *faultFS) { f.failRename = nil })
	got, err := ss.Load(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "old", string(got))
}

func TestDeferredDirSyncHappensAtFlush(t *testing.T) {
	ctx := context.Background()
	ffs := &faultFS{}
	st, _ := open(t, &maildir.Options{DeferDirSync: true, WrapFS: func(base maildir.FS) maildir.FS { ffs.FS = base; return ffs }})
	ffs.mu.Lock()
	ffs.syncDirs = nil
	ffs.mu.Unlock()
	for range 5 {
		_, err := st.Append(ctx, "INBOX", strings.NewReader(msg1), nil)
		require.NoError(t, err)
	}
	ffs.mu.Lock()
	assert.Empty(t, ffs.syncDirs, "no directory sync before Flush")
	ffs.mu.Unlock()
	require.NoError(t, st.Flush(ctx))
	ffs.mu.Lock()
	assert.Equal(t, []string{"new"}, ffs.syncDirs, "one sync of new/ for five appends")
	ffs.mu.Unlock()
}

func TestSyncStateLockAndSave(t *testing.T) {
	ctx := context.Background()
	st, dir := open(t, nil)
	ss, err := st.SyncState()
	require.NoError(t, err)
	unlock, err := ss.Lock(ctx)
	require.NoError(t, err)
	// A second store on the same root (another process would be the same).
	st2, err := maildir.Open(dir, nil)
	require.NoError(t, err)
	defer st2.Close()
	ss2, err := st2.SyncState()
	require.NoError(t, err)
	_, err = ss2.Lock(ctx)
	require.ErrorIs(t, err, maildir.ErrSyncRunning)
	assert.Contains(t, err.Error(), "another sync is running")
	require.NoError(t, unlock())
	unlock2, err := ss2.Lock(ctx)
	require.NoError(t, err)
	require.NoError(t, unlock2())

	got, err := ss.Load(ctx, "acct/INBOX")
	require.NoError(t, err)
	assert.Nil(t, got)
	require.NoError(t, ss.Save(ctx, "acct/INBOX", []byte(`{"v":1}`)))
	got, err = ss2.Load(ctx, "acct/INBOX")
	require.NoError(t, err)
	assert.Equal(t, `{"v":1}`, string(got))
	// The state directory is not a folder.
	fs, err := st.Folders(ctx)
	require.NoError(t, err)
	assert.Len(t, fs, 1)
}

func TestRegistryAndWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	mb, err := mailaccess.Open(ctx, mailaccess.Config{Scheme: "maildir", Path: dir, Options: map[string]string{"create": "true"}})
	require.NoError(t, err)
	defer mb.Close()
	assert.Equal(t, maildir.Capabilities, mb.Capabilities())
	events := make(chan mailaccess.Event, 4)
	go func() {
		for ev, err := range mb.Watch(ctx, "INBOX", &mailaccess.WatchOptions{PollInterval: 10 * time.Millisecond}) {
			if err != nil {
				return
			}
			events <- ev
		}
	}()
	time.Sleep(30 * time.Millisecond) // let the first snapshot happen
	id, err := mb.Append(ctx, "INBOX", bytes.NewReader([]byte(msg1)), nil)
	require.NoError(t, err)
	select {
	case ev := <-events:
		assert.Equal(t, mailaccess.EventNew, ev.Kind)
		assert.Contains(t, ev.IDs, id)
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
}

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "maildir-example")
	defer os.RemoveAll(dir)
	st, err := maildir.Open(dir, nil)
	if err != nil {
		panic(err)
	}
	defer st.Close()
	ctx := context.Background()
	id, _ := st.Append(ctx, "INBOX", strings.NewReader("Subject: hi\r\n\r\nhello\r\n"),
		&mailaccess.AppendOptions{Flags: []mailaccess.Flag{mailaccess.FlagSeen}})
	for m, err := range st.List(ctx, "INBOX", nil) {
		if err != nil {
			panic(err)
		}
		fmt.Println(m.ID() == id, m.Flags(), m.Size())
	}
	// Output: true [\Seen] 22
}

// A maildir:// URL opens only a Maildir that exists: a mistyped path is
// an error naming the path and the option that creates it, and nothing
// is created, unless opt.create=true asks for it.
func TestURLDoesNotCreateUnlessAsked(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	typo := filepath.Join(dir, "Mial")
	_, err := mailaccess.OpenURL(ctx, "maildir://"+typo)
	require.ErrorIs(t, err, mailaccess.ErrNotFound)
	assert.ErrorContains(t, err, "no Maildir at "+typo)
	assert.ErrorContains(t, err, "opt.create=true")
	_, statErr := os.Stat(typo)
	assert.True(t, os.IsNotExist(statErr), "nothing created: %v", statErr)

	// An existing directory that is not a Maildir is refused the same way.
	_, err = mailaccess.OpenURL(ctx, "maildir://"+dir)
	require.ErrorIs(t, err, mailaccess.ErrNotFound)
	assert.ErrorContains(t, err, "is not a Maildir")
	assert.ErrorContains(t, err, "opt.create=true")

	mb, err := mailaccess.OpenURL(ctx, "maildir://"+typo+"?opt.create=true")
	require.NoError(t, err)
	require.NoError(t, mb.Close())
	mb, err = mailaccess.OpenURL(ctx, "maildir://"+typo)
	require.NoError(t, err, "once created, the plain URL opens it")
	require.NoError(t, mb.Close())

	// The legacy option still works; a contradiction is refused.
	mb, err = mailaccess.OpenURL(ctx, "maildir://"+filepath.Join(dir, "legacy")+"?opt.no_create=false")
	require.NoError(t, err)
	require.NoError(t, mb.Close())
	_, err = mailaccess.ParseURL("maildir://" + dir + "?opt.create=true&opt.no_create=true")
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
	assert.ErrorContains(t, err, "invalid config: maildir: opt.create=true contradicts opt.no_create=true (use opt.create alone)")
	assert.NotContains(t, err.Error(), "maildir: maildir:")

	// The Go API keeps creating by default (the caller names the path in
	// code), and says what to do when told not to.
	st, err := maildir.Open(filepath.Join(dir, "api"), nil)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	_, err = maildir.Open(filepath.Join(dir, "api2"), &maildir.Options{NoCreate: true})
	assert.ErrorContains(t, err, "Options.NoCreate")
}

// A maildir:// URL opens only a Maildir that exists, so a typo is an
// error; opt.create=true creates a new one.
func ExampleOpen_url() {
	dir, _ := os.MkdirTemp("", "maildir-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	_, err := mailaccess.OpenURL(ctx, "maildir://"+dir+"/Mial")
	fmt.Println(errors.Is(err, mailaccess.ErrNotFound))
	mb, err := mailaccess.OpenURL(ctx, "maildir://"+dir+"/Mail?opt.create=true")
	if err != nil {
		panic(err)
	}
	defer mb.Close()
	fmt.Println(mb.Capabilities().Has(mailaccess.CapOffline))
	// Output:
	// true
	// true
}
