package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// Harness describes a [mailaccess.Mailbox] implementation to [TestMailbox].
// Only Open is required.
type Harness struct {
	// Open returns a Mailbox over a fresh, empty store whose INBOX holds
	// msgs, in order: List must yield msgs[0] first. Each subtest calls it
	// once (or more) with its own messages, so stores must not be shared
	// between calls. A store that cannot append through the Mailbox (POP3)
	// seeds on the server side. Open fails the test (t.Fatal) if it cannot
	// set up the store. The suite closes the Mailbox; Open registers any
	// other cleanup with t.Cleanup.
	Open func(t testing.TB, msgs [][]byte) mailaccess.Mailbox

	// Reopen, optional, returns a new Mailbox on the same store as mb, as
	// a new session would see it. mb was returned by Open (or Reopen) in
	// the same subtest and may already be closed; the suite closes it
	// before calling Reopen when the store allows only one session (POP3
	// locks the maildrop), so Reopen must not rely on mb being open. It is
	// called right after that Close: a driver whose Close returns before
	// the server has released its lock (a POP3 client that drops the
	// connection instead of sending RSET and QUIT and awaiting the reply)
	// makes Reopen fail with [mailaccess.ErrLocked] now and then. Without
	// Reopen the checks of stable IDs across sessions and of deferred
	// deletes being discarded by Close are skipped.
	Reopen func(t testing.TB, mb mailaccess.Mailbox) mailaccess.Mailbox

	// Deliver, optional, adds raw to the INBOX of mb's store from the side,
	// as the MTA would, while mb is open. The Watch subtest uses it to make
	// new mail arrive; without it the subtest appends through mb when mb
	// has CapAppend and is skipped otherwise.
	Deliver func(t testing.TB, mb mailaccess.Mailbox, raw []byte)

	// Normalize, optional, maps a seeded (or appended) message to the bytes
	// the store is expected to return for it, e.g. [mailtest.NormalizeCRLF] for
	// servers that store CRLF line endings. Nil means byte-exact.
	Normalize func(raw []byte) []byte

	// Skip names subtests not to run, each with the reason logged, e.g.
	// {"Watch": "server has no IDLE and polling is too slow here"}. The
	// names are the top-level subtests of TestMailbox: Capabilities,
	// RoundTrip, ListHeaders, FetchHeader, NotFound, StableIDs, Partial,
	// Flags, Changes, Delete, Append, CopyMove, Search, SearchDecoded,
	// SearchDates, Sort, Watch, FolderManager, BatchForms, Fetch,
	// FetchMatching, Structure, OpenPart, EarlyBreak, Concurrent,
	// Cancelled, Close.
	Skip map[string]string

	// UnknownID, optional, returns an ID in the driver's form that names
	// no message of mb's INBOX, given known, the ID of one that exists
	// (for a driver whose IDs carry more than a number, such as IMAP's
	// "<uidvalidity>.<uid>"). Nil means the ID "999999999".
	UnknownID func(known mailaccess.ID) mailaccess.ID

	// Timeout bounds each subtest's context; 0 means 30 seconds.
	Timeout time.Duration
}

// TestMailbox checks a Mailbox implementation against the mailaccess
// contract, as fstest.TestFS does for file systems. Run it from a test:
//
//	func TestConformance(t *testing.T) {
//		conformance.TestMailbox(t, conformance.Harness{Open: openMyStore})
//	}
//
// The subtests adapt to the capabilities the Mailbox declares: a declared
// capability must work, and an operation whose capability is missing must
// fail with an error matching [errors.ErrUnsupported]. The package
// documentation lists what they cover; [Harness] names them. A subtest
// that needs what h does not give (Reopen, Deliver) or a capability the
// Mailbox lacks is skipped with the reason logged: run with -v to see
// them.
func TestMailbox(t *testing.T, h Harness) {
	runSuite(stdT{t}, h)
}

// suiteT is what the suite needs from a test: testing.TB plus subtests.
// The indirection lets this package's own tests run the suite under a
// recording TB and check that it catches broken implementations.
type suiteT interface {
	testing.TB
	run(name string, f func(t suiteT)) bool
}

type stdT struct{ *testing.T }

func (s stdT) run(name string, f func(t suiteT)) bool {
	return s.T.Run(name, func(t *testing.T) { f(stdT{t}) })
}

type suite struct {
	h Harness
}

type subtest struct {
	name string
	fn   func(s *suite, t suiteT, ctx context.Context)
}

var subtests = []subtest{
	{"Capabilities", (*suite).testCapabilities},
	{"RoundTrip", (*suite).testRoundTrip},
	{"ListHeaders", (*suite).testListHeaders},
	{"FetchHeader", (*suite).testFetchHeader},
	{"NotFound", (*suite).testNotFound},
	{"StableIDs", (*suite).testStableIDs},
	{"Partial", (*suite).testPartial},
	{"Flags", (*suite).testFlags},
	{"Changes", (*suite).testChanges},
	{"Delete", (*suite).testDelete},
	{"Append", (*suite).testAppend},
	{"CopyMove", (*suite).testCopyMove},
	{"Search", (*suite).testSearch},
	{"SearchDecoded", (*suite).testSearchDecoded},
	{"SearchDates", (*suite).testSearchDates},
	{"Sort", (*suite).testSort},
	{"Watch", (*suite).testWatch},
	{"FolderManager", (*suite).testFolderManager},
	{"BatchForms", (*suite).testBatchForms},
	{"Fetch", (*suite).testFetch},
	{"FetchMatching", (*suite).testFetchMatching},
	{"Structure", (*suite).testStructure},
	{"OpenPart", (*suite).testOpenPart},
	{"EarlyBreak", (*suite).testEarlyBreak},
	{"Concurrent", (*suite).testConcurrent},
	{"Cancelled", (*suite).testCancelled},
	{"Close", (*suite).testClose},
}

