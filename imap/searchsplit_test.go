package imap

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// words returns distinct words ("w0001 w0002 ...") starting at word from,
// cut to n octets or one less (no space at either end).
func words(from, n int) string {
	var b strings.Builder
	for i := from; b.Len() < n; i++ {
		fmt.Fprintf(&b, "w%04d ", i)
	}
	return strings.TrimSpace(b.String()[:n])
}

// longSearch is a folder and criteria too long for one command line.
type longSearch struct {
	needle, prefix, subj, tag, huge string
	raws                            [][]byte
}

func newLongSearch() longSearch {
	ls := longSearch{
		needle: words(0, 1500), // one body line, longer than a command line
		subj:   words(2000, 400),
		tag:    words(3000, 400),
		huge:   words(5000, 5000), // sent as a literal
	}
	ls.prefix = ls.needle[:900]
	body := func(s string) string { return "\r\n\r\nstart " + s + " end\r\n" }
	ls.raws = [][]byte{
		[]byte("Subject: " + ls.subj + "\r\nX-Tag: " + ls.tag + body(ls.needle)),       // 1: everything
		[]byte("Subject: " + ls.subj + "\r\nX-Tag: " + ls.tag + body(ls.prefix)),       // 2: only the needle's first 900 octets
		[]byte("Subject: " + ls.subj + "\r\nX-Tag: other" + body(ls.needle)),           // 3: another tag
		[]byte("Subject: unrelated\r\nX-Tag: " + ls.tag + body("nothing to see here")), // 4
		[]byte("Subject: huge\r\nX-Tag: huge" + body(ls.huge)),                         // 5
	}
	return ls
}

// run searches mb (holding ls.raws as ids) with each of the criteria and
// checks the result and, with longest, the longest command line sent.
func (ls longSearch) run(t *testing.T, mb *Mailbox, ids []mailaccess.ID, literals bool, longest func() int) {
	ctx := context.Background()
	cases := []struct {
		name string
		c    mailaccess.Criteria
		want []mailaccess.ID
	}{
		{"keys that fit alone, not together", mailaccess.Criteria{Subject: ls.subj, Header: map[string]string{"X-Tag": ls.tag}, Body: "start " + ls.prefix[:300]},
			[]mailaccess.ID{ids[0], ids[1]}},
		{"one string longer than a command line", mailaccess.Criteria{Body: ls.needle}, []mailaccess.ID{ids[0], ids[2]}},
		{"a long string and other keys", mailaccess.Criteria{Body: ls.needle, Subject: ls.subj, Header: map[string]string{"X-Tag": ls.tag}}, []mailaccess.ID{ids[0]}},
		{"a NOT holding a long string", mailaccess.Criteria{Not: []mailaccess.Criteria{{Body: ls.needle}}}, []mailaccess.ID{ids[1], ids[3], ids[4]}},
		{"an OR too long for a line", mailaccess.Criteria{Or: []mailaccess.Criteria{{Body: ls.needle}, {Subject: "unrelated"}}},
			[]mailaccess.ID{ids[0], ids[2], ids[3]}},
	}
	if literals {
		cases = append(cases, struct {
			name string
			c    mailaccess.Criteria
			want []mailaccess.ID
		}{"a string sent as a literal", mailaccess.Criteria{Body: ls.huge, Subject: "huge"}, []mailaccess.ID{ids[4]}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mb.Search(ctx, "INBOX", tc.c)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			if mb.Capabilities().Has(mailaccess.CapSort) {
				got, err = mb.Sort(ctx, "INBOX", tc.c, mailaccess.SortKey{By: mailaccess.SortSize, Reverse: true})
				require.NoError(t, err)
				size := map[mailaccess.ID]int{}
				for i, id := range ids {
					size[id] = len(ls.raws[i])
				}
				want := slices.Clone(tc.want)
				slices.SortFunc(want, func(a, b mailaccess.ID) int { return size[b] - size[a] })
				assert.Equal(t, want, got, "Sort")
			}
			assert.LessOrEqual(t, longest(), maxCommandLine)
		})
	}
}

