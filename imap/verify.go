package imap

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Body verification.
//
// Every body the driver hands out (Open, OpenAll) is checked against what
// the server itself said about the message in the same FETCH response:
// the FETCH asks RFC822.SIZE with BODY.PEEK[], and the reader returned
// counts the octets and, where io.EOF would come, returns an error
// wrapping mailaccess.ErrProtocol instead if the count is not that size
// (or, for a byte range, what that size implies). NIL, or an empty body,
// for a message whose size is not 0 is always an error, as is a body cut
// short by the connection. A caller that stores a body only after reading
// it to EOF without error therefore never stores a body the server did not
// vouch for.

// OptSizeCheck is the Config.Options key ("opt.size-check" in a URL, as
// in the pop3 driver) that controls the size check: "strict" (the
// default) makes a body whose length differs from the message's
// RFC822.SIZE an error; "off" accepts it with a warning in the log, for
// servers known to report approximate sizes. NIL or empty bodies of
// non-empty messages, and truncated bodies, are errors either way.
const OptSizeCheck = "size-check"

// Values of [OptSizeCheck].
const (
	SizeCheckStrict = "strict"
	SizeCheckOff    = "off"
)

// parseSizeCheck reads a value of OptSizeCheck: true for strict.
func parseSizeCheck(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", SizeCheckStrict:
		return true, nil
	case SizeCheckOff:
		return false, nil
	default:
		return false, fmt.Errorf("opt.%s=%q: want %s or %s: %w", OptSizeCheck, truncate(v, 20), SizeCheckStrict, SizeCheckOff, mailaccess.ErrInvalid)
	}
}

// messageError is an error about the data the server sent for one
// message (a body that is not the message, a response that cannot be tied
// to it) found with the response fully read: the connection is still in
// step and is kept.
type messageError struct{ err error }

func (e *messageError) Error() string { return e.err.Error() }
func (e *messageError) Unwrap() error { return e.err }

// msgErr formats a messageError; it should wrap mailaccess.ErrProtocol.
func msgErr(format string, args ...any) error {
	return &messageError{fmt.Errorf(format, args...)}
}

// noSize is an unknown size.
const noSize = -1

// checkedBody reads one body literal of a FETCH response and verifies it
// when it ends. The items of the response that follow the literal (a UID
// or RFC822.SIZE sent after the body) are read at that point.
type checkedBody struct {
	m      *Mailbox
	op     string
	folder string
	what   string // names the message in errors, e.g. `message 7.42`

	fm  *imapclient.FetchMessageData
	lit imap.LiteralReader

	// wantUID is the UID the body must belong to; uidSeen says the
	// response already showed it. With wantUID 0 nothing is checked.
	wantUID imap.UID
	uidSeen bool
	// rfcSize is RFC822.SIZE as the response (or, in OpenAll, the listing
	// of the same session) gave it, noSize if not yet seen.
	rfcSize int64
	// expect maps RFC822.SIZE to the body length it implies (nil: the
	// same); noCheck turns the size check off (a MIME part).
	expect  func(rfcSize int64) int64
	noCheck bool

	// idle, if set, runs while Read waits for the server.
	idle *idleTimer
	// connFail, if set, says why the connection failed under the body
	// (the context, a timeout, what the server did), given the read
	// error; unset, the read error is kept.
	connFail func(error) error

	n   int64
	err error // sticky: io.EOF or the verification error
}

func (b *checkedBody) want() int64 {
	if b.noCheck || b.rfcSize == noSize {
		return noSize
	}
	if b.expect != nil {
		return b.expect(b.rfcSize)
	}
	return b.rfcSize
}

func (b *checkedBody) strict() bool { return b.m.verifySize && !b.noCheck }

func (b *checkedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.idle != nil {
		b.idle.start()
		defer b.idle.stop()
	}
	if w := b.want(); w != noSize && b.strict() {
		// Hand out no octet beyond the announced size.
		if b.n >= w && b.lit.Size() > w {
			return 0, b.fail(b.sizeErr(w, b.lit.Size()))
		}
		if room := w - b.n; room > 0 && int64(len(p)) > room {
			p = p[:room]
		}
	}
	k, err := b.lit.Read(p)
	b.n += int64(k)
	switch {
	case err == io.EOF && b.n >= b.lit.Size():
		return k, b.finish()
	case err != nil:
		// The connection failed under the literal (an io.EOF before its
		// end is the connection's). go-imap's reader has moved on
		// already: the rest of the response must not be read (see
		// literal.go).
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if b.connFail != nil {
			err = b.connFail(err)
		}
		if b.n < b.lit.Size() {
			err = fmt.Errorf("%s: body cut off after %d of %d octets: %w", b.what, b.n, b.lit.Size(), err)
		}
		return k, b.fail(err)
	}
	return k, nil
}

