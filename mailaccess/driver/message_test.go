package driver_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// notFoundMailbox is a Mailbox whose Open finds nothing.
type notFoundMailbox struct{ mailaccess.Mailbox }

func (notFoundMailbox) Open(context.Context, string, mailaccess.ID, *mailaccess.OpenOptions) (io.ReadCloser, error) {
	return nil, mailaccess.ErrNotFound
}

func TestNewMessageAccessors(t *testing.T) {
	h := mailaccess.HeaderFromFields("Date", "Mon, 02 Jan 2023 15:04:05 +0000", "Subject", "hi")
	m := driver.NewMessage(notFoundMailbox{}, mailaccess.MessageInfo{ID: "7", Folder: "INBOX", Size: 10, Flags: []mailaccess.Flag{mailaccess.FlagSeen}, Header: h})
	assert.Equal(t, mailaccess.ID("7"), m.ID())
	assert.True(t, m.HasFlag(`\seen`), "flags compare case-insensitively")
	assert.False(t, m.HasFlag(mailaccess.FlagFlagged))
	assert.Equal(t, 2023, m.Date().Year(), "falls back to the Date header")
	info := m.Info()
	info.Flags[0] = mailaccess.FlagDraft
	assert.True(t, m.HasFlag(mailaccess.FlagSeen), "Info returns a copy")
	_, err := m.Open(context.Background())
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)
}
