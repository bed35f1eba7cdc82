package mailsync_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// requireTmpEmpty checks that no staged bytes are left in a Maildir
// folder's tmp/.
func requireTmpEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	require.Empty(t, names, "files left in tmp/")
}

// namedStaging opens a Maildir whose file system offers no unnamed files,
// so keyed appends are staged under names in tmp/.
func namedStaging(t *testing.T, dir string) *maildir.Store {
	return openDst(t, dir, &maildir.Options{WrapFS: func(b maildir.FS) maildir.FS { return &diskFS{FS: b} }})
}

// TestSyncPOP3EndlessBody (issue 10 item 13): a POP3 server that sends one
// body forever, in every session (a pass retried after a reconnect meets
// it again). The message is cut at Options.MaxMessageSize: an error
// for it matching ErrTooLarge, its staged bytes discarded, nothing of it
// published, nothing deleted from the server (delete-after-download); the
// other messages are stored.
func TestSyncPOP3EndlessBody(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(map[bool]string{false: "unnamed staging", true: "named staging"}[named], func(t *testing.T) {
			ctx := context.Background()
			backing := mailtest.New(mailtest.ProfileMaildir)
			raws := seed(t, backing, 6, 41)
			srv := pop3test.Start(t, backing, &pop3test.Options{Faults: []pop3test.Fault{
				{Command: "RETR", Arg: "3", Action: pop3test.FaultEndlessBody}}})
			client, err := pop3.Dial(ctx, srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword))
			require.NoError(t, err)
			defer client.Close()
			dir := t.TempDir()
			dst := openDst(t, dir, nil)
			if named {
				dst.Close()
				dst = namedStaging(t, dir)
			}
			limit := int64(0)
			for _, r := range raws {
				limit = max(limit, int64(len(r)))
			}
			s, err := mailsync.New(client, dst, &mailsync.Options{MaxMessageSize: limit, Retry: fastRetry,
				Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
			require.NoError(t, err)
			rep, err := s.Run(ctx)
			require.Error(t, err)
			assert.ErrorIs(t, err, mailsync.ErrTooLarge)
			assert.Contains(t, err.Error(), "message "+string(backing.Messages("INBOX")[2].ID)+": ")
			assert.Contains(t, err.Error(), "Options.MaxMessageSize")
			assert.Equal(t, 5, rep.Total().New, "%v %q", err, rep.Total().Notes)
			assert.Zero(t, rep.Total().SourceDeleted)
			assert.Len(t, backing.Messages("INBOX"), 6)
			requireTmpEmpty(t, dir)
			requireExactlyOnce(t, dir, append(raws[:2:2], raws[3:]...))
		})
	}
}

// endlessOpen is a source whose Open of one message returns a body that
// never ends (and whose other messages are read as usual).
type endlessOpen struct {
	mailaccess.Mailbox
	id     mailaccess.ID
	closed atomic.Bool
}

func (e *endlessOpen) Open(ctx context.Context, folder string, id mailaccess.ID, o *mailaccess.OpenOptions) (io.ReadCloser, error) {
	if id != e.id {
		return e.Mailbox.Open(ctx, folder, id, o)
	}
	head := strings.NewReader("Subject: endless\r\n\r\n")
	return readCloser{io.MultiReader(head, endless{}), func() error { e.closed.Store(true); return nil }}, nil
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = "line\r\n"[i%6]
	}
	return len(p), nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

// TestSyncEndlessOpen: the same through Open, one message at a time (a
// source without a batch read), into named staged files: the stream is
// cut at the limit, closed, and its staged file removed.
func TestSyncEndlessOpen(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfileIMAP)
	raws := seed(t, fake, 4, 42)
	src := &endlessOpen{Mailbox: fake, id: fake.Add("INBOX", []byte("Subject: endless\r\n\r\nbody\r\n"))}
	dir := t.TempDir()
	s, err := mailsync.New(src, namedStaging(t, dir), &mailsync.Options{MaxMessageSize: 1 << 20})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.ErrorIs(t, err, mailsync.ErrTooLarge)
	assert.Contains(t, err.Error(), "message "+string(src.id)+": ")
	assert.True(t, src.closed.Load(), "the endless body was closed")
	assert.Equal(t, 4, rep.Total().New)
	requireTmpEmpty(t, dir)
	requireExactlyOnce(t, dir, raws)
}

// TestSyncListedOverLimit: a message listed as larger than the limit is
// not downloaded at all; the error names it and the limit.
func TestSyncListedOverLimit(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfileIMAP)
	small := []byte("Subject: small\r\n\r\nsmall\r\n")
	big := append([]byte("Subject: big\r\n\r\n"), bytes.Repeat([]byte("y"), 300<<10)...)
	fake.Add("INBOX", small)
	bigID := fake.Add("INBOX", big)
	src := &counting{Mailbox: fake}
	dir := t.TempDir()
	s, err := mailsync.New(src, openDst(t, dir, nil), &mailsync.Options{MaxMessageSize: 256 << 10})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.ErrorIs(t, err, mailsync.ErrTooLarge)
	assert.Contains(t, err.Error(), "message "+string(bigID)+": listed as 307216 bytes, over the limit of 262144")
	assert.Equal(t, int64(1), src.opens.Load(), "only the small message is downloaded")
	assert.Equal(t, 1, rep.Total().New)
	assert.Equal(t, 1, rep.Total().Skipped)
	requireExactlyOnce(t, dir, [][]byte{small})
	assert.True(t, strings.HasPrefix(mailsync.ErrTooLarge.Error(), "message larger"))
}
