package conformance

import (
	"bytes"
	"context"
	"io"
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

// maildirHarness runs the suite against a Maildir store (which has the
// keyed and ordered appends), wrapped by wrap.
func maildirHarness(wrap func(*maildir.Store) mailaccess.Mailbox) Harness {
	storeOf := func(t testing.TB, mb mailaccess.Mailbox) *maildir.Store {
		var st *maildir.Store
		require.True(t, mb.As(&st), "As(**maildir.Store)")
		return st
	}
	return Harness{
		Open: func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
			st, err := maildir.Open(t.TempDir(), nil)
			require.NoError(t, err)
			t.Cleanup(func() { st.Close() })
			for _, m := range msgs {
				_, err := st.Append(context.Background(), mailaccess.Inbox, bytes.NewReader(m), nil)
				require.NoError(t, err)
			}
			return wrap(st)
		},
		Reopen: func(t testing.TB, mb mailaccess.Mailbox) mailaccess.Mailbox {
			st, err := maildir.Open(storeOf(t, mb).Path(), nil)
			require.NoError(t, err)
			t.Cleanup(func() { st.Close() })
			return wrap(st)
		},
		Deliver: func(t testing.TB, mb mailaccess.Mailbox, raw []byte) {
			mda, err := maildir.Open(storeOf(t, mb).Path(), nil)
			require.NoError(t, err)
			defer mda.Close()
			_, err = mda.Append(context.Background(), mailaccess.Inbox, bytes.NewReader(raw), nil)
			require.NoError(t, err)
		},
	}
}

// upperAppend replaces Append and the keyed append (it upper-cases every
// message it stores) and forgets that the ordered append its As passes on
// goes around it: the sync engine, which appends with AppendWithKeyAt,
// would store other bytes than the wrapper's Append.
type upperAppend struct{ mailaccess.Mailbox }

func upper(r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(r)
	return bytes.NewReader(bytes.ToUpper(b)), err
}

func (u upperAppend) Append(ctx context.Context, folder string, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	r, err := upper(r)
	if err != nil {
		return "", err
	}
	return u.Mailbox.Append(ctx, folder, r, opts)
}

func (u upperAppend) AppendWithKey(ctx context.Context, folder, key string, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	ka, _ := driver.Find[driver.KeyedAppender](u.Mailbox)
	r, err := upper(r)
	if err != nil {
		return "", err
	}
	return ka.AppendWithKey(ctx, folder, key, r, opts)
}

func (u upperAppend) HasKey(ctx context.Context, folder, key string) (mailaccess.ID, bool, error) {
	ka, _ := driver.Find[driver.KeyedAppender](u.Mailbox)
	return ka.HasKey(ctx, folder, key)
}

// upperAppendHiding follows the rule: its As passes no ordered append on
// (only its own keyed append is found).
type upperAppendHiding struct{ upperAppend }

func (u upperAppendHiding) As(target any) bool {
	if _, ok := target.(*driver.OrderedAppender); ok {
		return false
	}
	return driver.AsInterface(u, target) || u.upperAppend.As(target)
}

// callOrder is an ordered append that ignores the positions it is given:
// messages are listed in the order the calls finished, as a naive
// implementation over a store sorted by arrival would list them.
type callOrder struct {
	mailaccess.Mailbox
	n *atomic.Int64
}

func (c callOrder) AppendWithKey(ctx context.Context, folder, key string, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	return c.AppendWithKeyAt(ctx, folder, key, time.Time{}, 0, r, opts)
}

func (c callOrder) HasKey(ctx context.Context, folder, key string) (mailaccess.ID, bool, error) {
	oa, _ := driver.Find[driver.OrderedAppender](c.Mailbox)
	return oa.HasKey(ctx, folder, key)
}

func (c callOrder) AppendWithKeyAt(ctx context.Context, folder, key string, _ time.Time, _ int, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	oa, _ := driver.Find[driver.OrderedAppender](c.Mailbox)
	return oa.AppendWithKeyAt(ctx, folder, key, time.Unix(1e9, 0), int(c.n.Add(1)), r, opts)
}

func (c callOrder) As(target any) bool {
	return driver.AsInterface(c, target) || c.Mailbox.As(target)
}

// TestSuiteChecksOrderedAppend (item 6): the suite checks the ordered
// append found through driver.Find against Append, as it checks the batch
// read against Open: the Maildir store passes, as does a wrapper that
// replaces Append and hides the ordered append; a wrapper that replaces
// Append but passes the ordered append on, and an ordered append that
// ignores positions, are caught in BatchForms.
func TestSuiteChecksOrderedAppend(t *testing.T) {
	for _, c := range []struct {
		name   string
		wrap   func(*maildir.Store) mailaccess.Mailbox
		caught string // the failure expected in BatchForms ("" for none)
	}{
		{"maildir", func(st *maildir.Store) mailaccess.Mailbox { return st }, ""},
		{"replaces Append, hides the ordered append", func(st *maildir.Store) mailaccess.Mailbox { return upperAppendHiding{upperAppend{st}} }, ""},
		{"replaces Append, passes the ordered append on", func(st *maildir.Store) mailaccess.Mailbox { return upperAppend{st} },
			"AppendWithKeyAt (found through driver.Find) stores other bytes than Append"},
		{"ordered append ignores positions", func(st *maildir.Store) mailaccess.Mailbox { return callOrder{st, new(atomic.Int64)} },
			"not listed in the order of their sequences and positions"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder(t)
			runSuite(rec, maildirHarness(c.wrap))
			var batchForms []string
			for _, f := range *rec.failures {
				if strings.HasPrefix(f, "BatchForms:") {
					batchForms = append(batchForms, f)
				}
			}
			if c.caught == "" {
				assert.Empty(t, batchForms)
				return
			}
			assert.Contains(t, strings.Join(batchForms, "\n"), c.caught)
		})
	}
}
