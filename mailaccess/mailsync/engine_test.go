package mailsync_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// counting wraps a source Mailbox: it counts calls and lets tests rewrite
// Status and List or watch Delete.
type counting struct {
	mailaccess.Mailbox
	opens, lists, statuses, deletes atomic.Int64
	status                          func(mailaccess.FolderStatus) mailaccess.FolderStatus
	list                            func(iter.Seq2[mailaccess.Message, error]) iter.Seq2[mailaccess.Message, error]
	onDelete                        func(folder string, ids []mailaccess.ID)
}

func (c *counting) Open(ctx context.Context, folder string, id mailaccess.ID, o *mailaccess.OpenOptions) (io.ReadCloser, error) {
	c.opens.Add(1)
	return c.Mailbox.Open(ctx, folder, id, o)
}

func (c *counting) Status(ctx context.Context, folder string) (mailaccess.FolderStatus, error) {
	c.statuses.Add(1)
	st, err := c.Mailbox.Status(ctx, folder)
	if err == nil && c.status != nil {
		st = c.status(st)
	}
	return st, err
}

func (c *counting) List(ctx context.Context, folder string, o *mailaccess.ListOptions) iter.Seq2[mailaccess.Message, error] {
	c.lists.Add(1)
	seq := c.Mailbox.List(ctx, folder, o)
	if c.list != nil {
		seq = c.list(seq)
	}
	return seq
}

func (c *counting) Delete(ctx context.Context, folder string, ids ...mailaccess.ID) error {
	c.deletes.Add(1)
	if c.onDelete != nil {
		c.onDelete(folder, ids)
	}
	return c.Mailbox.Delete(ctx, folder, ids...)
}

func (c *counting) Commit(ctx context.Context) error { return mailaccess.Commit(ctx, c.Mailbox) }

// pop3Like hides UIDVALIDITY/UIDNEXT, as a real POP3 server has none.
func pop3Like(st mailaccess.FolderStatus) mailaccess.FolderStatus {
	st.UIDValidity, st.UIDNext = 0, 0
	return st
}

func seed(t testing.TB, mb *mailtest.Mailbox, n int, s int64) [][]byte {
	t.Helper()
	var raws [][]byte
	for m := range corpus.Generate(s, n) {
		raws = append(raws, m.Raw)
		mb.Add("INBOX", m.Raw)
	}
	return raws
}

func openDst(t testing.TB, dir string, o *maildir.Options) *maildir.Store {
	t.Helper()
	st, err := maildir.Open(dir, o)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// storedFiles returns the content of every message file of a Maildir
// folder directory (new/ and cur/), and checks nothing else is there.
func storedFiles(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		require.NoError(t, err)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			require.NoError(t, err)
			out[sub+"/"+e.Name()] = b
		}
	}
	return out
}

// requireExactlyOnce checks the Maildir holds each raw message exactly
// once, byte-identical, and nothing else.
func requireExactlyOnce(t testing.TB, dir string, raws [][]byte) {
	t.Helper()
	want := map[[32]byte]int{}
	for _, r := range raws {
		want[sha256.Sum256(r)]++
	}
	got := map[[32]byte]int{}
	for name, b := range storedFiles(t, dir) {
		h := sha256.Sum256(b)
		if want[h] == 0 {
			t.Fatalf("file %s (%d bytes) is not a source message (partial or foreign)", name, len(b))
		}
		got[h]++
	}
	require.Equal(t, len(want), len(got), "distinct messages stored")
	for h, n := range want {
		require.Equal(t, n, got[h], "copies of a source message")
	}
}

type stateRec = mailsync.TestState

func loadStateRec(t testing.TB, dst *maildir.Store, account, folder string) stateRec {
	t.Helper()
	ss, err := dst.SyncState()
	require.NoError(t, err)
	rec, err := mailsync.LoadStateForTest(context.Background(), ss, account, folder)
	require.NoError(t, err)
	return rec
}

