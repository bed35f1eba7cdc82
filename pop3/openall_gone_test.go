package pop3

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// TestOpenAllSkipsGoneIDs: OpenAll keeps the BatchOpener contract: an ID
// that names no message of the session (here deleted in it) is skipped,
// the others are delivered, and the batch succeeds; it used to fail whole
// before sending anything.
func TestOpenAllSkipsGoneIDs(t *testing.T) {
	_, srv := fixture(t, nil, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	var ids []mailaccess.ID
	for _, m := range list(t, mb, nil) {
		ids = append(ids, m.ID())
	}
	require.NoError(t, mb.Delete(context.Background(), mailaccess.Inbox, ids[1]))
	var got []string
	err := mb.OpenAll(context.Background(), mailaccess.Inbox, ids, func(id mailaccess.ID, r io.Reader) error {
		b, err := io.ReadAll(r)
		got = append(got, string(b))
		return err
	})
	require.NoError(t, err)
	assert.Equal(t, []string{testMsgs[0], testMsgs[2]}, got)
}
