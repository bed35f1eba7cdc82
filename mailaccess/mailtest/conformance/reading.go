package conformance

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailmime"
)

// The subtests of the methods that read what a program selected: Fetch,
// FetchMatching, Structure and OpenPart. Each compares what the method
// returns with what the Mailbox's List, Search and Open give, so that a
// wrapper that replaces one of those but lets the reading methods through
// to the wrapped driver is caught, as BatchForms catches batch forms.

// fetchAll runs Fetch and collects what it yields.
func fetchAll(t suiteT, ctx context.Context, mb mailaccess.Mailbox, ids []mailaccess.ID, opts *mailaccess.FetchOptions) []mailaccess.Message {
	t.Helper()
	var out []mailaccess.Message
	for m, err := range mb.Fetch(ctx, mailaccess.Inbox, ids, opts) {
		require.NoError(t, err, "Fetch")
		require.NotNil(t, m, "Fetch yielded a nil Message without error")
		out = append(out, m)
	}
	return out
}

// partSummary is what every driver must agree on about a part: the
// parameters other than charset are compared separately, since servers
// add the default charset to them.
func partSummary(p *mailaccess.PartInfo) []string {
	var out []string
	for q := range p.All() {
		params := maps.Clone(q.Params)
		delete(params, "charset")
		keys := slices.Sorted(maps.Keys(params))
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+params[k])
		}
		out = append(out, strings.Join([]string{"[" + mailaccess.PathString(q.Path) + "]", q.Type, q.Charset, q.Encoding,
			q.Disposition, q.Filename, q.RawFilename, q.ContentID, q.Description, strings.Join(kv, ";")}, " | ")+
			" | size "+itoa(q.Size)+" | parts "+itoa(int64(len(q.Parts))))
	}
	return out
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for neg := n < 0; n != 0; n /= 10 {
		d := n % 10
		if neg {
			d = -d
		}
		b = append([]byte{byte('0' + d)}, b...)
	}
	if n < 0 {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}

// unknownIDFor returns an ID in the form of known that names no message
// (as NotFound uses).
func (s *suite) unknownIDFor(known mailaccess.ID) mailaccess.ID {
	if s.h.UnknownID != nil {
		return s.h.UnknownID(known)
	}
	return unknownID
}

func (s *suite) testFetch(t suiteT, ctx context.Context) {
	raws := edgeRaws()
	mb := s.open(t, raws)
	listed := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, listed, len(raws))
	ids := idsOf(listed)
	byID := map[mailaccess.ID]mailaccess.Message{}
	for _, m := range listed {
		byID[m.ID()] = m
	}

	// Any order, repeats, unknown IDs: yielded in the order given, once
	// each, unknown ones skipped.
	ask := slices.Clone(ids)
	slices.Reverse(ask)
	ask = append(ask[:3], append([]mailaccess.ID{s.unknownIDFor(ids[0]), ask[0]}, ask[3:]...)...)
	got := fetchAll(t, ctx, mb, ask, nil)
	want := slices.Clone(ids)
	slices.Reverse(want)
	assert.Equal(t, want, idsOf(got), "Fetch yields the IDs asked for, in their order, each once, without unknown ones")
	for _, m := range got {
		l := byID[m.ID()]
		li, mi := l.Info(), m.Info()
		assert.Equal(t, li.Size, mi.Size, "message %s: Fetch and List disagree on the size", m.ID())
		assert.Equal(t, li.UID, mi.UID, "message %s: UID", m.ID())
		assert.ElementsMatch(t, li.Flags, mi.Flags, "message %s: flags", m.ID())
		assert.True(t, l.Date().Equal(m.Date()), "message %s: Fetch and List disagree on the date", m.ID())
		assert.True(t, m.Header().IsZero(), "message %s: no header unless asked", m.ID())
		assert.Nil(t, m.Structure(), "message %s: no structure unless asked", m.ID())
		assert.Equal(t, mailaccess.Inbox, m.Folder())
	}

	// Headers and structures, as FetchHeader and the bytes of Open say.
	got = fetchAll(t, ctx, mb, ids, &mailaccess.FetchOptions{Headers: true, Structure: true, BatchSize: 3})
	require.Equal(t, ids, idsOf(got), "Fetch with small batches")
	for i, m := range got {
		body := read(t, ctx, mb, mailaccess.Inbox, m.ID(), nil)
		assert.Equal(t, headerFields(parseHeader(t, body)), headerFields(m.Header()), "sample %d: Fetch header", i)
		require.NotNil(t, m.Structure(), "sample %d: Fetch with Structure gave none", i)
		want, err := mailmime.ParseStructure(bytes.NewReader(body), nil)
		require.NoError(t, err)
		assert.Equal(t, partSummary(want), partSummary(m.Structure()), "sample %d: Fetch structure differs from the structure of the message Open returns", i)
	}

	assert.Empty(t, fetchAll(t, ctx, mb, nil, nil), "Fetch of no IDs yields nothing")
	for m, err := range mb.Fetch(ctx, mailaccess.Inbox, []mailaccess.ID{ids[0], ""}, nil) {
		assert.Nil(t, m)
		assert.ErrorIs(t, err, mailaccess.ErrInvalid, "Fetch with an empty ID")
		break
	}
}