func TestSyncIMAPLikeFullThenNoop(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfileIMAP)
	var raws [][]byte
	for i, m := range corpus.EdgeCases() {
		raws = append(raws, m.Raw)
		if i%2 == 0 {
			fake.Add("INBOX", m.Raw, mailaccess.FlagSeen, "$Label1")
		} else {
			fake.Add("INBOX", m.Raw)
		}
	}
	src := &counting{Mailbox: fake}
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	var progress []mailsync.Progress
	s, err := mailsync.New(src, dst, &mailsync.Options{Account: "a", Progress: func(p mailsync.Progress) { progress = append(progress, p) }})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Folders, 1)
	assert.Equal(t, len(raws), rep.Folders[0].New)
	requireExactlyOnce(t, dir, raws)
	require.NotEmpty(t, progress)
	last := progress[len(progress)-1]
	assert.Equal(t, len(raws), last.Messages)
	assert.Equal(t, last.MessagesTotal, last.Messages)
	assert.Equal(t, last.BytesTotal, last.Bytes)

	// Flags came down.
	seen := 0
	for m, err := range dst.List(ctx, "INBOX", nil) {
		require.NoError(t, err)
		if m.HasFlag(mailaccess.FlagSeen) {
			seen++
			assert.True(t, m.HasFlag("$Label1"))
		}
	}
	assert.Equal(t, (len(raws)+1)/2, seen)

	// No-op resync: one Status, no List, no Open.
	src.opens.Store(0)
	src.lists.Store(0)
	src.statuses.Store(0)
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, src.opens.Load(), "no body transferred")
	assert.Zero(t, src.lists.Load(), "no listing on a no-op resync with CONDSTORE")
	assert.Equal(t, int64(1), src.statuses.Load())
	assert.Zero(t, rep.Total().New)
	requireExactlyOnce(t, dir, raws)
}

func TestSyncIncrementalNewFlagsAndDeletes(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfileIMAP)
	raws := seed(t, fake, 10, 1)
	src := &counting{Mailbox: fake}
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	s, err := mailsync.New(src, dst, &mailsync.Options{Account: "a", MirrorDeletes: true})
	require.NoError(t, err)
	_, err = s.Run(ctx)
	require.NoError(t, err)

	// New mail and a flag change: listed incrementally, one Open.
	extra := []byte("Subject: new\r\nMessage-ID: <new@x>\r\n\r\nnew\r\n")
	fake.Add("INBOX", extra)
	fake.SetFlagsDirect("INBOX", "3", mailaccess.AddFlags, mailaccess.FlagFlagged)
	src.opens.Store(0)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), src.opens.Load())
	assert.Equal(t, 1, rep.Folders[0].New)
	assert.Equal(t, 1, rep.Folders[0].Updated)
	requireExactlyOnce(t, dir, append(raws, extra))
	flagged, err := dst.Search(ctx, "INBOX", mailaccess.Criteria{WithFlags: []mailaccess.Flag{mailaccess.FlagFlagged}})
	require.NoError(t, err)
	assert.Len(t, flagged, 1)

	// A deletion on the source is mirrored (MirrorDeletes).
	fake.Expunge("INBOX", "1")
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Folders[0].Deleted)
	requireExactlyOnce(t, dir, append(raws[1:], extra))
}

func TestSyncTwoWayFlags(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfileIMAP)
	seed(t, fake, 3, 2)
	dst := openDst(t, t.TempDir(), nil)
	s, err := mailsync.New(fake, dst, &mailsync.Options{TwoWayFlags: true})
	require.NoError(t, err)
	_, err = s.Run(ctx)
	require.NoError(t, err)
	var id mailaccess.ID
	for m, err := range dst.List(ctx, "INBOX", nil) {
		require.NoError(t, err)
		id = m.ID()
		break
	}
	require.NoError(t, dst.SetFlags(ctx, "INBOX", []mailaccess.ID{id}, mailaccess.AddFlags, mailaccess.FlagSeen))
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Folders[0].Updated)
	n := 0
	for _, m := range fake.Messages("INBOX") {
		for _, f := range m.Flags {
			if f == mailaccess.FlagSeen {
				n++
			}
		}
	}
	assert.Equal(t, 1, n, "the local \\Seen went up to the source")
}

