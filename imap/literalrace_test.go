package imap

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// TestOpenAllCancelledInBody (the data race of a cancelled batch fetch):
// the context ends while fn reads a body of an OpenAll batch, and the
// driver closes the connection under it. Reading the body then fails;
// whatever fn does with that error (returns it, or swallows it and returns
// nil), nothing may read that literal again while go-imap's reader
// goroutine may still use the connection's buffer (go test -race reported
// exactly that, from go-imap's discarding of what fn left); OpenAll
// returns the context's error and the Mailbox stays usable.
func TestOpenAllCancelledInBody(t *testing.T) {
	for _, swallow := range []bool{false, true} {
		name := "fn returns the error"
		if swallow {
			name = "fn swallows the error"
		}
		t.Run(name, func(t *testing.T) {
			mb, err := Dial(context.Background(), wireCfg(partialBodyServer(t, false)))
			require.NoError(t, err)
			defer mb.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := 0
			var readErr error
			err = mb.OpenAll(ctx, "INBOX", []mailaccess.ID{MakeID(42, 7)}, func(id mailaccess.ID, r io.Reader) error {
				calls++
				_, err := io.ReadFull(r, make([]byte, 100))
				require.NoError(t, err)
				cancel() // the server sends no more: the next read waits until the driver closes the connection
				_, readErr = io.Copy(io.Discard, r)
				if swallow {
					return nil
				}
				return readErr
			})
			require.ErrorIs(t, readErr, context.Canceled)
			require.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, 1, calls)

			st, err := mb.Status(context.Background(), "INBOX")
			require.NoError(t, err, "the Mailbox goes on, on a new connection")
			assert.Equal(t, 1, st.Messages)
		})
	}
}

// TestOpenAllCancelledBeforeReading: the context ends while fn holds a
// body it has not read, and fn returns without reading it. go-imap's
// reader, waiting for that literal to be consumed, is released (the first
// read of a literal that fails is safe), and OpenAll returns the
// context's error instead of hanging.
func TestOpenAllCancelledBeforeReading(t *testing.T) {
	mb, err := Dial(context.Background(), wireCfg(partialBodyServer(t, false)))
	require.NoError(t, err)
	defer mb.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = mb.OpenAll(ctx, "INBOX", []mailaccess.ID{MakeID(42, 7)}, func(mailaccess.ID, io.Reader) error {
		cancel()
		return ctx.Err()
	})
	require.ErrorIs(t, err, context.Canceled)
	st, err := mb.Status(context.Background(), "INBOX")
	require.NoError(t, err)
	assert.Equal(t, 1, st.Messages)
}

// TestOpenCancelledInBody: Open's reader, whose context ends while the
// body is read, fails with the context's error; Close then completes the
// command without reading the failed literal again.
func TestOpenCancelledInBody(t *testing.T) {
	mb, err := Dial(context.Background(), wireCfg(partialBodyServer(t, false)))
	require.NoError(t, err)
	defer mb.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc, err := mb.Open(ctx, "INBOX", MakeID(42, 7), nil)
	require.NoError(t, err)
	_, err = io.ReadFull(rc, make([]byte, 100))
	require.NoError(t, err)
	cancel()
	_, err = io.Copy(io.Discard, rc)
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, rc.Close())
	st, err := mb.Status(context.Background(), "INBOX")
	require.NoError(t, err, "the Mailbox goes on, on a new connection")
	assert.Equal(t, 1, st.Messages)
}