func (s *suite) testFetchMatching(t suiteT, ctx context.Context) {
	raws := [][]byte{
		simple("mailtest zebra report", "Alice <alice@example.com>", "nothing special here"),
		simple("weekly numbers", "Carol <carol@example.net>", "see attached", "X-Mailtest-Tag: blue"),
		simple("lunch", "Alice <alice@example.com>", "pineapple pizza, "+strings.Repeat("long ", 200)),
		simple("misc", "Erin <erin@example.com>", "a zebra crossed the road"),
	}
	mb := s.open(t, raws)
	msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, msgs, 4)
	pick := func(idx ...int) []mailaccess.ID {
		out := []mailaccess.ID{}
		for _, i := range idx {
			out = append(out, msgs[i].ID())
		}
		return out
	}
	cases := []struct {
		name string
		c    mailaccess.Criteria
		want []mailaccess.ID
	}{
		{"everything", mailaccess.Criteria{}, pick(0, 1, 2, 3)},
		{"subject", mailaccess.Criteria{Subject: "ZEBRA"}, pick(0)},
		{"from", mailaccess.Criteria{From: "alice@"}, pick(0, 2)},
		{"body", mailaccess.Criteria{Body: "pineapple"}, pick(2)},
		{"text", mailaccess.Criteria{Text: "zebra"}, pick(0, 3)},
		{"header", mailaccess.Criteria{Header: map[string]string{"X-Mailtest-Tag": "blue"}}, pick(1)},
		{"larger", mailaccess.Criteria{Larger: msgs[2].Size() - 1}, pick(2)},
		{"none", mailaccess.Criteria{Subject: "no message has this"}, pick()},
	}
	if mb.Capabilities().Has(mailaccess.CapFlags) {
		require.NoError(t, mb.SetFlags(ctx, mailaccess.Inbox, pick(1), mailaccess.AddFlags, mailaccess.FlagSeen))
		cases = append(cases, struct {
			name string
			c    mailaccess.Criteria
			want []mailaccess.ID
		}{"unseen", mailaccess.Criteria{WithoutFlags: []mailaccess.Flag{mailaccess.FlagSeen}}, pick(0, 2, 3)})
	} else {
		// No flags kept: nothing is seen, everything is unseen.
		cases = append(cases, struct {
			name string
			c    mailaccess.Criteria
			want []mailaccess.ID
		}{"unseen without flags", mailaccess.Criteria{WithoutFlags: []mailaccess.Flag{mailaccess.FlagSeen}}, pick(0, 1, 2, 3)})
	}
	for _, c := range cases {
		for _, opts := range []*mailaccess.FetchOptions{nil, {Headers: true, Structure: true}} {
			got := []mailaccess.ID{}
			for m, err := range mb.FetchMatching(ctx, mailaccess.Inbox, c.c, opts) {
				require.NoError(t, err, "FetchMatching %s", c.name)
				got = append(got, m.ID())
				if opts != nil {
					assert.NotEmpty(t, m.Header().Subject(), "FetchMatching %s: header asked for", c.name)
					assert.NotNil(t, m.Structure(), "FetchMatching %s: structure asked for", c.name)
				} else {
					assert.True(t, m.Header().IsZero(), "FetchMatching %s: no header unless asked", c.name)
				}
			}
			assert.Equal(t, c.want, got, "FetchMatching %s", c.name)
		}
		if mb.Capabilities().Has(mailaccess.CapSearch) {
			ids, err := mb.Search(ctx, mailaccess.Inbox, c.c)
			require.NoError(t, err)
			if len(ids) == 0 {
				ids = []mailaccess.ID{}
			}
			assert.Equal(t, ids, c.want, "Search and FetchMatching agree: %s", c.name)
		}
	}
}

