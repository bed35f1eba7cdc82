package pop3wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// PipelineWindow is the largest number of commands a batch keeps in flight
// (written but not yet answered) when the server announced PIPELINING.
const PipelineWindow = 32

// RetrAll retrieves the messages nums in order, handing each body to fn.
//
// If the last Capa call listed PIPELINING, up to PipelineWindow RETR
// commands are kept in flight (written by a separate goroutine, so a full
// send buffer cannot deadlock against unread responses); otherwise one
// command is sent at a time. The body passed to fn is valid only during the
// call; fn may read it partially: the rest is drained afterwards.
//
// The batch stops at the first error: an error from fn, a "-ERR" answer
// (an *Error naming the RETR command), or an I/O or protocol error. After an
// fn error or a -ERR the responses to commands already sent are read and
// discarded (bodies drained), so the connection stays usable; if ctx is done
// or the connection failed, it is broken instead.
func (c *Client) RetrAll(ctx context.Context, nums []int, fn func(num int, body io.Reader) error) error {
	cmds, err := numCmds("RETR ", nums, "")
	if err != nil {
		return err
	}
	return c.batch(ctx, cmds, true, func(i int, st status, d *dotReader) error {
		return fn(nums[i], d)
	})
}

// TopAll is RetrAll for TOP num lines: it hands the header and first lines
// body lines of each message in nums to fn, with the same pipelining and
// error semantics.
func (c *Client) TopAll(ctx context.Context, nums []int, lines int, fn func(num int, body io.Reader) error) error {
	if lines < 0 {
		return fmt.Errorf("%w: lines %d", ErrInvalidArgument, lines)
	}
	cmds, err := numCmds("TOP ", nums, " "+strconv.Itoa(lines))
	if err != nil {
		return err
	}
	return c.batch(ctx, cmds, true, func(i int, st status, d *dotReader) error {
		return fn(nums[i], d)
	})
}

// DeleteAll marks the messages nums as deleted with DELE, pipelined like
// RetrAll. It stops at the first -ERR (returned as an *Error naming the DELE
// command); messages before it stay marked. Deletions are applied only by
// Quit.
func (c *Client) DeleteAll(ctx context.Context, nums []int) error {
	cmds, err := numCmds("DELE ", nums, "")
	if err != nil {
		return err
	}
	return c.batch(ctx, cmds, false, nil)
}

func numCmds(prefix string, nums []int, suffix string) ([]string, error) {
	cmds := make([]string, len(nums))
	for i, n := range nums {
		if n <= 0 {
			return nil, fmt.Errorf("%w: message number %d", ErrInvalidArgument, n)
		}
		cmds[i] = prefix + strconv.Itoa(n) + suffix
	}
	return cmds, nil
}

// batch sends cmds with up to PipelineWindow (or 1) in flight and reads
// their responses in order. For multi-line commands handle is called with a
// dot reader for each +OK response.
func (c *Client) batch(ctx context.Context, cmds []string, multiline bool, handle func(i int, st status, d *dotReader) error) error {
	if len(cmds) == 0 {
		return nil
	}
	if err := c.begin(ctx); err != nil {
		return err
	}
	err := c.batchLocked(cmds, multiline, handle)
	if e2 := c.end(); e2 != nil {
		return e2
	}
	return err
}

type writerResult struct {
	sent int
	err  error
}

func (c *Client) batchLocked(cmds []string, multiline bool, handle func(i int, st status, d *dotReader) error) error {
	window := 1
	if c.caps.Pipelining {
		window = PipelineWindow
	}
	tokens := make(chan struct{}, window)
	stop := make(chan struct{})
	done := make(chan writerResult, 1)

	go func() {
		res := writerResult{}
		defer func() {
			if res.err != nil {
				// Unblock the reader: it re-checks the broken state after
				// arming its own deadline.
				c.fail(res.err)
				_ = c.conn.SetReadDeadline(time.Unix(1, 0))
			}
			done <- res
		}()
		for _, cmd := range cmds {
			select {
			case tokens <- struct{}{}:
			case <-stop:
				res.err = c.bw.Flush()
				return
			default:
				// Window full: send what is buffered, then wait.
				if res.err = c.bw.Flush(); res.err != nil {
					return
				}
				select {
				case tokens <- struct{}{}:
				case <-stop:
					return
				}
			}
			if res.err = c.writeCmd(cmd); res.err != nil {
				return
			}
			res.sent++
		}
		res.err = c.bw.Flush()
	}()

	var firstErr error
	answered := 0
	for answered < len(cmds) && firstErr == nil {
		cmd := redact(cmds[answered])
		c.armTotal()
		st, err := c.readStatus(cmd)
		if err != nil {
			firstErr = err
			break
		}
		switch st.kind {
		case statusErr:
			firstErr = c.statusError(cmd, st)
		case statusCont:
			firstErr = c.fail(fmt.Errorf("%w: unexpected continuation in response to %s", ErrProtocol, cmd))
		case statusOK:
			if multiline {
				c.armIdle()
				d := newDotReader(c.br)
				if handle != nil {
					firstErr = handle(answered, st, d)
				}
				if err := c.drain(cmd, d); err != nil {
					firstErr = err
				}
			}
		}
		answered++
		<-tokens
	}
	close(stop)
	res := <-done
	if c.Err() != nil {
		if firstErr == nil || !errors.Is(firstErr, ErrBroken) {
			return c.fail(errors.Join(firstErr, res.err, c.Err()))
		}
		return firstErr
	}
	// Consume the answers to commands already sent so the connection stays
	// in sync.
	for ; answered < res.sent; answered++ {
		cmd := redact(cmds[answered])
		c.armTotal()
		st, err := c.readStatus(cmd)
		if err != nil {
			return err
		}
		if st.kind == statusCont {
			return c.fail(fmt.Errorf("%w: unexpected continuation in response to %s", ErrProtocol, cmd))
		}
		if st.kind == statusOK && multiline {
			c.armIdle()
			if err := c.drain(cmd, newDotReader(c.br)); err != nil {
				return err
			}
		}
	}
	return firstErr
}

// drain discards the rest of a body inside a batch.
func (c *Client) drain(cmd string, d *dotReader) error {
	_, err := io.Copy(io.Discard, d)
	c.tracef("S: <%s: %d body bytes>", cmd, d.n)
	if err != nil {
		return c.fail(fmt.Errorf("%s: %w", cmd, err))
	}
	return nil
}
