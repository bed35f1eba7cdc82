package mailsync_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// scanFS counts the scans of a Maildir folder's message directories
// (ReadDir of cur/ or new/), keeping the unnamed staged files of the file
// system it wraps.
type scanFS struct {
	maildir.FS
	scans atomic.Int64
}

func (s *scanFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if b := path.Base(name); b == "cur" || b == "new" {
		s.scans.Add(1)
	}
	return s.FS.ReadDir(name)
}

func (s *scanFS) CreateTemp(dir string, perm fs.FileMode) (maildir.File, error) {
	if t, ok := s.FS.(maildir.TempFS); ok {
		return t.CreateTemp(dir, perm)
	}
	return nil, fmt.Errorf("no unnamed files: %w", errors.ErrUnsupported)
}

func (s *scanFS) LinkTemp(f maildir.File, newname string) error {
	return s.FS.(maildir.TempFS).LinkTemp(f, newname)
}

// keyLoads is a StateStore that records which keys are loaded and how
// many bytes.
type keyLoads struct {
	mailsync.StateStore
	mu    sync.Mutex
	keys  []string
	bytes int
}

func (k *keyLoads) Load(ctx context.Context, key string) ([]byte, error) {
	b, err := k.StateStore.Load(ctx, key)
	k.mu.Lock()
	k.keys = append(k.keys, key)
	k.bytes += len(b)
	k.mu.Unlock()
	return b, err
}

func (k *keyLoads) reset() ([]string, int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys, n := k.keys, k.bytes
	k.keys, k.bytes = nil, 0
	return keys, n
}

// recordsRead keeps the keys of per-message records (base, journal).
func recordsRead(keys []string) []string {
	var out []string
	for _, k := range keys {
		if strings.Count(k, "\n") > 1 {
			out = append(out, k)
		}
	}
	return out
}

// TestSyncIncrementalIMAPFollowsTheChange: on an IMAP-like source with
// CONDSTORE, a pass after new mail reads no per-message record and does
// not scan the destination folder; one after flag changes looks up the
// changed messages in the base and renames their files without a scan;
// both store exactly what changed. A deletion on the source makes the
// counts disagree and the full pass runs, with the same result as ever.
func TestSyncIncrementalIMAPFollowsTheChange(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfileIMAP)
	raws := seed(t, fake, 300, 41)
	dir := t.TempDir()
	sfs := &scanFS{}
	dst := openDst(t, dir, &maildir.Options{WrapFS: func(b maildir.FS) maildir.FS { sfs.FS = b; return sfs }})
	inner, err := dst.SyncState()
	require.NoError(t, err)
	state := &keyLoads{StateStore: inner}
	src := &counting{Mailbox: fake}
	s, err := mailsync.New(src, dst, &mailsync.Options{State: state, Account: "a"})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	require.Equal(t, 300, rep.Total().New)

	// New mail only.
	for _, r := range genRaws(42, 5) {
		raws = append(raws, r)
		fake.Add("INBOX", r)
	}
	state.reset()
	sfs.scans.Store(0)
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, 5, rep.Total().New)
	keys, n := state.reset()
	assert.Empty(t, recordsRead(keys), "per-message records read for new mail alone")
	assert.Less(t, n, 1024, "bytes of state read for new mail alone")
	assert.Zero(t, sfs.scans.Load(), "the destination folder was scanned")
	requireExactlyOnce(t, dir, raws)

	// Flag changes and one more message.
	msgs := fake.Messages("INBOX")
	for _, i := range []int{3, 150, 299} {
		require.True(t, fake.SetFlagsDirect("INBOX", msgs[i].ID, mailaccess.AddFlags, mailaccess.FlagFlagged, "$Work"))
	}
	extra := genRaws(43, 1)[0]
	fake.Add("INBOX", extra)
	raws = append(raws, extra)
	sfs.scans.Store(0)
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Total().New)
	assert.Equal(t, 3, rep.Total().Updated)
	assert.Zero(t, sfs.scans.Load(), "the destination folder was scanned")
	requireExactlyOnce(t, dir, raws)
	requireFlagsMatch(t, fake, dst)

	// A deletion: the full pass.
	fake.Expunge("INBOX", msgs[10].ID)
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Total().New)
	rec := loadStateRec(t, dst, "a", "INBOX")
	assert.Len(t, rec.Msgs, len(raws)-1, "the deleted message is forgotten")
	assert.True(t, rec.Clean)
	assert.False(t, rec.Open)

	// And a no-op after it.
	state.reset()
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Total().New+rep.Total().Updated)
	keys, _ = state.reset()
	assert.Empty(t, recordsRead(keys))
}