// latin1Sample is a message whose text part needs charset conversion.
func latin1Sample() []byte {
	return []byte("From: a@example.com\r\nTo: b@example.org\r\nSubject: latin\r\nDate: Fri, 06 Jan 2006 09:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus K=F6ln\r\n" +
		"--b\r\nContent-Type: application/pdf; name=\"=?UTF-8?Q?Rechnung_M=C3=A4rz.pdf?=\"\r\nContent-Disposition: attachment; filename=\"../Rechnung.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\nContent-ID: <inv@example.org>\r\n\r\nJVBERi0xLjQK\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Disposition: attachment; filename*0*=UTF-8''Gr%C3%BC%C3%9Fe; filename*1=\".txt\"\r\n\r\nnotes\r\n" +
		"--b--\r\n")
}

func (s *suite) testStructure(t suiteT, ctx context.Context) {
	raws := append(edgeRaws(), latin1Sample())
	mb := s.open(t, raws)
	msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, msgs, len(raws))
	for i, m := range msgs {
		st, err := mb.Structure(ctx, mailaccess.Inbox, m.ID())
		require.NoError(t, err, "Structure of sample %d", i)
		body := read(t, ctx, mb, mailaccess.Inbox, m.ID(), nil)
		want, err := mailmime.ParseStructure(bytes.NewReader(body), nil)
		require.NoError(t, err)
		assert.Equal(t, partSummary(want), partSummary(st), "sample %d: Structure differs from the structure of the message Open returns", i)
	}
	nestedAt := slices.IndexFunc(sampleNames(), func(n string) bool { return n == "nested-multipart" })
	st, err := mb.Structure(ctx, mailaccess.Inbox, msgs[nestedAt].ID())
	require.NoError(t, err)
	assert.Nil(t, st.Path, "the root of a multipart message has no number")
	assert.Equal(t, "multipart/mixed", st.Type)
	if assert.NotNil(t, st.Text()) && assert.NotNil(t, st.HTML()) {
		assert.Equal(t, []int{1, 1}, st.Text().Path)
		assert.Equal(t, []int{1, 2}, st.HTML().Path)
	}
	var att []string
	for _, a := range st.Attachments() {
		att = append(att, mailaccess.PathString(a.Path)+" "+a.Type+" "+a.Filename)
	}
	assert.Equal(t, []string{"2 application/octet-stream bytes.bin", "3 message/rfc822 "}, att)
	assert.EqualValues(t, len(nestedSample().Parts["2"]), st.Find([]int{2}).Size, "size of the base64 body as stored")

	st, err = mb.Structure(ctx, mailaccess.Inbox, msgs[len(msgs)-1].ID())
	require.NoError(t, err)
	a := st.Find([]int{2})
	require.NotNil(t, a)
	assert.Equal(t, "Rechnung.pdf", a.Filename, "a file name made safe")
	assert.Equal(t, "../Rechnung.pdf", a.RawFilename)
	assert.Equal(t, "inv@example.org", a.ContentID)
	if a := st.Find([]int{3}); assert.NotNil(t, a) {
		assert.Equal(t, "Grüße.txt", a.RawFilename, "RFC 2231 continuations joined and decoded")
		assert.True(t, a.IsAttachment(), "a text part with an attachment disposition is an attachment")
	}
	assert.Equal(t, "iso-8859-1", st.Text().Charset)
	assert.Equal(t, "quoted-printable", st.Text().Encoding)

	_, err = mb.Structure(ctx, mailaccess.Inbox, s.unknownIDFor(msgs[0].ID()))
	assert.ErrorIs(t, err, mailaccess.ErrNotFound, "Structure of an unknown ID")
}

