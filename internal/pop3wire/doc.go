// Package pop3wire is a streaming, defensive POP3 client (RFC 1939, RFC 2449
// CAPA/PIPELINING/response codes, RFC 2595 STLS, RFC 5034 SASL AUTH).
//
// It is the wire layer of the go-mailaccess POP3 driver: it speaks the
// protocol and nothing more (no mailbox policy).
//
// # Connection state
//
// A Client is not safe for concurrent use. Every method takes a context: all
// reads and writes of that command run under a deadline derived from the
// context and from Options.Timeout (a whole-answer bound for status lines
// and listings, an idle bound for bodies), and a cancelled context makes
// blocked I/O return promptly. After a context cancellation, a timeout, an
// I/O error or a protocol violation in the middle of a command, the
// connection is marked broken: every later call returns an error wrapping
// ErrBroken without touching the wire. The package never tries to
// resynchronise. A connection the server closed or that failed wraps
// ErrConnectionLost, one the server let time out ErrTimeout; their text
// quotes the server's last status line, where servers say why they end a
// session.
//
// # Limits
//
// Status and listing lines are at most MaxLineLength octets; up to 8 blank
// lines before a status line are skipped; a LIST or UIDL listing has at most
// Options.MaxListing lines (ErrListingTooLong), a CAPA answer 1,024. Nothing
// is allocated from a count or size the server claims.
//
// A "-ERR" answer is not a broken connection: it is returned as *Error and the
// client stays usable.
//
// # Message bodies
//
// Retr and Top return an io.ReadCloser that streams the message as the
// server sends it, with dot-stuffing undone and line endings kept byte for
// byte. The terminating ".CRLF" yields io.EOF; a connection that ends before
// it yields an error wrapping io.ErrUnexpectedEOF. While a body is open no
// other command may be issued (ErrBusy). Close drains the unread rest so the
// connection stays usable; cancel the context given to Retr first to abandon
// the body instead (the connection is then broken).
//
// # Deletes
//
// Dele only marks messages; the server applies deletions when it answers
// QUIT (Quit returns that answer). Close drops the connection without QUIT,
// so pending deletions are NOT applied.
package pop3wire