// requireFlagsMatch checks that the destination holds each source
// message (by Message-ID) with the source's flags (other messages in the
// destination are not looked at).
func requireFlagsMatch(t *testing.T, src *mailtest.Mailbox, dst *maildir.Store) {
	t.Helper()
	ctx := context.Background()
	want := map[string]string{}
	for _, m := range src.Messages("INBOX") {
		h, err := src.FetchHeader(ctx, "INBOX", m.ID)
		require.NoError(t, err)
		want[h.MessageID()] = flagSet(m.Flags)
	}
	got := map[string]string{}
	for m, err := range dst.List(ctx, "INBOX", &mailaccess.ListOptions{Headers: true}) {
		require.NoError(t, err)
		if mid := m.Info().Header.MessageID(); hasKey(want, mid) {
			got[mid] = flagSet(m.Flags())
		}
	}
	assert.Equal(t, want, got)
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

func flagSet(flags []mailaccess.Flag) string {
	var s []string
	for _, f := range flags {
		if !strings.EqualFold(string(f), `\Recent`) {
			s = append(s, strings.ToLower(string(f)))
		}
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

// TestSyncIncrementalListFollowsTheChange: a POP3-like source (stable IDs,
// no UIDNEXT) whose listing begins with what the last pass recorded has
// only new mail after it: the pass reads no per-message record and does
// not scan the destination. New mail that shares the ID of a recorded
// message, a message gone from the middle of the listing, and a listing
// in another order take the full pass, which decides as it always did.
func TestSyncIncrementalListFollowsTheChange(t *testing.T) {
	ctx := context.Background()
	for _, profile := range []mailaccess.Capability{mailtest.ProfilePOP3, mailtest.ProfileMaildir} {
		t.Run(profile.String(), func(t *testing.T) {
			fake := mailtest.New(profile)
			raws := seed(t, fake, 200, 44)
			dir := t.TempDir()
			sfs := &scanFS{}
			dst := openDst(t, dir, &maildir.Options{WrapFS: func(b maildir.FS) maildir.FS { sfs.FS = b; return sfs }})
			inner, err := dst.SyncState()
			require.NoError(t, err)
			state := &keyLoads{StateStore: inner}
			src := &counting{Mailbox: fake, status: pop3Like}
			s, err := mailsync.New(src, dst, &mailsync.Options{State: state, Account: "a"})
			require.NoError(t, err)
			_, err = s.Run(ctx)
			require.NoError(t, err)

			for _, r := range genRaws(45, 4) {
				fake.Add("INBOX", r)
				raws = append(raws, r)
			}
			state.reset()
			sfs.scans.Store(0)
			src.lists.Store(0)
			rep, err := s.Run(ctx)
			require.NoError(t, err)
			assert.Equal(t, 4, rep.Total().New)
			keys, n := state.reset()
			assert.Empty(t, recordsRead(keys), "per-message records read for new mail alone")
			assert.Less(t, n, 1024, "bytes of state read for new mail alone")
			assert.Zero(t, sfs.scans.Load(), "the destination folder was scanned")
			assert.Equal(t, int64(1), src.lists.Load(), "one listing")
			requireExactlyOnce(t, dir, raws)

			// A message gone from the middle: the full pass forgets it.
			msgs := fake.Messages("INBOX")
			fake.Expunge("INBOX", msgs[100].ID)
			rep, err = s.Run(ctx)
			require.NoError(t, err)
			assert.Zero(t, rep.Total().New)
			assert.Len(t, loadStateRec(t, dst, "a", "INBOX").Msgs, len(raws)-1)

			// New mail after it goes the fast way again.
			extra := genRaws(46, 1)[0]
			fake.Add("INBOX", extra)
			raws = append(raws, extra)
			state.reset()
			rep, err = s.Run(ctx)
			require.NoError(t, err)
			assert.Equal(t, 1, rep.Total().New)
			keys, _ = state.reset()
			assert.Empty(t, recordsRead(keys))
			requireExactlyOnce(t, dir, raws)
		})
	}
}

// dupSuffix lists the source with the last message's ID replaced by the
// first one's: new mail under the ID of a recorded message.
func dupSuffix(seq iter.Seq2[mailaccess.Message, error]) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		var all []mailaccess.Message
		for m, err := range seq {
			if err != nil {
				yield(nil, err)
				return
			}
			all = append(all, m)
		}
		for i, m := range all {
			if i == len(all)-1 && len(all) > 1 {
				info := m.Info()
				info.ID = all[0].ID()
				m = renamed{m, info}
			}
			if !yield(m, nil) {
				return
			}
		}
	}
}

type renamed struct {
	mailaccess.Message
	info mailaccess.MessageInfo
}

func (r renamed) ID() mailaccess.ID            { return r.info.ID }
func (r renamed) Info() mailaccess.MessageInfo { return r.info }

// New mail listed under the ID of a recorded message is not taken for new
// by the fast pass: the full pass notes the duplicate and stores nothing
// under that ID.
func TestSyncIncrementalListDuplicateID(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfilePOP3)
	seed(t, fake, 20, 47)
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	src := &counting{Mailbox: fake, status: pop3Like}
	s, err := mailsync.New(src, dst, &mailsync.Options{Account: "a"})
	require.NoError(t, err)
	_, err = s.Run(ctx)
	require.NoError(t, err)
	before := len(storedFiles(t, dir))
	fake.Add("INBOX", genRaws(48, 1)[0])
	src.list = dupSuffix
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Total().New)
	assert.Equal(t, 1, rep.Total().Skipped)
	assert.Contains(t, strings.Join(rep.Folders[0].Notes, "\n"), "2 times")
	assert.Len(t, storedFiles(t, dir), before)
}
