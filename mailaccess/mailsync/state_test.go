package mailsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type mapState struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *mapState) Lock(context.Context) (func() error, error) {
	return func() error { return nil }, nil
}
func (s *mapState) Load(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k], nil
}
func (s *mapState) Save(_ context.Context, k string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = b
	return nil
}

// The head of a saved record reads back equal to what was saved, whatever
// the number of entries; a version 2 record (head and messages in one
// object) reads as legacy with its head; a record of an unknown version,
// or one that is not JSON, is an error.
func TestReadHead(t *testing.T) {
	ctx := context.Background()
	ss := &mapState{m: map[string][]byte{}}
	head, _, err := readHead(ctx, ss, "acct", "INBOX")
	require.NoError(t, err)
	assert.Nil(t, head, "no record")

	st := newState(ss, "acct", "INBOX")
	st.Dest, st.Mode, st.UIDValidity, st.UIDNext, st.ModSeq, st.Count, st.Clean = "INBOX", modeUID, 7, 10001, 99, 10000, true
	for i := range 10000 {
		st.put(stateMsg{Src: mailaccess.ID(fmt.Sprint(i + 1)), Dst: "d", Size: 100, Flags: []string{`\Seen`}, UID: uint32(i + 1)})
	}
	require.NoError(t, st.save(ctx, ss))
	assert.Less(t, len(ss.m[stateKey("acct", "INBOX")]), 400, "the head stays small")
	head, legacy, err := readHead(ctx, ss, "acct", "INBOX")
	require.NoError(t, err)
	assert.False(t, legacy)
	assert.Equal(t, &st.stateHead, head)
	assert.Equal(t, 10000, head.Live)
	assert.Equal(t, uint32(10000), head.TopUID)
	assert.True(t, head.UIDsKnown)

	ss.m[stateKey("acct", "INBOX")] = []byte(`{"v":2,"mode":"uid","uidnext":5,"msgs":[{"s":"1"}]}`)
	head, legacy, err = readHead(ctx, ss, "acct", "INBOX")
	require.NoError(t, err)
	assert.True(t, legacy)
	assert.Equal(t, uint32(5), head.UIDNext)
	ss.m[stateKey("acct", "INBOX")] = []byte(`{"v":1,"mode":`)
	_, _, err = readHead(ctx, ss, "acct", "INBOX")
	assert.ErrorIs(t, err, errCorrupt)
	ss.m[stateKey("acct", "INBOX")] = []byte(`{"v":4,"mode":"uid"}`)
	_, _, err = readHead(ctx, ss, "acct", "INBOX")
	assert.ErrorIs(t, err, mailaccess.ErrInvalid, "another version is not trusted")
	ss.m[stateKey("acct", "INBOX")] = []byte(`{"v":2,"mode":"uid"}`)
	_, _, err = readHead(ctx, ss, "acct", "INBOX")
	assert.ErrorIs(t, err, mailaccess.ErrInvalid, "a version 2 record without its messages")
}

// Reading the head of a 10,000-message state must not cost a full load.
func BenchmarkLoadStateHeadVsFull(b *testing.B) {
	ctx := context.Background()
	ss := &mapState{m: map[string][]byte{}}
	st := newState(ss, "a", "INBOX")
	st.Mode, st.Count = modeUID, 10000
	for i := range 10000 {
		st.put(stateMsg{Src: mailaccess.ID(fmt.Sprint(i + 1)), Dst: "1764099999.Kabcdef0123456789abcdef0123456789.host,S=4000", Size: 4000, First: 1764099999, Flags: []string{`\Seen`}, MsgID: "id@example.com", UID: uint32(i + 1)})
	}
	require.NoError(b, st.save(ctx, ss))
	b.Run("head", func(b *testing.B) {
		for b.Loop() {
			if h, _, err := readHead(ctx, ss, "a", "INBOX"); err != nil || h == nil {
				b.Fatal("no head", err)
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			if _, err := loadState(ctx, ss, "a", "INBOX"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestReadBody: the batch download's buffered read returns the message
// exactly whatever the size announced, stops one byte past the limit, and
// fails on a read error; released buffers are reused.
func TestReadBody(t *testing.T) {
	msg := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80,000 bytes
	for _, expect := range []int64{0, 100, int64(len(msg)), int64(len(msg)) + 1, 1 << 30} {
		b, err := readBody(iotest.OneByteReader(bytes.NewReader(msg)), expect)
		if err != nil || !bytes.Equal(b, msg) {
			t.Fatalf("expect %d: got %d bytes, %v", expect, len(b), err)
		}
		releaseBody(b)
	}
	big := bytes.Repeat([]byte{'x'}, batchBodyLimit+100)
	b, err := readBody(bytes.NewReader(big), int64(len(big)))
	if err != nil || len(b) != batchBodyLimit+1 {
		t.Fatalf("over the limit: got %d bytes, %v; want %d", len(b), err, batchBodyLimit+1)
	}
	_, err = readBody(iotest.TimeoutReader(bytes.NewReader(msg)), 10)
	if !errors.Is(err, iotest.ErrTimeout) {
		t.Fatalf("read error: got %v", err)
	}
	allocs := testing.AllocsPerRun(50, func() {
		b, err := readBody(bytes.NewReader(msg), int64(len(msg)))
		if err != nil {
			t.Fatal(err)
		}
		releaseBody(b)
	})
	if allocs > 4 {
		t.Errorf("%.0f allocations per pooled read, want a handful", allocs)
	}
}
