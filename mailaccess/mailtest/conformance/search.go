package conformance

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// searchCase is one search of a subtest and the messages (by seeding
// position) it must return.
type searchCase struct {
	name string
	c    mailaccess.Criteria
	want []int
}

// runSearches runs cases against msgs (the listing of the seeded
// messages, in seeding order).
func runSearches(t suiteT, ctx context.Context, mb mailaccess.Mailbox, msgs []mailaccess.Message, cases []searchCase) {
	t.Helper()
	for _, c := range cases {
		want := []mailaccess.ID{}
		for _, i := range c.want {
			want = append(want, msgs[i].ID())
		}
		got, err := mb.Search(ctx, mailaccess.Inbox, c.c)
		require.NoError(t, err, "search %s", c.name)
		if len(got) == 0 {
			got = []mailaccess.ID{}
		}
		assert.Equal(t, want, got, "search %s: %+v", c.name, c.c)
	}
}

func all(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func (s *suite) testSearch(t suiteT, ctx context.Context) {
	raws := [][]byte{
		simple("mailtest zebra report", "Alice <alice@example.com>", "nothing special here"),
		simple("weekly numbers", "Carol <carol@example.net>", "see attached", "X-Mailtest-Tag: blue"),
		simple("lunch", "Alice <alice@example.com>", "pineapple pizza, "+strings.Repeat("long ", 200)),
		simple("misc", "Erin <erin@example.com>", "a zebra crossed the road"),
	}
	mb := s.open(t, raws)
	msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, msgs, 4)
	caps := mb.Capabilities()
	sizes := make([]int64, len(msgs))
	for i, m := range msgs {
		sizes[i] = m.Size()
	}
	zebra := mailaccess.Criteria{Text: "zebra"}
	alice := mailaccess.Criteria{From: "alice"}
	cases := []searchCase{
		{"subject", mailaccess.Criteria{Subject: "ZEBRA"}, []int{0}},
		{"from", mailaccess.Criteria{From: "alice@"}, []int{0, 2}},
		{"from display name", mailaccess.Criteria{From: "carol"}, []int{1}},
		{"to", mailaccess.Criteria{To: "dave@example.org"}, all(4)},
		{"body", mailaccess.Criteria{Body: "pineapple"}, []int{2}},
		{"body not header", mailaccess.Criteria{Body: "weekly numbers"}, nil},
		{"text", zebra, []int{0, 3}},
		{"header", mailaccess.Criteria{Header: map[string]string{"X-Mailtest-Tag": "blue"}}, []int{1}},
		{"header present", mailaccess.Criteria{Header: map[string]string{"X-Mailtest-Tag": ""}}, []int{1}},
		{"and", mailaccess.Criteria{From: "alice", Body: "pineapple"}, []int{2}},
		{"none", mailaccess.Criteria{Subject: "no message has this"}, nil},
		{"everything", mailaccess.Criteria{}, all(4)},
		{"larger", mailaccess.Criteria{Larger: sizes[2] - 1}, []int{2}},
		{"smaller", mailaccess.Criteria{Smaller: sizes[2]}, []int{0, 1, 3}},
		{"since long ago", mailaccess.Criteria{Since: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)}, all(4)},
		{"before long ago", mailaccess.Criteria{Before: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)}, nil},
		// And, Or and Not.
		{"or", mailaccess.Or(mailaccess.Criteria{Subject: "lunch"}, mailaccess.Criteria{From: "carol"}), []int{1, 2}},
		{"or of three", mailaccess.Or(mailaccess.Criteria{Subject: "lunch"}, mailaccess.Criteria{From: "carol"}, mailaccess.Criteria{Body: "crossed"}), []int{1, 2, 3}},
		{"or of nothing", mailaccess.Or(), nil},
		{"not", mailaccess.Not(zebra), []int{1, 2}},
		{"not of everything", mailaccess.Not(mailaccess.Criteria{}), nil},
		{"and of nothing", mailaccess.And(), all(4)},
		{"and twice the same field", mailaccess.And(zebra, mailaccess.Criteria{Text: "road"}), []int{3}},
		{"fields and or", mailaccess.Criteria{From: "alice", Or: []mailaccess.Criteria{zebra, {Body: "pizza"}}}, []int{0, 2}},
		{"fields and not", mailaccess.Criteria{From: "example.com", Not: []mailaccess.Criteria{alice}}, []int{3}},
		{"not of or", mailaccess.Not(mailaccess.Or(alice, mailaccess.Criteria{Header: map[string]string{"X-Mailtest-Tag": ""}})), []int{3}},
		{"or of and and not", mailaccess.Or(mailaccess.And(alice, zebra), mailaccess.Not(mailaccess.Criteria{To: "dave"})), []int{0}},
		{"or with size", mailaccess.Or(mailaccess.Criteria{Larger: sizes[2] - 1}, mailaccess.Criteria{Subject: "misc"}), []int{2, 3}},
		{"not with size", mailaccess.Criteria{Smaller: sizes[2] + 1, Not: []mailaccess.Criteria{{Larger: sizes[2] - 1}}}, []int{0, 1, 3}},
	}
	if uid := msgs[2].Info().UID; uid != 0 {
		cases = append(cases,
			searchCase{"min uid", mailaccess.Criteria{MinUID: uid}, []int{2, 3}},
			searchCase{"max uid", mailaccess.Criteria{MaxUID: uid}, []int{0, 1, 2}},
			searchCase{"uid or", mailaccess.Or(mailaccess.Criteria{MaxUID: msgs[0].Info().UID}, mailaccess.Criteria{MinUID: msgs[3].Info().UID}), []int{0, 3}})
	} else {
		// Without numeric UIDs a UID bound matches nothing.
		cases = append(cases, searchCase{"min uid without uids", mailaccess.Criteria{MinUID: 1}, nil},
			searchCase{"not min uid without uids", mailaccess.Not(mailaccess.Criteria{MinUID: 1}), all(4)})
	}
	if caps.Has(mailaccess.CapFlags) {
		require.NoError(t, mb.SetFlags(ctx, mailaccess.Inbox, []mailaccess.ID{msgs[1].ID()}, mailaccess.AddFlags, mailaccess.FlagSeen))
		cases = append(cases,
			searchCase{"unseen", mailaccess.Criteria{WithoutFlags: []mailaccess.Flag{mailaccess.FlagSeen}}, []int{0, 2, 3}},
			searchCase{"seen", mailaccess.Criteria{WithFlags: []mailaccess.Flag{mailaccess.FlagSeen}}, []int{1}},
			searchCase{"seen or zebra", mailaccess.Or(mailaccess.Criteria{WithFlags: []mailaccess.Flag{mailaccess.FlagSeen}}, zebra), []int{0, 1, 3}},
			searchCase{"unseen and not alice", mailaccess.Criteria{WithoutFlags: []mailaccess.Flag{mailaccess.FlagSeen}, Not: []mailaccess.Criteria{alice}}, []int{3}})
	} else {
		// A store without flags: no message has one, so every message is
		// unseen (POP3 mail is new until deleted).
		cases = append(cases,
			searchCase{"unseen without flags", mailaccess.Criteria{WithoutFlags: []mailaccess.Flag{mailaccess.FlagSeen}}, all(4)},
			searchCase{"seen without flags", mailaccess.Criteria{WithFlags: []mailaccess.Flag{mailaccess.FlagSeen}}, nil})
	}
	runSearches(t, ctx, mb, msgs, cases)

	// Invalid criteria are refused alike everywhere.
	for name, c := range map[string]mailaccess.Criteria{
		"CR LF in a string":     {Subject: "x\r\nA1 DELETE INBOX"},
		"CR LF in a nested one": mailaccess.Not(mailaccess.Criteria{Body: "x\ny"}),
		"bad header name":       {Header: map[string]string{"X Bad": "v"}},
		"negative size":         {Larger: -1},
	} {
		_, err := mb.Search(ctx, mailaccess.Inbox, c)
		assert.ErrorIs(t, err, mailaccess.ErrInvalid, "search with %s", name)
	}
	deep := mailaccess.Criteria{Subject: "x"}
	for range mailaccess.MaxCriteriaDepth + 1 {
		deep = mailaccess.Not(deep)
	}
	_, err := mb.Search(ctx, mailaccess.Inbox, deep)
	assert.ErrorIs(t, err, mailaccess.ErrInvalid, "criteria nested deeper than MaxCriteriaDepth")
}