func (b *checkedBody) fail(err error) error {
	b.err = b.m.opErr(b.op, b.folder, err)
	return b.err
}

// finish reads the rest of the response, once the whole literal was
// read, and checks the body.
func (b *checkedBody) finish() error {
	if err := b.readTrailer(); err != nil {
		return b.fail(err)
	}
	if b.wantUID != 0 && !b.uidSeen {
		return b.fail(msgErr("%s: the FETCH response that carried the body gave no UID, so it cannot be tied to the message: %w", b.what, mailaccess.ErrProtocol))
	}
	if !b.noCheck {
		if b.rfcSize == noSize {
			if b.strict() {
				return b.fail(msgErr("%s: the server sent no RFC822.SIZE with the body, so the body cannot be verified (set opt.%s=off to accept unverified bodies): %w",
					b.what, OptSizeCheck, mailaccess.ErrProtocol))
			}
		} else if w := b.want(); b.n != w {
			if b.n == 0 || b.strict() {
				return b.fail(b.sizeErr(w, b.n))
			}
			b.m.cfg.Log().Warn("imap: body length differs from RFC822.SIZE; accepted (opt.size-check=off)",
				"folder", b.folder, "message", b.what, "rfc822_size", b.rfcSize, "body_octets", b.n)
		}
	}
	b.err = io.EOF
	return io.EOF
}

// readTrailer reads the items after the literal.
func (b *checkedBody) readTrailer() error {
	for item := b.fm.Next(); item != nil; item = b.fm.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			if b.wantUID != 0 && it.UID != b.wantUID {
				return msgErr("%s: the FETCH response that carried its body is for UID %d: %w", b.what, it.UID, mailaccess.ErrProtocol)
			}
			b.uidSeen = true
		case imapclient.FetchItemDataRFC822Size:
			if b.rfcSize != noSize && it.Size != b.rfcSize {
				return msgErr("%s: the server reported two sizes for the message, %d and %d: %w", b.what, b.rfcSize, it.Size, mailaccess.ErrProtocol)
			}
			b.rfcSize = it.Size
		}
	}
	return nil
}

func (b *checkedBody) sizeErr(want, got int64) error {
	what := "the message"
	if b.expect != nil {
		what = "the requested range"
	}
	if got == 0 {
		return msgErr("%s: the server sent an empty body for a message of RFC822.SIZE %d (a body that is not the message; nothing may be stored from it, and the message must not be deleted on this evidence): %w",
			b.what, b.rfcSize, mailaccess.ErrProtocol)
	}
	return msgErr("%s: the server sent %d octets for %s where its RFC822.SIZE %d implies %d: the copy is not the message as the server describes it, so it is refused; if this server is known to report inexact sizes, set opt.%s=off to accept such bodies: %w",
		b.what, got, what, b.rfcSize, want, OptSizeCheck, mailaccess.ErrProtocol)
}

// nilBodyErr is the error for a NIL body of a message of size rfcSize.
func nilBodyErr(what string, rfcSize int64) error {
	size := "of unknown size (no RFC822.SIZE)"
	if rfcSize != noSize {
		size = "of RFC822.SIZE " + strconv.FormatInt(rfcSize, 10)
	}
	return msgErr("%s: the server answered NIL for the body of a message %s: that is not the message, so nothing may be stored from it: %w",
		what, size, mailaccess.ErrProtocol)
}

// rangeExpect returns the body length RFC822.SIZE implies for a byte range
// of the whole message (length 0: to the end).
func rangeExpect(offset, length int64) func(int64) int64 {
	return func(size int64) int64 {
		if offset >= size {
			return 0
		}
		rest := size - offset
		if length > 0 && length < rest {
			return length
		}
		return rest
	}
}