// TestSyncPOP3RetentionOrder checks that no Delete is sent for a message
// whose file and state are not yet durable.
func TestSyncPOP3RetentionOrder(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfilePOP3)
	raws := seed(t, fake, 40, 3)
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	var checked atomic.Int64
	src := &counting{Mailbox: fake, status: pop3Like}
	src.onDelete = func(folder string, ids []mailaccess.ID) {
		// At the moment of DELE: the committed state (read back from disk
		// through a fresh store) records each message, and its file exists.
		fresh, err := maildir.Open(dir, nil)
		require.NoError(t, err)
		defer fresh.Close()
		rec := loadStateRec(t, fresh, "pop", "INBOX")
		byID := map[string]string{}
		for _, m := range rec.Msgs {
			if m.Deleted {
				byID[m.Src] = m.Dst
			}
		}
		for _, id := range ids {
			d, ok := byID[string(id)]
			require.True(t, ok, "DELE %s before its state was committed", id)
			rc, err := fresh.Open(ctx, "INBOX", mailaccess.ID(d), nil)
			require.NoError(t, err, "DELE %s before its file exists", id)
			rc.Close()
			checked.Add(1)
		}
	}
	s, err := mailsync.New(src, dst, &mailsync.Options{Account: "pop", BatchSize: 7,
		Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, 40, rep.Folders[0].SourceDeleted)
	assert.Equal(t, int64(40), checked.Load())
	assert.Empty(t, fake.Messages("INBOX"), "deletions committed (POP3 QUIT)")
	requireExactlyOnce(t, dir, raws)
	// Rerun: nothing fetched, tombstones pruned.
	src.opens.Store(0)
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Total().New)
	assert.Zero(t, src.opens.Load())
	assert.Empty(t, loadStateRec(t, dst, "pop", "INBOX").Msgs)
}

func TestSyncRetentionAfterAge(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfilePOP3)
	raws := seed(t, fake, 5, 4)
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := mailsync.New(&counting{Mailbox: fake, status: pop3Like}, dst, &mailsync.Options{
		Retention: mailsync.Retention{Policy: mailsync.DeleteAfterAge, MaxAge: 48 * time.Hour},
		Now:       func() time.Time { return now }})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Folders[0].SourceDeleted)
	now = now.Add(72 * time.Hour)
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, 5, rep.Folders[0].SourceDeleted)
	assert.Empty(t, fake.Messages("INBOX"))
	requireExactlyOnce(t, dir, raws)
}

func TestSyncFaultCutBodyAndFailNth(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfileIMAP)
	raws := seed(t, fake, 12, 5)
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	s, err := mailsync.New(fake, dst, &mailsync.Options{Concurrency: 4, BatchSize: 3})
	require.NoError(t, err)

	fake.CutBodyAfter(100) // connection dropped mid-message
	rep, err := s.Run(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.NotEmpty(t, rep.Folders[0].Errors)
	fake.ClearFaults()
	// Nothing partial is visible: every file is a whole source message.
	for name, b := range storedFiles(t, dir) {
		assert.True(t, slicesContainsBytes(raws, b), "partial file %s", name)
	}

	fake.FailNth(mailtest.OpOpen, 3, nil) // server error mid-batch
	_, err = s.Run(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, mailtest.ErrInjected)
	fake.ClearFaults()
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Positive(t, rep.Total().New, "the rerun stores what the failed pass left")
	requireExactlyOnce(t, dir, raws)
}

func slicesContainsBytes(all [][]byte, b []byte) bool {
	for _, r := range all {
		if bytes.Equal(r, b) {
			return true
		}
	}
	return false
}

// diskFS fails the operation selected by mode with ENOSPC.
type diskFS struct {
	maildir.FS
	mode atomic.Value // string: "", "write", "fsync", "rename", "link"
}

type diskFile struct {
	maildir.File
	fs *diskFS
}

func (d *diskFS) is(m string) bool { v, _ := d.mode.Load().(string); return v == m }

func (d *diskFS) OpenFile(name string, flag int, perm fs.FileMode) (maildir.File, error) {
	f, err := d.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return diskFile{f, d}, nil
}

func (f diskFile) Write(p []byte) (int, error) {
	if f.fs.is("write") {
		return 0, syscall.ENOSPC
	}
	return f.File.Write(p)
}