func runSuite(t suiteT, h Harness) {
	t.Helper()
	if h.Open == nil {
		t.Fatal("conformance: Harness.Open is nil")
	}
	s := &suite{h: h}
	for _, st := range subtests {
		t.run(st.name, func(t suiteT) {
			if reason, ok := h.Skip[st.name]; ok {
				t.Skipf("skipped by the harness: %s", reason)
			}
			timeout := h.Timeout
			if timeout <= 0 {
				timeout = 30 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			st.fn(s, t, ctx)
		})
	}
}

// --- helpers ---

func (s *suite) want(raw []byte) []byte {
	if s.h.Normalize != nil {
		return s.h.Normalize(bytes.Clone(raw))
	}
	return raw
}

func (s *suite) open(t suiteT, msgs [][]byte) mailaccess.Mailbox {
	t.Helper()
	mb := s.h.Open(t, msgs)
	require.NotNil(t, mb, "Harness.Open returned nil")
	t.Cleanup(func() { mb.Close() })
	return mb
}

func (s *suite) reopen(t suiteT, mb mailaccess.Mailbox) mailaccess.Mailbox {
	t.Helper()
	mb2 := s.h.Reopen(t, mb)
	require.NotNil(t, mb2, "Harness.Reopen returned nil")
	t.Cleanup(func() { mb2.Close() })
	return mb2
}

func list(t suiteT, ctx context.Context, mb mailaccess.Mailbox, folder string, opts *mailaccess.ListOptions) []mailaccess.Message {
	t.Helper()
	var out []mailaccess.Message
	for m, err := range mb.List(ctx, folder, opts) {
		require.NoError(t, err, "List %s", folder)
		require.NotNil(t, m, "List yielded a nil Message without error")
		out = append(out, m)
	}
	return out
}

func idsOf(msgs []mailaccess.Message) []mailaccess.ID {
	ids := make([]mailaccess.ID, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID()
	}
	return ids
}

func read(t suiteT, ctx context.Context, mb mailaccess.Mailbox, folder string, id mailaccess.ID, opts *mailaccess.OpenOptions) []byte {
	t.Helper()
	rc, err := mb.Open(ctx, folder, id, opts)
	require.NoError(t, err, "Open %s/%s", folder, id)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err, "reading %s/%s", folder, id)
	return b
}

// contents lists folder and returns the bytes of every message, in order.
func contents(t suiteT, ctx context.Context, mb mailaccess.Mailbox, folder string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, m := range list(t, ctx, mb, folder, nil) {
		out = append(out, read(t, ctx, mb, folder, m.ID(), nil))
	}
	return out
}

func containsBytes(all [][]byte, b []byte) bool {
	return slices.ContainsFunc(all, func(x []byte) bool { return bytes.Equal(x, b) })
}

func requireUnsupported(t suiteT, err error, what string) {
	t.Helper()
	require.Error(t, err, "%s: the Mailbox lacks the capability, so it must fail, not succeed", what)
	require.ErrorIs(t, err, errors.ErrUnsupported, "%s: the Mailbox lacks the capability", what)
}

func headerFields(h mailaccess.Header) []string {
	var out []string
	for k, v := range h.Fields() {
		out = append(out, strings.ToLower(k)+": "+v)
	}
	return out
}

func parseHeader(t suiteT, raw []byte) mailaccess.Header {
	t.Helper()
	h, err := mailaccess.ParseHeader(bytes.NewReader(raw))
	require.NoError(t, err)
	return h
}

func simple(subject, from, body string, extra ...string) []byte {
	var b strings.Builder
	b.WriteString("From: " + from + "\r\nTo: Dave <dave@example.org>\r\nSubject: " + subject + "\r\n")
	b.WriteString("Date: Fri, 06 Jan 2006 09:00:00 +0000\r\n")
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	b.WriteString("\r\n" + body + "\r\n")
	return []byte(b.String())
}

func edgeRaws() [][]byte {
	var out [][]byte
	for _, s := range mailtest.EdgeCases() {
		out = append(out, s.Raw)
	}
	return out
}

func sampleNames() []string {
	var out []string
	for _, s := range mailtest.EdgeCases() {
		out = append(out, s.Name)
	}
	return out
}

// --- subtests ---

func (s *suite) testCapabilities(t suiteT, ctx context.Context) {
	mb := s.open(t, [][]byte{simple("caps", "a@example.com", "x")})
	caps := mb.Capabilities()
	t.Logf("capabilities: %s", caps)
	if caps.Has(mailaccess.CapDeferredDelete) {
		assert.True(t, caps.Has(mailaccess.CapDelete), "deferred-delete without delete")
		// Directly, or through As for a wrapper (what mailaccess.Commit uses).
		_, ok := driver.Find[driver.Committer](mb)
		assert.True(t, ok, "deferred-delete declared but the Mailbox offers no driver.Committer, not even through As")
		_, ok = driver.Find[driver.Rollbacker](mb)
		assert.True(t, ok, "deferred-delete declared but the Mailbox offers no driver.Rollbacker, not even through As")
	}
	if caps.Has(mailaccess.CapManageFolders) {
		_, ok := driver.Find[driver.FolderManager](mb)
		assert.True(t, ok, "manage-folders declared but the Mailbox offers no driver.FolderManager, not even through As")
	}
	if caps.Has(mailaccess.CapKeywords) {
		assert.True(t, caps.Has(mailaccess.CapFlags), "keywords without flags")
	}
	st, err := mb.Status(ctx, mailaccess.Inbox)
	require.NoError(t, err)
	if caps.Has(mailaccess.CapFlags) {
		assert.Equal(t, 1, st.Unseen, "Status.Unseen of one unseen message")
		assert.True(t, st.UnseenKnown())
	} else {
		assert.Equal(t, mailaccess.UnknownCount, st.Unseen, "without CapFlags Status.Unseen must be UnknownCount, not 0 (0 makes programs skip all mail)")
		assert.False(t, st.UnseenKnown())
	}
	if st.UIDNext != 0 {
		assert.NotZero(t, list(t, ctx, mb, mailaccess.Inbox, nil)[0].Info().UID, "a store reporting UIDNext has numeric UIDs")
	}
	folders, err := mb.Folders(ctx)
	require.NoError(t, err)
	var names []string
	for _, f := range folders {
		names = append(names, f.Name)
	}
	assert.Contains(t, names, mailaccess.Inbox, "Folders must include INBOX")
	if !caps.Has(mailaccess.CapFolders) {
		assert.Equal(t, []string{mailaccess.Inbox}, names, "without CapFolders only INBOX")
	}
}