// searchCorpus is mail whose text is encoded (RFC 2047 headers, base64
// and quoted-printable bodies, Latin-1, attached messages, a bounce
// report): the searches of testSearchDecoded have the answers Dovecot
// 2.3 gives on it, and every driver must give the same.
var searchCorpus = []string{
	// 0: encoded headers
	"From: =?UTF-8?Q?Jos=C3=A9_Garc=C3=ADa?= <jose@example.com>\r\n" +
		"To: \"Lee, Ann\" <ann@example.org>, bob@example.net\r\n" +
		"Cc: =?ISO-8859-1?Q?Ren=E9?= <rene@example.fr>\r\n" +
		"Subject: =?UTF-8?B?R3LDvMOfZQ==?= aus =?ISO-8859-1?Q?M=FCnchen?=\r\n" +
		"X-Ticket: T-1001\r\n" +
		"Date: Mon, 08 Jan 2024 10:00:00 +0000\r\n" +
		"\r\n" +
		"plain ascii body about invoices\r\n",
	// 1: quoted-printable Latin-1 with a soft line break
	"From: Carol Smith <carol@example.net>\r\n" +
		"To: team@example.com\r\n" +
		"Subject: Quarterly report\r\n" +
		"Date: Mon, 08 Jan 2024 11:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=iso-8859-1\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n" +
		"\r\n" +
		"Die sch=F6ne Stra=DFe=\r\n ist lang. Caf=E9 cr=E8me.\r\n",
	// 2: multipart with base64 text, QP HTML, a binary attachment and an
	// attached message
	"From: Alice <alice@example.com>\r\n" +
		"To: team@example.com\r\n" +
		"Subject: Re: [list] Fwd: meeting notes\r\n" +
		"Date: Mon, 08 Jan 2024 12:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
		"\r\n" +
		"This is the preamble, never searched.\r\n" +
		"--b1\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		"dGhlIG1lZXRpbmcgaXMgbW92ZWQgdG8gVGh1cnNkYXk=\r\n" +
		"--b1\r\n" +
		"Content-Type: text/html; charset=us-ascii\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n" +
		"\r\n" +
		"<p>Agenda: <b>budget</b> =3D tight</p>\r\n" +
		"--b1\r\n" +
		"Content-Type: application/pdf; name=\"minutes.pdf\"\r\n" +
		"Content-Disposition: attachment; filename=\"minutes.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		"JVBERiBzZWNyZXQtYXR0YWNobWVudC13b3Jkcw==\r\n" +
		"--b1\r\n" +
		"Content-Type: message/rfc822\r\n" +
		"\r\n" +
		"From: Dan <dan@example.com>\r\n" +
		"Subject: inner note\r\n" +
		"Content-Type: text/plain\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		"ZW1iZWRkZWQgcGluZWFwcGxl\r\n" +
		"--b1--\r\n" +
		"The epilogue, never searched.\r\n",
	// 3: a bounce (multipart/report with a delivery-status part)
	"From: Mail Delivery System <mailer-daemon@mx.example.org>\r\n" +
		"To: alice@example.com\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\n" +
		"Date: Mon, 08 Jan 2024 13:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n" +
		"\r\n" +
		"--r\r\n" +
		"Content-Type: text/plain\r\n" +
		"\r\n" +
		"Delivery failed.\r\n" +
		"--r\r\n" +
		"Content-Type: message/delivery-status\r\n" +
		"\r\n" +
		"Reporting-MTA: dns; mx.example.org\r\n" +
		"\r\n" +
		"Final-Recipient: rfc822; gone@example.com\r\n" +
		"Status: 5.1.1\r\n" +
		"--r--\r\n",
	// 4: folded subject, bare address, broken address
	"From: erin@example.com\r\n" +
		"To: just garbage\r\n" +
		"Subject: weekly\r\n status update\r\n" +
		"Date: Mon, 08 Jan 2024 14:00:00 +0000\r\n" +
		"\r\n" +
		"line one\r\n" +
		"line two\r\n",
}

