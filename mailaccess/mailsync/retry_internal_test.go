package mailsync

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// The waits between retries double from Backoff up to MaxBackoff, each
// drawn between half and all of its bound; progress resets them; the
// attempts without progress are bounded; only temporary failures and
// UIDVALIDITY changes are retried, the latter at once.
func TestRetrier(t *testing.T) {
	temp := fmt.Errorf("dropped: %w", mailaccess.ErrTemporary)
	rt := retrier{o: Retry{Attempts: 4, Backoff: time.Second, MaxBackoff: 3 * time.Second}.withDefaults()}
	for i, bound := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second} {
		d, ok := rt.next(temp, false)
		assert.True(t, ok, "attempt %d", i+1)
		assert.GreaterOrEqual(t, d, bound/2)
		assert.LessOrEqual(t, d, bound)
	}
	_, ok := rt.next(temp, false)
	assert.False(t, ok, "a fifth failure without progress gives up")

	rt = retrier{o: Retry{}.withDefaults()}
	for range 3 {
		rt.next(temp, false)
	}
	d, ok := rt.next(temp, true)
	assert.True(t, ok)
	assert.LessOrEqual(t, d, DefaultRetryBackoff, "progress resets the wait")
	assert.Equal(t, 1, rt.failures)

	d, ok = rt.next(fmt.Errorf("x: %w", mailaccess.ErrUIDValidity), false)
	assert.True(t, ok)
	assert.Zero(t, d, "a UIDVALIDITY change is looked at again at once")
	_, ok = rt.next(fmt.Errorf("x: %w", mailaccess.ErrLocked), false)
	assert.True(t, ok, "a maildrop still locked by the dropped session")
	_, ok = rt.next(errors.New("disk full"), false)
	assert.False(t, ok)
	_, ok = (&retrier{o: Retry{Attempts: -1}.withDefaults()}).next(temp, true)
	assert.False(t, ok, "retries off")
}

// A body of exactly the limit passes whole; one byte more is an error
// matching ErrTooLarge after the limit's bytes; no limit never overflows.
func TestSizeLimit(t *testing.T) {
	for _, tc := range []struct {
		size, max int64
		fail      bool
	}{{10, 10, false}, {11, 10, true}, {0, 0, false}, {1, 0, true}, {4096, math.MaxInt64, false}} {
		b, err := io.ReadAll(&sizeLimit{r: iotest.OneByteReader(bytes.NewReader(make([]byte, tc.size))), max: tc.max})
		if tc.fail {
			assert.ErrorIs(t, err, ErrTooLarge, "%+v", tc)
			assert.EqualValues(t, tc.max, len(b))
		} else {
			assert.NoError(t, err, "%+v", tc)
			assert.EqualValues(t, tc.size, len(b))
		}
	}
}
