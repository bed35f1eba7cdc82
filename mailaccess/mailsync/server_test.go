package mailsync_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// TestSyncPOP3ServerOrder syncs from the in-process POP3 server with
// delete-after-download and checks, at the moment each DELE is issued,
// that the message's file exists and the committed state on disk records
// it; the server's command log shows the DELEs followed by QUIT.
func TestSyncPOP3ServerOrder(t *testing.T) {
	ctx := context.Background()
	backing := mailtest.New(mailtest.ProfileMaildir)
	raws := seed(t, backing, 23, 11)
	srv := pop3test.Start(t, backing, nil)
	client, err := pop3.Dial(ctx, srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword))
	require.NoError(t, err)
	defer client.Close()

	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	var checked atomic.Int64
	src := &counting{Mailbox: client}
	src.onDelete = func(folder string, ids []mailaccess.ID) {
		fresh, err := maildir.Open(dir, nil)
		require.NoError(t, err)
		defer fresh.Close()
		rec := loadStateRec(t, fresh, "pop3", "INBOX")
		dsts := map[string]string{}
		for _, m := range rec.Msgs {
			if m.Deleted {
				dsts[m.Src] = m.Dst
			}
		}
		for _, id := range ids {
			d, ok := dsts[string(id)]
			require.True(t, ok, "DELE %s before the state recording it was committed", id)
			rc, err := fresh.Open(ctx, "INBOX", mailaccess.ID(d), nil)
			require.NoError(t, err, "DELE %s before its file was stored", id)
			rc.Close()
			checked.Add(1)
		}
	}
	s, err := mailsync.New(countingBatch{src}, dst, &mailsync.Options{Account: "pop3", BatchSize: 5,
		Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, 23, rep.Folders[0].SourceDeleted)
	assert.Equal(t, int64(23), checked.Load())
	requireExactlyOnce(t, dir, raws)
	assert.Empty(t, backing.Messages("INBOX"), "the DELEs were committed by QUIT")

	cmds := srv.Commands()
	dele := slices.IndexFunc(cmds, func(c string) bool { return strings.HasPrefix(c, "DELE ") })
	require.GreaterOrEqual(t, dele, 0, "DELE sent: %v", cmds)
	lastRetr := -1
	for i, c := range cmds {
		if strings.HasPrefix(c, "RETR ") {
			lastRetr = i
		}
	}
	assert.Less(t, lastRetr, dele, "every RETR precedes the first DELE")
	assert.Contains(t, cmds[dele:], "QUIT")
}

func digests(t *testing.T, dir string) []string {
	var out []string
	for _, b := range storedFiles(t, dir) {
		out = append(out, fmt.Sprintf("%x", sha256.Sum256(b)))
	}
	slices.Sort(out)
	return out
}

