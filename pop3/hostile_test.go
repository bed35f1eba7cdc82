package pop3

import (
	"context"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

const allocBound = 16 << 20

func TestHostileEndlessStatusLine(t *testing.T) {
	_, srv := fixture(t, &pop3test.Options{Faults: []pop3test.Fault{{Command: "STAT", Action: pop3test.FaultEndlessLine}}}, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	var err error
	n := allocated(func() { _, err = mb.Status(context.Background(), "INBOX") })
	require.Error(t, err)
	assert.ErrorIs(t, err, mailaccess.ErrProtocol)
	assert.Less(t, n, uint64(allocBound), "bounded memory")
}

func TestHostileEndlessGreeting(t *testing.T) {
	_, srv := fixture(t, &pop3test.Options{Faults: []pop3test.Fault{{Command: pop3test.GreetingCommand, Action: pop3test.FaultEndlessLine}}})
	_, err := Dial(context.Background(), srv.Config("user", "pass"))
	require.Error(t, err)
	assert.ErrorIs(t, err, mailaccess.ErrProtocol)
}

func TestHostileGarbageAnswers(t *testing.T) {
	for _, verb := range []string{"LIST", "UIDL", "CAPA", "STLS", "AUTH"} {
		t.Run(verb, func(t *testing.T) {
			_, srv := fixture(t, &pop3test.Options{Faults: []pop3test.Fault{{Command: verb, Action: pop3test.FaultGarbage}}}, testMsgs...)
			mb, err := Dial(context.Background(), srv.Config("user", "pass"))
			if err == nil {
				defer mb.Close()
				for _, err = range mb.List(context.Background(), "INBOX", nil) {
					if err != nil {
						break
					}
				}
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, mailaccess.ErrProtocol)
		})
	}
}

func TestHostileNeverEndingBodyIsBoundedByCaller(t *testing.T) {
	_, srv := fixture(t, &pop3test.Options{Faults: []pop3test.Fault{{Command: "RETR", Action: pop3test.FaultEndlessBody}}}, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	id := list(t, mb, nil)[0].ID()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := allocated(func() {
		rc, err := mb.Open(ctx, "INBOX", id, nil)
		require.NoError(t, err)
		got, err := io.CopyN(io.Discard, rc, 64<<20)
		require.NoError(t, err, "the caller decides how much to read")
		assert.Equal(t, int64(64<<20), got)
		cancel() // abandon: Close must not try to drain an endless body
		rc.Close()
	})
	assert.Less(t, n, uint64(allocBound), "64 MiB streamed in bounded memory")
	// The Mailbox recovers with a new session, once the server has noticed
	// that the abandoned one is gone: it keeps the maildrop locked until a
	// write of the endless body fails (a login meanwhile is refused with
	// [IN-USE], ErrLocked, temporary).
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	require.NoError(t, srv.WaitIdle(wctx))
	assert.Len(t, list(t, mb, nil), 3)
}

func TestHostileAbruptCloseMidRetrIsAnError(t *testing.T) {
	big := "Subject: big\r\n\r\n" + strings.Repeat("line of text\r\n", 10000)
	_, srv := fixture(t, &pop3test.Options{Faults: []pop3test.Fault{{Command: "RETR", Action: pop3test.FaultDrop, After: 5000}}}, big, testMsgs[0])
	mb := dial(t, srv.Config("user", "pass"))
	msgs := list(t, mb, nil)
	rc, err := mb.Open(context.Background(), "INBOX", msgs[0].ID(), nil)
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	require.Error(t, err, "a truncated message is never a silent EOF")
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, big[:5000], string(b))
	rc.Close()

	// Through OpenAll as well.
	err = mb.OpenAll(context.Background(), "INBOX", []mailaccess.ID{msgs[0].ID()}, func(_ mailaccess.ID, r io.Reader) error {
		_, err := io.ReadAll(r)
		return err
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestHostileLyingSizes(t *testing.T) {
	t.Run("huge", func(t *testing.T) {
		_, srv := fixture(t, &pop3test.Options{SizeDelta: 1 << 40}, testMsgs...)
		mb := dial(t, srv.Config("user", "pass"))
		n := allocated(func() {
			msgs := list(t, mb, nil)
			assert.Equal(t, int64(len(testMsgs[0]))+1<<40, msgs[0].Size(), "the claimed size is passed on")
			rc, err := mb.Open(context.Background(), "INBOX", msgs[0].ID(), nil)
			require.NoError(t, err)
			b, err := io.ReadAll(rc)
			rc.Close()
			assert.ErrorIs(t, err, ErrSizeMismatch, "the bytes sent are not the size claimed")
			assert.Equal(t, testMsgs[0], string(b), "and are streamed as sent")
		})
		assert.Less(t, n, uint64(allocBound), "nothing is allocated from a claimed size")
	})
	t.Run("negative", func(t *testing.T) {
		_, srv := fixture(t, &pop3test.Options{SizeDelta: -1 << 20}, testMsgs...)
		mb := dial(t, srv.Config("user", "pass"))
		var err error
		for _, err = range mb.List(context.Background(), "INBOX", nil) {
			if err != nil {
				break
			}
		}
		assert.ErrorIs(t, err, mailaccess.ErrProtocol)
	})
}

func TestHostileSlowServerTimesOut(t *testing.T) {
	_, srv := fixture(t, &pop3test.Options{Latency: 5 * time.Second})
	cfg := srv.Config("user", "pass")
	cfg.DialTimeout = mailaccess.Duration(100 * time.Millisecond)
	_, err := Dial(context.Background(), cfg)
	require.Error(t, err, "a server that does not answer in time is an error, not a hang")
}
