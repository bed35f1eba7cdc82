package mailsync_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// TestSyncIMAPBodiesThatAreNotTheMessage (issue 10 item 1): a server that
// answers BODY[] NIL, a short body or a long body for three of six
// messages (RFC822.SIZE as computed). With delete-after-download nothing
// of those three is stored, nothing at all is deleted from the server in
// that pass, and the error names each of them; the others are stored.
func TestSyncIMAPBodiesThatAreNotTheMessage(t *testing.T) {
	ctx := context.Background()
	var raws [][]byte
	for m := range corpus.Generate(34, 6) {
		raws = append(raws, m.Raw)
	}
	bad := map[goimap.UID]func([]byte) []byte{
		2: func([]byte) []byte { return nil },                                      // NIL
		4: func(b []byte) []byte { return b[:len(b)/2] },                           // short
		5: func(b []byte) []byte { return append(bytes.Clone(b), "extra\r\n"...) }, // long
	}
	quirks := &imaptest.Quirks{Body: func(uid goimap.UID, body []byte) []byte {
		if f, ok := bad[uid]; ok {
			return f(body)
		}
		return body
	}}
	srv := imaptest.Start(t, &imaptest.Options{Quirks: quirks}, imaptest.User{Name: "u", Password: "pw", Messages: raws})
	client, err := imap.Dial(ctx, srv.Config("u", "pw"))
	require.NoError(t, err)
	defer client.Close()
	var ids []mailaccess.ID
	for m, err := range client.List(ctx, mailaccess.Inbox, nil) {
		require.NoError(t, err)
		ids = append(ids, m.ID())
	}
	require.Len(t, ids, 6)

	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	s, err := mailsync.New(client, dst, &mailsync.Options{Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, mailaccess.ErrProtocol)
	for _, i := range []int{1, 3, 4} {
		assert.Contains(t, err.Error(), "message "+string(ids[i]), "the error names message %s", ids[i])
	}
	assert.Len(t, rep.Total().Errors, 3, "one error per bad message: %q", rep.Total().Errors)
	assert.Equal(t, 3, rep.Total().New)
	assert.Zero(t, rep.Total().SourceDeleted, "nothing deleted after a pass with bad bodies")
	requireExactlyOnce(t, dir, [][]byte{raws[0], raws[2], raws[5]})
	st, err := client.Status(ctx, mailaccess.Inbox)
	require.NoError(t, err)
	assert.Equal(t, 6, st.Messages, "every message still on the server")
}

// TestSyncPOP3EmptyRetr: a POP3 server whose RETR sends an empty body for
// a message LIST calls 120 octets long. Nothing is stored, nothing is
// deleted (delete-after-download), and the error names the message.
func TestSyncPOP3EmptyRetr(t *testing.T) {
	ctx := context.Background()
	backing := mailtest.New(mailtest.ProfileMaildir)
	backing.Add("INBOX", nil)
	srv := pop3test.Start(t, backing, &pop3test.Options{SizeDelta: 120})
	client, err := pop3.Dial(ctx, srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword))
	require.NoError(t, err)
	defer client.Close()
	var id mailaccess.ID
	for m, err := range client.List(ctx, mailaccess.Inbox, nil) {
		require.NoError(t, err)
		id = m.ID()
	}
	dir := t.TempDir()
	dst := openDst(t, dir, nil)
	s, err := mailsync.New(client, dst, &mailsync.Options{Retention: mailsync.Retention{Policy: mailsync.DeleteAfterDownload}})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, mailaccess.ErrProtocol)
	assert.Contains(t, err.Error(), fmt.Sprintf("message %s", id))
	assert.Zero(t, rep.Total().New)
	assert.Zero(t, rep.Total().SourceDeleted)
	assert.Empty(t, storedFiles(t, dir), "nothing stored")
	assert.Len(t, backing.Messages("INBOX"), 1, "nothing deleted")
	for _, c := range srv.Commands() {
		assert.False(t, strings.HasPrefix(c, "DELE"), "no DELE sent: %s", c)
	}
}