// TestSyncDovecot syncs the edge-case corpus from Dovecot over POP3 and
// IMAP into a Maildir: byte-exact (as Dovecot sends it), then a second run
// transfers no bodies. It skips without Dovecot, except under CI=true.
func TestSyncDovecot(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	var msgs [][]byte
	var want []string
	for _, m := range corpus.EdgeCases() {
		msgs = append(msgs, m.Raw)
		want = append(want, fmt.Sprintf("%x", sha256.Sum256(corpus.Normalize(m.Raw))))
	}
	slices.Sort(want)
	const pw = "sync-secret"
	for _, u := range []string{"syncpop", "syncimap"} {
		require.NoError(t, srv.AddUser(u, pw, msgs))
	}
	cfg := func(scheme, addr, user string) mailaccess.Config {
		host, port, _ := strings.Cut(addr, ":")
		p, _ := strconv.Atoi(port)
		return mailaccess.Config{Scheme: scheme, Host: host, Port: p, User: user, Password: pw, TLSConfig: srv.TLSConfig()}
	}
	for _, tc := range []struct {
		name string
		dial func(ctx context.Context) (mailaccess.Mailbox, error)
	}{
		{"pop3", func(ctx context.Context) (mailaccess.Mailbox, error) {
			return pop3.Dial(ctx, cfg("pop3", srv.POP3Addr, "syncpop"))
		}},
		{"imap", func(ctx context.Context) (mailaccess.Mailbox, error) {
			return imap.Dial(ctx, cfg("imap", srv.IMAPAddr, "syncimap"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			run := func() (*counting, *mailaccess.SyncReport) {
				mb, err := tc.dial(ctx)
				require.NoError(t, err)
				defer mb.Close()
				src := &counting{Mailbox: mb}
				var wrapped mailaccess.Mailbox = src
				if tc.name == "pop3" {
					wrapped = countingBatch{src} // pipelined RETR, as without the wrapper
				}
				dst := openDst(t, dir, nil)
				defer dst.Close()
				s, err := mailsync.New(wrapped, dst, nil)
				require.NoError(t, err)
				rep, err := s.Run(ctx)
				require.NoError(t, err)
				return src, rep
			}
			_, rep := run()
			assert.Equal(t, len(msgs), rep.Total().New)
			assert.Equal(t, want, digests(t, dir), "byte-exact as Dovecot sends it")
			src, rep := run()
			assert.Zero(t, rep.Total().New)
			assert.Zero(t, src.opens.Load(), "the second run transfers no bodies")
			if tc.name == "imap" {
				assert.Zero(t, src.lists.Load(), "a no-op IMAP resync lists nothing (CONDSTORE)")
			}
			assert.Equal(t, want, digests(t, dir))
		})
	}
}

// TestSyncPOP3ReusedUIDL: a server that gives a new message the UIDL of
// one deleted by retention; the new message is stored, not mistaken for
// the old one, and the report says so.
func TestSyncPOP3ReusedUIDL(t *testing.T) {
	ctx := context.Background()
	backing := mailtest.New(mailtest.ProfileMaildir)
	first := []byte("Subject: first\r\nMessage-ID: <first@x>\r\n\r\nfirst\r\n")
	second := []byte("Subject: second\r\nMessage-ID: <second@x>\r\n\r\nthe second, longer message\r\n")
	backing.Add("INBOX", first)
	srv := pop3test.Start(t, backing, &pop3test.Options{IDs: func(mailaccess.ID) string { return "reused" }})
	dir := t.TempDir()
	run := func() *mailaccess.SyncReport {
		client, err := pop3.Dial(ctx, srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword))
		require.NoError(t, err)
		defer client.Close()
		dst := openDst(t, dir, nil)
		defer dst.Close()
		s, err := mailsync.New(client, dst, &mailsync.Options{
			Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
		require.NoError(t, err)
		rep, err := s.Run(ctx)
		require.NoError(t, err)
		return rep
	}
	rep := run()
	assert.Equal(t, 1, rep.Total().SourceDeleted)
	backing.Add("INBOX", second)
	rep = run()
	assert.Equal(t, 1, rep.Total().New)
	assert.Contains(t, strings.Join(rep.Total().Notes, "\n"), "reused")
	requireExactlyOnce(t, dir, [][]byte{first, second})
	assert.Empty(t, backing.Messages("INBOX"))
}

// lockedBuffer is a concurrency-safe trace sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSyncIMAPServerExpungeOrder: with an IMAP source and
// delete-after-download, the delete (STORE \Deleted + EXPUNGE) is issued
// only for messages whose file exists and whose state is committed.
func TestSyncIMAPServerExpungeOrder(t *testing.T) {
	ctx := context.Background()
	var raws [][]byte
	for m := range corpus.Generate(14, 17) {
		raws = append(raws, m.Raw)
	}
	trace := &lockedBuffer{}
	srv := imaptest.Start(t, &imaptest.Options{Trace: trace}, imaptest.User{Name: "u", Password: "pw", Messages: raws})
	client, err := imap.Dial(ctx, srv.Config("u", "pw"))
	require.NoError(t, err)
	defer client.Close()
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	var checked atomic.Int64
	src := &counting{Mailbox: client}
	src.onDelete = func(folder string, ids []mailaccess.ID) {
		require.NotContains(t, strings.ToUpper(trace.String()), "EXPUNGE", "no EXPUNGE before the first Delete")
		fresh, err := maildir.Open(dir, nil)
		require.NoError(t, err)
		defer fresh.Close()
		dsts := map[string]string{}
		for _, m := range loadStateRec(t, fresh, "imap", "INBOX").Msgs {
			if m.Deleted {
				dsts[m.Src] = m.Dst
			}
		}
		for _, id := range ids {
			d, ok := dsts[string(id)]
			require.True(t, ok, "EXPUNGE of %s before its state was committed", id)
			rc, err := fresh.Open(ctx, "INBOX", mailaccess.ID(d), nil)
			require.NoError(t, err, "EXPUNGE of %s before its file was stored", id)
			rc.Close()
			checked.Add(1)
		}
	}
	s, err := mailsync.New(src, dst, &mailsync.Options{Account: "imap", BatchSize: 4,
		Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, 17, rep.Folders[0].SourceDeleted)
	assert.Equal(t, int64(17), checked.Load())
	assert.Contains(t, strings.ToUpper(trace.String()), "EXPUNGE")
	requireExactlyOnce(t, dir, raws)
	st, err := client.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Zero(t, st.Messages)
}

// TestSyncPOP3DroppedMidMessage: the server closes the connection in the
// middle of a pipelined RETR; nothing partial is stored, the error is
// reported, and the next run completes exactly once. (Retries are off:
// with them the same run reconnects and completes; see
// TestSyncReconnectsWithinTheRun.)
func TestSyncPOP3DroppedMidMessage(t *testing.T) {
	ctx := context.Background()
	backing := mailtest.New(mailtest.ProfileMaildir)
	raws := seed(t, backing, 20, 15)
	srv := pop3test.Start(t, backing, &pop3test.Options{Faults: []pop3test.Fault{
		{Command: "RETR", Action: pop3test.FaultDrop, After: 100, Skip: 7, Times: 1}}})
	dir := t.TempDir()
	run := func() (*mailaccess.SyncReport, error) {
		client, err := pop3.Dial(ctx, srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword))
		require.NoError(t, err)
		defer client.Close()
		dst := openDst(t, dir, nil)
		defer dst.Close()
		s, err := mailsync.New(client, dst, &mailsync.Options{
			Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}, Retry: mailsync.Retry{Attempts: -1}})
		require.NoError(t, err)
		return s.Run(ctx)
	}
	rep, err := run()
	require.Error(t, err)
	assert.NotEmpty(t, rep.Total().Errors)
	assert.Zero(t, rep.Total().SourceDeleted, "no deletion after a failed pass")
	assert.Len(t, backing.Messages("INBOX"), 20)
	for name, b := range storedFiles(t, dir) {
		assert.True(t, slicesContainsBytes(raws, b), "partial file %s", name)
	}
	rep, err = run()
	require.NoError(t, err)
	assert.Equal(t, 20, rep.Total().SourceDeleted, "the rerun deletes what is now stored")
	requireExactlyOnce(t, dir, raws)
	assert.Empty(t, backing.Messages("INBOX"))
}

// Two POP3 accounts whose UIDLs coincide ("1", "2", ...) sync into one
// store with the default Account: each keeps its own state, so neither
// mistakes the other's messages for its own.
func TestSyncDefaultAccountKeepsServersApart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	var all [][]byte
	for i := range 2 {
		backing := mailtest.New(mailtest.ProfilePOP3)
		raws := seed(t, backing, 3, int64(40+i))
		all = append(all, raws...)
		srv := pop3test.Start(t, backing, nil)
		src, err := pop3.Dial(ctx, srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword))
		require.NoError(t, err)
		s, err := mailsync.New(src, dst, nil)
		require.NoError(t, err)
		rep, err := s.Run(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, rep.Total().New, "server %d", i)
		require.NoError(t, src.Close())
	}
	requireExactlyOnce(t, dir, all)
}