func (s *suite) testRoundTrip(t suiteT, ctx context.Context) {
	raws := edgeRaws()
	names := sampleNames()
	mb := s.open(t, raws)
	msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, msgs, len(raws), "List must yield every seeded message")
	seen := map[mailaccess.ID]bool{}
	var total int64
	for i, m := range msgs {
		require.NotEmpty(t, m.ID(), "message %d has an empty ID", i)
		require.False(t, seen[m.ID()], "duplicate ID %q", m.ID())
		seen[m.ID()] = true
		assert.Equal(t, mailaccess.Inbox, m.Folder(), "Folder()")
		got := read(t, ctx, mb, mailaccess.Inbox, m.ID(), nil)
		want := s.want(raws[i])
		if !assert.True(t, bytes.Equal(want, got), "sample %q (list position %d) is not returned byte for byte: %s", names[i], i, firstDiff(want, got)) {
			continue
		}
		assert.Equal(t, int64(len(got)), m.Size(), "sample %q: Size() must equal the bytes Open returns", names[i])
		total += int64(len(got))
		viaMsg, err := m.Open(ctx)
		require.NoError(t, err)
		b, err := io.ReadAll(viaMsg)
		viaMsg.Close()
		require.NoError(t, err)
		assert.True(t, bytes.Equal(got, b), "Message.Open and Mailbox.Open differ for %q", names[i])
		if uid := m.Info().UID; uid != 0 && i > 0 {
			assert.Greater(t, uid, msgs[i-1].Info().UID, "UIDs must ascend in List order")
		}
	}
	if uid := msgs[2].Info().UID; uid != 0 {
		assert.Equal(t, idsOf(msgs[2:]), idsOf(list(t, ctx, mb, mailaccess.Inbox, &mailaccess.ListOptions{MinUID: uid})), "List with MinUID")
	}
	st, err := mb.Status(ctx, mailaccess.Inbox)
	require.NoError(t, err)
	assert.Equal(t, len(raws), st.Messages, "Status.Messages")
	if st.Size != 0 {
		assert.Equal(t, total, st.Size, "Status.Size")
	}
}

func firstDiff(a, b []byte) string {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			lo := max(0, i-20)
			return fmt.Sprintf("first difference at byte %d: want %q, got %q (lengths %d, %d)", i, a[lo:min(len(a), i+20)], b[lo:min(len(b), i+20)], len(a), len(b))
		}
	}
	return fmt.Sprintf("lengths differ: want %d, got %d", len(a), len(b))
}

func (s *suite) testListHeaders(t suiteT, ctx context.Context) {
	raws := edgeRaws()
	mb := s.open(t, raws)
	msgs := list(t, ctx, mb, mailaccess.Inbox, &mailaccess.ListOptions{Headers: true})
	require.Len(t, msgs, len(raws))
	for i, m := range msgs {
		want := parseHeader(t, s.want(raws[i]))
		assert.Equal(t, headerFields(want), headerFields(m.Header()), "List(Headers) of sample %d", i)
		assert.Equal(t, want.Subject(), m.Header().Subject())
	}
	for i, m := range list(t, ctx, mb, mailaccess.Inbox, nil) {
		assert.True(t, m.Header().IsZero(), "message %d: List without Headers must leave Header zero", i)
	}
}

func (s *suite) testFetchHeader(t suiteT, ctx context.Context) {
	raws := edgeRaws()
	mb := s.open(t, raws)
	for i, m := range list(t, ctx, mb, mailaccess.Inbox, nil) {
		h, err := mb.FetchHeader(ctx, mailaccess.Inbox, m.ID())
		require.NoError(t, err)
		want := parseHeader(t, read(t, ctx, mb, mailaccess.Inbox, m.ID(), nil))
		assert.Equal(t, headerFields(want), headerFields(h), "FetchHeader must equal the header of Open (sample %d)", i)
	}
}

const unknownID = mailaccess.ID("999999999")

func (s *suite) testNotFound(t suiteT, ctx context.Context) {
	mb := s.open(t, [][]byte{simple("nf", "a@example.com", "x")})
	unknown := unknownID
	if s.h.UnknownID != nil {
		unknown = s.h.UnknownID(idsOf(list(t, ctx, mb, mailaccess.Inbox, nil))[0])
	}
	_, err := mb.Open(ctx, mailaccess.Inbox, unknown, nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound, "Open of an unknown ID")
	_, err = mb.FetchHeader(ctx, mailaccess.Inbox, unknown)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound, "FetchHeader of an unknown ID")
	_, err = mb.Status(ctx, "mailtest-no-such-folder")
	assert.ErrorIs(t, err, mailaccess.ErrNotFound, "Status of an unknown folder")
}

func (s *suite) testStableIDs(t suiteT, ctx context.Context) {
	raws := [][]byte{simple("s1", "a@example.com", "1"), simple("s2", "a@example.com", "2"), simple("s3", "a@example.com", "3")}
	mb := s.open(t, raws)
	first := idsOf(list(t, ctx, mb, mailaccess.Inbox, nil))
	assert.Equal(t, first, idsOf(list(t, ctx, mb, mailaccess.Inbox, nil)), "IDs must not change between two listings")
	if !mb.Capabilities().Has(mailaccess.CapUID) {
		t.Skip("no CapUID: IDs need not survive a new session")
	}
	if s.h.Reopen == nil {
		t.Skip("Harness.Reopen is nil")
	}
	require.NoError(t, mb.Close())
	mb2 := s.reopen(t, mb)
	assert.Equal(t, first, idsOf(list(t, ctx, mb2, mailaccess.Inbox, nil)), "with CapUID, IDs must be the same in a new session")
	for i, id := range first {
		assert.True(t, bytes.Equal(s.want(raws[i]), read(t, ctx, mb2, mailaccess.Inbox, id, nil)), "ID %s names another message after reopening", id)
	}
}

// nestedSample returns the EdgeCases sample with a MIME structure.
func nestedSample() mailtest.Sample {
	for _, e := range mailtest.EdgeCases() {
		if e.Name == "nested-multipart" {
			return e
		}
	}
	panic("conformance: mailtest.EdgeCases has no nested-multipart sample")
}

