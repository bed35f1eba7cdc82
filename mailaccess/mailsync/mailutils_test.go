package mailsync_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/mailutilstest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/pop3"
)

// interopCorpus is what the real-server sync tests seed: the edge cases
// and n generated messages.
func interopCorpus(n int) [][]byte {
	var out [][]byte
	for _, m := range corpus.EdgeCases() {
		out = append(out, m.Raw)
	}
	for m := range corpus.Generate(7, n) {
		out = append(out, m.Raw)
	}
	return out
}

// stripXUIDL removes from msg the "X-UIDL: ..." field that ends its
// header, if there is one: the field GNU Mailutils' pop3d adds to a
// message the first time it lists it.
func stripXUIDL(msg []byte) []byte {
	for i := 0; i < len(msg); {
		j := bytes.IndexByte(msg[i:], '\n')
		if j < 0 {
			return msg
		}
		next := i + j + 1
		k := bytes.IndexByte(msg[next:], '\n')
		if k < 0 {
			return msg
		}
		if len(bytes.TrimRight(msg[next:next+k+1], "\r\n")) == 0 {
			if bytes.HasPrefix(msg[i:next], []byte("X-UIDL: ")) {
				return append(append([]byte{}, msg[:i]...), msg[next:]...)
			}
			return msg
		}
		i = next
	}
	return msg
}

// requireStoredOnce checks that the Maildir folder dir holds each of want
// exactly once, after strip (nil: none) is applied to what is stored.
func requireStoredOnce(t *testing.T, dir string, want [][]byte, strip func([]byte) []byte) {
	t.Helper()
	var w, got []string
	for _, m := range want {
		h := sha256.Sum256(m)
		w = append(w, string(h[:]))
	}
	for _, b := range storedFiles(t, dir) {
		if strip != nil {
			b = strip(b)
		}
		h := sha256.Sum256(b)
		got = append(got, string(h[:]))
	}
	slices.Sort(w)
	slices.Sort(got)
	require.Equal(t, len(w), len(got), "as many files as source messages")
	require.True(t, slices.Equal(w, got), "every source message stored once, byte-exact")
}

// TestSyncMailutils syncs the edge cases and 300 generated messages from
// GNU Mailutils' pop3d (delete after download) and imap4d (kept: imap4d
// has no UIDPLUS, so the driver cannot expunge exactly the messages
// stored) into a Maildir: every message once, byte-exact as the server
// sends it (pop3d adds an X-UIDL field to each message when it first
// lists it); then a no-op resync that transfers nothing; then new mail,
// and a resync that stores just that (over IMAP, even when imap4d changed
// the folder's UIDVALIDITY: see below). It skips without the unpacked
// servers, except under CI=true.
func TestSyncMailutils(t *testing.T) {
	srv := mailutilstest.Start(t)
	seed := interopCorpus(300)
	later := interopCorpus(0)[:0]
	for m := range corpus.Generate(8, 5) {
		later = append(later, m.Raw)
	}
	wire := func(msgs [][]byte) [][]byte {
		out := make([][]byte, len(msgs))
		for i, m := range msgs {
			out[i] = mailutilstest.Wire(m)
		}
		return out
	}
	for _, tc := range []struct {
		scheme    string
		retention mailsync.Retention
		strip     func([]byte) []byte
		dial      func(context.Context, mailaccess.Config) (mailaccess.Mailbox, error)
	}{
		{"pop3", mailsync.Retention{Policy: mailsync.DeleteAfterDownload}, stripXUIDL,
			func(ctx context.Context, c mailaccess.Config) (mailaccess.Mailbox, error) { return pop3.Dial(ctx, c) }},
		{"imap", mailsync.Retention{}, nil,
			func(ctx context.Context, c mailaccess.Config) (mailaccess.Mailbox, error) { return imap.Dial(ctx, c) }},
	} {
		t.Run(tc.scheme, func(t *testing.T) {
			ctx := context.Background()
			user, err := srv.AddUser("sync", seed)
			require.NoError(t, err)
			dir := t.TempDir()
			run := func() (*counting, *mailaccess.SyncReport) {
				t.Helper()
				mb, err := tc.dial(ctx, srv.Config(tc.scheme, user))
				require.NoError(t, err)
				defer mb.Close()
				src := &counting{Mailbox: mb}
				var wrapped mailaccess.Mailbox = src
				if tc.scheme == "pop3" {
					wrapped = countingBatch{src}
				}
				dst := openDst(t, dir, nil)
				defer dst.Close()
				s, err := mailsync.New(wrapped, dst, &mailsync.Options{Account: "mailutils", Retention: tc.retention})
				require.NoError(t, err)
				rep, err := s.Run(ctx)
				require.NoError(t, err)
				return src, rep
			}

			_, rep := run()
			assert.Equal(t, len(seed), rep.Total().New)
			requireStoredOnce(t, dir, wire(seed), tc.strip)
			if tc.retention.Policy == mailsync.DeleteAfterDownload {
				assert.Equal(t, len(seed), rep.Total().SourceDeleted, "deleted once stored")
				left, err := os.ReadDir(srv.MaildirPath(user) + "/cur")
				require.NoError(t, err)
				assert.Empty(t, left, "the server's maildrop is empty")
				for name, b := range storedFiles(t, dir) {
					require.NotEqual(t, len(b), len(tc.strip(b)), "%s: stored as first sent, with the server's X-UIDL field", name)
				}
			}

			src, rep := run()
			assert.Zero(t, rep.Total().New, "no-op resync")
			assert.Zero(t, src.opens.Load(), "the no-op resync transfers no bodies")
			requireStoredOnce(t, dir, wire(seed), tc.strip)

			require.NoError(t, srv.AddMessages(user, later))
			_, rep = run()
			all := wire(append(slices.Clone(seed), later...))
			notes := strings.Join(rep.Total().Notes, "\n")
			if tc.scheme == "imap" && strings.Contains(notes, "UIDVALIDITY changed") {
				// imap4d answers STATUS, while new mail waits in new/,
				// with a new UIDVALIDITY (the current time: unchanged
				// within the second of the last one). The engine then
				// re-identifies what it stored: by Message-ID and size,
				// and a message without a Message-ID by its content.
				assert.Contains(t, notes, fmt.Sprintf("all %d stored messages re-identified", len(seed)))
			}
			assert.Equal(t, len(later), rep.Total().New, "just the new mail")
			requireStoredOnce(t, dir, all, tc.strip)
		})
	}
}
