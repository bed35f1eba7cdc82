package conformance_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
)

// The suite runs against mem:// URLs too: Reopen opens the same name.
func TestConformanceThroughURLs(t *testing.T) {
	n := 0
	conformance.TestMailbox(t, conformance.Harness{
		Open: func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
			n++
			name := fmt.Sprintf("conformance-%d", n)
			t.Cleanup(func() { mailtest.RemoveNamedStore(name) })
			for _, raw := range msgs {
				mailtest.NamedStore(name).Add("INBOX", raw)
			}
			mb, err := mailaccess.OpenURL(context.Background(), "mem://"+name+"?opt.profile=pop3")
			require.NoError(t, err)
			return mb
		},
		Reopen: func(t testing.TB, mb mailaccess.Mailbox) mailaccess.Mailbox {
			var s *mailtest.Store
			require.True(t, mb.As(&s))
			return s.Open(mailtest.ProfilePOP3)
		},
	})
}

// Through URLs with folders: OpenFolder opens "mem://NAME/FOLDER", so the
// scheme's opener, not only Store.OpenFolder, checks the folder.
func TestConformanceThroughURLsWithFolders(t *testing.T) {
	n := 0
	names := map[mailaccess.Mailbox]string{}
	conformance.TestMailbox(t, conformance.Harness{
		Open: func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
			n++
			name := fmt.Sprintf("conformance-folders-%d", n)
			t.Cleanup(func() { mailtest.RemoveNamedStore(name) })
			for _, raw := range msgs {
				mailtest.NamedStore(name).Add("INBOX", raw)
			}
			mb, err := mailaccess.Open(context.Background(), mailaccess.Config{Scheme: "mem", Path: name, Folder: mailaccess.Inbox})
			require.NoError(t, err)
			names[mb] = name
			return mb
		},
		OpenFolder: func(t testing.TB, mb mailaccess.Mailbox, folder string) (mailaccess.Mailbox, error) {
			return mailaccess.Open(context.Background(), mailaccess.Config{Scheme: "mem", Path: names[mb], Folder: folder})
		},
	})
}