// partialBodyServer serves one message, UID 7 of size 1000 in UIDVALIDITY
// 42, whose body FETCH announces 1000 octets and sends 100; then it closes
// the connection (cut) or sends nothing more until the client goes.
func partialBodyServer(t *testing.T, cut bool) string {
	return scriptedServer(t, "* OK cutting server ready", func(c net.Conn, br *bufio.Reader, f []string) bool {
		w := func(format string, args ...any) { fmt.Fprintf(c, format+"\r\n", args...) }
		tag, cmd := f[0], strings.ToUpper(f[1])
		switch cmd {
		case "CAPABILITY":
			w("* CAPABILITY IMAP4rev1 UIDPLUS")
		case "EXAMINE", "SELECT":
			w("* 1 EXISTS")
			w("* OK [UIDVALIDITY 42] ok")
			w("* OK [UIDNEXT 8] ok")
		case "UID":
			switch strings.ToUpper(f[2]) {
			case "FETCH":
				line := strings.ToUpper(strings.Join(f, " "))
				if strings.Contains(line, "BODY.PEEK[") {
					if strings.Contains(line, "BODY.PEEK[1") {
						// OpenPart: the part's MIME header, then the part.
						const mime = "Content-Type: text/plain\r\n\r\n"
						w("* 1 FETCH (UID 7 BODY[1.MIME] {%d}\r\n%s BODY[1] {1000}", len(mime), mime)
					} else {
						w("* 1 FETCH (UID 7 RFC822.SIZE 1000 BODY[] {1000}")
					}
					io.WriteString(c, strings.Repeat("x", 100))
					if !cut {
						io.Copy(io.Discard, br)
					}
					return false
				}
				if strings.Contains(line, "BODYSTRUCTURE") {
					// OpenPart checks the part against the description.
					w(`* 1 FETCH (UID 7 RFC822.SIZE 1000 BODYSTRUCTURE ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 1000 1))`)
					break
				}
				w("* 1 FETCH (UID 7 RFC822.SIZE 1000)")
			case "SEARCH":
				w("* SEARCH 7")
			}
		case "STATUS":
			w(`* STATUS "INBOX" (MESSAGES 1 UIDNEXT 8 UIDVALIDITY 42 UNSEEN 0)`)
		case "LOGOUT":
			w("* BYE bye")
			w("%s OK done", tag)
			return false
		}
		w("%s OK done", tag)
		return true
	})
}

// TestOpenAllBodyCutByServer: the server closes the connection in the
// middle of a body of an OpenAll batch. The body's reader fails (the
// literal ended early); go-imap's reader goroutine then goes on reading
// the connection's buffer, so nothing may read that literal again, neither
// the driver nor go-imap's own discarding of what fn left (go test -race
// reported exactly that). Whether fn returns the error or swallows it,
// OpenAll fails with ErrTemporary naming the server.
func TestOpenAllBodyCutByServer(t *testing.T) {
	for _, swallow := range []bool{false, true} {
		name := "fn returns the error"
		if swallow {
			name = "fn swallows the error"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			mb, err := Dial(ctx, wireCfg(partialBodyServer(t, true)))
			require.NoError(t, err)
			defer mb.Close()
			var (
				got     []byte
				readErr error
			)
			err = mb.OpenAll(ctx, "INBOX", []mailaccess.ID{MakeID(42, 7)}, func(id mailaccess.ID, r io.Reader) error {
				got, readErr = io.ReadAll(r)
				if swallow {
					return nil
				}
				return readErr
			})
			require.Error(t, readErr)
			assert.Len(t, got, 100)
			require.Error(t, err)
			assert.ErrorIs(t, err, mailaccess.ErrTemporary)
			assert.Contains(t, err.Error(), "server 127.0.0.1 closed the connection")
			if !swallow {
				assert.Contains(t, err.Error(), "message 42.7: body cut off after 100 of 1000 octets", "the error names the message")
			}
		})
	}
}

// TestOpenPartBodyCutByServer: OpenPart's reader, whose part the server
// cuts off, fails with ErrTemporary; Close completes the command without
// reading the failed literal again.
func TestOpenPartBodyCutByServer(t *testing.T) {
	ctx := context.Background()
	mb, err := Dial(ctx, wireCfg(partialBodyServer(t, true)))
	require.NoError(t, err)
	defer mb.Close()
	rc, err := mb.OpenPart(ctx, "INBOX", MakeID(42, 7), []int{1}, nil)
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	require.Error(t, err)
	assert.Len(t, b, 100)
	require.NoError(t, rc.Close())
}
