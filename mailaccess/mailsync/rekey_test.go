package mailsync_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// TestSyncPOP3RenumberedRecordsSaved: after a server renumbered its UIDLs
// and the engine found the stored messages under their new UIDLs by
// content, the records it saves name each message under its new UIDL.
// Records are saved as a base plus a journal of changes by source ID; a
// record that changed its ID in place must reach the store too, or the
// next run reads records whose UIDLs now name other messages.
func TestSyncPOP3RenumberedRecordsSaved(t *testing.T) {
	ctx := context.Background()
	backing := mailtest.New(mailtest.ProfileMaildir)
	seed(t, backing, 5, 43)
	byNumber := func(id mailaccess.ID) string {
		for i, m := range backing.Messages("INBOX") {
			if m.ID == id {
				return fmt.Sprintf("n%d", i+1)
			}
		}
		return "gone"
	}
	srv := pop3test.Start(t, backing, &pop3test.Options{IDs: byNumber})
	dir := t.TempDir()
	_, err := pop3Run(t, srv, dir, mailsync.Options{})
	require.NoError(t, err)
	// A second pass that changes nothing: the records are now read from
	// a base (not rewritten whole by a first save).
	_, err = pop3Run(t, srv, dir, mailsync.Options{})
	require.NoError(t, err)
	require.Equal(t, 1, backing.Expunge("INBOX", backing.Messages("INBOX")[1].ID))

	rep, err := pop3Run(t, srv, dir, mailsync.Options{})
	require.NoError(t, err)
	require.Zero(t, rep.Total().New)

	dst := openDst(t, dir, nil)
	rec := loadStateRec(t, dst, "acct", "INBOX")
	want := map[string]string{}
	for i, m := range backing.Messages("INBOX") {
		want[fmt.Sprintf("n%d", i+1)] = digestHex(m.Raw)
	}
	got := map[string]string{}
	for _, e := range rec.Msgs {
		rc, err := dst.Open(ctx, mailaccess.Inbox, mailaccess.ID(e.Dst), nil)
		require.NoError(t, err, "record %q", e.Src)
		b, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		got[e.Src] = digestHex(b)
	}
	assert.Equal(t, want, got, "each record names, under its UIDL, the message the server lists under it")
}

func digestHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}
