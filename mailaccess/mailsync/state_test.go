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

// The head of a saved record reads back equal to what was saved, without
// its messages; a record whose message list comes first, or that is not
// JSON, is not read that way (the caller loads it whole).
func TestLoadStateHead(t *testing.T) {
	ctx := context.Background()
	ss := &mapState{m: map[string][]byte{}}
	_, ok := loadStateHead(ctx, ss, "acct", "INBOX")
	assert.False(t, ok, "no record")

	st := &folderState{Version: stateVersion, Account: "acct", Folder: "INBOX", Dest: "INBOX", Mode: "uid",
		UIDValidity: 7, UIDNext: 10001, ModSeq: 99, Count: 10000, Clean: true, index: map[mailaccess.ID]int{}}
	for i := range 10000 {
		st.put(stateMsg{Src: mailaccess.ID(fmt.Sprint(i + 1)), Dst: "d", Size: 100, Flags: []string{`\Seen`}})
	}
	require.NoError(t, st.save(ctx, ss))
	head, ok := loadStateHead(ctx, ss, "acct", "INBOX")
	require.True(t, ok)
	want := *st
	want.Msgs, want.index = nil, nil
	assert.Equal(t, &want, head)

	ss.m[stateKey("acct", "INBOX")] = []byte(`{"msgs":[],"v":1,"mode":"uid"}`)
	_, ok = loadStateHead(ctx, ss, "acct", "INBOX")
	assert.False(t, ok)
	ss.m[stateKey("acct", "INBOX")] = []byte(`{"v":1,"mode":`)
	_, ok = loadStateHead(ctx, ss, "acct", "INBOX")
	assert.False(t, ok)
	ss.m[stateKey("acct", "INBOX")] = []byte(`{"v":3,"mode":"uid","msgs":[]}`)
	_, ok = loadStateHead(ctx, ss, "acct", "INBOX")
	assert.False(t, ok, "another version is not trusted")
	ss.m[stateKey("acct", "INBOX")] = []byte(`{"v":1,"mode":"uid","msgs":[]}`)
	_, ok = loadStateHead(ctx, ss, "acct", "INBOX")
	assert.False(t, ok, "a version 1 record takes the full path, which upgrades it")
}

// Reading the head of a 10,000-message record must not cost a full decode.
func BenchmarkLoadStateHeadVsFull(b *testing.B) {
	ctx := context.Background()
	ss := &mapState{m: map[string][]byte{}}
	st := &folderState{Version: stateVersion, Account: "a", Folder: "INBOX", Mode: "uid", Count: 10000}
	st.index = map[mailaccess.ID]int{}
	for i := range 10000 {
		st.put(stateMsg{Src: mailaccess.ID(fmt.Sprint(i + 1)), Dst: "1764099999.Kabcdef0123456789abcdef0123456789.host,S=4000", Size: 4000, First: 1764099999, Flags: []string{`\Seen`}, MsgID: "id@example.com"})
	}
	require.NoError(b, st.save(ctx, ss))
	b.Run("head", func(b *testing.B) {
		for b.Loop() {
			if _, ok := loadStateHead(ctx, ss, "a", "INBOX"); !ok {
				b.Fatal("no head")
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