func (s *suite) testPartial(t suiteT, ctx context.Context) {
	var nested []byte
	for _, e := range mailtest.EdgeCases() {
		if e.Name == "nested-multipart" {
			nested = e.Raw
		}
	}
	single := simple("single", "a@example.com", "single body")
	mb := s.open(t, [][]byte{nested, single})
	msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, msgs, 2)
	id, id2 := msgs[0].ID(), msgs[1].ID()
	if !mb.Capabilities().Has(mailaccess.CapPartial) {
		_, err := mb.Open(ctx, mailaccess.Inbox, id, &mailaccess.OpenOptions{Part: []int{1}})
		requireUnsupported(t, err, "Open with Part")
		_, err = mb.Open(ctx, mailaccess.Inbox, id, &mailaccess.OpenOptions{Offset: 1, Length: 2})
		requireUnsupported(t, err, "Open with a byte range")
		return
	}
	full := read(t, ctx, mb, mailaccess.Inbox, id, nil)
	assert.Equal(t, string(full[10:30]), string(read(t, ctx, mb, mailaccess.Inbox, id, &mailaccess.OpenOptions{Offset: 10, Length: 20})), "byte range 10+20")
	assert.Equal(t, string(full[5:]), string(read(t, ctx, mb, mailaccess.Inbox, id, &mailaccess.OpenOptions{Offset: 5})), "from offset 5")
	parts := nestedSample().Parts
	for _, c := range []struct {
		path []int
		want string
	}{{[]int{1, 1}, parts["1.1"]}, {[]int{1, 2}, parts["1.2"]}, {[]int{2}, parts["2"]}, {[]int{3, 1}, parts["3.1"]}} {
		got := read(t, ctx, mb, mailaccess.Inbox, id, &mailaccess.OpenOptions{Part: c.path})
		assert.Equal(t, c.want, string(got), "raw body of part %v", c.path)
	}
	assert.Equal(t, "single body\r\n", string(read(t, ctx, mb, mailaccess.Inbox, id2, &mailaccess.OpenOptions{Part: []int{1}})), "part 1 of a single-part message is its body")
	assert.Equal(t, "ngle", string(read(t, ctx, mb, mailaccess.Inbox, id2, &mailaccess.OpenOptions{Part: []int{1}, Offset: 2, Length: 4})), "range within a part")
}

func (s *suite) testFlags(t suiteT, ctx context.Context) {
	mb := s.open(t, [][]byte{simple("f1", "a@example.com", "1"), simple("f2", "a@example.com", "2")})
	msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, msgs, 2)
	a, b := msgs[0].ID(), msgs[1].ID()
	caps := mb.Capabilities()
	if !caps.Has(mailaccess.CapFlags) {
		requireUnsupported(t, mb.SetFlags(ctx, mailaccess.Inbox, []mailaccess.ID{a}, mailaccess.AddFlags, mailaccess.FlagSeen), "SetFlags")
		for _, m := range msgs {
			assert.Empty(t, m.Flags(), "without CapFlags a message has no flags")
		}
		return
	}
	flagsOf := func(id mailaccess.ID) mailaccess.Message {
		for _, m := range list(t, ctx, mb, mailaccess.Inbox, nil) {
			if m.ID() == id {
				return m
			}
		}
		t.Fatalf("message %s disappeared", id)
		return nil
	}
	require.NoError(t, mb.SetFlags(ctx, mailaccess.Inbox, []mailaccess.ID{a}, mailaccess.AddFlags, mailaccess.FlagSeen, mailaccess.FlagFlagged))
	m := flagsOf(a)
	assert.True(t, m.HasFlag(mailaccess.FlagSeen) && m.HasFlag(mailaccess.FlagFlagged), "after add: %v", m.Flags())
	assert.False(t, flagsOf(b).HasFlag(mailaccess.FlagSeen), "add must touch only the given message")
	st, err := mb.Status(ctx, mailaccess.Inbox)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Unseen, "Status.Unseen with one of two seen")

	require.NoError(t, mb.SetFlags(ctx, mailaccess.Inbox, []mailaccess.ID{a}, mailaccess.RemoveFlags, mailaccess.FlagSeen))
	m = flagsOf(a)
	assert.True(t, !m.HasFlag(mailaccess.FlagSeen) && m.HasFlag(mailaccess.FlagFlagged), "after remove: %v", m.Flags())

	require.NoError(t, mb.SetFlags(ctx, mailaccess.Inbox, []mailaccess.ID{a, b}, mailaccess.ReplaceFlags, mailaccess.FlagAnswered))
	for _, id := range []mailaccess.ID{a, b} {
		m = flagsOf(id)
		assert.True(t, m.HasFlag(mailaccess.FlagAnswered) && !m.HasFlag(mailaccess.FlagFlagged) && !m.HasFlag(mailaccess.FlagSeen), "after replace: %v", m.Flags())
	}

	kw := mailaccess.Flag("$MailtestLabel")
	err = mb.SetFlags(ctx, mailaccess.Inbox, []mailaccess.ID{a}, mailaccess.AddFlags, kw)
	if !caps.Has(mailaccess.CapKeywords) {
		requireUnsupported(t, err, "SetFlags with a keyword")
		return
	}
	require.NoError(t, err)
	m = flagsOf(a)
	assert.True(t, m.HasFlag(kw) && m.HasFlag(mailaccess.FlagAnswered), "after adding a keyword: %v", m.Flags())
}

func (s *suite) testChanges(t suiteT, ctx context.Context) {
	mb := s.open(t, [][]byte{simple("c1", "a@example.com", "1"), simple("c2", "a@example.com", "2")})
	caps := mb.Capabilities()
	if !caps.Has(mailaccess.CapChanges) {
		for _, err := range mb.List(ctx, mailaccess.Inbox, &mailaccess.ListOptions{ChangedSince: 1}) {
			requireUnsupported(t, err, "List with ChangedSince")
			break
		}
		return
	}
	st, err := mb.Status(ctx, mailaccess.Inbox)
	require.NoError(t, err)
	require.NotZero(t, st.HighestModSeq, "CapChanges: Status.HighestModSeq")
	if !caps.Has(mailaccess.CapFlags) {
		t.Skip("no CapFlags to change a message with")
	}
	msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.NoError(t, mb.SetFlags(ctx, mailaccess.Inbox, []mailaccess.ID{msgs[1].ID()}, mailaccess.AddFlags, mailaccess.FlagFlagged))
	st2, err := mb.Status(ctx, mailaccess.Inbox)
	require.NoError(t, err)
	assert.Greater(t, st2.HighestModSeq, st.HighestModSeq, "HighestModSeq must grow on a flag change")
	changed := list(t, ctx, mb, mailaccess.Inbox, &mailaccess.ListOptions{ChangedSince: st.HighestModSeq})
	assert.Equal(t, []mailaccess.ID{msgs[1].ID()}, idsOf(changed), "ChangedSince must list only the changed message")
}