// testSearchDecoded checks that searches look where IMAP SEARCH looks, in
// decoded text, folded as Dovecot folds it: the same answers on every
// driver as on Dovecot.
func (s *suite) testSearchDecoded(t suiteT, ctx context.Context) {
	raws := make([][]byte, len(searchCorpus))
	for i, m := range searchCorpus {
		raws[i] = []byte(m)
	}
	mb := s.open(t, raws)
	msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, msgs, len(raws))
	c := func(f func(*mailaccess.Criteria)) mailaccess.Criteria {
		var c mailaccess.Criteria
		f(&c)
		return c
	}
	subject := func(v string) mailaccess.Criteria { return c(func(c *mailaccess.Criteria) { c.Subject = v }) }
	from := func(v string) mailaccess.Criteria { return c(func(c *mailaccess.Criteria) { c.From = v }) }
	to := func(v string) mailaccess.Criteria { return c(func(c *mailaccess.Criteria) { c.To = v }) }
	body := func(v string) mailaccess.Criteria { return c(func(c *mailaccess.Criteria) { c.Body = v }) }
	text := func(v string) mailaccess.Criteria { return c(func(c *mailaccess.Criteria) { c.Text = v }) }
	runSearches(t, ctx, mb, msgs, []searchCase{
		// Encoded words (B and Q, UTF-8 and Latin-1), case and accents.
		{"encoded subject", subject("grüße"), []int{0}},
		{"encoded subject, upper case", subject("GRÜSSE"), nil}, // no ß to SS
		{"latin-1 encoded word", subject("münchen"), []int{0}},
		{"accent inside a word matters", subject("munchen"), nil},
		{"not the raw encoded word", subject("=?UTF-8?B?"), nil},
		{"folded subject", subject("weekly status update"), []int{4}},
		{"list prefix kept for search", subject("[list] fwd"), []int{2}},
		// Address lists, in their one written form.
		{"encoded display name", from("josé garcía <jose@"), []int{0}},
		{"address", from("jose@example.com"), []int{0}},
		{"unquoted single-word name", from("alice <alice@"), []int{2}},
		{"quoted name with a space", from(`"carol smith" <carol`), []int{1}},
		{"no match across a quote", from("carol smith <carol"), nil},
		{"bare address in angle brackets", from("<erin@example.com>"), []int{4}},
		{"to list", to(`"lee, ann" <ann@example.org>, <bob@example.net>`), []int{0}},
		{"latin-1 cc", c(func(c *mailaccess.Criteria) { c.Cc = "rené <rene@" }), []int{0}},
		{"broken address", to(`"just garbage" <missing_mailbox`), []int{4}},
		{"header map on an address field", c(func(c *mailaccess.Criteria) { c.Header = map[string]string{"to": "<team@example.com>"} }), []int{1, 2}},
		{"other header", c(func(c *mailaccess.Criteria) { c.Header = map[string]string{"X-Ticket": "t-1001"} }), []int{0}},
		// Bodies: transfer encodings and charsets undone, text parts only.
		{"qp latin-1 across a soft line break", body("schöne straße ist"), []int{1}},
		{"accent at the end of a word", body("cafe"), []int{1}},
		{"accent inside a word", body("creme"), nil},
		{"base64 text part", body("moved to thursday"), []int{2}},
		{"qp html, markup kept", body("<b>budget</b> = tight"), []int{2}},
		{"not in a binary attachment", body("secret-attachment-words"), nil},
		{"not the base64 itself", body("dGhlIG1lZXRpbmc"), nil},
		{"attached message body", body("embedded pineapple"), []int{2}},
		{"not an attached message header", body("inner note"), nil},
		{"not a part header", body("application/pdf"), nil},
		{"not the preamble", body("preamble"), nil},
		{"not the epilogue", body("epilogue"), nil},
		{"delivery status", body("status: 5.1.1"), []int{3}},
		{"not across a line break", body("line one line two"), nil},
		{"not in the header", body("invoices Mon"), nil},
		{"plain body", body("about invoices"), []int{0}},
		// Text: headers of every part too.
		{"text in a field name", text("x-ticket"), []int{0}},
		{"text in a decoded header", text("grüße"), []int{0}},
		{"text in an attached message header", text("inner note"), []int{2}},
		{"text in a part header", text("minutes.pdf"), []int{2}},
		{"text in a body", text("delivery failed"), []int{3}},
		{"text not in a binary part", text("secret-attachment-words"), nil},
		// Combined.
		{"or of decoded", mailaccess.Or(subject("grüße"), body("thursday")), []int{0, 2}},
		{"not an address", mailaccess.Not(from("example.com")), []int{1, 3}},
		{"encoded and not", mailaccess.Criteria{Body: "pineapple", Not: []mailaccess.Criteria{text("secret-attachment-words")}}, []int{2}},
	})
}

