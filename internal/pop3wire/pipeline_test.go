package pop3wire

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRetrAllPipelined(t *testing.T) {
	nums := []int{1, 2}
	for i := 4; i <= 100; i++ {
		nums = append(nums, i)
	}
	c, s := connect(t, func(s *srv) {
		s.expect("CAPA")
		s.send("+OK", "PIPELINING", ".")
		for _, n := range nums {
			if !s.expect(fmt.Sprintf("RETR %d", n)) {
				return
			}
			s.send("+OK")
			s.sendRaw([]byte(fmt.Sprintf("Subject: %d\r\n\r\n..dot %d\r\n.\r\n", n, n)))
		}
		s.expect("NOOP")
		s.send("+OK")
	})
	ctx := testCtx(t)
	_, err := c.Capa(ctx)
	require.NoError(t, err)
	var got []int
	err = c.RetrAll(ctx, nums, func(num int, body io.Reader) error {
		b, err := io.ReadAll(body)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("Subject: %d\r\n\r\n.dot %d\r\n", num, num), string(b))
		got = append(got, num)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, nums, got)
	require.NoError(t, c.Noop(ctx))

	// Commands arrived batched: some single read carried several RETRs.
	s.mu.Lock()
	defer s.mu.Unlock()
	maxPerRead := 0
	for _, r := range s.reads {
		maxPerRead = max(maxPerRead, strings.Count(r, "RETR "))
	}
	assert.Greater(t, maxPerRead, 1, "reads: %q", s.reads)
	assert.LessOrEqual(t, maxPerRead, PipelineWindow)
}

func TestRetrAllNotPipelinedOneAtATime(t *testing.T) {
	c, s := connect(t, func(s *srv) {
		s.expect("CAPA")
		s.send("+OK", "TOP", ".")
		for i := 1; i <= 5; i++ {
			s.expect(fmt.Sprintf("RETR %d", i))
			s.send("+OK", "x", ".")
		}
	})
	ctx := testCtx(t)
	_, err := c.Capa(ctx)
	require.NoError(t, err)
	n := 0
	require.NoError(t, c.RetrAll(ctx, []int{1, 2, 3, 4, 5}, func(int, io.Reader) error { n++; return nil }))
	assert.Equal(t, 5, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.reads {
		assert.LessOrEqual(t, strings.Count(r, "RETR "), 1, "reads: %q", s.reads)
	}
}

func TestRetrAllErrorStopsAndStaysInSync(t *testing.T) {
	for _, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprint(pipelined), func(t *testing.T) {
			c, _ := connect(t, retrServerStop(pipelined))
			ctx := testCtx(t)
			_, err := c.Capa(ctx)
			require.NoError(t, err)
			var seen []int
			err = c.RetrAll(ctx, []int{1, 2, 3, 4, 5, 6}, func(num int, body io.Reader) error {
				seen = append(seen, num)
				return nil
			})
			assert.True(t, IsTemporary(err), "%v", err)
			assert.Contains(t, err.Error(), "RETR 3")
			assert.Equal(t, []int{1, 2}, seen)
			require.NoError(t, c.Noop(ctx))

			// An fn error also stops the batch and keeps the connection usable.
			stop := errors.New("stop")
			err = c.RetrAll(ctx, []int{1, 2, 3, 4, 5, 6}, func(num int, body io.Reader) error {
				if num == 2 {
					return stop
				}
				return nil
			})
			assert.ErrorIs(t, err, stop)
			require.NoError(t, c.Noop(ctx))
		})
	}
}

// retrServerStop answers RETR 1..6 (the client may stop early; when
// pipelined it may have sent more, all of which are answered) then NOOP.
func retrServerStop(pipelined bool) func(s *srv) {
	return func(s *srv) {
		caps := []string{"+OK", "TOP"}
		if pipelined {
			caps = append(caps, "PIPELINING")
		}
		s.expect("CAPA")
		s.send(append(caps, ".")...)
		for round := 0; round < 2; round++ {
			for {
				cmd, ok := s.readLine()
				if !ok {
					return
				}
				if cmd == "NOOP" {
					s.send("+OK")
					break
				}
				var n int
				if _, err := fmt.Sscanf(cmd, "RETR %d", &n); err != nil {
					s.t.Errorf("unexpected %q", cmd)
					return
				}
				if n == 3 && round == 0 {
					s.send("-ERR [SYS/TEMP] message 3 unavailable")
					continue
				}
				s.send("+OK")
				s.sendRaw([]byte(fmt.Sprintf("Subject: %d\r\n\r\n..dot %d\r\n%s\r\n.\r\n", n, n, strings.Repeat("b", 5000))))
			}
		}
	}
}

func TestDeleteAllAndTopAll(t *testing.T) {
	c, _ := connect(t, func(s *srv) {
		s.expect("CAPA")
		s.send("+OK", "PIPELINING", ".")
		for i := 1; i <= 3; i++ {
			s.expect(fmt.Sprintf("DELE %d", i))
			s.send("+OK deleted")
		}
		for i := 1; i <= 2; i++ {
			s.expect(fmt.Sprintf("TOP %d 0", i))
			s.send("+OK", fmt.Sprintf("Subject: %d", i), "", ".")
		}
		s.expect("DELE 7")
		s.send("-ERR no such message")
		s.expect("QUIT")
		s.send("+OK 3 deleted")
	})
	ctx := testCtx(t)
	_, err := c.Capa(ctx)
	require.NoError(t, err)
	require.NoError(t, c.DeleteAll(ctx, []int{1, 2, 3}))
	var heads []string
	require.NoError(t, c.TopAll(ctx, []int{1, 2}, 0, func(num int, body io.Reader) error {
		b, err := io.ReadAll(body)
		heads = append(heads, string(b))
		return err
	}))
	assert.Equal(t, []string{"Subject: 1\r\n\r\n", "Subject: 2\r\n\r\n"}, heads)
	err = c.DeleteAll(ctx, []int{7})
	var pe *Error
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, "DELE 7", pe.Command)
	assert.ErrorIs(t, c.DeleteAll(ctx, []int{0}), ErrInvalidArgument)
	require.NoError(t, c.Quit(ctx))
}
