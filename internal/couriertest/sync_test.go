package couriertest_test

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/couriertest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/pop3"
)

// bodyCounter counts the message bodies read from the Mailbox it wraps,
// one by one (Open) or in batches (OpenAll: the engine's batch form,
// which it finds here rather than through As on the driver).
type bodyCounter struct {
	mailaccess.Mailbox
	bodies atomic.Int64
}

func (c *bodyCounter) Open(ctx context.Context, folder string, id mailaccess.ID, o *mailaccess.OpenOptions) (io.ReadCloser, error) {
	c.bodies.Add(1)
	return c.Mailbox.Open(ctx, folder, id, o)
}

func (c *bodyCounter) OpenAll(ctx context.Context, folder string, ids []mailaccess.ID, fn func(mailaccess.ID, io.Reader) error) error {
	bo, ok := driver.Find[driver.BatchOpener](c.Mailbox)
	if !ok {
		for _, id := range ids {
			rc, err := c.Open(ctx, folder, id, nil)
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
	return bo.OpenAll(ctx, folder, ids, func(id mailaccess.ID, r io.Reader) error {
		c.bodies.Add(1)
		return fn(id, r)
	})
}

// requireStoredOnce checks that the Maildir folder dir (new/ and cur/)
// holds each of want exactly once, byte for byte, and nothing else.
func requireStoredOnce(t *testing.T, dir string, want [][]byte) {
	t.Helper()
	var w, got []string
	for _, m := range want {
		h := sha256.Sum256(m)
		w = append(w, string(h[:]))
	}
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		require.NoError(t, err)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			require.NoError(t, err)
			h := sha256.Sum256(b)
			got = append(got, string(h[:]))
		}
	}
	slices.Sort(w)
	slices.Sort(got)
	require.Equal(t, len(w), len(got), "as many files as source messages")
	require.True(t, slices.Equal(w, got), "every source message stored once, byte-exact")
}

// TestSyncCourier syncs the edge cases and 300 generated messages from
// Courier's pop3d (delete after download) and Courier-IMAP (kept on the
// server) into a Maildir with the sync engine: every message once,
// byte-exact as the server sends it; then a resync that transfers no
// body and stores nothing; then new mail, and a resync that stores just
// that. It skips without the unpacked servers, except under CI=true.
func TestSyncCourier(t *testing.T) {
	srv := couriertest.Start(t)
	var seed, later [][]byte
	for _, m := range corpus.EdgeCases() {
		seed = append(seed, m.Raw)
	}
	for m := range corpus.Generate(7, 300) {
		seed = append(seed, m.Raw)
	}
	for m := range corpus.Generate(8, 5) {
		later = append(later, m.Raw)
	}
	wire := func(msgs [][]byte) [][]byte {
		out := make([][]byte, len(msgs))
		for i, m := range msgs {
			out[i] = couriertest.Wire(m)
		}
		return out
	}
	for _, tc := range []struct {
		scheme    string
		retention mailsync.Retention
		dial      func(context.Context, mailaccess.Config) (mailaccess.Mailbox, error)
	}{
		{"pop3s", mailsync.Retention{Policy: mailsync.DeleteAfterDownload},
			func(ctx context.Context, c mailaccess.Config) (mailaccess.Mailbox, error) { return pop3.Dial(ctx, c) }},
		{"imaps", mailsync.Retention{},
			func(ctx context.Context, c mailaccess.Config) (mailaccess.Mailbox, error) { return imap.Dial(ctx, c) }},
	} {
		t.Run(tc.scheme, func(t *testing.T) {
			ctx := context.Background()
			user, err := srv.AddUser("sync", seed)
			require.NoError(t, err)
			dir := t.TempDir()
			run := func() (int64, *mailaccess.SyncReport) {
				t.Helper()
				mb, err := tc.dial(ctx, srv.Config(tc.scheme, user))
				require.NoError(t, err)
				defer mb.Close()
				src := &bodyCounter{Mailbox: mb}
				dst, err := maildir.Open(dir, nil)
				require.NoError(t, err)
				defer dst.Close()
				s, err := mailsync.New(src, dst, &mailsync.Options{Account: "courier", Retention: tc.retention})
				require.NoError(t, err)
				rep, err := s.Run(ctx)
				require.NoError(t, err)
				require.Empty(t, rep.Total().Errors)
				return src.bodies.Load(), rep
			}

			bodies, rep := run()
			assert.Equal(t, len(seed), rep.Total().New)
			assert.Equal(t, int64(len(seed)), bodies, "each body read once")
			requireStoredOnce(t, dir, wire(seed))
			if tc.retention.Policy == mailsync.DeleteAfterDownload {
				assert.Equal(t, len(seed), rep.Total().SourceDeleted, "deleted once stored")
				for _, sub := range []string{"new", "cur"} {
					left, err := os.ReadDir(filepath.Join(srv.MaildirPath(user), sub))
					require.NoError(t, err)
					assert.Empty(t, left, "the server's maildrop (%s) is empty", sub)
				}
			}

			bodies, rep = run()
			assert.Zero(t, rep.Total().New, "no-op resync")
			assert.Zero(t, bodies, "the no-op resync transfers no bodies")
			requireStoredOnce(t, dir, wire(seed))

			require.NoError(t, srv.AddMessages(user, later))
			bodies, rep = run()
			assert.Equal(t, len(later), rep.Total().New, "just the new mail")
			assert.Equal(t, int64(len(later)), bodies, "only the new bodies transferred")
			requireStoredOnce(t, dir, wire(append(slices.Clone(seed), later...)))
		})
	}
}
