package driver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// script is a Poller that returns its snapshots (or errors) in turn, then
// blocks until the watch's context ends.
func script(steps ...any) driver.Poller {
	i := 0
	return driver.Poller{
		Errors: driver.Errors{Protocol: "test"},
		Poll: func(ctx context.Context) (driver.Snapshot, error) {
			if i >= len(steps) {
				<-ctx.Done()
				return driver.Snapshot{}, ctx.Err()
			}
			step := steps[i]
			i++
			if err, ok := step.(error); ok {
				return driver.Snapshot{}, err
			}
			return step.(driver.Snapshot), nil
		},
	}
}

func collect(t *testing.T, p driver.Poller, opts *mailaccess.WatchOptions, n int) ([]mailaccess.Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var evs []mailaccess.Event
	for ev, err := range driver.PollWatch(ctx, "INBOX", opts, p) {
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
		if len(evs) == n {
			cancel()
		}
	}
	return evs, nil
}

var fast = &mailaccess.WatchOptions{PollInterval: time.Millisecond, MaxBackoff: time.Millisecond}

func TestPollWatchReportsDifferences(t *testing.T) {
	evs, err := collect(t, script(
		driver.Snapshot{IDs: []mailaccess.ID{"1", "2"}, Versions: []string{"a", "a"}, Epoch: 7},
		driver.Snapshot{IDs: []mailaccess.ID{"2", "3", "4"}, Versions: []string{"b", "a", "a"}, Epoch: 7},
		driver.Snapshot{IDs: []mailaccess.ID{"9"}, Epoch: 8},
	), fast, 5)
	require.ErrorIs(t, err, context.Canceled, "the watch ends with ctx.Err()")
	require.Len(t, evs, 5)
	want := []mailaccess.Event{
		{Kind: mailaccess.EventExpunge, Folder: "INBOX", IDs: []mailaccess.ID{"1"}, Count: 3},
		{Kind: mailaccess.EventNew, Folder: "INBOX", IDs: []mailaccess.ID{"3", "4"}, Count: 3},
		{Kind: mailaccess.EventFlags, Folder: "INBOX", IDs: []mailaccess.ID{"2"}, Count: 3},
		{Kind: mailaccess.EventExpunge, Folder: "INBOX", IDs: []mailaccess.ID{"2", "3", "4"}, Count: 1},
		{Kind: mailaccess.EventNew, Folder: "INBOX", IDs: []mailaccess.ID{"9"}, Count: 1},
	}
	assert.Equal(t, want, evs, "a new epoch voids every ID")
}

func TestPollWatchCountOnlyAndSkips(t *testing.T) {
	evs, err := collect(t, script(
		driver.Snapshot{CountOnly: true, Count: 2},
		driver.ErrSkipPoll,
		driver.Snapshot{CountOnly: true, Count: 3},
		driver.Snapshot{CountOnly: true, Count: 1},
	), fast, 2)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, []mailaccess.Event{
		{Kind: mailaccess.EventNew, Folder: "INBOX", Count: 3},
		{Kind: mailaccess.EventExpunge, Folder: "INBOX", Count: 1},
	}, evs, "a skipped poll reports nothing and is no failure")
}

func TestPollWatchRetriesThenReconnects(t *testing.T) {
	flaky := errors.New("connection reset")
	evs, err := collect(t, script(
		driver.Snapshot{IDs: []mailaccess.ID{"1"}},
		flaky, flaky,
		driver.Snapshot{IDs: []mailaccess.ID{"1", "2"}},
	), fast, 2)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, []mailaccess.Event{
		{Kind: mailaccess.EventReconnect, Folder: "INBOX", Count: 2},
		{Kind: mailaccess.EventNew, Folder: "INBOX", IDs: []mailaccess.ID{"2"}, Count: 2},
	}, evs, "the catch-up follows EventReconnect")

	// MaxRetries failures in a row end the watch with the last error.
	o := *fast
	o.MaxRetries = 2
	_, err = collect(t, script(driver.Snapshot{}, flaky, flaky, flaky), &o, 0)
	require.ErrorIs(t, err, flaky)
	var oe *mailaccess.OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "watch", oe.Op)

	// A permanent error ends it at once.
	_, err = collect(t, script(driver.Snapshot{}, mailaccess.ErrNotFound), fast, 0)
	require.ErrorIs(t, err, mailaccess.ErrNotFound)
}

func TestPollWatchCountsUnstableMessages(t *testing.T) {
	// Two messages share a UIDL (no stable ID): a third one joining them,
	// with the stable IDs unchanged, is new mail; one of them leaving is
	// an expunge. Neither carries IDs.
	evs, err := collect(t, script(
		driver.Snapshot{IDs: []mailaccess.ID{"a"}, Unstable: 2},
		driver.Snapshot{IDs: []mailaccess.ID{"a"}, Unstable: 3},
		driver.Snapshot{IDs: []mailaccess.ID{"a"}, Unstable: 1},
	), fast, 2)
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, evs, 2)
	assert.Equal(t, mailaccess.EventNew, evs[0].Kind)
	assert.Empty(t, evs[0].IDs)
	assert.Equal(t, 4, evs[0].Count)
	assert.Equal(t, mailaccess.EventExpunge, evs[1].Kind)
	assert.Equal(t, 2, evs[1].Count)
}
