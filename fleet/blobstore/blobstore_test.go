package blobstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/mailaccess/go-mailaccess/fleet/blobstore"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
)

func seed(t testing.TB, st *blobstore.Store, msgs [][]byte) {
	t.Helper()
	for _, m := range msgs {
		_, err := st.Append(context.Background(), mailaccess.Inbox, bytes.NewReader(m), nil)
		require.NoError(t, err)
	}
}

func TestConformanceFile(t *testing.T) {
	dirs := map[mailaccess.Mailbox]string{}
	var mu sync.Mutex
	conformance.TestMailbox(t, conformance.Harness{
		Open: func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
			dir := t.TempDir()
			st, err := blobstore.Open(context.Background(), "file://"+dir, &blobstore.Options{Prefix: "acct/"})
			require.NoError(t, err)
			seed(t, st, msgs)
			mu.Lock()
			dirs[st] = dir
			mu.Unlock()
			return st
		},
		Reopen: func(t testing.TB, mb mailaccess.Mailbox) mailaccess.Mailbox {
			mu.Lock()
			dir := dirs[mb]
			mu.Unlock()
			st, err := blobstore.Open(context.Background(), "file://"+dir, &blobstore.Options{Prefix: "acct/"})
			require.NoError(t, err)
			mu.Lock()
			dirs[st] = dir
			mu.Unlock()
			return st
		},
	})
}

func TestConformanceMem(t *testing.T) {
	buckets := map[mailaccess.Mailbox]*blob.Bucket{}
	var mu sync.Mutex
	conformance.TestMailbox(t, conformance.Harness{
		Open: func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
			b := memblob.OpenBucket(nil)
			t.Cleanup(func() { b.Close() })
			st, err := blobstore.New(b, nil)
			require.NoError(t, err)
			seed(t, st, msgs)
			mu.Lock()
			buckets[st] = b
			mu.Unlock()
			return st
		},
		Reopen: func(t testing.TB, mb mailaccess.Mailbox) mailaccess.Mailbox {
			mu.Lock()
			b := buckets[mb]
			mu.Unlock()
			st, err := blobstore.New(b, nil)
			require.NoError(t, err)
			mu.Lock()
			buckets[st] = b
			mu.Unlock()
			return st
		},
	})
}

// TestConcurrentKeyedAppendsWriteOnce: two writers (two Stores, as two
// worker processes would have) append the same keyed messages at the same
// time; each key ends up as exactly one object with the message's bytes,
// and both writers get its ID.
func TestConcurrentKeyedAppendsWriteOnce(t *testing.T) {
	for _, kind := range []string{"file", "mem"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			var a, b *blobstore.Store
			if kind == "file" {
				dir := t.TempDir()
				var err error
				a, err = blobstore.Open(ctx, "file://"+dir, nil)
				require.NoError(t, err)
				b, err = blobstore.Open(ctx, "file://"+dir, nil)
				require.NoError(t, err)
			} else {
				bucket := memblob.OpenBucket(nil)
				defer bucket.Close()
				a, _ = blobstore.New(bucket, nil)
				b, _ = blobstore.New(bucket, nil)
			}
			defer a.Close()
			defer b.Close()
			const n = 200
			msg := func(i int) []byte {
				return fmt.Appendf(nil, "Subject: %d\r\n\r\n%s\r\n", i, bytes.Repeat([]byte{'a' + byte(i%26)}, 1000+i))
			}
			ids := [2][n]mailaccess.ID{}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for w, st := range []*blobstore.Store{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					for i := range n {
						id, err := st.AppendWithKey(ctx, mailaccess.Inbox, fmt.Sprintf("key%03d", i), bytes.NewReader(msg(i)), nil)
						if !assert.NoError(t, err) {
							return
						}
						ids[w][i] = id
					}
				}()
			}
			close(start)
			wg.Wait()
			assert.Equal(t, ids[0], ids[1], "both writers see the same IDs")
			var got []mailaccess.ID
			for m, err := range a.List(ctx, mailaccess.Inbox, nil) {
				require.NoError(t, err)
				got = append(got, m.ID())
			}
			require.Len(t, got, n, "one object per key")
			for i := range n {
				rc, err := a.Open(ctx, mailaccess.Inbox, ids[0][i], nil)
				require.NoError(t, err)
				body, err := io.ReadAll(rc)
				rc.Close()
				require.NoError(t, err)
				assert.Equal(t, msg(i), body)
				id, ok, err := b.HasKey(ctx, mailaccess.Inbox, fmt.Sprintf("key%03d", i))
				require.NoError(t, err)
				assert.True(t, ok)
				assert.Equal(t, ids[0][i], id)
			}
		})
	}
}

func TestRejectsHostileNames(t *testing.T) {
	ctx := context.Background()
	st, err := blobstore.Open(ctx, "file://"+t.TempDir(), nil)
	require.NoError(t, err)
	defer st.Close()
	for _, f := range []string{"../x", "a/b", ".hidden", "x\r\ny", ""} {
		err := mailaccess.CreateFolder(ctx, st, f)
		assert.ErrorIs(t, err, mailaccess.ErrInvalid, "folder %q", f)
	}
	_, err = st.Open(ctx, mailaccess.Inbox, "../../etc/passwd", nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)
	_, err = st.AppendWithKey(ctx, mailaccess.Inbox, "../k", bytes.NewReader([]byte("x")), nil)
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
	_, err = blobstore.Open(ctx, "file://"+t.TempDir(), &blobstore.Options{Prefix: "../up/"})
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
}

// TestListWhileWriting: listing a file:// folder while another writer
// appends to it (whose temporary files come and go beside the objects)
// never fails and never yields a temporary file.
func TestListWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := blobstore.Open(ctx, "file://"+dir, nil)
	require.NoError(t, err)
	defer w.Close()
	r, err := blobstore.Open(ctx, "file://"+dir, nil)
	require.NoError(t, err)
	defer r.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 400 {
			_, err := w.AppendWithKey(ctx, mailaccess.Inbox, fmt.Sprintf("key%04d", i), bytes.NewReader(bytes.Repeat([]byte("x"), 64<<10)), nil)
			if !assert.NoError(t, err) {
				return
			}
		}
	}()
	lists := 0
	for {
		select {
		case <-done:
			require.Positive(t, lists)
			return
		default:
		}
		prev := mailaccess.ID("")
		for m, err := range r.List(ctx, mailaccess.Inbox, nil) {
			require.NoError(t, err, "list while a writer appends")
			require.Greater(t, m.ID(), prev, "IDs in order, none twice")
			prev = m.ID()
		}
		lists++
	}
}
