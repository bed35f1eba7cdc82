package imap

import (
	"io"

	"github.com/emersion/go-imap/v2"
)

// Reading literals safely.
//
// go-imap hands a FETCH literal to the consumer and parks its reader
// goroutine until a read of the literal returns an error (io.EOF at its
// end, or the connection's failure): from then on the reader goroutine
// decodes the connection's buffer again. A literal that failed before its
// end therefore must not be read again while that goroutine may run, or
// both read the same bufio.Reader at once (a data race the race detector
// reported when a sync was cancelled in the middle of a batch fetch, and
// when a server ended the session in the middle of a body). Such a second
// read is easy to provoke: go-imap itself reads the rest of a literal its
// consumer left unread when it is asked for the next item or response
// (FetchMessageData.Next, FetchCommand.Next and Close), so every step the
// driver takes after a failed body would do it.
//
// The mechanism: every literal the driver reads goes through
// conn.literal. When a read of it fails before its end, the wrapper closes
// the connection and waits until go-imap's reader goroutine has ended
// before it returns the error. That wait is short: the guard returns the
// same error on every read once one failed, so the reader goroutine,
// which reads nothing but the guard, fails at its next read (or at once,
// as go-imap refuses to decode past a literal that did not end) and
// exits. Afterwards the connection's buffer has one user again, so
// whatever the driver does next (draining the response, completing the
// command, releasing the connection) is safe and cannot block.
//
// A literal that never failed needs nothing: the first read that fails is
// always safe, as the reader goroutine waits for it; that is how go-imap's
// discarding of an unread literal ends on a closed connection.

// connLiteral is a literal of a FETCH response on c, read through
// conn.literal.
type connLiteral struct {
	c   *conn
	lit imap.LiteralReader
	n   int64
}

// literal wraps lit, a literal go-imap handed over on c (nil stays nil),
// so that a failed read leaves the connection's buffer to the caller
// alone.
func (c *conn) literal(lit imap.LiteralReader) imap.LiteralReader {
	if lit == nil {
		return nil
	}
	return &connLiteral{c: c, lit: lit}
}

// Size returns the literal's announced length.
func (l *connLiteral) Size() int64 { return l.lit.Size() }

// Read reads the literal; an error before its end is returned only once
// go-imap has stopped reading the connection.
func (l *connLiteral) Read(p []byte) (int, error) {
	k, err := l.lit.Read(p)
	l.n += int64(k)
	if err != nil && (err != io.EOF || l.n < l.lit.Size()) {
		l.c.stopReader()
	}
	return k, err
}

// stopReader closes the connection and waits until go-imap's reader
// goroutine has ended. It must be called only once a read from the
// connection has failed (so that goroutine does not wait for the caller).
func (c *conn) stopReader() {
	c.broken.Store(true)
	c.raw.Close()
	<-c.c.Closed()
}
