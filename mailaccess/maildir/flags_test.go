package maildir_test

import (
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
)

// scanCounter counts the scans of message directories (ReadDir of cur/
// or new/) of the FS it wraps, keeping its unnamed files.
type scanCounter struct {
	maildir.FS
	scans atomic.Int64
}

func (s *scanCounter) ReadDir(name string) ([]fs.DirEntry, error) {
	if b := path.Base(name); b == "cur" || b == "new" {
		s.scans.Add(1)
	}
	return s.FS.ReadDir(name)
}

func (s *scanCounter) CreateTemp(dir string, perm fs.FileMode) (maildir.File, error) {
	return s.FS.(maildir.TempFS).CreateTemp(dir, perm)
}

func (s *scanCounter) LinkTemp(f maildir.File, newname string) error {
	return s.FS.(maildir.TempFS).LinkTemp(f, newname)
}

// openScanCounted opens the Maildir at dir (a new Store, as a new
// process would) counting its scans.
func openScanCounted(t *testing.T, dir string) (*maildir.Store, *scanCounter) {
	t.Helper()
	sc := &scanCounter{}
	st, err := maildir.Open(dir, &maildir.Options{WrapFS: func(b maildir.FS) maildir.FS { sc.FS = b; return sc }})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	if _, ok := sc.FS.(maildir.TempFS); !ok {
		t.Skip("the file system has no unnamed files")
	}
	return st, sc
}

// TestReplaceFlags: ReplaceFlags renames each message's file to carry
// its new flags. With the flags it carries as the hint, a Store that never
// scanned the folder renames without scanning; with a wrong hint (a mail
// reader changed the flags) it finds the file by a scan; a message that
// is not there fails alone with ErrNotFound.
func TestReplaceFlags(t *testing.T) {
	ctx := context.Background()
	st, dir := open(t, nil)
	var ids []mailaccess.ID
	for i, flags := range [][]mailaccess.Flag{nil, {mailaccess.FlagSeen}, {"$Work", mailaccess.FlagFlagged}, {mailaccess.FlagSeen}} {
		id, err := st.Append(ctx, "INBOX", strings.NewReader("Subject: "+string(rune('a'+i))+"\r\n\r\nx\r\n"), &mailaccess.AppendOptions{Flags: flags})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	st.Close()

	fresh, sc := openScanCounted(t, dir)
	errs := fresh.ReplaceFlags(ctx, "INBOX", []driver.FlagChange{
		{ID: ids[0], Flags: []mailaccess.Flag{mailaccess.FlagFlagged}},
		{ID: ids[1], Flags: []mailaccess.Flag{mailaccess.FlagSeen, "$Work"}, Was: []mailaccess.Flag{mailaccess.FlagSeen}},
		{ID: ids[2], Flags: nil, Was: []mailaccess.Flag{mailaccess.FlagFlagged, "$Work"}},
	})
	require.Nil(t, errs)
	assert.Zero(t, sc.scans.Load(), "renamed with the hints, without a scan")

	// A wrong hint, and a message that is not there.
	errs = fresh.ReplaceFlags(ctx, "INBOX", []driver.FlagChange{
		{ID: ids[3], Flags: []mailaccess.Flag{mailaccess.FlagDeleted}, Was: []mailaccess.Flag{mailaccess.FlagAnswered}},
		{ID: "1700000000.Mnothere.host", Flags: []mailaccess.Flag{mailaccess.FlagSeen}},
		{ID: "../escape", Flags: nil},
	})
	require.Len(t, errs, 3)
	assert.NoError(t, errs[0])
	assert.ErrorIs(t, errs[1], mailaccess.ErrNotFound)
	assert.ErrorIs(t, errs[2], mailaccess.ErrInvalid)
	assert.Positive(t, sc.scans.Load(), "the wrong hint was resolved by a scan")

	got := map[mailaccess.ID][]mailaccess.Flag{}
	for _, m := range list(t, fresh, "INBOX") {
		slices.Sort(m.Flags)
		got[m.ID] = m.Flags
	}
	assert.Equal(t, map[mailaccess.ID][]mailaccess.Flag{
		ids[0]: {mailaccess.FlagFlagged},
		ids[1]: {"$Work", mailaccess.FlagSeen},
		ids[2]: nil,
		ids[3]: {mailaccess.FlagDeleted},
	}, got)
	files, err := os.ReadDir(filepath.Join(dir, "new"))
	require.NoError(t, err)
	assert.Empty(t, files, "the message in new/ moved to cur/")
}

// TestAppendNewKeyAt: a keyed append the caller vouches is new does not
// scan the folder, and is found by its key afterwards; a key staged by
// the same Store is still refused a second time.
func TestAppendNewKeyAt(t *testing.T) {
	ctx := context.Background()
	st, dir := open(t, nil)
	_, err := st.AppendWithKey(ctx, "INBOX", "old", strings.NewReader("Subject: old\r\n\r\nx\r\n"), nil)
	require.NoError(t, err)
	require.NoError(t, st.Flush(ctx))
	st.Close()

	fresh, sc := openScanCounted(t, dir)
	start := time.Now()
	id, err := fresh.AppendNewKeyAt(ctx, "INBOX", "k1", start, 0, strings.NewReader("Subject: new\r\n\r\ny\r\n"), &mailaccess.AppendOptions{Flags: []mailaccess.Flag{mailaccess.FlagSeen}})
	require.NoError(t, err)
	again, err := fresh.AppendNewKeyAt(ctx, "INBOX", "k1", start, 1, strings.NewReader("Subject: twice\r\n\r\nz\r\n"), nil)
	require.NoError(t, err)
	assert.Equal(t, id, again, "a key staged by this Store is found")
	require.NoError(t, fresh.Flush(ctx))
	assert.Zero(t, sc.scans.Load(), "the folder was scanned")

	got, ok, err := fresh.HasKey(ctx, "INBOX", "k1")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, id, got)
	msgs := list(t, fresh, "INBOX")
	require.Len(t, msgs, 2)
	_, err = fresh.AppendNewKeyAt(ctx, "INBOX", "bad key", start, 2, strings.NewReader("x"), nil)
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
}
