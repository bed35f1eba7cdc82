package mailsync_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
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
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// embedded is the wrapper users write: it embeds a Mailbox and overrides
// nothing, so it inherits the wrapped Mailbox's As.
type embedded struct{ mailaccess.Mailbox }

func fileNames(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		require.NoError(t, err)
		for _, e := range ents {
			names = append(names, sub+"/"+e.Name())
		}
	}
	slices.Sort(names)
	return names
}

// A Maildir wrapped in struct{ mailaccess.Mailbox } syncs exactly as the
// bare one: New finds its state store, and the engine its keyed appends,
// through As, so the same files (keyed names) and the same reports come
// out, and the second run is the same no-op.
func TestWrappedDestinationSyncsLikeBare(t *testing.T) {
	ctx := context.Background()
	now := func() time.Time { return time.Unix(1_700_000_000, 0) }
	src := mailtest.New(mailtest.ProfileIMAP)
	raws := seed(t, src, 30, 4)

	run := func(wrap bool) (string, []*mailaccess.SyncReport) {
		dir := t.TempDir()
		var dst mailaccess.Mailbox = openDst(t, dir, &maildir.Options{Now: now})
		if wrap {
			dst = embedded{dst}
		}
		s, err := mailsync.New(src, dst, &mailsync.Options{Account: "acct", Now: now})
		require.NoError(t, err, "wrapped=%v", wrap)
		var reps []*mailaccess.SyncReport
		for range 2 {
			rep, err := s.Run(ctx)
			require.NoError(t, err)
			rep.Duration = 0
			reps = append(reps, rep)
		}
		return dir, reps
	}
	bareDir, bare := run(false)
	wrapDir, wrapped := run(true)
	requireExactlyOnce(t, wrapDir, raws)
	assert.Equal(t, bare, wrapped, "the same reports, run after run")
	assert.Equal(t, 30, wrapped[0].Total().New)
	assert.Zero(t, wrapped[1].Total().New, "the second run is a no-op")
	names := keyedParts(fileNames(t, wrapDir))
	assert.Equal(t, keyedParts(fileNames(t, bareDir)), names, "the same files under the same keyed names (the time of the run aside)")
	for _, n := range names {
		assert.NotEmpty(t, n, "stored through the keyed appends of the wrapped store")
	}
}

// keyedName matches the name of a keyed append: "SECONDS.KKEY..." or, in
// the source's order, "SECONDS.M<µs>Q<pos>KKEY...".
var keyedName = regexp.MustCompile(`^(?:new|cur)/[0-9]+\.(?:M[0-9]+(Q[0-9]+))?(K[^.]+\..*)$`)

// keyedParts returns the position and key parts of keyed names (what does
// not depend on when the run was), "" for other names.
func keyedParts(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		if m := keyedName.FindStringSubmatch(n); m != nil {
			out[i] = m[1] + m[2]
		}
	}
	slices.Sort(out)
	return out
}

// batchSource gives the fake a batch read that counts its use, as the
// network drivers have one, and answers As for it as a driver does.
type batchSource struct {
	*mailtest.Mailbox
	batches *atomic.Int64
}

func (b batchSource) OpenAll(ctx context.Context, folder string, ids []mailaccess.ID, fn func(mailaccess.ID, io.Reader) error) error {
	b.batches.Add(1)
	for _, id := range ids {
		rc, err := b.Mailbox.Open(ctx, folder, id, nil)
		if errors.Is(err, mailaccess.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		err = fn(id, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (b batchSource) As(target any) bool {
	return driver.AsInterface(b, target) || b.Mailbox.As(target)
}

// tagging replaces Open: every message it returns gains a header. As the
// package driver documents, it does not let As pass the batch read on.
type tagging struct{ mailaccess.Mailbox }

const tag = "X-Read-Through: tagging\r\n"

func (w tagging) Open(ctx context.Context, folder string, id mailaccess.ID, o *mailaccess.OpenOptions) (io.ReadCloser, error) {
	rc, err := w.Mailbox.Open(ctx, folder, id, o)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(strings.NewReader(tag), rc), rc}, nil
}

func (w tagging) As(target any) bool {
	if _, ok := target.(*driver.BatchOpener); ok {
		return false
	}
	return w.Mailbox.As(target)
}

// countingAppends replaces Append: it counts and tags what it stores, and
// keeps the keyed appends (which would bypass it) from being found.
type countingAppends struct {
	mailaccess.Mailbox
	n *atomic.Int64
}

func (c countingAppends) Append(ctx context.Context, folder string, r io.Reader, o *mailaccess.AppendOptions) (mailaccess.ID, error) {
	c.n.Add(1)
	return c.Mailbox.Append(ctx, folder, io.MultiReader(strings.NewReader(tag), r), o)
}

func (c countingAppends) As(target any) bool {
	if _, ok := target.(*driver.KeyedAppender); ok {
		return false
	}
	return c.Mailbox.As(target)
}

// A wrapper that replaces Open or Append, and keeps the batch form of it
// from being found as package driver says, is honoured: every message goes
// through its method. The wrapped source's batch read is otherwise used
// (the rule finds it through As).
func TestWrapperOverridingOpenOrAppendIsHonoured(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfileIMAP)
	raws := seed(t, fake, 12, 5)
	var batches atomic.Int64
	src := batchSource{fake, &batches}

	// Bare source with a batch read, embedded in a wrapper: the batch
	// read is found through As.
	dir := t.TempDir()
	s, err := mailsync.New(embedded{src}, openDst(t, dir, nil), &mailsync.Options{Account: "a"})
	require.NoError(t, err)
	_, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Positive(t, batches.Load(), "an embedding wrapper passes the batch read on")
	requireExactlyOnce(t, dir, raws)

	// A wrapper replacing Open: every stored message went through it.
	batches.Store(0)
	dir = t.TempDir()
	s, err = mailsync.New(tagging{src}, openDst(t, dir, nil), &mailsync.Options{Account: "b"})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, 12, rep.Total().New)
	assert.Zero(t, batches.Load(), "the batch read would go around the wrapper's Open")
	var tagged [][]byte
	for _, r := range raws {
		tagged = append(tagged, append([]byte(tag), r...))
	}
	requireExactlyOnce(t, dir, tagged)

	// A destination wrapper replacing Append: every message went through
	// it, none through the store's keyed appends.
	var appends atomic.Int64
	dir = t.TempDir()
	dst := countingAppends{openDst(t, dir, nil), &appends}
	s, err = mailsync.New(fake, dst, &mailsync.Options{Account: "c"})
	require.NoError(t, err, "the state store is still found through As")
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, 12, rep.Total().New)
	assert.Equal(t, int64(12), appends.Load(), "one Append through the wrapper per message")
	requireExactlyOnce(t, dir, tagged)
	for _, n := range fileNames(t, dir) {
		assert.NotRegexp(t, keyedName, n, "no keyed append went around the wrapper")
	}
}
