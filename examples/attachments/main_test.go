package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// The command, from a URL and a password, on an IMAP server.
func TestRunFromURL(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "ann", Password: "pw", Messages: corpus(2)})
	url := srv.Config("ann", "").URL()
	dir := t.TempDir()
	var out strings.Builder
	require.NoError(t, run(context.Background(), &out, url, "", dir, "pw"))
	assert.Contains(t, out.String(), "invoice (2).pdf\t14 bytes\tmessage ")
	assert.Contains(t, out.String(), "5 attachment(s) saved in "+dir)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, len(want))

	err = run(context.Background(), io.Discard, url, "", t.TempDir(), "wrong")
	assert.ErrorIs(t, err, mailaccess.ErrAuth)
	err = run(context.Background(), io.Discard, url, "Nope", t.TempDir(), "pw")
	assert.ErrorIs(t, err, mailaccess.ErrNotFound, "a folder that does not exist")
	assert.ErrorContains(t, run(context.Background(), io.Discard, "", "", dir, ""), "-from is required")
}
