package imap

import (
	"bytes"
	"context"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Regressions found by the chaos property test (internal/chaostest),
// each minimised to a named quirk.

// TestTruncatedHeaderRefused: a header literal cut short (it ends before
// the blank line that closes a header, and is shorter than the message's
// RFC822.SIZE) is an error, in List and Fetch with headers and in
// FetchHeader, never a header that lost its last fields (chaos seeds
// 402587, 772613, 433991: List with headers returned a header without its
// Message-ID). A whole header, and a message with no body (no blank line)
// pass.
func TestTruncatedHeaderRefused(t *testing.T) {
	ctx := context.Background()
	cut := func(uid imap.UID, h []byte) []byte {
		switch uid {
		case 2:
			return h[:bytes.Index(h, []byte("\r\n"))+2] // the first field only
		case 3:
			return h[:bytes.Index(h, []byte("\r\n"))+6] // and a broken line: it does not parse
		}
		return h
	}
	_, mb, _ := quirkServer(t, &imaptest.Quirks{Header: cut}, 3, nil)
	var err error
	for _, err = range mb.List(ctx, mailaccess.Inbox, &mailaccess.ListOptions{Headers: true}) {
		if err != nil {
			break
		}
	}
	require.ErrorIs(t, err, mailaccess.ErrProtocol, "List with headers")
	assert.Contains(t, err.Error(), "UID 2")
	assert.Contains(t, err.Error(), "cut short")

	ids, _ := listIDs(t, mb, mailaccess.Inbox)
	require.Len(t, ids, 3)
	for _, err = range mb.Fetch(ctx, mailaccess.Inbox, ids, &mailaccess.FetchOptions{Headers: true}) {
		if err != nil {
			break
		}
	}
	require.ErrorIs(t, err, mailaccess.ErrProtocol, "Fetch with headers")
	for _, id := range ids[1:] {
		_, err = mb.FetchHeader(ctx, mailaccess.Inbox, id)
		require.ErrorIs(t, err, mailaccess.ErrProtocol, "FetchHeader %s", id)
		assert.Contains(t, err.Error(), "cut short")
	}
	h, err := mb.FetchHeader(ctx, mailaccess.Inbox, ids[0])
	require.NoError(t, err, "a whole header")
	assert.NotEmpty(t, h.Subject())

	// A message without a body has no blank line: its header is the
	// whole message, and whole.
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p",
		Messages: [][]byte{[]byte("Subject: no body\r\nMessage-ID: <bare@example.org>\r\n")}})
	bare, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer bare.Close()
	_, msgs := listHeaders(t, bare, mailaccess.Inbox)
	require.Len(t, msgs, 1)
	assert.Equal(t, "bare@example.org", msgs[0].Header().MessageID())
}

// TestStatusEpochReselects: after Status reports a UIDVALIDITY other
// than the one a pooled connection selected the folder under (the folder
// was deleted and re-created by another client), List on that
// connection selects the folder again: its IDs carry the epoch Status
// reported, never the stale one. The sync engine records Status's
// UIDVALIDITY with the IDs List gives, and a stale epoch there made the
// next run store every message again (chaos seeds 248529, 157890).
func TestStatusEpochReselects(t *testing.T) {
	ctx := context.Background()
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p"})
	for _, m := range [][]byte{msg("one", "1"), msg("two", "2")} {
		_, err := srv.Append("u", "Junk", m, nil)
		require.NoError(t, err)
	}
	cfg := srv.Config("u", "p")
	cfg.MaxConns = 1
	mb, err := Dial(ctx, cfg)
	require.NoError(t, err)
	defer mb.Close()
	before, _ := listIDs(t, mb, "Junk")
	require.Len(t, before, 2)
	old, _, err := ParseID(before[0])
	require.NoError(t, err)

	other, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer other.Close()
	require.NoError(t, other.DeleteFolder(ctx, "Junk"))
	require.NoError(t, other.CreateFolder(ctx, "Junk"))
	for _, m := range [][]byte{msg("one", "1"), msg("two", "2")} {
		_, err := other.Append(ctx, "Junk", bytes.NewReader(m), nil)
		require.NoError(t, err)
	}

	st, err := mb.Status(ctx, "Junk")
	require.NoError(t, err)
	require.NotEqual(t, old, st.UIDValidity, "the re-created folder has a new UIDVALIDITY")
	for m, err := range mb.List(ctx, "Junk", nil) {
		if err != nil {
			require.ErrorIs(t, err, mailaccess.ErrUIDValidity)
			break
		}
		epoch, _, err := ParseID(m.ID())
		require.NoError(t, err)
		assert.Equal(t, st.UIDValidity, epoch, "List after Status: ID %s of the epoch Status reported", m.ID())
	}
}
