package mailsync_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// cancelOnNote is a slog.Handler that calls cancel when the engine logs
// that it will retry a pass.
type cancelOnNote struct{ cancel context.CancelFunc }

func (h cancelOnNote) Enabled(context.Context, slog.Level) bool { return true }
func (h cancelOnNote) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h cancelOnNote) WithGroup(string) slog.Handler            { return h }
func (h cancelOnNote) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "reconnecting and resuming") {
		h.cancel()
	}
	return nil
}

// errBackendGone is a temporary failure of the source.
var errBackendGone = fmt.Errorf("backend gone: %w", mailaccess.ErrTemporary)

// TestSyncCancelledWhileWaitingToRetryKeepsTheCause: a pass fails with a
// temporary error and the context ends while the run waits to retry it
// (as a fleet worker's does when the save its lease refused cancels it):
// the run's error still carries the pass's error, not only the
// context's.
func TestSyncCancelledWhileWaitingToRetryKeepsTheCause(t *testing.T) {
	fake := mailtest.New(mailtest.ProfileIMAP)
	seed(t, fake, 2, 62)
	fake.FailNth(mailtest.OpStatus, 1, errBackendGone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := mailsync.New(fake, mailtest.New(mailtest.ProfileIMAP), &mailsync.Options{State: &memState{},
		Retry:  mailsync.Retry{Backoff: time.Hour},
		Logger: slog.New(cancelOnNote{cancel})})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, errBackendGone, "the cause of the failed pass")
	assert.NotEmpty(t, rep.Total().Errors, "the report shows the folder failed")
}
