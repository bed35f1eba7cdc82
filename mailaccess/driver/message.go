package driver

import (
	"context"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// NewMessage returns a [mailaccess.Message] with the given metadata whose
// Open reads from mb. List implementations yield these.
func NewMessage(mb mailaccess.Mailbox, info mailaccess.MessageInfo) mailaccess.Message {
	return &message{mb: mb, info: info}
}

type message struct {
	mb   mailaccess.Mailbox
	info mailaccess.MessageInfo
}

func (m *message) ID() mailaccess.ID               { return m.info.ID }
func (m *message) Folder() string                  { return m.info.Folder }
func (m *message) Size() int64                     { return m.info.Size }
func (m *message) Flags() []mailaccess.Flag        { return m.info.Flags }
func (m *message) Header() mailaccess.Header       { return m.info.Header }
func (m *message) Structure() *mailaccess.PartInfo { return m.info.Structure }
func (m *message) String() string                  { return m.info.Folder + "/" + string(m.info.ID) }
func (m *message) HasFlag(f mailaccess.Flag) bool  { return hasFlag(m.info.Flags, f) }

func (m *message) Info() mailaccess.MessageInfo {
	info := m.info
	info.Flags = slices.Clone(info.Flags)
	return info
}

func (m *message) Date() time.Time {
	if !m.info.InternalDate.IsZero() {
		return m.info.InternalDate
	}
	if t, err := m.info.Header.Date(); err == nil {
		return t
	}
	return time.Time{}
}

func (m *message) Open(ctx context.Context) (io.ReadCloser, error) {
	return m.mb.Open(ctx, m.info.Folder, m.info.ID, nil)
}

func hasFlag(flags []mailaccess.Flag, f mailaccess.Flag) bool {
	return slices.ContainsFunc(flags, func(g mailaccess.Flag) bool { return strings.EqualFold(string(f), string(g)) })
}
