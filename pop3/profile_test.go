package pop3

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// The fake's POP3 profile reports what this driver reports for the same
// mail: the capabilities, a Status without UIDVALIDITY, UIDNEXT or a
// known Unseen, and messages without numeric UID, flags or internal date.
// A program tested against mailtest.ProfilePOP3 meets the same values on
// a real POP3 server.
func TestFakePOP3ProfileReportsWhatTheDriverReports(t *testing.T) {
	ctx := context.Background()
	_, srv := fixture(t, nil, testMsgs...)
	real := dial(t, srv.Config("user", "pass"))
	fake := mailtest.New(mailtest.ProfilePOP3)
	defer fake.Close()
	for _, m := range testMsgs {
		fake.Add(mailaccess.Inbox, []byte(m))
	}
	assert.Equal(t, real.Capabilities(), fake.Capabilities())

	want, err := real.Status(ctx, mailaccess.Inbox)
	require.NoError(t, err)
	got, err := fake.Status(ctx, mailaccess.Inbox)
	require.NoError(t, err)
	assert.Equal(t, want, got, "Status")
	assert.Equal(t, mailaccess.UnknownCount, got.Unseen)
	assert.Zero(t, got.UIDValidity)
	assert.Zero(t, got.UIDNext)

	realMsgs := list(t, real, &mailaccess.ListOptions{Headers: true})
	fakeMsgs := list(t, fake, &mailaccess.ListOptions{Headers: true})
	require.Len(t, fakeMsgs, len(realMsgs))
	for i := range realMsgs {
		r, f := realMsgs[i].Info(), fakeMsgs[i].Info()
		assert.Equal(t, r.Header.Subject(), f.Header.Subject(), "message %d", i)
		r.Header, f.Header = mailaccess.Header{}, mailaccess.Header{}
		assert.Equal(t, r, f, "message %d: metadata", i)
		assert.Equal(t, realMsgs[i].Date(), fakeMsgs[i].Date(), "message %d: Date", i)
	}
}