func (f diskFile) Sync() error {
	if f.fs.is("fsync") {
		return syscall.EIO
	}
	return f.File.Sync()
}

func (d *diskFS) Rename(o, n string) error {
	if d.is("rename") {
		return syscall.ENOSPC
	}
	return d.FS.Rename(o, n)
}

func (d *diskFS) Link(o, n string) error {
	if d.is("link") {
		return syscall.ENOSPC
	}
	return d.FS.Link(o, n)
}

// SyncFS is the batch fsync of staged appends: it fails like fsync.
func (d *diskFS) SyncFS() error {
	if d.is("fsync") {
		return syscall.EIO
	}
	return d.FS.SyncFS()
}

func (d *diskFS) SyncDir(name string) error {
	if d.is("syncdir") {
		return syscall.EIO
	}
	return d.FS.SyncDir(name)
}

func TestSyncDiskFull(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"write", "fsync", "rename", "syncdir"} {
		t.Run(mode, func(t *testing.T) {
			fake := mailtest.New(mailtest.ProfilePOP3)
			raws := seed(t, fake, 10, 6)
			dir := t.TempDir()
			dfs := &diskFS{}
			dst := openDst(t, dir, &maildir.Options{WrapFS: func(b maildir.FS) maildir.FS { dfs.FS = b; return dfs }})
			s, err := mailsync.New(&counting{Mailbox: fake, status: pop3Like}, dst, &mailsync.Options{
				Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
			require.NoError(t, err)
			dfs.mode.Store(mode)
			_, err = s.Run(ctx)
			require.Error(t, err)
			if mode == "fsync" || mode == "syncdir" {
				assert.ErrorIs(t, err, syscall.EIO)
			} else {
				assert.ErrorIs(t, err, syscall.ENOSPC)
			}
			assert.Len(t, fake.Messages("INBOX"), 10, "nothing deleted from the source when the disk fails")
			dfs.mode.Store("")
			_, err = s.Run(ctx)
			require.NoError(t, err)
			requireExactlyOnce(t, dir, raws)
			assert.Empty(t, fake.Messages("INBOX"))
		})
	}
}

func TestSyncUIDValidityChangeAndEmptyReset(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfileIMAP)
	raws := seed(t, fake, 8, 7)
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	src := &counting{Mailbox: fake}
	s, err := mailsync.New(src, dst, &mailsync.Options{MirrorDeletes: true})
	require.NoError(t, err)
	_, err = s.Run(ctx)
	require.NoError(t, err)

	fake.ResetUIDValidity("INBOX")
	src.opens.Store(0)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, src.opens.Load(), "re-identified by Message-ID and size, not downloaded again")
	require.NotEmpty(t, rep.Folders[0].Notes)
	assert.Contains(t, strings.Join(rep.Folders[0].Notes, "\n"), "UIDVALIDITY changed")
	requireExactlyOnce(t, dir, raws)

	// The server is reset to an empty mailbox: nothing deleted locally,
	// even with MirrorDeletes.
	var ids []mailaccess.ID
	for _, m := range fake.Messages("INBOX") {
		ids = append(ids, m.ID)
	}
	fake.Expunge("INBOX", ids...)
	fake.ResetUIDValidity("INBOX")
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Folders[0].Deleted)
	assert.Contains(t, strings.Join(rep.Folders[0].Notes, "\n"), "not treated as deletions")
	requireExactlyOnce(t, dir, raws)
}