func (s *suite) testDelete(t suiteT, ctx context.Context) {
	raws := [][]byte{simple("d1", "a@example.com", "1"), simple("d2", "a@example.com", "2"), simple("d3", "a@example.com", "3")}
	mb := s.open(t, raws)
	msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, msgs, 3)
	victim := msgs[1].ID()
	caps := mb.Capabilities()
	if !caps.Has(mailaccess.CapDelete) {
		requireUnsupported(t, mb.Delete(ctx, mailaccess.Inbox, victim), "Delete")
		assert.Len(t, list(t, ctx, mb, mailaccess.Inbox, nil), 3, "a refused Delete must not delete")
		return
	}
	kept := [][]byte{s.want(raws[0]), s.want(raws[2])}
	checkGone := func(mb mailaccess.Mailbox, id mailaccess.ID) {
		t.Helper()
		got := contents(t, ctx, mb, mailaccess.Inbox)
		assert.Equal(t, kept, got, "after deleting the second message")
		if id != "" {
			_, err := mb.Open(ctx, mailaccess.Inbox, id, nil)
			assert.ErrorIs(t, err, mailaccess.ErrNotFound, "Open of a deleted message")
		}
	}
	if !caps.Has(mailaccess.CapDeferredDelete) {
		require.NoError(t, mb.Delete(ctx, mailaccess.Inbox, victim))
		checkGone(mb, victim)
		if s.h.Reopen != nil {
			require.NoError(t, mb.Close())
			checkGone(s.reopen(t, mb), "")
		}
		return
	}
	// Rollback drops the marks: the message is back, and nothing is
	// reported at Close.
	require.NoError(t, mb.Delete(ctx, mailaccess.Inbox, victim))
	assert.Len(t, list(t, ctx, mb, mailaccess.Inbox, nil), 2, "a deferred delete hides the message at once")
	require.NoError(t, mailaccess.Rollback(ctx, mb))
	assert.Len(t, list(t, ctx, mb, mailaccess.Inbox, nil), 3, "Rollback brings the message back")
	closeDiscarding := func() {
		t.Helper()
		err := mb.Close()
		require.Error(t, err, "CapDeferredDelete: Close with a delete pending must report it was discarded")
		assert.ErrorIs(t, err, mailaccess.ErrDeletesDiscarded)
		assert.Contains(t, err.Error(), "1 pending deletion", "the error says how many deletions were dropped")
		assert.NoError(t, mb.Close(), "a second Close reports nothing")
	}
	if s.h.Reopen == nil {
		t.Log("no Harness.Reopen: not checking that Close without Commit left the message on the server")
		require.NoError(t, mb.Delete(ctx, mailaccess.Inbox, victim))
		require.NoError(t, mailaccess.Commit(ctx, mb))
		checkGone(mb, "")
		require.NoError(t, mb.Delete(ctx, mailaccess.Inbox, msgs[0].ID()))
		closeDiscarding()
		return
	}
	// Close without Commit discards the delete, and says so.
	require.NoError(t, mb.Delete(ctx, mailaccess.Inbox, victim))
	closeDiscarding()
	mb = s.reopen(t, mb)
	got := contents(t, ctx, mb, mailaccess.Inbox)
	assert.Len(t, got, 3, "CapDeferredDelete: Close without Commit must discard the delete")
	msgs = list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, msgs, 3)
	victim = msgs[1].ID()
	require.NoError(t, mb.Delete(ctx, mailaccess.Inbox, victim))
	require.NoError(t, mailaccess.Commit(ctx, mb))
	checkGone(mb, "")
	require.NoError(t, mb.Close(), "Close after Commit has nothing to report")
	checkGone(s.reopen(t, mb), "")
}

func (s *suite) testAppend(t suiteT, ctx context.Context) {
	mb := s.open(t, [][]byte{simple("a1", "a@example.com", "1")})
	raw := simple("appended", "b@example.com", "appended body")
	caps := mb.Capabilities()
	if !caps.Has(mailaccess.CapAppend) {
		_, err := mb.Append(ctx, mailaccess.Inbox, bytes.NewReader(raw), nil)
		requireUnsupported(t, err, "Append")
		return
	}
	date := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	opts := &mailaccess.AppendOptions{Date: date}
	if caps.Has(mailaccess.CapFlags) {
		opts.Flags = []mailaccess.Flag{mailaccess.FlagSeen}
	}
	id, err := mb.Append(ctx, mailaccess.Inbox, bytes.NewReader(raw), opts)
	require.NoError(t, err)
	msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, msgs, 2, "one seeded and one appended message")
	m := msgs[1]
	if id != "" {
		assert.Equal(t, id, m.ID(), "the ID Append returned must be the new message's")
	}
	assert.True(t, bytes.Equal(s.want(raw), read(t, ctx, mb, mailaccess.Inbox, m.ID(), nil)), "appended bytes")
	if d := m.Info().InternalDate; !d.IsZero() {
		assert.True(t, d.Equal(date), "internal date: want %v, got %v", date, d)
	}
	if caps.Has(mailaccess.CapFlags) {
		assert.True(t, m.HasFlag(mailaccess.FlagSeen), "appended flags: %v", m.Flags())
	}
}

// destFolder returns a folder other than INBOX for copy and move, or "".
func destFolder(t suiteT, ctx context.Context, mb mailaccess.Mailbox) string {
	t.Helper()
	if !mb.Capabilities().Has(mailaccess.CapFolders) {
		return ""
	}
	if mb.Capabilities().Has(mailaccess.CapManageFolders) {
		require.NoError(t, mailaccess.CreateFolder(ctx, mb, "mailtest-dest"))
		return "mailtest-dest"
	}
	folders, err := mb.Folders(ctx)
	require.NoError(t, err)
	for _, f := range folders {
		if f.Name != mailaccess.Inbox && !f.NoSelect {
			return f.Name
		}
	}
	return ""
}