func (s *suite) testOpenPart(t suiteT, ctx context.Context) {
	nested := nestedSample()
	single := simple("single", "a@example.com", "single body")
	mb := s.open(t, [][]byte{nested.Raw, single, latin1Sample()})
	msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, msgs, 3)
	readPart := func(id mailaccess.ID, path []int, opts *mailaccess.PartOptions) ([]byte, error) {
		rc, err := mb.OpenPart(ctx, mailaccess.Inbox, id, path, opts)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	attachment, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(nested.Parts["2"]))
	for _, c := range []struct {
		id   mailaccess.ID
		path []int
		want string
	}{
		{msgs[0].ID(), []int{1, 1}, nested.Parts["1.1"]},
		{msgs[0].ID(), []int{1, 2}, nested.Parts["1.2"]},
		{msgs[0].ID(), []int{2}, string(attachment)},
		{msgs[0].ID(), []int{3, 1}, nested.Parts["3.1"]},
		{msgs[1].ID(), []int{1}, "single body\r\n"},
		{msgs[2].ID(), []int{2}, "%PDF-1.4\n"},
	} {
		got, err := readPart(c.id, c.path, nil)
		require.NoError(t, err, "OpenPart %v", c.path)
		assert.Equal(t, c.want, string(got), "part %v decoded", c.path)
		// The same as reading the message with Open and taking the part.
		rc, err := mailmime.ReadPart(bytes.NewReader(read(t, ctx, mb, mailaccess.Inbox, c.id, nil)), c.path, nil, nil)
		require.NoError(t, err)
		local, _ := io.ReadAll(rc)
		assert.Equal(t, string(local), string(got), "part %v: OpenPart differs from the part of the message Open returns", c.path)
	}
	got, err := readPart(msgs[2].ID(), []int{1}, &mailaccess.PartOptions{UTF8: true})
	require.NoError(t, err)
	assert.Equal(t, "Grüße aus Köln", string(got), "quoted-printable ISO-8859-1 text in UTF-8")
	got, err = readPart(msgs[2].ID(), []int{1}, nil)
	require.NoError(t, err)
	assert.Equal(t, "Gr\xfc\xdfe aus K\xf6ln", string(got), "without UTF8 the text keeps its charset")

	_, err = readPart(msgs[0].ID(), []int{9}, nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound, "a part that does not exist")
	_, err = readPart(msgs[1].ID(), []int{2}, nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound, "part 2 of a single-part message")
	_, err = readPart(msgs[0].ID(), nil, nil)
	assert.ErrorIs(t, err, mailaccess.ErrInvalid, "an empty part path")
	_, err = readPart(s.unknownIDFor(msgs[0].ID()), []int{1}, nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound, "OpenPart of an unknown ID")
	if !errors.Is(err, mailaccess.ErrNotFound) {
		return
	}
	// Closing a part unread leaves the Mailbox usable.
	rc, err := mb.OpenPart(ctx, mailaccess.Inbox, msgs[0].ID(), []int{2}, nil)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	_, err = mb.Status(ctx, mailaccess.Inbox)
	assert.NoError(t, err, "Status after OpenPart closed unread")
}
