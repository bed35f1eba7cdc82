package pop3wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAllDot unstuffs wire through readers with several buffer sizes and
// chunkings and checks they agree.
func readAllDot(t *testing.T, wire []byte) ([]byte, error) {
	t.Helper()
	var first []byte
	var firstErr error
	for i, mk := range []func() io.Reader{
		func() io.Reader { return bytes.NewReader(wire) },
		func() io.Reader { return iotest.OneByteReader(bytes.NewReader(wire)) },
		func() io.Reader { return iotest.HalfReader(bytes.NewReader(wire)) },
	} {
		for _, size := range []int{16, 17, 64, readBufferSize} {
			br := bufio.NewReaderSize(mk(), size)
			d := newDotReader(br)
			got, err := io.ReadAll(d)
			if i == 0 && size == 16 {
				first, firstErr = got, err
				continue
			}
			require.Equal(t, string(first), string(got), "reader %d size %d", i, size)
			require.Equal(t, firstErr == nil, err == nil, "reader %d size %d", i, size)
			if err == nil {
				// Nothing after the terminator may have been consumed.
				rest, _ := io.ReadAll(br)
				require.Equal(t, "", string(rest))
			}
		}
	}
	return first, firstErr
}

func TestDotUnstuff(t *testing.T) {
	long := strings.Repeat("a", 100<<10)
	cases := []struct {
		name, wire, want string
	}{
		{"empty body", ".\r\n", ""},
		{"plain", "Subject: x\r\n\r\nhello\r\n.\r\n", "Subject: x\r\n\r\nhello\r\n"},
		{"dot x at line start", "..x\r\n.\r\n", ".x\r\n"},
		{"double dot", "...\r\n.\r\n", "..\r\n"},
		{"lone dot line", "a\r\n..\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n"},
		{"dot mid line kept", "a.b ..c\r\n.\r\n", "a.b ..c\r\n"},
		{"CRLF preserved", "a\r\n\r\n\r\n.\r\n", "a\r\n\r\n\r\n"},
		{"bare LF preserved", "a\nb\r\n.\r\n", "a\nb\r\n"},
		{"dot after bare LF", "a\n..b\r\n.\r\n", "a\n.b\r\n"},
		{"bare CR not a line end", "a\r.b\r\n.\r\n", "a\r.b\r\n"},
		{"dot CR x", "..\rx\r\n.\r\n", ".\rx\r\n"},
		{"bare LF terminator", "a\n.\n", "a\n"},
		{"100 KiB line", long + "\r\n.\r\n", long + "\r\n"},
		{"dot after long line", long + "\r\n..x\r\n.\r\n", long + "\r\n.x\r\n"},
		{"dot in long line at buffer boundary", strings.Repeat("b", 15) + "." + strings.Repeat("c", 40) + "\r\n.\r\n", strings.Repeat("b", 15) + "." + strings.Repeat("c", 40) + "\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAllDot(t, []byte(tc.wire))
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

func TestDotUnstuffDotAtEveryBoundary(t *testing.T) {
	// A dot-stuffed line following a long line, at every offset relative to
	// a small buffer.
	for n := 0; n < 40; n++ {
		body := strings.Repeat("x", n) + "\r\n.y\r\n." + strings.Repeat("z", n) + "\r\n"
		wire, want := stuff([]byte(body))
		got, err := readAllDot(t, wire)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "n=%d", n)
	}
}

func TestDotUnstuffUnterminated(t *testing.T) {
	for _, wire := range []string{"", "abc", "abc\r\n", "abc\r\n.", "abc\r\n.\r", "abc\r\n..x"} {
		_, err := readAllDot(t, []byte(wire))
		require.Error(t, err, "%q", wire)
		assert.True(t, errors.Is(err, io.ErrUnexpectedEOF), "%q: %v", wire, err)
	}
}

func TestDotUnstuffLargeLineSmallBufferNoGrowth(t *testing.T) {
	// A 1 MiB line through a 16-byte bufio: the reader streams it (the
	// buffer never grows) without splitting or altering it.
	line := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	wire := append(append([]byte{}, line...), "\r\n.\r\n"...)
	br := bufio.NewReaderSize(bytes.NewReader(wire), 16)
	got, err := io.ReadAll(newDotReader(br))
	require.NoError(t, err)
	assert.Equal(t, len(line)+2, len(got))
	assert.True(t, bytes.Equal(line, got[:len(line)]))
	assert.Equal(t, 16, br.Size())
}
