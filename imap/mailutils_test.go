package imap

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/mailutilstest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
)

// mailutilsHarness runs the suite against GNU Mailutils' imap4d over
// STARTTLS (scheme imap) or implicit TLS (imaps).
func mailutilsHarness(srv *mailutilstest.Server, scheme string) conformance.Harness {
	var mu sync.Mutex
	users := map[mailaccess.Mailbox]string{}
	dialUser := func(t testing.TB, user string) mailaccess.Mailbox {
		mb, err := dialDovecot(srv.Config(scheme, user))
		require.NoError(t, err)
		mu.Lock()
		users[mb] = user
		mu.Unlock()
		return mb
	}
	userOf := func(mb mailaccess.Mailbox) string {
		mu.Lock()
		defer mu.Unlock()
		return users[mb]
	}
	return conformance.Harness{
		Open: func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
			user, err := srv.AddUser("conf", msgs)
			require.NoError(t, err)
			return dialUser(t, user)
		},
		Reopen: func(t testing.TB, old mailaccess.Mailbox) mailaccess.Mailbox {
			return dialUser(t, userOf(old))
		},
		Deliver: func(t testing.TB, mb mailaccess.Mailbox, raw []byte) {
			require.NoError(t, srv.AddMessages(userOf(mb), [][]byte{raw}))
		},
		Normalize: mailutilstest.Wire,
		UnknownID: unknownID,
		Skip:      mailutilsSkips,
	}
}

// mailutilsSkips are the subtests that check what imap4d 3.15 does not do
// (each measured; the suite's checks stay as they are for every other
// server).
var mailutilsSkips = map[string]string{
	"Partial":       "imap4d sends the whole encapsulated message, header included, for BODY[n.1] of a message/rfc822 part whose message is not multipart (RFC 3501 6.4.5: its body)",
	"OpenPart":      "imap4d sends the whole encapsulated message for BODY[n.1] of a message/rfc822 part (see Partial)",
	"Flags":         "imap4d keeps no keywords (PERMANENTFLAGS without \\*; UID STORE of a keyword is answered BAD \"Unrecognized flag\"), and the driver declares keywords for every IMAP server",
	"Append":        "imap4d ignores the flags and the date given with APPEND (INTERNALDATE is the Date header's)",
	"Search":        "imap4d's SEARCH compares LARGER and SMALLER with the size of the message stored with LF line ends, not RFC822.SIZE",
	"SearchDecoded": "imap4d's SEARCH decodes neither encoded words nor bodies, and does not parse addresses",
	"SearchDates":   "imap4d's SEARCH SINCE and BEFORE answer otherwise than Dovecot's for the suite's message whose Date header's zone moves its day",
	"FetchMatching": "FetchMatching runs imap4d's SEARCH for size criteria (see Search)",
	"Sort":          "imap4d's INTERNALDATE is the Date header, so arrival order is date order",
	"Watch":         "imap4d does not see mail delivered to a Maildir during a session (neither IDLE nor NOOP report it); new mail shows in the next session",
}

// TestConformanceMailutils runs the conformance suite against GNU
// Mailutils' imap4d (a real server, unpacked: see package
// internal/mailutilstest).
func TestConformanceMailutils(t *testing.T) {
	srv := mailutilstest.Start(t)
	for _, scheme := range []string{"imap", "imaps"} {
		t.Run(scheme, func(t *testing.T) { conformance.TestMailbox(t, mailutilsHarness(srv, scheme)) })
	}
}
