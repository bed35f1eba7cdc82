package pop3

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Search and FetchMatching read only what the criteria need, in stages:
// sizes from LIST, then the headers (TOP) of the messages the sizes do
// not decide, then the bodies (RETR) of those the headers do not decide.
// Criteria anywhere in an And, Or or Not tree count, and Since and Before
// compare the Date header (POP3 has no internal date), read with TOP.
func TestSearchAndFetchMatchingReadOnlyWhatCriteriaNeed(t *testing.T) {
	msgs := []string{
		"Subject: invoice 7\r\nDate: Sat, 10 Mar 2001 10:00:00 +0000\r\n\r\nplease pay\r\n",
		"Subject: invoice 8\r\nDate: Wed, 15 Jun 2011 10:00:00 +0000\r\n\r\npaid, thanks\r\n",
		"Subject: lunch\r\n\r\n" + strings.Repeat("x", 5000) + " pay\r\n",
	}
	_, srv := fixture(t, nil, msgs...)
	mb := dial(t, srv.Config("user", "pass"))
	ctx := context.Background()
	listed := list(t, mb, nil)
	require.Len(t, listed, 3)
	pick := func(idx ...int) []mailaccess.ID {
		out := []mailaccess.ID{}
		for _, i := range idx {
			out = append(out, listed[i].ID())
		}
		return out
	}
	y2005 := time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		c         mailaccess.Criteria
		want      []mailaccess.ID
		top, retr int
	}{
		{"sizes decide", mailaccess.Criteria{Larger: listed[2].Size() - 1}, pick(2), 0, 0},
		{"or of header and date", mailaccess.Or(mailaccess.Criteria{Subject: "invoice 7"}, mailaccess.Criteria{Since: y2005}), pick(0, 1), 3, 0},
		{"date in a not", mailaccess.Not(mailaccess.Criteria{Before: y2005}), pick(1, 2), 3, 0},
		{"header then body", mailaccess.And(mailaccess.Criteria{Subject: "invoice"}, mailaccess.Criteria{Body: "pay"}), pick(0), 3, 2},
		{"size then body", mailaccess.Criteria{Smaller: listed[2].Size(), Not: []mailaccess.Criteria{{Body: "paid"}}}, pick(0), 0, 2},
	}
	for _, tc := range cases {
		srv.ResetLog()
		ids, err := mb.Search(ctx, mailaccess.Inbox, tc.c)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, append([]mailaccess.ID{}, ids...), "Search %s", tc.name)
		cmds := srv.Commands()
		assert.Equal(t, tc.top, countCmd(cmds, "TOP"), "Search %s: TOP commands", tc.name)
		assert.Equal(t, tc.retr, countCmd(cmds, "RETR"), "Search %s: RETR commands", tc.name)

		srv.ResetLog()
		got := []mailaccess.ID{}
		for m, err := range mb.FetchMatching(ctx, mailaccess.Inbox, tc.c, nil) {
			require.NoError(t, err, tc.name)
			got = append(got, m.ID())
			assert.True(t, m.Header().IsZero(), "FetchMatching %s: no header unless asked", tc.name)
		}
		assert.Equal(t, tc.want, got, "FetchMatching %s", tc.name)
		cmds = srv.Commands()
		assert.Equal(t, tc.top, countCmd(cmds, "TOP"), "FetchMatching %s: TOP commands", tc.name)
		assert.Equal(t, tc.retr, countCmd(cmds, "RETR"), "FetchMatching %s: RETR commands", tc.name)
	}

	// Headers read to decide are handed out, not fetched again; headers
	// of matches the sizes decided are fetched for those only.
	srv.ResetLog()
	got := []mailaccess.Message{}
	for m, err := range mb.FetchMatching(ctx, mailaccess.Inbox, mailaccess.Criteria{Subject: "invoice"}, &mailaccess.FetchOptions{Headers: true}) {
		require.NoError(t, err)
		got = append(got, m)
	}
	require.Len(t, got, 2)
	assert.Equal(t, "invoice 7", got[0].Header().Subject())
	assert.Equal(t, "invoice 8", got[1].Header().Subject())
	assert.Equal(t, 3, countCmd(srv.Commands(), "TOP"), "one TOP per message, none again for the matches")

	srv.ResetLog()
	got = got[:0]
	for m, err := range mb.FetchMatching(ctx, mailaccess.Inbox, mailaccess.Criteria{Larger: listed[2].Size() - 1}, &mailaccess.FetchOptions{Headers: true}) {
		require.NoError(t, err)
		got = append(got, m)
	}
	require.Len(t, got, 1)
	assert.Equal(t, "lunch", got[0].Header().Subject())
	assert.Equal(t, 1, countCmd(srv.Commands(), "TOP"), "the header of the one match only")
}

// FetchMatching refuses invalid criteria as Search does, before sending
// anything.
func TestFetchMatchingValidatesCriteria(t *testing.T) {
	_, srv := fixture(t, nil, testMsgs...)
	mb := dial(t, srv.Config("user", "pass"))
	srv.ResetLog()
	n := 0
	for m, err := range mb.FetchMatching(context.Background(), mailaccess.Inbox, mailaccess.Or(mailaccess.Criteria{Header: map[string]string{"X Bad": "v"}}), nil) {
		n++
		assert.Nil(t, m)
		require.ErrorIs(t, err, mailaccess.ErrInvalid)
		assert.ErrorContains(t, err, "pop3: fetch")
	}
	assert.Equal(t, 1, n)
	assert.Empty(t, srv.Commands())
}
