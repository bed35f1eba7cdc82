package pop3_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/secrettest"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// No formatting of a *pop3.Mailbox (alone or in a struct) shows the
// password it was opened with: the driver holds its Config where fmt and
// slog cannot reach its fields.
func TestMailboxFormattingHidesPassword(t *testing.T) {
	const pw = "Hunter2-pop3-Pw7"
	fake := mailtest.New(mailtest.ProfilePOP3)
	srv := pop3test.Start(t, fake, &pop3test.Options{User: "alice", Password: pw})
	mb, err := pop3.Dial(context.Background(), srv.Config("alice", pw))
	require.NoError(t, err)
	defer mb.Close()
	secrettest.NoSecret(t, mb, pw)
	secrettest.NoSecret(t, struct{ M *pop3.Mailbox }{mb}, pw)
}