func (s *suite) testCopyMove(t suiteT, ctx context.Context) {
	raws := [][]byte{simple("m1", "a@example.com", "1"), simple("m2", "a@example.com", "2")}
	mb := s.open(t, raws)
	msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, msgs, 2)
	caps := mb.Capabilities()
	canCopy := caps.Has(mailaccess.CapCopy)
	canMove := caps.Has(mailaccess.CapMove) || caps.Has(mailaccess.CapCopy|mailaccess.CapDelete)
	if !canCopy {
		_, err := mb.Copy(ctx, mailaccess.Inbox, []mailaccess.ID{msgs[0].ID()}, mailaccess.Inbox)
		requireUnsupported(t, err, "Copy")
	}
	if !canMove {
		_, err := mb.Move(ctx, mailaccess.Inbox, []mailaccess.ID{msgs[0].ID()}, mailaccess.Inbox)
		requireUnsupported(t, err, "Move")
	}
	if !canCopy && !canMove {
		return
	}
	dest := destFolder(t, ctx, mb)
	if dest == "" {
		t.Skip("no folder other than INBOX to copy or move to")
	}
	before := len(list(t, ctx, mb, dest, nil))
	if canCopy {
		newIDs, err := mb.Copy(ctx, mailaccess.Inbox, []mailaccess.ID{msgs[0].ID()}, dest)
		require.NoError(t, err)
		require.Len(t, newIDs, 1, "Copy returns one ID per message")
		got := contents(t, ctx, mb, dest)
		assert.Len(t, got, before+1)
		assert.True(t, containsBytes(got, s.want(raws[0])), "the copy is in %s", dest)
		if newIDs[0] != "" {
			assert.True(t, bytes.Equal(s.want(raws[0]), read(t, ctx, mb, dest, newIDs[0], nil)), "the returned ID opens the copy")
		}
		assert.Equal(t, [][]byte{s.want(raws[0]), s.want(raws[1])}, contents(t, ctx, mb, mailaccess.Inbox), "Copy keeps the source")
		before++
	}
	if canMove {
		newIDs, err := mb.Move(ctx, mailaccess.Inbox, []mailaccess.ID{msgs[1].ID()}, dest)
		require.NoError(t, err)
		require.Len(t, newIDs, 1, "Move returns one ID per message")
		got := contents(t, ctx, mb, dest)
		assert.Len(t, got, before+1)
		assert.True(t, containsBytes(got, s.want(raws[1])), "the moved message is in %s", dest)
		if newIDs[0] != "" {
			assert.True(t, bytes.Equal(s.want(raws[1]), read(t, ctx, mb, dest, newIDs[0], nil)), "the returned ID opens the moved message")
		}
		assert.False(t, containsBytes(contents(t, ctx, mb, mailaccess.Inbox), s.want(raws[1])), "Move removes the source")
	}
}

