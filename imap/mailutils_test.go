package imap

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/mailutilstest"
	"github.com/mailaccess/go-mailaccess/internal/userharness"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
)

// mailutilsHarness runs the suite against GNU Mailutils' imap4d over
// STARTTLS (scheme imap) or implicit TLS (imaps).
func mailutilsHarness(srv *mailutilstest.Server, scheme string) conformance.Harness {
	h := userharness.New(srv, func(t testing.TB, user string) mailaccess.Mailbox {
		cfg := srv.Config(scheme, user)
		// Naming the folder makes Dial select it and read its
		// PERMANENTFLAGS: imap4d's lack \*, so keywords are not declared.
		cfg.Folder = mailaccess.Inbox
		mb, err := dialDovecot(cfg)
		require.NoError(t, err)
		return mb
	}, nil)
	h.OpenFolder = func(t testing.TB, old mailaccess.Mailbox, folder string) (mailaccess.Mailbox, error) {
		cfg := srv.Config(scheme, h.User(old))
		cfg.Folder = folder
		return dialFolder(cfg)
	}
	h.Normalize, h.UnknownID, h.Skip = mailutilstest.Wire, unknownID, mailutilsSkips
	return h.Harness
}

// mailutilsSkips are the subtests that check what imap4d 3.15 does not do
// (each measured; the suite's checks stay as they are for every other
// server).
var mailutilsSkips = map[string]string{
	"Partial":       "imap4d sends the whole encapsulated message, header included, for BODY[n.1] of a message/rfc822 part whose message is not multipart (RFC 3501 6.4.5: its body)",
	"OpenPart":      "imap4d sends the whole encapsulated message for BODY[n.1] of a message/rfc822 part (see Partial)",
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

// GNU Mailutils' imap4d keeps no keywords (PERMANENTFLAGS lists the five
// system flags, no \*) and answers BAD "Unrecognized flag" to a STORE or
// APPEND that carries one. The driver reads that from SELECT: keywords are
// not declared for a Config naming the folder, PermanentFlags reports the
// list, and SetFlags and Append refuse a keyword with an UnsupportedError
// that says what the folder keeps, before sending anything, while system
// flags go through.
func TestMailutilsKeywordsNotKept(t *testing.T) {
	srv := mailutilstest.Start(t)
	user, err := srv.AddUser("kw", [][]byte{msg("one", "x")})
	require.NoError(t, err)
	cfg := srv.Config("imaps", user)
	cfg.Folder = mailaccess.Inbox
	mb, err := dialDovecot(cfg)
	require.NoError(t, err)
	defer mb.Close()
	ctx := context.Background()
	assert.False(t, mb.Capabilities().Has(mailaccess.CapKeywords), "%v", mb.Capabilities())

	pf, err := mb.PermanentFlags(ctx, mailaccess.Inbox)
	require.NoError(t, err)
	assert.True(t, pf.Reported && !pf.NewKeywords, "%v", pf)
	for _, f := range []mailaccess.Flag{mailaccess.FlagSeen, mailaccess.FlagAnswered, mailaccess.FlagFlagged, mailaccess.FlagDeleted, mailaccess.FlagDraft} {
		assert.True(t, pf.Keeps(f), "%s not kept: %v", f, pf)
	}

	ids, _ := listIDs(t, mb, mailaccess.Inbox)
	require.Len(t, ids, 1)
	err = mb.SetFlags(ctx, mailaccess.Inbox, ids, mailaccess.AddFlags, "$Forwarded")
	requireNotKept(t, err, mailaccess.CapKeywords, "$Forwarded")
	_, err = mb.Append(ctx, mailaccess.Inbox, bytes.NewReader(msg("two", "y")), &mailaccess.AppendOptions{Flags: []mailaccess.Flag{mailaccess.FlagSeen, "$Junk"}})
	requireNotKept(t, err, mailaccess.CapKeywords, "$Junk")
	_, msgs := listIDs(t, mb, mailaccess.Inbox)
	assert.Len(t, msgs, 1, "the refused Append stored a message")

	require.NoError(t, mb.SetFlags(ctx, mailaccess.Inbox, ids, mailaccess.AddFlags, mailaccess.FlagFlagged))
	_, msgs = listIDs(t, mb, mailaccess.Inbox)
	assert.True(t, msgs[0].HasFlag(mailaccess.FlagFlagged), "%v", msgs[0].Flags())
}
