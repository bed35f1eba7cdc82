package mailsync_test

import (
	"context"
	"io"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// reversing is a source whose Open of message i returns only after the
// Open of message i+1 has returned, up to message n: parallel writers get
// their messages, and so finish, in the reverse of the source's order.
type reversing struct {
	mailaccess.Mailbox
	n    int
	once sync.Once
	done []chan struct{}
}

func (r *reversing) Open(ctx context.Context, folder string, id mailaccess.ID, o *mailaccess.OpenOptions) (io.ReadCloser, error) {
	r.once.Do(func() {
		r.done = make([]chan struct{}, r.n+2)
		for i := range r.done {
			r.done[i] = make(chan struct{})
		}
		close(r.done[r.n+1])
	})
	i, _ := strconv.Atoi(string(id))
	select {
	case <-r.done[i+1]:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer close(r.done[i])
	return r.Mailbox.Open(ctx, folder, id, o)
}

// listedInOrder checks that the Maildir at dir lists exactly raws, in
// that order.
func listedInOrder(t *testing.T, dir string, raws [][]byte) {
	t.Helper()
	ctx := context.Background()
	dst := openDst(t, dir, nil)
	defer dst.Close()
	var got []string
	for m, err := range dst.List(ctx, mailaccess.Inbox, nil) {
		require.NoError(t, err)
		rc, err := dst.Open(ctx, mailaccess.Inbox, m.ID(), nil)
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		got = append(got, string(b))
	}
	want := make([]string, len(raws))
	for i, r := range raws {
		want[i] = string(r)
	}
	assert.Equal(t, want, got, "the Maildir lists the messages in the source's order")
}

// TestSyncMaildirKeepsSourceOrder (issue 12 item 6): after a sync, a
// Maildir lists the messages in the source's order, not in the order
// parallel writers finished, including across runs and commits.
func TestSyncMaildirKeepsSourceOrder(t *testing.T) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfileIMAP)
	raws := seed(t, fake, 20, 43)
	dir := t.TempDir()
	src := &reversing{Mailbox: fake, n: 20}
	s, err := mailsync.New(src, openDst(t, dir, nil), &mailsync.Options{Concurrency: 32, BatchSize: 6})
	require.NoError(t, err)
	_, err = s.Run(ctx)
	require.NoError(t, err)
	listedInOrder(t, dir, raws)

	more := seed(t, fake, 10, 44)
	src.once, src.n = sync.Once{}, 30
	_, err = s.Run(ctx)
	require.NoError(t, err)
	listedInOrder(t, dir, append(raws, more...))
}

// The batch path (pipelined POP3 RETR) keeps the order too.
func TestSyncMaildirKeepsSourceOrderPOP3(t *testing.T) {
	backing := mailtest.New(mailtest.ProfileMaildir)
	raws := seed(t, backing, 40, 45)
	srv := pop3test.Start(t, backing, nil)
	client, err := pop3.Dial(context.Background(), srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword))
	require.NoError(t, err)
	defer client.Close()
	dir := t.TempDir()
	s, err := mailsync.New(client, openDst(t, dir, nil), &mailsync.Options{BatchSize: 7})
	require.NoError(t, err)
	_, err = s.Run(context.Background())
	require.NoError(t, err)
	listedInOrder(t, dir, raws)
}
