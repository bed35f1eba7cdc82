package imap_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/internal/secrettest"
)

// No formatting of a *imap.Mailbox (alone or in a struct) shows the
// password it was opened with: the driver holds its Config where fmt and
// slog cannot reach its fields.
func TestMailboxFormattingHidesPassword(t *testing.T) {
	const pw = "Hunter2-imap-Pw7"
	srv := imaptest.Start(t, nil, imaptest.User{Name: "alice", Password: pw})
	mb, err := imap.Dial(context.Background(), srv.Config("alice", pw))
	require.NoError(t, err)
	defer mb.Close()
	secrettest.NoSecret(t, mb, pw)
	secrettest.NoSecret(t, struct{ M *imap.Mailbox }{mb}, pw)
}
