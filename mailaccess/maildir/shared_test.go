package maildir_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// The fake's Maildir profile is what the store really offers.
func TestProfileMaildirIsWhatTheStoreOffers(t *testing.T) {
	assert.Equal(t, maildir.Capabilities.String(), mailtest.ProfileMaildir.String())
	st, err := maildir.Open(t.TempDir(), nil)
	require.NoError(t, err)
	defer st.Close()
	assert.Equal(t, st.Capabilities(), mailtest.ProfileMaildir)
}

// base64Text is a text message whose body is base64: "the quarterly
// pineapple report" is only found by a search that decodes the part.
const base64Text = "From: a@example.com\r\nSubject: encoded\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
	"dGhlIHF1YXJ0ZXJseSBwaW5lYXBwbGUgcmVwb3J0Cg==\r\n"

// A Body search means the same on the store and on the fake: both decode
// the part (they share driver.Match), so both find the base64 message, and
// neither finds a word that is only in the header.
func TestSearchSameOnStoreAndFake(t *testing.T) {
	ctx := context.Background()
	plain := []byte("From: b@example.com\r\nSubject: pineapple in the subject\r\n\r\nnothing here\r\n")
	st, err := maildir.Open(t.TempDir(), nil)
	require.NoError(t, err)
	defer st.Close()
	fake := mailtest.New(mailtest.ProfileMaildir)
	for _, raw := range [][]byte{[]byte(base64Text), plain} {
		_, err := st.Append(ctx, "INBOX", bytes.NewReader(raw), nil)
		require.NoError(t, err)
		fake.Add("INBOX", raw)
	}
	for _, c := range []mailaccess.Criteria{
		{Body: "Quarterly Pineapple"},
		{Text: "quarterly pineapple"},
		{Body: "pineapple in the subject"},
		{Text: "pineapple in the subject"},
		{Subject: "encoded", Body: "report"},
	} {
		got, err := st.Search(ctx, "INBOX", c)
		require.NoError(t, err)
		want, err := fake.Search(ctx, "INBOX", c)
		require.NoError(t, err)
		assert.Len(t, got, len(want), "criteria %+v: maildir %v, fake %v", c, got, want)
	}
	got, err := st.Search(ctx, "INBOX", mailaccess.Criteria{Body: "quarterly pineapple"})
	require.NoError(t, err)
	assert.Len(t, got, 1, "the base64 body is decoded")
	got, err = st.Search(ctx, "INBOX", mailaccess.Criteria{Body: "pineapple in the subject"})
	require.NoError(t, err)
	assert.Empty(t, got, "Body never matches the header")
}

// The fake's Maildir profile reports what the store reports: a constant
// UIDVALIDITY but no UIDNEXT, no numeric UIDs, internal dates, flags and
// a real Unseen count.
func TestFakeMaildirProfileReportsWhatTheStoreReports(t *testing.T) {
	ctx := context.Background()
	st, err := maildir.Open(t.TempDir(), nil)
	require.NoError(t, err)
	defer st.Close()
	fake := mailtest.New(mailtest.ProfileMaildir)
	defer fake.Close()
	raws := [][]byte{[]byte(base64Text), []byte("Subject: two\r\n\r\nbody\r\n")}
	for _, raw := range raws {
		_, err := st.Append(ctx, "INBOX", bytes.NewReader(raw), nil)
		require.NoError(t, err)
		fake.Add("INBOX", raw)
	}
	real, err := st.Status(ctx, "INBOX")
	require.NoError(t, err)
	imit, err := fake.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, real.Messages, imit.Messages)
	assert.Equal(t, real.Unseen, imit.Unseen)
	assert.True(t, imit.UnseenKnown())
	assert.Equal(t, real.UIDValidity != 0, imit.UIDValidity != 0, "UIDVALIDITY reported")
	assert.Zero(t, real.UIDNext)
	assert.Zero(t, imit.UIDNext, "no UIDNEXT, as the store")
	var realInfos, fakeInfos []mailaccess.MessageInfo
	for m, err := range st.List(ctx, "INBOX", nil) {
		require.NoError(t, err)
		realInfos = append(realInfos, m.Info())
	}
	for m, err := range fake.List(ctx, "INBOX", nil) {
		require.NoError(t, err)
		fakeInfos = append(fakeInfos, m.Info())
	}
	require.Len(t, fakeInfos, len(realInfos))
	for i := range realInfos {
		r, f := realInfos[i], fakeInfos[i]
		assert.Equal(t, r.UID, f.UID, "no numeric UID")
		assert.Zero(t, f.UID)
		assert.Equal(t, r.Size, f.Size)
		assert.ElementsMatch(t, r.Flags, f.Flags, "the same flags (none)")
		assert.False(t, r.InternalDate.IsZero())
		assert.False(t, f.InternalDate.IsZero(), "internal date, as the store (file time)")
	}
}
