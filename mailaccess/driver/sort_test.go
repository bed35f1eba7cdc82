package driver_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// sortCorpus is sorted by Dovecot 2.3 (UID SORT, in a probe whose
// answers are the expected orders below); message i has UID i+1 and
// arrived at the same second as the others.
var sortCorpus = []string{
	"From: Zed <zed@example.com>\r\nSubject: Re: Budget\r\nDate: Wed, 03 Jan 2024 10:00:00 +0000\r\n\r\nx\r\n",
	"From: \"Anna\" <anna@example.com>\r\nSubject: [team] agenda\r\nDate: Mon, 01 Jan 2024 10:00:00 +0100\r\n\r\n" + strings.Repeat("x", 40) + "\r\n",
	"From: bob@example.com\r\nSubject: Fwd: budget (fwd)\r\nDate: Tue, 02 Jan 2024 10:00:00 +0000\r\n\r\nxx\r\n",
	"From: =?UTF-8?Q?=C3=89mile?= <emile@example.com>\r\nSubject: budget\r\nDate: Thu, 04 Jan 2024 10:00:00 +0000\r\n\r\n" + strings.Repeat("x", 34) + "\r\n",
	"From: \"Carl\" <Carl@example.com>\r\nSubject: Agenda\r\nDate: Mon, 01 Jan 2024 09:00:00 +0000\r\n\r\nxxxxx\r\n",
	"From: just garbage\r\nSubject: [fwd: Re: [x] wrapped]\r\n\r\nbody\r\n",
	"Subject: Re: Re[2]: FW: multi\r\nDate: garbage date\r\n\r\nbody\r\n",
	"From: kim garbage\r\nTo: a@b.c, broken <x@y\r\nCc: ok@example.com, @@@, last@example.com\r\nSubject: x\r\n\r\nbody\r\n",
	"From: \"a\\\"b\" <ab@example.com>\r\nTo: Group: m1@example.com, \"M Two\" <m2@example.com>;, after@example.com\r\n\r\nbody\r\n",
}

func TestSorterMatchesDovecotSort(t *testing.T) {
	arrival := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	infos := make([]mailaccess.MessageInfo, len(sortCorpus))
	for i, raw := range sortCorpus {
		h, err := mailaccess.ParseHeader(strings.NewReader(raw))
		require.NoError(t, err)
		infos[i] = mailaccess.MessageInfo{ID: mailaccess.ID(rune('a' + i)), Size: int64(len(raw)), InternalDate: arrival, Header: h}
	}
	// Dovecot's answers, as UIDs.
	for _, tc := range []struct {
		keys []mailaccess.SortKey
		uids []int
	}{
		{[]mailaccess.SortKey{{By: mailaccess.SortSubject}}, []int{9, 2, 5, 1, 3, 4, 7, 6, 8}},
		{[]mailaccess.SortKey{{By: mailaccess.SortSubject, Reverse: true}}, []int{8, 6, 7, 1, 3, 4, 2, 5, 9}},
		{[]mailaccess.SortKey{{By: mailaccess.SortFrom}}, []int{7, 9, 2, 3, 5, 4, 6, 8, 1}},
		{[]mailaccess.SortKey{{By: mailaccess.SortDate}}, []int{2, 5, 3, 1, 4, 6, 7, 8, 9}},
		{[]mailaccess.SortKey{{By: mailaccess.SortSize}}, []int{7, 6, 1, 3, 5, 8, 9, 2, 4}},
		{[]mailaccess.SortKey{{By: mailaccess.SortTo}}, []int{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{[]mailaccess.SortKey{{By: mailaccess.SortCc}}, []int{1, 2, 3, 4, 5, 6, 7, 9, 8}},
		{[]mailaccess.SortKey{{By: mailaccess.SortArrival, Reverse: true}}, []int{1, 2, 3, 4, 5, 6, 7, 8, 9}}, // ties keep ascending order
		{[]mailaccess.SortKey{{By: mailaccess.SortSubject}, {By: mailaccess.SortDate, Reverse: true}}, []int{9, 2, 5, 4, 1, 3, 7, 6, 8}},
	} {
		s, err := driver.NewSorter(tc.keys...)
		require.NoError(t, err)
		for _, info := range infos {
			s.Add(info)
		}
		var want []mailaccess.ID
		for _, u := range tc.uids {
			want = append(want, infos[u-1].ID)
		}
		assert.Equal(t, want, s.IDs(), "%v", tc.keys)
	}
	_, err := driver.NewSorter(mailaccess.SortKey{By: "colour"})
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
}