func (s *suite) testWatch(t suiteT, ctx context.Context) {
	mb := s.open(t, [][]byte{simple("w1", "a@example.com", "1")})
	caps := mb.Capabilities()
	deliver := func(raw []byte) {
		if s.h.Deliver != nil {
			s.h.Deliver(t, mb, raw)
			return
		}
		_, err := mb.Append(ctx, mailaccess.Inbox, bytes.NewReader(raw), nil)
		require.NoError(t, err, "Append to make new mail arrive")
	}
	if s.h.Deliver == nil && !caps.Has(mailaccess.CapAppend) {
		t.Skip("no Harness.Deliver and no CapAppend: cannot make new mail arrive")
	}
	push := caps.Has(mailaccess.CapPush)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		ev  mailaccess.Event
		err error
	}
	results := make(chan result, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev, err := range mb.Watch(wctx, mailaccess.Inbox, &mailaccess.WatchOptions{PollInterval: 50 * time.Millisecond}) {
			select {
			case results <- result{ev, err}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	// The watch takes its starting point at some moment we cannot observe,
	// so deliver until it reports new mail (a bounded number of times).
	var got *mailaccess.Event
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deliver(simple("watched", "a@example.com", "new"))
	for tries := 1; got == nil; {
		select {
		case r := <-results:
			require.NoError(t, r.err, "Watch failed before cancellation")
			if r.ev.Kind == mailaccess.EventNew {
				got = &r.ev
			}
		case <-tick.C:
			if tries >= 20 {
				t.Fatalf("Watch reported no EventNew after %d deliveries", tries)
			}
			tries++
			deliver(simple("watched", "a@example.com", "new"))
		case <-ctx.Done():
			t.Fatalf("Watch reported no EventNew before the test timed out")
		}
	}
	assert.Equal(t, push, got.Push, "Event.Push must be %v for a Mailbox with capabilities %s", push, caps)
	assert.Equal(t, mailaccess.Inbox, got.Folder)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not end within 10s of its context being cancelled")
	}
	var last error
	for len(results) > 0 {
		if r := <-results; r.err != nil {
			last = r.err
		}
	}
	if assert.Error(t, last, "Watch must end by yielding ctx.Err()") {
		assert.ErrorIs(t, last, context.Canceled)
	}
}

func (s *suite) testFolderManager(t suiteT, ctx context.Context) {
	mb := s.open(t, [][]byte{simple("fm", "a@example.com", "1")})
	if !mb.Capabilities().Has(mailaccess.CapManageFolders) {
		requireUnsupported(t, mailaccess.CreateFolder(ctx, mb, "mailtest-new"), "CreateFolder")
		requireUnsupported(t, mailaccess.RenameFolder(ctx, mb, "mailtest-new", "mailtest-renamed"), "RenameFolder")
		requireUnsupported(t, mailaccess.DeleteFolder(ctx, mb, "mailtest-new"), "DeleteFolder")
		return
	}
	names := func() []string {
		fs, err := mb.Folders(ctx)
		require.NoError(t, err)
		var out []string
		for _, f := range fs {
			out = append(out, f.Name)
		}
		return out
	}
	require.NoError(t, mailaccess.CreateFolder(ctx, mb, "mailtest-new"))
	assert.Contains(t, names(), "mailtest-new")
	st, err := mb.Status(ctx, "mailtest-new")
	require.NoError(t, err)
	assert.Equal(t, 0, st.Messages)
	require.NoError(t, mailaccess.RenameFolder(ctx, mb, "mailtest-new", "mailtest-renamed"))
	n := names()
	assert.Contains(t, n, "mailtest-renamed")
	assert.NotContains(t, n, "mailtest-new")
	require.NoError(t, mailaccess.DeleteFolder(ctx, mb, "mailtest-renamed"))
	assert.NotContains(t, names(), "mailtest-renamed")
	_, err = mb.Status(ctx, "mailtest-renamed")
	assert.ErrorIs(t, err, mailaccess.ErrNotFound, "Status of a deleted folder")
}

// testBatchForms checks that the batch forms of Open and Append found by
// the discovery rule (driver.Find: on the Mailbox, else through As) do
// what the Mailbox's own Open and Append do (BatchOpener, KeyedAppender,
// OrderedAppender). A wrapper that replaces Open
// or Append but lets As pass the wrapped driver's batch form on fails
// here: the sync engine would go around it.
func (s *suite) testBatchForms(t suiteT, ctx context.Context) {
	raws := edgeRaws()
	mb := s.open(t, raws)
	bo, batch := driver.Find[driver.BatchOpener](mb)
	ka, keyed := driver.Find[driver.KeyedAppender](mb)
	oa, ordered := driver.Find[driver.OrderedAppender](mb)
	if !batch && !keyed && !ordered {
		t.Skip("no BatchOpener, KeyedAppender or OrderedAppender, on the Mailbox or through As")
	}
	if ordered && mb.Capabilities().Has(mailaccess.CapAppend) {
		s.checkOrderedAppend(t, ctx, mb, oa)
	}
	if batch {
		msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
		ids := idsOf(msgs)
		got := map[mailaccess.ID][]byte{}
		err := bo.OpenAll(ctx, mailaccess.Inbox, ids, func(id mailaccess.ID, r io.Reader) error {
			b, err := io.ReadAll(r)
			got[id] = b
			return err
		})
		require.NoError(t, err, "OpenAll")
		for _, id := range ids {
			want := read(t, ctx, mb, mailaccess.Inbox, id, nil)
			b, ok := got[id]
			if assert.True(t, ok, "OpenAll did not deliver message %s", id) {
				assert.True(t, bytes.Equal(want, b), "message %s: OpenAll (found through driver.Find) returns other bytes than Open: a wrapper that replaces Open must not pass the BatchOpener on through As; %s", id, firstDiff(want, b))
			}
		}
	}
	if keyed && mb.Capabilities().Has(mailaccess.CapAppend) {
		raw := simple("batch forms", "a@example.com", "appended twice")
		plain, err := mb.Append(ctx, mailaccess.Inbox, bytes.NewReader(raw), nil)
		require.NoError(t, err, "Append")
		// (The folder is the test's own: a fixed key is unique in it, and
		// within what a store accepts: at most 128 of A-Z a-z 0-9 - _.)
		key := "conformance-keyed"
		kid, err := ka.AppendWithKey(ctx, mailaccess.Inbox, key, bytes.NewReader(raw), nil)
		require.NoError(t, err, "AppendWithKey")
		require.NoError(t, driver.Flush(ctx, mb), "Flush")
		found, ok, err := ka.HasKey(ctx, mailaccess.Inbox, key)
		require.NoError(t, err, "HasKey")
		require.True(t, ok, "HasKey does not find the key just appended")
		if kid != "" {
			assert.Equal(t, kid, found, "HasKey returns another ID than AppendWithKey")
		}
		msgs := list(t, ctx, mb, mailaccess.Inbox, nil)
		var plainBytes, keyedBytes []byte
		for _, m := range msgs {
			switch m.ID() {
			case plain:
				plainBytes = read(t, ctx, mb, mailaccess.Inbox, m.ID(), nil)
			case found:
				keyedBytes = read(t, ctx, mb, mailaccess.Inbox, m.ID(), nil)
			}
		}
		if plain == "" {
			t.Logf("Append returned no ID: only the keyed copy is checked")
			plainBytes = s.want(raw)
		}
		require.NotNil(t, keyedBytes, "the message appended with a key is not listed")
		assert.True(t, bytes.Equal(plainBytes, keyedBytes), "AppendWithKey (found through driver.Find) stores other bytes than Append: a wrapper that replaces Append must not pass the KeyedAppender on through As; %s", firstDiff(plainBytes, keyedBytes))
	}
}

// checkOrderedAppend checks an OrderedAppender found through driver.Find
// against the Mailbox: AppendWithKeyAt stores what Append stores (a
// wrapper that replaces Append but lets As pass the ordered append on
// fails here), the messages of a sequence are listed in the order of
// their positions whatever the order of the calls, after those of a
// sequence started earlier, HasKey finds each, and an append under a key
// already stored reads nothing and returns the stored message.
func (s *suite) checkOrderedAppend(t suiteT, ctx context.Context, mb mailaccess.Mailbox, oa driver.OrderedAppender) {
	raw := simple("ordered append", "a@example.com", "appended with a position")
	plain, err := mb.Append(ctx, mailaccess.Inbox, bytes.NewReader(raw), nil)
	require.NoError(t, err, "Append")
	const prefix = "conformance-ordered" // see the keyed check
	start1 := time.Now().Truncate(time.Microsecond)
	start2 := start1.Add(time.Second)
	type app struct {
		start time.Time
		pos   int
	}
	// The listing order, then the order of the calls (positions out of
	// order, the two sequences interleaved).
	want := []app{{start1, 0}, {start1, 1}, {start2, 0}, {start2, 1}, {start2, 2}}
	calls := []int{3, 1, 4, 0, 2}
	key := func(i int) string { return fmt.Sprintf("%s-%d", prefix, i) }
	body := func(i int) []byte {
		if i == 0 {
			return raw // the one compared with Append's copy
		}
		return simple(fmt.Sprintf("ordered %d", i), "a@example.com", "appended with a position")
	}
	ids := make([]mailaccess.ID, len(want))
	for _, i := range calls {
		ids[i], err = oa.AppendWithKeyAt(ctx, mailaccess.Inbox, key(i), want[i].start, want[i].pos, bytes.NewReader(body(i)), nil)
		require.NoError(t, err, "AppendWithKeyAt %d", i)
	}
	require.NoError(t, driver.Flush(ctx, mb), "Flush")
	for i := range want {
		found, ok, err := oa.HasKey(ctx, mailaccess.Inbox, key(i))
		require.NoError(t, err, "HasKey")
		require.True(t, ok, "HasKey does not find the key appended with AppendWithKeyAt")
		if ids[i] != "" {
			assert.Equal(t, ids[i], found, "HasKey returns another ID than AppendWithKeyAt")
		}
		ids[i] = found
	}
	again, err := oa.AppendWithKeyAt(ctx, mailaccess.Inbox, key(2), start2, 0, unreadable{}, nil)
	require.NoError(t, err, "AppendWithKeyAt with a key already stored must not read its body")
	if again != "" {
		assert.Equal(t, ids[2], again, "AppendWithKeyAt with a key already stored returns another message")
	}

	var order []mailaccess.ID // ours, in listing order
	var plainBytes []byte
	for _, m := range list(t, ctx, mb, mailaccess.Inbox, nil) {
		if m.ID() == plain {
			plainBytes = read(t, ctx, mb, mailaccess.Inbox, m.ID(), nil)
		}
		if slices.Contains(ids, m.ID()) {
			order = append(order, m.ID())
		}
	}
	assert.Equal(t, ids, order, "the messages of AppendWithKeyAt are not listed in the order of their sequences and positions (the calls were made out of order)")
	if plain == "" {
		t.Logf("Append returned no ID: the ordered copy is checked against the message itself")
		plainBytes = s.want(raw)
	}
	require.NotNil(t, plainBytes, "the message appended with Append is not listed")
	ordBytes := read(t, ctx, mb, mailaccess.Inbox, ids[0], nil)
	assert.True(t, bytes.Equal(plainBytes, ordBytes), "AppendWithKeyAt (found through driver.Find) stores other bytes than Append: a wrapper that replaces Append must not pass the OrderedAppender on through As; %s", firstDiff(plainBytes, ordBytes))
}

// unreadable is a body that must not be read.
type unreadable struct{}

func (unreadable) Read([]byte) (int, error) {
	return 0, errors.New("conformance: the body of an append under a key already stored was read")
}

func (s *suite) testEarlyBreak(t suiteT, ctx context.Context) {
	var raws [][]byte
	for i := range 5 {
		raws = append(raws, simple(fmt.Sprintf("b%d", i), "a@example.com", "x"))
	}
	mb := s.open(t, raws)
	all := list(t, ctx, mb, mailaccess.Inbox, nil)
	require.Len(t, all, 5)
	base := runtime.NumGoroutine()
	const rounds = 20
	for range rounds {
		for m, err := range mb.List(ctx, mailaccess.Inbox, &mailaccess.ListOptions{Headers: true}) {
			require.NoError(t, err)
			require.NotNil(t, m)
			break
		}
	}
	// The important check for network drivers: the connection is usable
	// at once after an abandoned iteration.
	quick, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := mb.Status(quick, mailaccess.Inbox)
	require.NoError(t, err, "Status after abandoned List iterations")
	assert.Len(t, list(t, quick, mb, mailaccess.Inbox, nil), 5, "List after abandoned iterations")
	assert.True(t, bytes.Equal(s.want(raws[4]), read(t, quick, mb, mailaccess.Inbox, all[4].ID(), nil)), "Open after abandoned iterations")
	// No goroutine per abandoned iteration may be left behind.
	deadline := time.Now().Add(5 * time.Second)
	n := runtime.NumGoroutine()
	for n > base+rounds/2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	assert.LessOrEqual(t, n, base+rounds/2, "goroutines left behind by %d abandoned List iterations (before %d, after %d)", rounds, base, n)
}

func (s *suite) testConcurrent(t suiteT, ctx context.Context) {
	raws := edgeRaws()
	mb := s.open(t, raws)
	ids := idsOf(list(t, ctx, mb, mailaccess.Inbox, nil))
	require.Len(t, ids, len(raws))
	const workers = 4
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			errs <- func() error {
				// Each worker reads the messages in a different order, some
				// through List and some through Open directly.
				for k := range ids {
					i := (k + w*3) % len(ids)
					if w%2 == 0 {
						for m, err := range mb.List(ctx, mailaccess.Inbox, &mailaccess.ListOptions{Headers: true}) {
							if err != nil {
								return fmt.Errorf("list: %w", err)
							}
							_ = m
						}
					}
					rc, err := mb.Open(ctx, mailaccess.Inbox, ids[i], nil)
					if err != nil {
						return fmt.Errorf("open %s: %w", ids[i], err)
					}
					b, err := io.ReadAll(rc)
					rc.Close()
					if err != nil {
						return fmt.Errorf("read %s: %w", ids[i], err)
					}
					if want := s.want(raws[i]); !bytes.Equal(want, b) {
						return fmt.Errorf("message %s read concurrently: %s", ids[i], firstDiff(want, b))
					}
				}
				return nil
			}()
		}()
	}
	for range workers {
		assert.NoError(t, <-errs, "concurrent use of one Mailbox")
	}
}

