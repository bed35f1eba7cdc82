package pop3

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// A server that adds its own X-UIDL field to a message's header when it
// first lists it, without counting the field in that session's LIST size
// (GNU Mailutils' pop3d, measured with 3.15; qpopper behaves alike): the
// body is the message as the server now stores it and passes the strict
// check, in every form a server sends it (CRLF or LF-counted sizes).
func TestServerAddedXUIDLFieldPassesTheSizeCheck(t *testing.T) {
	for _, lf := range []bool{false, true} {
		fake, srv := fixture(t, &pop3test.Options{XUIDL: true, LFSizes: lf}, testMsgs...)
		ids := fake.Messages(mailaccess.Inbox)
		mb := dial(t, srv.Config("user", "pass"))
		for i, m := range list(t, mb, nil) {
			uidl := string(ids[i].ID)
			open, openErr, all, allErr := readVia(t, mb, m.ID())
			require.NoError(t, openErr, "LF sizes %v, message %d", lf, i)
			require.NoError(t, allErr, "LF sizes %v, message %d", lf, i)
			head, body, ok := strings.Cut(testMsgs[i], "\r\n\r\n")
			require.True(t, ok)
			want := head + "\r\nX-UIDL: " + uidl + "\r\n\r\n" + body
			assert.Equal(t, want, open)
			assert.Equal(t, want, all)
		}
	}
}

// The allowance is for the field with the message's own UIDL only: a
// body that grew by an X-UIDL field naming another message, or by any
// other field, is still refused.
func TestOtherAddedFieldsStillFailTheSizeCheck(t *testing.T) {
	for _, extra := range []string{"X-UIDL: not-this-message\r\n", "X-Other: 12345678901234567890\r\n"} {
		msg := "Subject: a\r\n" + extra + "\r\nbody\r\n"
		_, srv := fixture(t, &pop3test.Options{SizeDelta: -int64(len(extra))}, msg)
		mb := dial(t, srv.Config("user", "pass"))
		_, openErr, _, allErr := readVia(t, mb, list(t, mb, nil)[0].ID())
		for _, err := range []error{openErr, allErr} {
			require.Error(t, err, extra)
			assert.ErrorIs(t, err, ErrSizeMismatch)
		}
	}
}
