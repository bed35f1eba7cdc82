package imap

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// For a server that refuses CHARSET UTF-8 the criteria sent are the
// widest ASCII ones that c implies: a non-ASCII string is left out, a NOT
// holding one is left out whole (leaving out part of it would narrow the
// result), and everything else is kept.
func TestToSearchWidensForBadCharset(t *testing.T) {
	m := &Mailbox{}
	c := mailaccess.Criteria{
		From:    "ann",
		Subject: "grüße",
		Or:      []mailaccess.Criteria{{Body: "wörld"}, {Body: "world"}},
		Not:     []mailaccess.Criteria{{Subject: "spam"}, {Subject: "grüße", From: "bob"}},
		Smaller: 100,
		And:     []mailaccess.Criteria{{Larger: 10}},
	}
	sc, err := m.toSearch(c, false)
	require.NoError(t, err)
	assert.Equal(t, []imap.SearchCriteriaHeaderField{{Key: "From", Value: "ann"}}, sc.Header, "the non-ASCII subject is left out")
	require.Len(t, sc.Or, 1)
	assert.Empty(t, sc.Or[0][0].Body, "a non-ASCII alternative widens to any message")
	assert.Equal(t, []string{"world"}, sc.Or[0][1].Body)
	require.Len(t, sc.Not, 1, "the NOT with non-ASCII text is dropped, the other kept")
	assert.Equal(t, []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "spam"}}, sc.Not[0].Header)
	assert.Equal(t, int64(100), sc.Smaller, "And keeps SMALLER (go-imap's own And drops it)")
	assert.Equal(t, int64(10), sc.Larger)

	full, err := m.toSearch(c, true)
	require.NoError(t, err)
	assert.Len(t, full.Header, 2)
	assert.Len(t, full.Not, 2)

	// Three alternatives nest as OR a (OR b c).
	sc, err = m.toSearch(mailaccess.Or(mailaccess.Criteria{Body: "a"}, mailaccess.Criteria{Body: "b"}, mailaccess.Criteria{Body: "c"}), true)
	require.NoError(t, err)
	require.Len(t, sc.Or, 1)
	assert.Equal(t, []string{"a"}, sc.Or[0][0].Body)
	require.Len(t, sc.Or[0][1].Or, 1)
	assert.Equal(t, []string{"b"}, sc.Or[0][1].Or[0][0].Body)
	assert.Equal(t, []string{"c"}, sc.Or[0][1].Or[0][1].Body)
}

// The client-side evaluation of the BADCHARSET fallback evaluates the
// whole tree, metadata included.
func TestFilterClientSideEvaluatesTrees(t *testing.T) {
	raws := [][]byte{msg("plain", "nothing"), []byte("Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhallo wörld\r\n"), msg("other", "wörld too")}
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: raws})
	ctx := context.Background()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	all := []imap.UID{1, 2, 3}
	var epoch uint32
	for m, err := range mb.List(ctx, "INBOX", nil) {
		require.NoError(t, err)
		epoch, _, err = ParseID(m.ID())
		require.NoError(t, err)
	}
	for _, tc := range []struct {
		c    mailaccess.Criteria
		want []imap.UID
	}{
		{mailaccess.Not(mailaccess.Criteria{Subject: "grüße"}), []imap.UID{1, 3}},
		{mailaccess.Or(mailaccess.Criteria{Subject: "grüße"}, mailaccess.Criteria{Body: "too"}), []imap.UID{2, 3}},
		{mailaccess.Criteria{Body: "wörld", Not: []mailaccess.Criteria{{Subject: "grüße"}}}, []imap.UID{3}},
		{mailaccess.Criteria{Body: "wörld", MaxUID: 2}, []imap.UID{2}},
	} {
		got, err := mb.filterClientSide(ctx, "INBOX", epoch, all, tc.c)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%+v", tc.c)
	}
}

// The fake's IMAP profile reports what this driver reports: numeric UIDs,
// UIDVALIDITY and UIDNEXT, internal dates, flags and a real Unseen count.
func TestFakeIMAPProfileReportsWhatTheDriverReports(t *testing.T) {
	ctx := context.Background()
	raws := [][]byte{msg("one", "1"), msg("two", "2")}
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: raws})
	real, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer real.Close()
	fake := mailtest.New(mailtest.ProfileIMAP)
	defer fake.Close()
	for _, r := range raws {
		fake.Add("INBOX", r)
	}
	rs, err := real.Status(ctx, "INBOX")
	require.NoError(t, err)
	fs, err := fake.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, rs.Messages, fs.Messages)
	assert.Equal(t, rs.Unseen, fs.Unseen)
	assert.NotZero(t, rs.UIDValidity)
	assert.NotZero(t, fs.UIDValidity)
	assert.Equal(t, rs.UIDNext, fs.UIDNext)
	_, realMsgs := listIDs(t, real, "INBOX")
	_, fakeMsgs := listIDs(t, fake, "INBOX")
	require.Len(t, fakeMsgs, len(realMsgs))
	for i := range realMsgs {
		r, f := realMsgs[i].Info(), fakeMsgs[i].Info()
		// The IDs differ in form only: the driver's carry the UIDVALIDITY
		// ("<uidvalidity>.<uid>"), the fake's are the bare UID (see
		// mailtest's doc); portable code takes IDs from List and Search.
		assert.Equal(t, MakeID(rs.UIDValidity, r.UID), r.ID)
		assert.Equal(t, mailaccess.ID(strconv.FormatUint(uint64(f.UID), 10)), f.ID)
		assert.Equal(t, r.UID, f.UID)
		assert.NotZero(t, f.UID)
		assert.Equal(t, r.Size, f.Size)
		assert.ElementsMatch(t, r.Flags, f.Flags)
		assert.False(t, r.InternalDate.IsZero())
		assert.False(t, f.InternalDate.IsZero())
	}
}

// Without SORT on the server the driver sorts itself, fetching for the
// matching messages only the header fields the keys need; the
// conformance suite checks the order (the in-memory server has no SORT,
// Dovecot has: TestDovecotSortOnTheServer).
func TestSortWithoutServerSortFetchesOnlyHeaderFields(t *testing.T) {
	ctx := context.Background()
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: [][]byte{msg("b", "1"), msg("a", "2")}})
	cfg := srv.Config("u", "p")
	var trace bytes.Buffer
	cfg.Trace = &trace
	mb, err := Dial(ctx, cfg)
	require.NoError(t, err)
	defer mb.Close()
	require.False(t, mb.Capabilities().Has(mailaccess.CapSort), "the in-memory server has no SORT")
	listed, _ := listIDs(t, mb, "INBOX")
	ids, err := mb.Sort(ctx, "INBOX", mailaccess.Criteria{}, mailaccess.SortKey{By: mailaccess.SortSubject})
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.ID{listed[1], listed[0]}, ids)
	assert.NotContains(t, trace.String(), "SORT", "no SORT command to a server without it")
	assert.Contains(t, trace.String(), `HEADER.FIELDS ("Date" "From" "To" "Cc" "Subject")`, "only the fields the keys need")
	for _, c := range strings.Split(trace.String(), "\n") {
		assert.NotContains(t, c, "BODY.PEEK[]", "no message body is fetched to sort: %s", c)
	}
}