func TestSyncDuplicateUIDL(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfilePOP3)
	raws := seed(t, fake, 4, 8)
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	// The server lists message 2 twice (two UIDLs "2").
	dupList := func(seq iter.Seq2[mailaccess.Message, error]) iter.Seq2[mailaccess.Message, error] {
		return func(yield func(mailaccess.Message, error) bool) {
			for m, err := range seq {
				if !yield(m, err) {
					return
				}
				if err == nil && m.ID() == "2" && !yield(m, nil) {
					return
				}
			}
		}
	}
	src := &counting{Mailbox: fake, status: pop3Like, list: dupList}
	s, err := mailsync.New(src, dst, &mailsync.Options{Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	assert.Contains(t, strings.Join(rep.Folders[0].Notes, "\n"), `"2" 2 times`)
	assert.Equal(t, 1, rep.Folders[0].Skipped)
	assert.Equal(t, 3, rep.Folders[0].SourceDeleted, "the duplicated ID is not deleted")
	requireExactlyOnce(t, dir, raws)
	require.Len(t, fake.Messages("INBOX"), 1)
}

func TestSyncLockPreventsConcurrentRuns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	ss, err := dst.SyncState()
	require.NoError(t, err)
	unlock, err := ss.Lock(ctx)
	require.NoError(t, err)
	defer unlock()
	dst2 := openDst(t, dir, nil)
	s, err := mailsync.New(mailtest.New(mailtest.ProfileIMAP), dst2, nil)
	require.NoError(t, err)
	_, err = s.Run(ctx)
	require.ErrorIs(t, err, maildir.ErrSyncRunning)
}

func TestSyncCancelThenResume(t *testing.T) {
	fake := mailtest.New(mailtest.ProfileIMAP)
	raws := seed(t, fake, 30, 9)
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	s, err := mailsync.New(fake, dst, &mailsync.Options{BatchSize: 4, Concurrency: 2, Progress: func(mailsync.Progress) {
		if n++; n == 10 {
			cancel()
		}
	}})
	require.NoError(t, err)
	_, err = s.Run(ctx)
	require.ErrorIs(t, err, context.Canceled)
	rec := loadStateRec(t, dst, "mem", "INBOX")
	assert.GreaterOrEqual(t, len(rec.Msgs), 10, "what was stored before the cancel is committed")
	_, err = s.Run(context.Background())
	require.NoError(t, err)
	requireExactlyOnce(t, dir, raws)
}

// memState is a StateStore in memory, for destinations without one.
type memState struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memState) Lock(context.Context) (func() error, error) {
	return func() error { return nil }, nil
}
func (s *memState) Load(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k], nil
}
func (s *memState) Save(_ context.Context, k string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[k] = bytes.Clone(b)
	return nil
}

// TestSyncPendingReconcile: a destination without keyed appends (the
// fake) whose state commit failed after the appends is reconciled by
// Message-ID on the next run instead of storing twice.
func TestSyncPendingReconcile(t *testing.T) {
	ctx := context.Background()
	srcFake := mailtest.New(mailtest.ProfileIMAP)
	raws := seed(t, srcFake, 6, 10)
	dstFake := mailtest.New(mailtest.ProfileIMAP)
	st := &failingState{}
	s, err := mailsync.New(srcFake, dstFake, &mailsync.Options{State: st})
	require.NoError(t, err)
	st.failAfter.Store(1) // the write-ahead save succeeds, the commit fails
	_, err = s.Run(ctx)
	require.Error(t, err)
	require.Len(t, dstFake.Messages("INBOX"), 6)
	st.failAfter.Store(-1)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Folders[0].New)
	assert.Len(t, dstFake.Messages("INBOX"), len(raws), "nothing stored twice")
}

// failingState is a StateStore that fails every Save once failAfter
// commits (saves of a head) have been saved.
type failingState struct {
	memState
	failAfter atomic.Int64 // commits allowed; -1 = unlimited
}

func (f *failingState) Save(ctx context.Context, k string, b []byte) error {
	if n := f.failAfter.Load(); n >= 0 {
		if n == 0 {
			return errors.New("disk full")
		}
		if isHeadKey(k) {
			f.failAfter.Add(-1)
		}
	}
	return f.memState.Save(ctx, k, b)
}

// isHeadKey reports whether a state key is that of a folder's head (the
// other records of a folder have keys "ACCOUNT\nFOLDER\nbase.N" and
// "ACCOUNT\nFOLDER\njournal.N.K").
func isHeadKey(k string) bool { return strings.Count(k, "\n") == 1 }

