// Package corpus generates deterministic test mail for the mailaccess
// packages: a fixed set of edge-case messages that naive POP3 and IMAP
// clients tend to break on, a stream of realistic messages with a fixed
// size mix, and single very large messages produced in constant memory.
//
// Everything here is deterministic: the same inputs always yield the same
// bytes, so tests and benchmarks can compare what a server returns with
// what was stored. Messages use CRLF line endings unless stated otherwise.
//
// Byte-exact comparisons against a server (for example Dovecot, through
// internal/dovecottest) must compare against Normalize(raw), not raw,
// because servers deliver stored messages with CRLF line endings.
package corpus

import "bytes"

// Message is one RFC 5322 message.
type Message struct {
	// Name is a short stable identifier such as "edge-dot-lines" or
	// "gen-000123".
	Name string
	// Raw holds the message bytes exactly as they should be stored.
	Raw []byte
	// Subject is the expected Subject after RFC 2047 decoding and header
	// unfolding; it is empty when the message has no Subject header.
	Subject string
}

// Normalize returns the bytes a server such as Dovecot sends for a
// message stored as raw: every bare LF is turned into CRLF, while existing
// CRLF pairs (and any other bytes, including lone CRs) are left untouched.
// Tests that compare a message fetched from a server byte for byte must
// compare it with Normalize(raw). The result is a new slice; raw is not
// modified.
//
// Measured against Dovecot 2.3.19 (maildir): POP3 RETR (after undoing
// dot-stuffing) and IMAP BODY[] both return Normalize(raw) exactly, and
// POP3 LIST sizes and IMAP RFC822.SIZE are len(Normalize(raw)). Lone CRs,
// raw 8-bit header bytes and lines far over 998 bytes pass through
// unchanged. One difference Normalize does not model: for a message whose
// last line has no line ending, POP3 RETR adds a final CRLF (the
// terminating "." must start a line) while IMAP returns the bytes as
// stored. Every message in this package ends with a line ending.
func Normalize(raw []byte) []byte {
	out := make([]byte, 0, len(raw)+bytes.Count(raw, []byte{'\n'}))
	for i, c := range raw {
		if c == '\n' && (i == 0 || raw[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}
