package pop3

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/mailutilstest"
	"github.com/mailaccess/go-mailaccess/internal/userharness"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
)

// mailutilsHarness runs the suite against GNU Mailutils' pop3d over STLS
// (scheme pop3) or POP3S. Messages are seeded as pop3d leaves them after
// a first session (mailutilstest.WithXUIDL), so that what it sends for
// them is known; fresh messages, which gain the field in the first session
// that lists them, are what TestSyncMailutils and
// TestServerAddedXUIDLFieldPassesTheSizeCheck cover.
func mailutilsHarness(srv *mailutilstest.Server, scheme string) conformance.Harness {
	h := userharness.New(srv, func(t testing.TB, user string) mailaccess.Mailbox {
		mb, err := Dial(context.Background(), srv.Config(scheme, user))
		require.NoError(t, err)
		return mb
	}, mailutilstest.WithXUIDL)
	h.Normalize = func(raw []byte) []byte { return mailutilstest.Wire(mailutilstest.WithXUIDL(raw)) }
	return h.Harness
}

// TestConformanceMailutils runs the conformance suite against GNU
// Mailutils' pop3d (a real server, unpacked: see package
// internal/mailutilstest).
func TestConformanceMailutils(t *testing.T) {
	srv := mailutilstest.Start(t)
	for _, scheme := range []string{"pop3", "pop3s"} {
		t.Run(scheme, func(t *testing.T) { conformance.TestMailbox(t, mailutilsHarness(srv, scheme)) })
	}
}