// testSort checks Sort against the order Dovecot's SORT gives the same
// messages.
func (s *suite) testSort(t suiteT, ctx context.Context) {
	raws := [][]byte{
		[]byte("From: Zed <zed@example.com>\r\nSubject: Re: Budget\r\nDate: Wed, 03 Jan 2024 10:00:00 +0000\r\n\r\nx\r\n"),
		[]byte("From: \"Anna\" <anna@example.com>\r\nSubject: [team] agenda\r\nDate: Mon, 01 Jan 2024 10:00:00 +0100\r\n\r\n" + strings.Repeat("x", 40) + "\r\n"),
		[]byte("From: bob@example.com\r\nSubject: Fwd: budget (fwd)\r\nDate: Tue, 02 Jan 2024 10:00:00 +0000\r\n\r\nxx\r\n"),
		[]byte("From: =?UTF-8?Q?=C3=89mile?= <emile@example.com>\r\nSubject: budget\r\nDate: Thu, 04 Jan 2024 10:00:00 +0000\r\n\r\n" + strings.Repeat("x", 34) + "\r\n"),
		[]byte("From: \"Carl\" <Carl@example.com>\r\nSubject: Agenda\r\nDate: Mon, 01 Jan 2024 09:00:00 +0000\r\n\r\nxxxxx\r\n"),
	}
	mb := s.open(t, raws)
	msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, msgs, len(raws))
	ids := func(idx ...int) []mailaccess.ID {
		out := []mailaccess.ID{}
		for _, i := range idx {
			out = append(out, msgs[i].ID())
		}
		return out
	}
	// Sizes as the store counts them, smallest first, ties in List order.
	bySize := []int{0, 2, 4, 1, 3}
	for i := 1; i < len(bySize); i++ {
		require.Less(t, msgs[bySize[i-1]].Size(), msgs[bySize[i]].Size(), "the samples have distinct sizes")
	}
	subject := mailaccess.SortKey{By: mailaccess.SortSubject}
	for _, tc := range []struct {
		name string
		c    mailaccess.Criteria
		keys []mailaccess.SortKey
		want []int
	}{
		{"no key", mailaccess.Criteria{}, nil, []int{0, 1, 2, 3, 4}},
		{"base subject, ties in list order", mailaccess.Criteria{}, []mailaccess.SortKey{subject}, []int{1, 4, 0, 2, 3}},
		{"reverse subject, ties still ascending", mailaccess.Criteria{}, []mailaccess.SortKey{{By: mailaccess.SortSubject, Reverse: true}}, []int{0, 2, 3, 1, 4}},
		{"from local part", mailaccess.Criteria{}, []mailaccess.SortKey{{By: mailaccess.SortFrom}}, []int{1, 2, 4, 3, 0}},
		{"date in UTC", mailaccess.Criteria{}, []mailaccess.SortKey{{By: mailaccess.SortDate}}, []int{1, 4, 2, 0, 3}},
		{"size", mailaccess.Criteria{}, []mailaccess.SortKey{{By: mailaccess.SortSize}}, bySize},
		{"reverse size", mailaccess.Criteria{}, []mailaccess.SortKey{{By: mailaccess.SortSize, Reverse: true}}, []int{3, 1, 4, 2, 0}},
		{"two keys", mailaccess.Criteria{}, []mailaccess.SortKey{subject, {By: mailaccess.SortDate, Reverse: true}}, []int{1, 4, 3, 0, 2}},
		{"arrival", mailaccess.Criteria{}, []mailaccess.SortKey{{By: mailaccess.SortArrival}}, []int{0, 1, 2, 3, 4}},
		{"with criteria", mailaccess.Not(mailaccess.Criteria{From: "zed"}), []mailaccess.SortKey{{By: mailaccess.SortFrom}}, []int{1, 2, 4, 3}},
		{"with criteria matching nothing", mailaccess.Criteria{Subject: "no such subject"}, []mailaccess.SortKey{subject}, nil},
	} {
		got, err := mb.Sort(ctx, mailaccess.Inbox, tc.c, tc.keys...)
		require.NoError(t, err, "sort %s", tc.name)
		if len(got) == 0 {
			got = []mailaccess.ID{}
		}
		assert.Equal(t, ids(tc.want...), got, "sort %s", tc.name)
	}
	_, err := mb.Sort(ctx, mailaccess.Inbox, mailaccess.Criteria{}, mailaccess.SortKey{By: "colour"})
	assert.ErrorIs(t, err, mailaccess.ErrInvalid, "an unknown sort key")
	_, err = mb.Sort(ctx, mailaccess.Inbox, mailaccess.Criteria{Subject: "a\r\nb"}, subject)
	assert.ErrorIs(t, err, mailaccess.ErrInvalid, "invalid criteria")
}