func ExampleNew() {
	ctx := context.Background()
	src := mailtest.New(mailtest.ProfilePOP3) // stands for pop3.Dial(...)
	src.Add("INBOX", []byte("Subject: hello\r\n\r\nhi\r\n"))
	dir, _ := os.MkdirTemp("", "sync-example")
	defer os.RemoveAll(dir)
	dst, _ := maildir.Open(dir, nil)
	defer dst.Close()
	s, err := mailsync.New(src, dst, &mailsync.Options{
		Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload},
	})
	if err != nil {
		panic(err)
	}
	rep, err := s.Run(ctx)
	if err != nil {
		panic(err)
	}
	t := rep.Total()
	fmt.Println(t.New, t.SourceDeleted)
	// Output: 1 1
}

// TestSyncRetentionCommitFails: the deletions are marked in state before
// they are sent; if the POP3 commit fails they are retried on the next
// run without downloading the messages again.
func TestSyncRetentionCommitFails(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfilePOP3)
	raws := seed(t, fake, 6, 12)
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	src := &counting{Mailbox: fake, status: pop3Like}
	s, err := mailsync.New(src, dst, &mailsync.Options{Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
	require.NoError(t, err)
	fake.FailNth(mailtest.OpCommit, 1, nil)
	_, err = s.Run(ctx)
	require.ErrorIs(t, err, mailtest.ErrInjected)
	require.Len(t, fake.Messages("INBOX"), 6, "the failed commit deleted nothing")
	fake.ClearFaults()
	// The handle discards its marks, as a POP3 session would.
	fresh := &counting{Mailbox: fake.Store.Open(mailtest.ProfilePOP3), status: pop3Like}
	s, err = mailsync.New(fresh, dst, &mailsync.Options{Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, fresh.opens.Load(), "nothing downloaded again")
	assert.Equal(t, 6, rep.Folders[0].SourceDeleted)
	assert.Empty(t, fake.Messages("INBOX"))
	requireExactlyOnce(t, dir, raws)
}

// TestSyncWithoutStableIDs: a source without CapUID is identified by
// content; with header fetch a resync downloads no body, without it every
// message is read again (the documented cost) but nothing is duplicated.
func TestSyncWithoutStableIDs(t *testing.T) {
	ctx := context.Background()
	for _, caps := range []mailaccess.Capability{mailaccess.CapHeaders, 0} {
		t.Run(caps.String(), func(t *testing.T) {
			fake := mailtest.New(caps)
			raws := seed(t, fake, 8, 13)
			dir := t.TempDir()
			dst := openDst(t, dir, nil)
			src := &counting{Mailbox: fake}
			s, err := mailsync.New(src, dst, nil)
			require.NoError(t, err)
			_, err = s.Run(ctx)
			require.NoError(t, err)
			src.opens.Store(0)
			rep, err := s.Run(ctx)
			require.NoError(t, err)
			assert.Zero(t, rep.Total().New)
			if caps.Has(mailaccess.CapHeaders) {
				assert.Zero(t, src.opens.Load())
			} else {
				assert.Equal(t, int64(8), src.opens.Load())
			}
			requireExactlyOnce(t, dir, raws)
		})
	}
}

// countingBatch is a counting wrapper that keeps the source's pipelined
// OpenAll (pop3.Mailbox), counting each message it streams as an open.
type countingBatch struct{ *counting }

func (c countingBatch) OpenAll(ctx context.Context, folder string, ids []mailaccess.ID, fn func(mailaccess.ID, io.Reader) error) error {
	bo := c.Mailbox.(interface {
		OpenAll(context.Context, string, []mailaccess.ID, func(mailaccess.ID, io.Reader) error) error
	})
	return bo.OpenAll(ctx, folder, ids, func(id mailaccess.ID, r io.Reader) error {
		c.opens.Add(1)
		return fn(id, r)
	})
}

// gatedState is a StateStore whose first Save waits until gate returns
// true (or gives up after a generous deadline and records that it did).
type gatedState struct {
	memState
	gate     func() bool
	once     sync.Once
	gaveUp   atomic.Bool
	released atomic.Bool
}

func (g *gatedState) Save(ctx context.Context, k string, b []byte) error {
	g.once.Do(func() {
		deadline := time.Now().Add(20 * time.Second)
		for !g.gate() {
			if time.Now().After(deadline) {
				g.gaveUp.Store(true)
				break
			}
			time.Sleep(time.Millisecond)
		}
		g.released.Store(true)
	})
	return g.memState.Save(ctx, k, b)
}

// TestSyncCommitOverlapsWriters: while a batch commits (destination flush
// and state save), the workers go on storing the next messages instead of
// waiting for it; the messages stored meanwhile are committed by the next
// batch, and a resync stores nothing again.
func TestSyncCommitOverlapsWriters(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfileIMAP)
	raws := seed(t, fake, 120, 21)
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	const batch = 20
	var progressed atomic.Int64
	st := &gatedState{}
	// The first commit is held until the workers have stored two more
	// batches: with commits that stop the workers, that never happens.
	st.gate = func() bool { return progressed.Load() >= 3*batch }
	s, err := mailsync.New(fake, dst, &mailsync.Options{
		State:       st,
		BatchSize:   batch,
		Concurrency: 4,
		Progress:    func(p mailsync.Progress) { progressed.Store(int64(p.Messages)) },
	})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	require.True(t, st.released.Load(), "the state was saved")
	require.False(t, st.gaveUp.Load(), "the workers stopped while a commit was running")
	assert.Equal(t, len(raws), rep.Folders[0].New)
	requireExactlyOnce(t, filepath.Join(dir), raws)

	rec := map[string]bool{}
	parsed, err := mailsync.LoadStateForTest(ctx, st, "mem", "INBOX")
	require.NoError(t, err)
	for _, m := range parsed.Msgs {
		require.False(t, m.Pending, "message %s still pending", m.Src)
		rec[m.Src] = true
	}
	assert.Len(t, rec, len(raws), "every stored message is in the committed state")

	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Folders[0].New, "a resync stores nothing again")
}

