package driver_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

func TestAsInterface(t *testing.T) {
	mb := mailtest.New(mailtest.ProfilePOP3)
	var c driver.Committer
	assert.True(t, driver.AsInterface(mb, &c))
	assert.Same(t, mb, c)
	var f driver.Flusher
	assert.False(t, driver.AsInterface(mb, &f), "the fake has no Flush")
	var s string
	assert.False(t, driver.AsInterface(mb, &s), "not an interface")
	assert.False(t, driver.AsInterface(mb, nil))
	assert.False(t, driver.AsInterface(mb, c), "not a pointer")
}

// embedding is a wrapper that only embeds: it passes everything through.
type embedding struct{ mailaccess.Mailbox }

// hiding declares, through As, that it passes nothing optional on.
type hiding struct{ mailaccess.Mailbox }

func (hiding) As(any) bool { return false }

func TestFindOnValueAndThroughAs(t *testing.T) {
	mb := mailtest.New(mailtest.ProfilePOP3)
	c, ok := driver.Find[driver.Committer](mb)
	require.True(t, ok, "on the value itself")
	assert.Same(t, mb, c)
	c, ok = driver.Find[driver.Committer](embedding{mb})
	require.True(t, ok, "through the As an embedding wrapper inherits")
	assert.Same(t, mb, c)
	_, ok = driver.Find[driver.Committer](hiding{mb})
	assert.False(t, ok, "a wrapper whose As passes nothing on hides it")
	_, ok = driver.Find[driver.Flusher](embedding{mb})
	assert.False(t, ok, "what the driver lacks is not found")

	assert.Equal(t, "mem", driver.ProtocolOf(embedding{mb}))
	assert.Equal(t, "mailaccess", driver.ProtocolOf(hiding{mb}))
}

// The OpenAll helper falls back to one Open per message, skipping the
// messages that are gone, with the contract of BatchOpener.
func TestOpenAllFallsBackToOpen(t *testing.T) {
	ctx := context.Background()
	mb := mailtest.New(mailtest.ProfilePOP3)
	a := mb.Add("INBOX", []byte("Subject: a\r\n\r\na\r\n"))
	b := mb.Add("INBOX", []byte("Subject: b\r\n\r\nb\r\n"))
	c := mb.Add("INBOX", []byte("Subject: c\r\n\r\nc\r\n"))
	mb.Expunge("INBOX", b)
	_, batch := driver.Find[driver.BatchOpener](mb)
	require.False(t, batch, "the fake has no batch read: the fallback runs")
	var got []string
	err := driver.OpenAll(ctx, mb, "INBOX", []mailaccess.ID{a, b, c}, func(id mailaccess.ID, r io.Reader) error {
		raw, err := io.ReadAll(r)
		got = append(got, string(id)+"="+string(raw[len(raw)-3:len(raw)-2]))
		return err
	})
	require.NoError(t, err)
	assert.Equal(t, []string{string(a) + "=a", string(c) + "=c"}, got, "the gone message is skipped")

	boom := errors.New("boom")
	err = driver.OpenAll(ctx, mb, "INBOX", []mailaccess.ID{a, c}, func(mailaccess.ID, io.Reader) error { return boom })
	assert.ErrorIs(t, err, boom, "fn's error stops the read")
}

func TestAppendWithKeyFallsBackToAppend(t *testing.T) {
	ctx := context.Background()
	mb := mailtest.New(mailtest.ProfileIMAP)
	id, keyed, err := driver.AppendWithKey(ctx, mb, "INBOX", "k1", bytes.NewReader([]byte("Subject: x\r\n\r\nx\r\n")), nil)
	require.NoError(t, err)
	assert.False(t, keyed, "the fake has no keyed appends: a plain Append")
	assert.NotEmpty(t, id)
	assert.Len(t, mb.Messages("INBOX"), 1)
}

func TestConfigOf(t *testing.T) {
	_, ok := driver.ConfigOf(mailtest.New(mailtest.ProfileIMAP))
	assert.False(t, ok, "the fake was not opened from a Config it keeps")
}

// KeptFlags without a FlagKeeper keeps every flag: the Mailbox's
// capabilities say what it keeps.
func TestKeptFlagsFallsBackToAll(t *testing.T) {
	mb := mailtest.New(mailtest.ProfileIMAP)
	_, ok := driver.Find[driver.FlagKeeper](mb)
	require.False(t, ok, "the fake has no FlagKeeper: the fallback runs")
	in := []mailaccess.Flag{mailaccess.FlagSeen, "$Junk"}
	kept, err := driver.KeptFlags(context.Background(), mb, "INBOX", in)
	require.NoError(t, err)
	assert.Equal(t, in, kept)
}
