package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFloorDisk writes a few messages the floor's way and checks the
// Maildir it leaves: every message in cur/ byte for byte, nothing left in
// tmp/.
func TestFloorDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "md")
	msgs := [][]byte{[]byte("a\r\n"), bytes.Repeat([]byte("b"), 100_000), []byte("c\r\n\r\nd\r\n")}
	res, err := floorDisk(context.Background(), dir, msgs)
	require.NoError(t, err)
	assert.Equal(t, 3, res.Messages)
	assert.Equal(t, int64(3+100_000+8), res.Bytes)

	ents, err := os.ReadDir(filepath.Join(dir, "cur"))
	require.NoError(t, err)
	require.Len(t, ents, 3)
	var got [][]byte
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, "cur", e.Name()))
		require.NoError(t, err)
		got = append(got, b)
		assert.True(t, strings.HasSuffix(e.Name(), ":2,S"), e.Name())
	}
	// Names sort in message order.
	assert.Equal(t, msgs, got)
	tmp, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, tmp, "unnamed files leave no name in tmp/")
	n, size, err := maildirStats(dir)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, res.Bytes, size)
}

// TestFloorDiskBatches writes more messages than one commit takes, so
// that commits run while writers write, and checks every message arrives
// once, byte for byte; and that a cancelled run reports it.
func TestFloorDiskBatches(t *testing.T) {
	assert.Positive(t, floorDiskOpenFiles())
	const n = 3*floorDiskMinBatch + 17
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = bytes.Repeat([]byte{byte('a' + i%26)}, 1+i*37%5000)
	}
	dir := filepath.Join(t.TempDir(), "md")
	res, err := floorDisk(context.Background(), dir, msgs)
	require.NoError(t, err)
	assert.Equal(t, n, res.Messages)
	ents, err := os.ReadDir(filepath.Join(dir, "cur"))
	require.NoError(t, err)
	require.Len(t, ents, n)
	for i, e := range ents { // names sort in message order
		b, err := os.ReadFile(filepath.Join(dir, "cur", e.Name()))
		require.NoError(t, err)
		require.Equal(t, msgs[i], b, e.Name())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = floorDisk(ctx, filepath.Join(t.TempDir(), "md"), msgs)
	assert.ErrorIs(t, err, context.Canceled)
}