// corruptMsgs is a StateStore that breaks the per-message records (base
// and journal) it returns while keeping the heads intact: a run that
// decodes the records fails, one that decides from the head alone does
// not.
type corruptMsgs struct {
	mailsync.StateStore
	on atomic.Bool
}

func (c *corruptMsgs) Load(ctx context.Context, k string) ([]byte, error) {
	b, err := c.StateStore.Load(ctx, k)
	if err != nil || b == nil || !c.on.Load() || isHeadKey(k) {
		return b, err
	}
	// The base and the journal: the header line stays, the entries go bad.
	head, _, _ := bytes.Cut(b, []byte("\n"))
	return append(head[:len(head):len(head)], "\np\tbroken\n"...), nil
}

// TestSyncListModeNoopFromHead: a source with stable IDs but no UIDNEXT
// (POP3 with UIDL) is listed on every resync; when the listing's digest
// equals the one of the last clean pass, the resync is decided from the
// head of the state record without decoding the per-message records. Any
// change (a message replaced at the same count, a flag change on a source
// with flags) still takes the full pass.
func TestSyncListModeNoopFromHead(t *testing.T) {
	ctx := context.Background()
	for _, profile := range []mailaccess.Capability{mailtest.ProfilePOP3, mailtest.ProfileIMAP} {
		t.Run(profile.String(), func(t *testing.T) {
			fake := mailtest.New(profile)
			raws := seed(t, fake, 12, 22)
			dir := t.TempDir()
			dst := openDst(t, dir, nil)
			inner, err := dst.SyncState()
			require.NoError(t, err)
			state := &corruptMsgs{StateStore: inner}
			src := &counting{Mailbox: fake, status: pop3Like}
			s, err := mailsync.New(src, dst, &mailsync.Options{State: state})
			require.NoError(t, err)
			rep, err := s.Run(ctx)
			require.NoError(t, err)
			require.Equal(t, len(raws), rep.Folders[0].New)

			// Unchanged: decided from the head (the broken list is never
			// read), one listing, nothing opened.
			state.on.Store(true)
			src.opens.Store(0)
			src.lists.Store(0)
			rep, err = s.Run(ctx)
			require.NoError(t, err, "a no-op resync decoded the message records")
			assert.Zero(t, rep.Total().New)
			assert.Zero(t, src.opens.Load())
			assert.Equal(t, int64(1), src.lists.Load(), "the listing is made once")

			// One message replaced by another: same count, other IDs. The
			// full pass must run (and, with the broken records, fail
			// saying so rather than skip the change).
			first := fake.Messages("INBOX")[0]
			fake.Expunge("INBOX", first.ID)
			extra := []byte("Message-ID: <extra@example.org>\r\nSubject: extra\r\n\r\nnew\r\n")
			fake.Add("INBOX", extra)
			_, err = s.Run(ctx)
			require.ErrorContains(t, err, "corrupt", "a changed listing is not taken for a no-op")
			state.on.Store(false)
			rep, err = s.Run(ctx)
			require.NoError(t, err)
			assert.Equal(t, 1, rep.Folders[0].New)
			requireExactlyOnce(t, dir, append(raws, extra))

			if profile.Has(mailaccess.CapFlags) {
				// A flag change alone must come down too.
				id := fake.Messages("INBOX")[1].ID
				require.NoError(t, fake.SetFlags(ctx, "INBOX", []mailaccess.ID{id}, mailaccess.AddFlags, mailaccess.FlagFlagged))
				rep, err = s.Run(ctx)
				require.NoError(t, err)
				assert.Equal(t, 1, rep.Folders[0].Updated, "the flag change came down")
			}
		})
	}
}

