package pop3wire

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// ErrBroken is wrapped by every error returned once a connection has become
// unusable (I/O error, cancelled context, timeout, protocol violation, Close
// or Quit).
var ErrBroken = errors.New("connection unusable")

// ErrBusy is returned when a command is issued while a message body returned
// by Retr or Top is still open.
var ErrBusy = errors.New("a message body is still open")

// ErrProtocol is wrapped by errors reporting a server response that violates
// the protocol (garbage status lines, malformed listings, overlong lines).
var ErrProtocol = errors.New("protocol violation")

// ErrLineTooLong is wrapped when a status or listing line exceeds
// MaxLineLength.
var ErrLineTooLong = errors.New("line too long")

// ErrListingTooLong is wrapped (with ErrProtocol) when a LIST or UIDL
// listing has more lines than Options.MaxListing.
var ErrListingTooLong = errors.New("listing longer than the limit")

// ErrConnectionLost is wrapped by the errors of a connection that the server
// closed or that failed (reset, broken pipe). The error text quotes the
// server's last response when there was one, since servers that end a
// session often say why ("-ERR autologout"). Retrying on a new connection
// may succeed.
var ErrConnectionLost = errors.New("connection lost")

// ErrTimeout is wrapped when the server did not answer within
// Options.Timeout: a status line or listing not complete in time, or a body
// that made no progress. Retrying on a new connection may succeed.
var ErrTimeout = errors.New("server timed out")

// ErrInvalidArgument is returned when an argument contains CR, LF or NUL (or
// is otherwise unusable); nothing is written to the wire in that case.
var ErrInvalidArgument = errors.New("invalid argument")

// ErrNotSupported is returned when the server's greeting or capabilities
// make a requested command impossible (for example APOP without a
// timestamp).
var ErrNotSupported = errors.New("not supported by the server")

// maxErrText bounds server text kept in errors.
const maxErrText = 256

// Error is a "-ERR" answer of the server.
type Error struct {
	// Command is the command that failed, with secret arguments redacted
	// (PASS, APOP digest, AUTH initial response).
	Command string
	// Code is the RFC 2449 response code without brackets, e.g. "IN-USE",
	// "LOGIN-DELAY", "AUTH", "SYS/TEMP", "SYS/PERM"; empty if none.
	Code string
	// Text is the sanitised and bounded human-readable text.
	Text string
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Command != "" {
		b.WriteString(e.Command)
		b.WriteString(": ")
	}
	b.WriteString("-ERR")
	if e.Code != "" {
		b.WriteString(" [")
		b.WriteString(e.Code)
		b.WriteString("]")
	}
	if e.Text != "" {
		b.WriteString(" ")
		b.WriteString(e.Text)
	}
	return b.String()
}

func (e *Error) codeIs(level string) bool {
	return e.Code == level || strings.HasPrefix(e.Code, level+"/")
}

// IsAuthFailure reports whether the error means the credentials were
// rejected: the [AUTH] code, or a code-less -ERR to an authentication command
// (USER, PASS, APOP, AUTH) that is not recognised as a lock.
func (e *Error) IsAuthFailure() bool {
	if e.codeIs("AUTH") {
		return true
	}
	if e.Code != "" || e.IsMailboxLocked() {
		return false
	}
	verb, _, _ := strings.Cut(e.Command, " ")
	switch verb {
	case "USER", "PASS", "APOP", "AUTH":
		return true
	}
	return false
}

// IsMailboxLocked reports whether the mailbox is in use by another session:
// the [IN-USE] code, or (servers without RESP-CODES) text mentioning a lock
// or "in use".
func (e *Error) IsMailboxLocked() bool {
	if e.codeIs("IN-USE") {
		return true
	}
	if e.Code != "" {
		return false
	}
	t := strings.ToLower(e.Text)
	return strings.Contains(t, "lock") || strings.Contains(t, "in use") || strings.Contains(t, "in-use")
}

// IsTemporary reports whether retrying later may succeed: [SYS/TEMP] or
// [LOGIN-DELAY]. (A locked mailbox is reported by IsMailboxLocked.)
func (e *Error) IsTemporary() bool {
	return e.codeIs("SYS/TEMP") || e.codeIs("LOGIN-DELAY")
}

// IsAuthFailure reports whether err wraps an *Error for which
// (*Error).IsAuthFailure is true.
func IsAuthFailure(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.IsAuthFailure()
}

// IsMailboxLocked reports whether err wraps an *Error for which
// (*Error).IsMailboxLocked is true.
func IsMailboxLocked(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.IsMailboxLocked()
}

// IsTemporary reports whether err wraps an *Error for which
// (*Error).IsTemporary is true.
func IsTemporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.IsTemporary()
}

// sanitize bounds server text and replaces control characters and invalid
// UTF-8 so it is safe to log.
func sanitize(b []byte) string {
	if len(b) > maxErrText {
		b = b[:maxErrText] // a rune cut in half becomes '?'
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		switch {
		case r == utf8.RuneError && n <= 1:
			sb.WriteByte('?')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			sb.WriteByte('?')
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// redact returns the form of a command line that may appear in errors and
// traces: arguments of PASS, the digest of APOP and the initial response of
// AUTH are replaced.
func redact(cmd string) string {
	verb, rest, _ := strings.Cut(cmd, " ")
	switch strings.ToUpper(verb) {
	case "PASS":
		return verb + " <redacted>"
	case "APOP":
		user, _, _ := strings.Cut(rest, " ")
		return verb + " " + user + " <redacted>"
	case "AUTH":
		mech, _, hasIR := strings.Cut(rest, " ")
		if hasIR {
			return verb + " " + mech + " <redacted>"
		}
		return cmd
	}
	return cmd
}
