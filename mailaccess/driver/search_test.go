package driver_test

import (
	"context"
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

func TestMatchTrees(t *testing.T) {
	info := mailaccess.MessageInfo{UID: 5, Flags: []mailaccess.Flag{mailaccess.FlagSeen}, InternalDate: time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)}
	for _, tc := range []struct {
		name string
		c    mailaccess.Criteria
		want bool
	}{
		{"or first", mailaccess.Or(mailaccess.Criteria{Subject: "grüße"}, mailaccess.Criteria{Subject: "nothing"}), true},
		{"or second", mailaccess.Or(mailaccess.Criteria{Subject: "nothing"}, mailaccess.Criteria{Body: "quarterly"}), true},
		{"or none", mailaccess.Or(mailaccess.Criteria{Subject: "nothing"}, mailaccess.Criteria{Body: "nothing"}), false},
		{"or of nothing", mailaccess.Or(), false},
		{"and of nothing", mailaccess.And(), true},
		{"not", mailaccess.Not(mailaccess.Criteria{Body: "quarterly"}), false},
		{"not absent", mailaccess.Not(mailaccess.Criteria{Body: "absent"}), true},
		{"not flag", mailaccess.Not(mailaccess.Criteria{WithFlags: []mailaccess.Flag{mailaccess.FlagSeen}}), false},
		{"and with same field twice", mailaccess.And(mailaccess.Criteria{Body: "quarterly"}, mailaccess.Criteria{Body: "schöne"}), true},
		{"and with same field twice, one missing", mailaccess.And(mailaccess.Criteria{Body: "quarterly"}, mailaccess.Criteria{Body: "absent"}), false},
		{"fields and or", mailaccess.Criteria{From: "jose", Or: []mailaccess.Criteria{{Subject: "x"}, {MinUID: 5}}}, true},
		{"nested", mailaccess.Criteria{Not: []mailaccess.Criteria{mailaccess.Or(mailaccess.Criteria{Larger: 1 << 20}, mailaccess.Not(mailaccess.Criteria{Text: "subject"}))}}, true},
	} {
		got, err := driver.Match(tc.c, candidate(mime, info))
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
	}
}

// Metadata decides whatever it can before anything is read, Or and Not
// included; a header given in Info spares reading the message for header
// criteria.
func TestMatchReadsOnlyWhatItNeeds(t *testing.T) {
	opened := 0
	c := driver.Candidate{Info: mailaccess.MessageInfo{Size: 10, UID: 1}, Open: func() (io.ReadCloser, error) {
		opened++
		return io.NopCloser(strings.NewReader("Subject: hello\r\n\r\nbody text\r\n")), nil
	}}
	for _, crit := range []mailaccess.Criteria{
		mailaccess.Or(mailaccess.Criteria{Smaller: 100}, mailaccess.Criteria{Body: "x"}), // the size decides the Or
		mailaccess.Not(mailaccess.Criteria{Larger: 5}),                                   // and the Not
		{MinUID: 2, Body: "x"},
	} {
		_, err := driver.Match(crit, c)
		require.NoError(t, err)
	}
	assert.Zero(t, opened)
	c.Info.Header = mailaccess.HeaderFromFields("Subject", "hello")
	ok, err := driver.Match(mailaccess.Not(mailaccess.Criteria{Subject: "HELLO"}), c)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Zero(t, opened, "the given header decided")
	ok, err = driver.Match(mailaccess.Criteria{Subject: "hello", Body: "TEXT"}, c)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, 1, opened)
}

// Since and Before compare the Date header of a message without internal
// date (POP3), read from the header when it is not given.
func TestMatchDatesWithoutInternalDate(t *testing.T) {
	raw := "Date: Sun, 10 Mar 2024 09:00:00 +0000\r\nSubject: x\r\n\r\nbody\r\n"
	since := mailaccess.Criteria{Since: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)}
	before := mailaccess.Criteria{Before: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)}
	for _, tc := range []struct {
		c    mailaccess.Criteria
		raw  string
		want bool
	}{
		{since, raw, true},
		{before, raw, false},
		{mailaccess.Not(before), raw, true},
		{since, "Subject: no date\r\n\r\nbody\r\n", false},
	} {
		got, err := driver.Match(tc.c, candidate(tc.raw, mailaccess.MessageInfo{}))
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%+v on %q", tc.c, tc.raw)
	}
}

// Filter asks its Source for headers only when header criteria are left
// undecided by the metadata, and for bodies only for the messages still
// undecided after that.
func TestFilterReadsInStages(t *testing.T) {
	raws := map[mailaccess.ID]string{
		"a": "Subject: invoice 1\r\n\r\npay now\r\n",
		"b": "Subject: hello\r\n\r\npay later\r\n",
		"c": "Subject: invoice 2\r\n\r\n" + strings.Repeat("x", 5000) + "\r\n",
	}
	infos := []mailaccess.MessageInfo{{ID: "a", Size: int64(len(raws["a"]))}, {ID: "b", Size: int64(len(raws["b"]))}, {ID: "c", Size: int64(len(raws["c"]))}}
	var headersAsked, bodiesAsked []mailaccess.ID
	src := driver.Source{
		Headers: func(ctx context.Context, batch []mailaccess.MessageInfo) error {
			for i := range batch {
				headersAsked = append(headersAsked, batch[i].ID)
				h, err := mailaccess.ParseHeader(strings.NewReader(raws[batch[i].ID]))
				require.NoError(t, err)
				batch[i].Header = h
			}
			return nil
		},
		Bodies: func(ctx context.Context, ids []mailaccess.ID, fn func(mailaccess.ID, io.Reader) error) error {
			for _, id := range ids {
				bodiesAsked = append(bodiesAsked, id)
				if err := fn(id, strings.NewReader(raws[id])); err != nil {
					return err
				}
			}
			return nil
		},
	}
	ctx := context.Background()
	// Smaller rules out c; the subject rules out b; only a's body is read.
	got, err := driver.Filter(ctx, mailaccess.Criteria{Smaller: 1000, Subject: "invoice", Body: "pay"}, infos, src)
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{"a"}, got)
	assert.Equal(t, []mailaccess.ID{"a", "b"}, headersAsked)
	assert.Equal(t, []mailaccess.ID{"a"}, bodiesAsked)

	headersAsked, bodiesAsked = nil, nil
	got, err = driver.Filter(ctx, mailaccess.Criteria{Larger: 1000}, infos, src)
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{"c"}, got)
	assert.Empty(t, headersAsked, "sizes decide")
	assert.Empty(t, bodiesAsked)

	// Body criteria alone skip the header stage.
	headersAsked, bodiesAsked = nil, nil
	got, err = driver.Filter(ctx, mailaccess.Not(mailaccess.Criteria{Body: "later"}), infos, src)
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{"a", "c"}, got)
	assert.Empty(t, headersAsked)
	assert.Equal(t, []mailaccess.ID{"a", "b", "c"}, bodiesAsked)

	// A read error is returned, not taken for "no match".
	src.Bodies = func(ctx context.Context, ids []mailaccess.ID, fn func(mailaccess.ID, io.Reader) error) error {
		return fn(ids[0], io.MultiReader(strings.NewReader("Subject: x\r\n\r\nab"), errReader{}))
	}
	_, err = driver.Filter(ctx, mailaccess.Criteria{Body: "zz"}, infos, src)
	assert.ErrorIs(t, err, errBroken)
}
