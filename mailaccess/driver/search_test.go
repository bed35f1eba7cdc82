package driver_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

func candidate(raw string, info mailaccess.MessageInfo) driver.Candidate {
	info.Size = int64(len(raw))
	return driver.Candidate{Info: info, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(raw)), nil
	}}
}

const mime = "From: =?UTF-8?Q?Jos=C3=A9?= <jose@example.com>\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n" +
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsch=F6ne Gr=FC=DFe\r\n" +
	"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\ndGhlIHF1YXJ0ZXJseSByZXBvcnQ=\r\n" +
	"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nc2VjcmV0IGJpbmFyeQ==\r\n" +
	"--b--\r\n"

func TestMatchDecodesHeadersAndParts(t *testing.T) {
	info := mailaccess.MessageInfo{UID: 5, InternalDate: time.Date(2024, 3, 10, 23, 30, 0, 0, time.UTC), Flags: []mailaccess.Flag{mailaccess.FlagSeen}}
	for _, tc := range []struct {
		c    mailaccess.Criteria
		want bool
	}{
		{mailaccess.Criteria{From: "josé"}, true},
		{mailaccess.Criteria{From: "jose@"}, true},
		{mailaccess.Criteria{Subject: "GRÜSSE"}, false}, // case folding, not ß→SS
		{mailaccess.Criteria{Subject: "grüße"}, true},
		{mailaccess.Criteria{Body: "schöne"}, true},               // quoted-printable, Latin-1
		{mailaccess.Criteria{Body: "Quarterly Report"}, true},     // base64
		{mailaccess.Criteria{Body: "secret binary"}, false},       // not a text part
		{mailaccess.Criteria{Body: "grüße", Subject: "x"}, false}, // AND
		{mailaccess.Criteria{Body: "Subject"}, false},             // never the header
		{mailaccess.Criteria{Text: "subject"}, true},              // a field name
		{mailaccess.Criteria{Text: "quarterly"}, true},
		{mailaccess.Criteria{Header: map[string]string{"Content-Type": ""}}, true},
		{mailaccess.Criteria{Header: map[string]string{"X-Missing": ""}}, false},
		{mailaccess.Criteria{MinUID: 5, MaxUID: 5}, true},
		{mailaccess.Criteria{MinUID: 6}, false},
		{mailaccess.Criteria{WithFlags: []mailaccess.Flag{`\SEEN`}}, true},
		{mailaccess.Criteria{WithoutFlags: []mailaccess.Flag{mailaccess.FlagSeen}}, false},
		{mailaccess.Criteria{Since: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)}, true},
		{mailaccess.Criteria{Before: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)}, false},
		{mailaccess.Criteria{Larger: int64(len(mime))}, false},
	} {
		got, err := driver.Match(tc.c, candidate(mime, info))
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%+v", tc.c)
	}
	// A store without numeric UIDs matches no UID criterion.
	got, err := driver.Match(mailaccess.Criteria{MaxUID: 100}, candidate(mime, mailaccess.MessageInfo{}))
	require.NoError(t, err)
	assert.False(t, got)
}

// The metadata is checked before the message is opened, and a read error
// is returned, not taken for "no match".
func TestMatchOpensOnlyWhenNeededAndReportsReadErrors(t *testing.T) {
	opened := 0
	c := driver.Candidate{Info: mailaccess.MessageInfo{Size: 10}, Open: func() (io.ReadCloser, error) {
		opened++
		return io.NopCloser(io.MultiReader(strings.NewReader("Subject: x\r\n\r\nab"), errReader{})), nil
	}}
	ok, err := driver.Match(mailaccess.Criteria{Larger: 100, Body: "zz"}, c)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Zero(t, opened, "the size decided it")
	_, err = driver.Match(mailaccess.Criteria{Body: "zz"}, c)
	assert.ErrorIs(t, err, errBroken)
}

var errBroken = errors.New("connection broken")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }
