package mailtest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// A mem:// URL naming a folder that does not exist fails at Open with
// ErrNotFound, as imap:// does (a mistyped folder should not surface at
// the first call, possibly much later); INBOX, a folder the test seeded
// and one created through a handle open. Store.OpenFolder does the same
// for the Go API.
func TestOpenMissingFolderFails(t *testing.T) {
	ctx := context.Background()
	name := t.Name()
	t.Cleanup(func() { mailtest.RemoveNamedStore(name) })
	s := mailtest.NamedStore(name)

	mb, err := mailaccess.OpenURL(ctx, "mem://"+name+"/Missing")
	require.ErrorIs(t, err, mailaccess.ErrNotFound)
	assert.True(t, mb == nil, "a Mailbox returned with the error: %#v", mb)
	assert.Contains(t, err.Error(), "Missing")
	assert.Contains(t, err.Error(), "CreateFolder", "the error says how to create the folder")

	for _, folder := range []string{"INBOX", "inbox"} {
		mb, err := mailaccess.OpenURL(ctx, "mem://"+name+"/"+folder)
		require.NoError(t, err, folder)
		mb.Close()
	}
	s.Add("Archive", []byte("Subject: a\r\n\r\nx\r\n"))
	mb, err = mailaccess.OpenURL(ctx, "mem://"+name+"/Archive?opt.profile=imap")
	require.NoError(t, err)
	require.NoError(t, mailaccess.CreateFolder(ctx, mb, "Later"))
	mb.Close()
	mb, err = mailaccess.OpenURL(ctx, "mem://"+name+"/Later")
	require.NoError(t, err)
	mb.Close()

	_, err = s.OpenFolder(mailtest.ProfileIMAP, "Missing")
	require.ErrorIs(t, err, mailaccess.ErrNotFound)
	h, err := s.OpenFolder(mailtest.ProfileIMAP, "Archive")
	require.NoError(t, err)
	h.Close()
}
