package bounces

import (
	"context"
	"testing"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The wrapper passes the same conformance suite as the drivers, in both an
// IMAP-like and a POP3-like profile: wrapping must not break the contract
// (a forgotten Commit forward would fail the deferred-delete checks).
func TestAuditConformance(t *testing.T) {
	for name, profile := range map[string]mailaccess.Capability{"imap": mailtest.ProfileIMAP, "pop3": mailtest.ProfilePOP3} {
		t.Run(name, func(t *testing.T) {
			stores := map[mailaccess.Mailbox]*mailtest.Store{}
			conformance.TestMailbox(t, conformance.Harness{
				Open: func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
					st := mailtest.NewStore()
					for _, m := range msgs {
						st.Add("INBOX", m)
					}
					mb := NewAudit(st.Open(profile))
					stores[mb] = st
					return mb
				},
				Reopen: func(t testing.TB, mb mailaccess.Mailbox) mailaccess.Mailbox {
					st := stores[mb]
					again := NewAudit(st.Open(profile))
					stores[again] = st
					return again
				},
				Deliver: func(t testing.TB, mb mailaccess.Mailbox, raw []byte) {
					stores[mb].Add("INBOX", raw)
				},
			})
		})
	}
}

func TestAuditRecordsDeletes(t *testing.T) {
	ctx := context.Background()
	st := mailtest.NewStore()
	st.Add("INBOX", bounce("a@example.org"))
	a := NewAudit(st.Open(mailtest.ProfilePOP3))
	defer a.Close()
	res, err := Process(ctx, a, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, 1, res.Reports)
	assert.Equal(t, []string{"INBOX/1"}, a.Deleted())
	assert.Empty(t, st.Messages("INBOX"), "Process committed through the wrapper")
	var got *Audit
	assert.True(t, a.As(&got))
	assert.Same(t, a, got)
}
