package mailaccess_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// logging is what users write: a wrapper that embeds a Mailbox and
// overrides nothing optional. Embedding promotes As, not Commit.
type logging struct{ mailaccess.Mailbox }

// Commit and the folder helpers reach the wrapped driver through As, so a
// deferred delete made through a wrapper is applied, not silently dropped.
func TestHelpersReachOptionalInterfacesThroughWrappers(t *testing.T) {
	ctx := context.Background()
	st := mailtest.NewStore()
	id := st.Add("INBOX", []byte("Subject: a\r\n\r\na\r\n"))
	w := logging{st.Open(mailtest.ProfilePOP3)}
	_, direct := any(w).(driver.Committer)
	require.False(t, direct, "the wrapper itself has no Commit")
	require.NoError(t, w.Delete(ctx, "INBOX", id))
	require.NoError(t, mailaccess.Rollback(ctx, w))
	require.NoError(t, w.Delete(ctx, "INBOX", id))
	require.NoError(t, mailaccess.Commit(ctx, w))
	assert.Empty(t, st.Messages("INBOX"), "the delete was committed through the wrapper")

	imap := logging{mailtest.New(mailtest.ProfileIMAP)}
	require.NoError(t, mailaccess.CreateFolder(ctx, imap, "Archive"))
	require.NoError(t, mailaccess.RenameFolder(ctx, imap, "Archive", "Old"))
	require.NoError(t, mailaccess.DeleteFolder(ctx, imap, "Old"))
}

// noAs declares deferred deletes but hides everything optional.
type noAs struct{ mailaccess.Mailbox }

func (noAs) As(any) bool { return false }

func TestCommitWithoutCommitterIsAnError(t *testing.T) {
	ctx := context.Background()
	w := noAs{mailtest.New(mailtest.ProfilePOP3)}
	err := mailaccess.Commit(ctx, w)
	require.Error(t, err)
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
	assert.ErrorContains(t, err, "deferred-delete")

	err = mailaccess.Rollback(ctx, w)
	require.Error(t, err)
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
	assert.ErrorContains(t, err, "offers no Rollback")

	// Immediate deletes: nothing pending, nothing to report.
	assert.NoError(t, mailaccess.Commit(ctx, noAs{mailtest.New(mailtest.ProfileIMAP)}))
	assert.NoError(t, mailaccess.Rollback(ctx, noAs{mailtest.New(mailtest.ProfileIMAP)}))
	assert.ErrorIs(t, mailaccess.CreateFolder(ctx, noAs{mailtest.New(mailtest.ProfileIMAP)}, "x"), errors.ErrUnsupported)
}
