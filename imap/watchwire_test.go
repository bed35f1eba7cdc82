package imap

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// watchEndServer is a scripted server with IDLE whose folder holds one
// message (UID 1); end says how every session of a watch ends:
//
//   - "examine": the connection is closed instead of answering EXAMINE;
//   - "idle": IDLE is answered with a BYE and the connection closed;
//   - "fetch": IDLE reports a new message, and the UID FETCH that asks for
//     it is answered with a BYE and the connection closed.
//
// The pooled connection Dial opens is never asked to EXAMINE.
func watchEndServer(t *testing.T, end string) string {
	return scriptedServer(t, "* OK ready", func(c net.Conn, br *bufio.Reader, f []string) bool {
		w := func(format string, args ...any) { fmt.Fprintf(c, format+"\r\n", args...) }
		tag := f[0]
		switch strings.ToUpper(f[1]) {
		case "CAPABILITY":
			w("* CAPABILITY IMAP4rev1 IDLE UIDPLUS")
		case "EXAMINE", "SELECT":
			if end == "examine" {
				return false
			}
			w("* 1 EXISTS")
			w("* OK [UIDVALIDITY 42] ok")
			w("* OK [UIDNEXT 2] ok")
		case "IDLE":
			w("+ idling")
			if end == "idle" {
				w("* BYE Autologout; idle for too long")
				return false
			}
			w("* 2 EXISTS")
			if line, err := br.ReadString('\n'); err != nil || strings.TrimSpace(line) != "DONE" {
				return false
			}
		case "UID":
			if strings.EqualFold(f[2], "FETCH") {
				w("* BYE Server shutting down")
				return false
			}
		case "LOGOUT":
			w("* BYE bye")
			w("%s OK done", tag)
			return false
		}
		w("%s OK done", tag)
		return true
	})
}

// lostHandler is a slog.Handler that hands the error of the first "watch
// connection lost" record to errs, then calls then (if set).
type lostHandler struct {
	errs chan error
	then func()
}

func (h lostHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h lostHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h lostHandler) WithGroup(string) slog.Handler            { return h }
func (h lostHandler) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "watch connection lost") {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == "err" {
			select {
			case h.errs <- err:
				if h.then != nil {
					h.then()
				}
			default:
			}
		}
		return true
	})
	return nil
}

// TestWatchConnectionEndsQuoteServer (item 3: connErr on the watch's
// paths): however a watch's connection ends (closed at EXAMINE, a BYE
// during IDLE, a BYE answering the fetch of new messages), the error the
// watch reconnects on (logged), or gives up with (MaxRetries), matches
// ErrTemporary and says what the server did, quoting its BYE, like the
// error of every other call.
func TestWatchConnectionEndsQuoteServer(t *testing.T) {
	for _, tc := range []struct{ end, want string }{
		{"examine", "server 127.0.0.1 closed the connection"},
		{"idle", `server 127.0.0.1 ended the session: "* BYE Autologout; idle for too long"`},
		{"fetch", `server 127.0.0.1 ended the session: "* BYE Server shutting down"`},
	} {
		t.Run(tc.end, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := wireCfg(watchEndServer(t, tc.end))
			lost := lostHandler{errs: make(chan error, 1)}
			if tc.end != "examine" {
				lost.then = cancel // the watch would go on reconnecting
			}
			cfg.Logger = slog.New(lost)
			mb, err := Dial(ctx, cfg)
			require.NoError(t, err)
			defer mb.Close()
			// A connection that fails before the watch is established
			// counts against MaxRetries; one that fails later does not
			// (the watch had recovered): the watch is ended once the
			// error it reconnects on is logged.
			var last error
			for _, err := range mb.Watch(ctx, "INBOX", &mailaccess.WatchOptions{MaxRetries: 1, MaxBackoff: time.Millisecond}) {
				if err != nil {
					last = err
					break
				}
			}
			if tc.end != "examine" {
				require.ErrorIs(t, last, context.Canceled)
				last = <-lost.errs // the one the watch reconnected on
			}
			require.Error(t, last)
			assert.ErrorIs(t, last, mailaccess.ErrTemporary)
			assert.Contains(t, last.Error(), tc.want)
		})
	}
}

// TestWatchSplitsSequenceFetch: flag changes pushed without UIDs (by
// sequence number, as RFC 3501 allows) are resolved with FETCH seqs (UID);
// when the changed messages are many and scattered, the sequence set is
// split so that no command line exceeds 1000 octets, and the one
// EventFlags names every changed message. The watcher's round is driven
// directly, with the changes already received, so that the whole set is
// resolved in one round whatever the timing of go-imap's handlers.
func TestWatchSplitsSequenceFetch(t *testing.T) {
	const n = 4000
	var (
		mu      sync.Mutex
		fetches []string // the FETCH command lines, CRLF excluded
	)
	uidOf := func(seq int) int { return seq*3 + 100 } // any increasing UIDs
	addr := scriptedServer(t, "* OK ready", func(c net.Conn, br *bufio.Reader, f []string) bool {
		w := func(format string, args ...any) { fmt.Fprintf(c, format+"\r\n", args...) }
		tag := f[0]
		switch strings.ToUpper(f[1]) {
		case "CAPABILITY":
			w("* CAPABILITY IMAP4rev1 IDLE UIDPLUS")
		case "EXAMINE", "SELECT":
			w("* %d EXISTS", n)
			w("* OK [UIDVALIDITY 42] ok")
			w("* OK [UIDNEXT %d] ok", uidOf(n)+1)
		case "FETCH":
			mu.Lock()
			fetches = append(fetches, strings.Join(f, " "))
			mu.Unlock()
			var b strings.Builder
			for _, seq := range expandSet(f[2], n) {
				fmt.Fprintf(&b, "* %d FETCH (UID %d)\r\n", seq, uidOf(seq))
			}
			io.WriteString(c, b.String())
		case "LOGOUT":
			w("* BYE bye")
			w("%s OK done", tag)
			return false
		}
		w("%s OK done", tag)
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mb, err := Dial(ctx, wireCfg(addr))
	require.NoError(t, err)
	defer mb.Close()

	var events []mailaccess.Event
	w := &watcher{m: mb, folder: "INBOX", o: driver.WatchDefaults(nil), notify: make(chan struct{}, 1),
		yield: func(ev mailaccess.Event, err error) bool {
			require.NoError(t, err)
			events = append(events, ev)
			return true
		}}
	c, err := w.connect(ctx)
	require.NoError(t, err)
	defer w.release(c)
	require.NoError(t, w.catchUp(c))
	// Every other message changed, reported without UIDs.
	var want []mailaccess.ID
	w.mu.Lock()
	for seq := 1; seq <= n; seq += 2 {
		w.flagSeqs = append(w.flagSeqs, uint32(seq))
		want = append(want, MakeID(42, uint32(uidOf(seq))))
	}
	w.mu.Unlock()
	require.NoError(t, w.process(c))

	require.Len(t, events, 1)
	assert.Equal(t, mailaccess.EventFlags, events[0].Kind)
	assert.Equal(t, want, events[0].IDs, "every changed message, each once, in UID order")
	mu.Lock()
	defer mu.Unlock()
	require.Greater(t, len(fetches), 1, "the set of 2000 scattered numbers takes several commands")
	for _, line := range fetches {
		assert.LessOrEqual(t, len(line)+len("\r\n"), maxCommandLine, "a FETCH line over 1000 octets")
		assert.True(t, strings.HasSuffix(line, " (UID)"), line)
	}
}
