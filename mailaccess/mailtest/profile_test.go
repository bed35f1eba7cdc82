package mailtest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

func TestNormalizeCRLF(t *testing.T) {
	assert.Equal(t, "a\r\nb\r\n\r\nc\rd\r\n", string(NormalizeCRLF([]byte("a\nb\r\n\nc\rd\n"))))
	assert.Equal(t, "\r\n", string(NormalizeCRLF([]byte("\n"))))
}

func TestProfileByName(t *testing.T) {
	for name, want := range map[string]mailaccess.Capability{
		"": ProfileIMAP, "IMAP": ProfileIMAP, "pop3": ProfilePOP3, "maildir": ProfileMaildir,
		"all": mailaccess.AllCapabilities, "folders|uid": mailaccess.CapFolders | mailaccess.CapUID, "none": 0,
	} {
		got, err := ProfileByName(name)
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
	}
	_, err := ProfileByName("telepathy")
	assert.Error(t, err)
	// A mistyped profile name is told the profile names, not only the
	// capability names.
	_, err = ProfileByName("pop4")
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
	assert.ErrorContains(t, err, `"pop4"`)
	assert.ErrorContains(t, err, "pop3, imap, maildir, all")
}

func TestBodyReaderStopsOnCancelAndClose(t *testing.T) {
	mb := New(ProfileIMAP)
	id := mb.Add("INBOX", []byte("Subject: x\r\n\r\nbody\r\n"))
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := mb.Open(ctx, "INBOX", id, nil)
	require.NoError(t, err)
	cancel()
	_, err = rc.Read(make([]byte, 4))
	assert.ErrorIs(t, err, context.Canceled)
	require.NoError(t, rc.Close())
	_, err = rc.Read(make([]byte, 4))
	assert.ErrorIs(t, err, mailaccess.ErrClosed)

	for _, bad := range []mailaccess.ID{"", "0", "01", "+1", "abc", "99999999999"} {
		_, err := mb.Open(context.Background(), "INBOX", bad, nil)
		assert.ErrorIs(t, err, mailaccess.ErrNotFound, "ID %q", bad)
	}
	assert.ErrorIs(t, mailaccess.CreateFolder(context.Background(), mb, "bad\r\nname"), mailaccess.ErrInvalid)
	assert.ErrorIs(t, mb.SetFlags(context.Background(), "INBOX", []mailaccess.ID{id}, mailaccess.AddFlags, "bad flag"), mailaccess.ErrInvalid)
}