// streamCounting is a StateOpener that counts what the engine reads.
type streamCounting struct {
	mailsync.StateOpener
	loads    atomic.Int64
	loaded   atomic.Int64
	streamed atomic.Int64
}

func (c *streamCounting) Load(ctx context.Context, k string) ([]byte, error) {
	c.loads.Add(1)
	b, err := c.StateOpener.Load(ctx, k)
	c.loaded.Add(int64(len(b)))
	return b, err
}

func (c *streamCounting) OpenState(ctx context.Context, k string) (io.ReadCloser, error) {
	rc, err := c.StateOpener.OpenState(ctx, k)
	if rc == nil || err != nil {
		return rc, err
	}
	return struct {
		io.Reader
		io.Closer
	}{readFunc(func(p []byte) (int, error) {
		n, err := rc.Read(p)
		c.streamed.Add(int64(n))
		return n, err
	}), rc}, nil
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

// TestSyncNoopReadsOnlyStateHead: a no-op resync reads the head of the
// folder's state, not the records that grow with the folder, over both
// kinds of no-op check (IMAP-like UIDNEXT, POP3-like listing digest).
func TestSyncNoopReadsOnlyStateHead(t *testing.T) {
	ctx := context.Background()
	for _, pop3 := range []bool{false, true} {
		t.Run(fmt.Sprintf("pop3=%v", pop3), func(t *testing.T) {
			fake := mailtest.New(mailtest.ProfileIMAP)
			seed(t, fake, 300, 23)
			dir := t.TempDir()
			dst := openDst(t, dir, nil)
			inner, err := dst.SyncState()
			require.NoError(t, err)
			opener, ok := inner.(mailsync.StateOpener)
			require.True(t, ok, "the Maildir state store streams records")
			state := &streamCounting{StateOpener: opener}
			var src mailaccess.Mailbox = fake
			if pop3 {
				src = &counting{Mailbox: fake, status: pop3Like}
			}
			s, err := mailsync.New(src, dst, &mailsync.Options{State: state, Account: "a"})
			require.NoError(t, err)
			_, err = s.Run(ctx)
			require.NoError(t, err)
			stored := dirSize(t, filepath.Join(dir, maildir.StateDir))
			require.Greater(t, stored, int64(30_000), "records that grow with the folder")

			state.loads.Store(0)
			state.loaded.Store(0)
			state.streamed.Store(0)
			rep, err := s.Run(ctx)
			require.NoError(t, err)
			assert.Zero(t, rep.Total().New)
			assert.Less(t, state.loaded.Load()+state.streamed.Load(), int64(1024), "bytes of %d bytes of state read", stored)
		})
	}
}

// dirSize is the total size of the files in dir.
func dirSize(t testing.TB, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var n int64
	for _, e := range ents {
		fi, err := e.Info()
		require.NoError(t, err)
		n += fi.Size()
	}
	return n
}