func (s *suite) testCancelled(t suiteT, ctx context.Context) {
	mb := s.open(t, [][]byte{simple("cx", "a@example.com", "1")})
	id := list(t, ctx, mb, mailaccess.Inbox, nil)[0].ID()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := mb.Status(cctx, mailaccess.Inbox)
	assert.ErrorIs(t, err, context.Canceled, "Status with a cancelled context")
	n := 0
	for m, err := range mb.List(cctx, mailaccess.Inbox, nil) {
		n++
		assert.Nil(t, m)
		assert.ErrorIs(t, err, context.Canceled, "List with a cancelled context")
	}
	assert.Equal(t, 1, n, "List with a cancelled context yields exactly one error")
	rc, err := mb.Open(cctx, mailaccess.Inbox, id, nil)
	if err == nil {
		rc.Close()
	}
	assert.ErrorIs(t, err, context.Canceled, "Open with a cancelled context")
}

func (s *suite) testClose(t suiteT, ctx context.Context) {
	mb := s.open(t, [][]byte{simple("cl", "a@example.com", "1")})
	require.NoError(t, mb.Close())
	assert.NoError(t, mb.Close(), "Close must be idempotent")
	_, err := mb.Status(ctx, mailaccess.Inbox)
	assert.Error(t, err, "Status after Close")
	for _, err := range mb.List(ctx, mailaccess.Inbox, nil) {
		assert.Error(t, err, "List after Close")
		break
	}
}
