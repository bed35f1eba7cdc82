package mailaccess

import (
	"errors"
	"strings"
)

// Sentinel errors. Drivers wrap them (usually in an [*OpError]) so callers
// test with [errors.Is].
var (
	// ErrNotFound: the folder or message does not exist (or no longer
	// exists: expunged, deleted by another client, IDs invalidated by a
	// UIDVALIDITY change).
	ErrNotFound = errors.New("not found")
	// ErrAuth: the server refused the credentials.
	ErrAuth = errors.New("authentication failed")
	// ErrInsecure: the configuration would send credentials over an
	// unencrypted connection and Config.TLS is not TLSInsecurePlaintext.
	ErrInsecure = errors.New("refusing to authenticate over an unencrypted connection (set tls=insecure-plaintext to allow it)")
	// ErrStartTLSUnavailable: STARTTLS (IMAP) or STLS (POP3) was required
	// but the server does not offer it. There is never a silent fallback to
	// plaintext. Its text names the remedies: implicit TLS, or plaintext
	// on a trusted network only.
	ErrStartTLSUnavailable = errors.New("server does not offer STARTTLS (use implicit TLS if the server has it: imaps:// on port 993, pop3s:// on port 995; or, on a trusted network only, tls=insecure-plaintext)")
	// ErrLocked: the mailbox is in use by another session (POP3 [IN-USE]).
	ErrLocked = errors.New("mailbox locked by another session")
	// ErrTemporary: the server reported a temporary failure; retrying later
	// may succeed (POP3 [SYS/TEMP], [LOGIN-DELAY], IMAP [UNAVAILABLE]).
	ErrTemporary = errors.New("temporary server failure")
	// ErrClosed: the Mailbox was closed.
	ErrClosed = errors.New("mailbox closed")
	// ErrProtocol: the server sent something that does not follow the
	// protocol (garbage, an endless line, a lying literal size).
	ErrProtocol = errors.New("protocol violation by server")
	// ErrInvalid: an argument was invalid (a folder name with "..", a
	// CR/LF/NUL in something that would go on the wire, an empty ID).
	ErrInvalid = errors.New("invalid argument")
	// ErrUIDValidity: the folder's UIDVALIDITY changed, so every stored ID of
	// it is void.
	ErrUIDValidity = errors.New("UIDVALIDITY changed")
	// ErrDeletesDiscarded: deletions marked with Delete on a Mailbox with
	// [CapDeferredDelete] were dropped without being applied: Close was
	// called without [Commit], or the session ended before it (POP3
	// applies deletions only at QUIT). The mail is still on the server;
	// delete it again and Commit.
	ErrDeletesDiscarded = errors.New("pending deletions were discarded, nothing was deleted")
)

// OpError is the error returned by Mailbox operations. It records the
// operation, the protocol and the folder, and wraps the cause.
//
// Its message never contains credentials: drivers put only server text and
// redacted command lines in Err.
type OpError struct {
	Op       string // the operation, e.g. "list", "open", "login"
	Protocol string // the driver: "imap", "pop3", "maildir", "mem"
	Folder   string // the folder, if the operation had one
	Err      error  // the cause
}

// Error returns "protocol: op folder: cause".
func (e *OpError) Error() string {
	var b strings.Builder
	if e.Protocol != "" {
		b.WriteString(e.Protocol)
		b.WriteString(": ")
	}
	b.WriteString(e.Op)
	if e.Folder != "" {
		b.WriteString(" ")
		b.WriteString(quoteFolder(e.Folder))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

func quoteFolder(f string) string {
	if strings.ContainsAny(f, " \t\"\r\n") {
		return `"` + strings.NewReplacer(`"`, `\"`, "\r", `\r`, "\n", `\n`).Replace(f) + `"`
	}
	return f
}

// UnsupportedError reports an operation that a Mailbox cannot do because it
// lacks a capability. It matches [errors.ErrUnsupported]:
//
//	if errors.Is(err, errors.ErrUnsupported) { ... }
type UnsupportedError struct {
	Op       string     // the operation that was refused, e.g. "search"
	Protocol string     // the driver, e.g. "pop3"
	Missing  Capability // the capability it would need
	Reason   string     // optional detail, e.g. "server does not offer UIDL"
}

// Error describes the refused operation and the missing capability.
func (e *UnsupportedError) Error() string {
	s := e.Protocol + ": " + e.Op + ": not supported (missing capability " + e.Missing.String() + ")"
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is reports whether target is [errors.ErrUnsupported].
func (e *UnsupportedError) Is(target error) bool { return target == errors.ErrUnsupported }
