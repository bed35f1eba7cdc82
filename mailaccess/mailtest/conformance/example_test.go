package conformance_test

import (
	"testing"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
)

func openMyStore(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
	mb := mailtest.New(mailtest.ProfileMaildir)
	for _, raw := range msgs {
		mb.Add("INBOX", raw)
	}
	return mb
}

// Run the conformance suite from a test of your own Mailbox
// implementation. Reopen enables the checks that IDs survive a new session
// and that Close discards deferred deletes; Normalize says what your store
// returns for a seeded message.
func ExampleTestMailbox() {
	// In a _test.go file of your package, as a test function:
	testConformance := func(t *testing.T) {
		conformance.TestMailbox(t, conformance.Harness{
			Open: openMyStore,
			Reopen: func(t testing.TB, mb mailaccess.Mailbox) mailaccess.Mailbox {
				var s *mailtest.Store
				mb.As(&s)
				return s.Open(mailtest.ProfileMaildir)
			},
			Normalize: mailtest.NormalizeCRLF, // for servers that store CRLF
			Skip:      map[string]string{"Watch": "polling is slow on this store"},
		})
	}
	_ = testConformance
}