// testSearchDates checks Since and Before in Search and FetchMatching:
// they compare the calendar day of the internal date, and on a store
// without internal dates (POP3) that of the Date header, in the header's
// own time zone; a message with neither matches no date criterion. The
// messages' Date headers lie years before their delivery, so the two
// rules give different answers and the suite expects, message by
// message, the one the store's listing calls for.
func (s *suite) testSearchDates(t suiteT, ctx context.Context) {
	headerDates := []string{
		"Sat, 10 Mar 2001 10:00:00 +0000",
		"Wed, 15 Jun 2011 23:30:00 -0500", // 16 June in UTC, 15 June as written
		"",                                // no Date header
	}
	var raws [][]byte
	for i, d := range headerDates {
		raw := fmt.Sprintf("From: Ann <ann@example.com>\r\nSubject: dated %d\r\n", i)
		if d != "" {
			raw += "Date: " + d + "\r\n"
		}
		raws = append(raws, []byte(raw+"\r\nbody\r\n"))
	}
	mb := s.open(t, raws)
	msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, msgs, len(raws))
	// The calendar day each message is compared by, if any.
	days := make([]*time.Time, len(msgs))
	for i, m := range msgs {
		var t0 time.Time
		if d := m.Info().InternalDate; !d.IsZero() {
			t0 = d
		} else if headerDates[i] != "" {
			d, err := mail.ParseDate(headerDates[i])
			require.NoError(t, err)
			t0 = d
		} else {
			continue
		}
		y, mo, d := t0.Date()
		day := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
		days[i] = &day
	}
	date := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	within := func(since, before time.Time) func(int) bool {
		return func(i int) bool {
			d := days[i]
			return d != nil && (since.IsZero() || !d.Before(since)) && (before.IsZero() || d.Before(before))
		}
	}
	not := func(f func(int) bool) func(int) bool { return func(i int) bool { return !f(i) } }
	y2005 := date(2005, 1, 1)
	cases := []struct {
		name  string
		c     mailaccess.Criteria
		match func(int) bool
	}{
		{"since", mailaccess.Criteria{Since: y2005}, within(y2005, time.Time{})},
		{"before", mailaccess.Criteria{Before: y2005}, within(time.Time{}, y2005)},
		{"since is inclusive", mailaccess.Criteria{Since: date(2011, 6, 15)}, within(date(2011, 6, 15), time.Time{})},
		{"the header's own day", mailaccess.Criteria{Since: date(2011, 6, 16)}, within(date(2011, 6, 16), time.Time{})},
		{"before is exclusive", mailaccess.Criteria{Before: date(2011, 6, 15)}, within(time.Time{}, date(2011, 6, 15))},
		{"between", mailaccess.Criteria{Since: date(2001, 3, 10), Before: date(2011, 6, 16)}, within(date(2001, 3, 10), date(2011, 6, 16))},
		{"not since", mailaccess.Not(mailaccess.Criteria{Since: y2005}), not(within(y2005, time.Time{}))},
		{"or of date and subject", mailaccess.Or(mailaccess.Criteria{Before: y2005}, mailaccess.Criteria{Subject: "dated 2"}),
			func(i int) bool { return i == 2 || within(time.Time{}, y2005)(i) }},
		{"date and header", mailaccess.Criteria{From: "ann", Since: y2005}, within(y2005, time.Time{})},
	}
	for _, tc := range cases {
		want := []mailaccess.ID{}
		for i, m := range msgs {
			if tc.match(i) {
				want = append(want, m.ID())
			}
		}
		got, err := mb.Search(ctx, mailaccess.Inbox, tc.c)
		require.NoError(t, err, "search %s", tc.name)
		assert.Equal(t, want, append([]mailaccess.ID{}, got...), "search %s", tc.name)
		fetched := []mailaccess.ID{}
		for m, err := range mb.FetchMatching(ctx, mailaccess.Inbox, tc.c, nil) {
			require.NoError(t, err, "FetchMatching %s", tc.name)
			fetched = append(fetched, m.ID())
		}
		assert.Equal(t, want, fetched, "FetchMatching %s", tc.name)
	}
}