// TestSearchLongCriteriaWithin1000Octets (item 3, RFC 2683 section
// 3.2.1.5): criteria whose command line would exceed 1000 octets (several
// long strings, one string too long on its own, a NOT or an OR holding
// one) reach a server that answers BAD beyond 1000 octets as searches
// within the limit, and find exactly the messages they ask for.
func TestSearchLongCriteriaWithin1000Octets(t *testing.T) {
	ls := newLongSearch()
	srv := imaptest.Start(t, &imaptest.Options{Quirks: &imaptest.Quirks{MaxCommandLine: maxCommandLine}},
		imaptest.User{Name: "u", Password: "p", Messages: ls.raws})
	mb, err := Dial(context.Background(), srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	ids, _ := listIDs(t, mb, "INBOX")
	require.Len(t, ids, len(ls.raws))
	// (go-imap's in-memory server fails a search with a literal.)
	ls.run(t, mb, ids, false, srv.LongestCommandLine)
}

// TestDovecotSearchLongCriteria: the same against Dovecot behind a proxy
// that answers BAD beyond 1000 octets, with SORT on the server and a
// string sent as a literal.
func TestDovecotSearchLongCriteria(t *testing.T) {
	srv := startDovecot(t)
	ls := newLongSearch()
	cfg := dovecotUser(t, srv, "imap", ls.raws)
	p, err := imaptest.StartProxy(srv.IMAPAddr, imaptest.Quirks{MaxCommandLine: maxCommandLine})
	require.NoError(t, err)
	defer p.Close()
	host, port, _ := net.SplitHostPort(p.Addr)
	cfg.Host, cfg.Port = host, mustAtoi(t, port)
	cfg.TLS = mailaccess.TLSInsecurePlaintext
	mb, err := dialDovecot(cfg)
	require.NoError(t, err)
	defer mb.Close()
	require.True(t, mb.Capabilities().Has(mailaccess.CapSort))
	ids, _ := listIDs(t, mb, "INBOX")
	require.Len(t, ids, len(ls.raws))
	ls.run(t, mb, ids, true, p.LongestCommandLine)
}

// TestCriteriaLineLenBoundsEncoding: the measure of a search command line
// is never below what go-imap actually sends (a server records the
// lines), for criteria of every kind, strings quoted, escaped, or sent as
// literals.
func TestCriteriaLineLenBoundsEncoding(t *testing.T) {
	srv := imaptest.Start(t, &imaptest.Options{Quirks: &imaptest.Quirks{}},
		imaptest.User{Name: "u", Password: "p", Messages: [][]byte{msg("x", "y")}})
	ctx := context.Background()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	for i, c := range []mailaccess.Criteria{
		{},
		{Subject: `quote " and backslash \ `, From: "f", To: "t", Cc: "c", Body: "b", Text: "x"},
		{Header: map[string]string{"X-Custom": "v", "Message-ID": "<id@example.org>"}, Larger: 10, Smaller: 1 << 31},
		{WithFlags: []mailaccess.Flag{mailaccess.FlagSeen, "$Label1"}, WithoutFlags: []mailaccess.Flag{mailaccess.FlagDraft, "Junk"}},
		{MinUID: 7, MaxUID: 4000000000},
		{Not: []mailaccess.Criteria{{Subject: "n"}, {Or: []mailaccess.Criteria{{From: "a"}, {From: "b"}, {To: "c"}}}}},
		{Subject: "ünïcödé"},
	} {
		sc, err := mb.toSearch(c, true)
		require.NoError(t, err)
		lines := srv.CommandLines()
		_, err = mb.Search(ctx, "INBOX", c)
		require.NoError(t, err, "criteria %d", i)
		var sent string
		for _, l := range srv.CommandLines()[len(lines):] {
			if _, rest, ok := strings.Cut(l, " UID SEARCH "); ok {
				sent = strings.TrimPrefix(rest, "CHARSET UTF-8 ")
				break
			}
		}
		require.NotEmpty(t, sent, "criteria %d: no UID SEARCH recorded", i)
		assert.GreaterOrEqual(t, criteriaLineLen(sc), len(sent), "criteria %d: %s", i, sent)
	}

	// A string over 4096 octets goes as a literal: its octets are not on
	// the line.
	long := strings.Repeat(`a"b\c `, 800)
	n := criteriaLineLen(&imap.SearchCriteria{Body: []string{long}, Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "after"}}})
	assert.Equal(t, len(`SUBJECT "after" BODY {4800+}`), n, "the longest line is the one up to the literal")
}
