package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// recorder is a suiteT that records failures instead of reporting them, so
// a test can run the suite against a broken Mailbox and assert that the
// suite noticed. It embeds the real *testing.T for everything else
// (Helper, TempDir, Context...).
type recorder struct {
	*testing.T
	name string
	mu   sync.Mutex
	// failures lists "subtest: message" for every failure in this
	// recorder and its children.
	failures *[]string
	failed   bool
	skipped  bool
	cleanups []func()
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{T: t, failures: new([]string)}
}

func (r *recorder) record(msg string) {
	r.mu.Lock()
	r.failed = true
	*r.failures = append(*r.failures, r.name+": "+msg)
	r.mu.Unlock()
}

func (r *recorder) Error(args ...any)                 { r.record(fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) { r.record(fmt.Sprintf(format, args...)) }
func (r *recorder) Fail()                             { r.record("Fail") }
func (r *recorder) FailNow()                          { r.record("FailNow"); runtime.Goexit() }
func (r *recorder) Fatal(args ...any)                 { r.record(fmt.Sprint(args...)); runtime.Goexit() }
func (r *recorder) Fatalf(format string, args ...any) {
	r.record(fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (r *recorder) Failed() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.failed }
func (r *recorder) Skip(args ...any) {
	r.skipped = true
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) { r.Skip() }
func (r *recorder) SkipNow()                         { r.Skip() }
func (r *recorder) Skipped() bool                    { return r.skipped }
func (r *recorder) Log(args ...any)                  {}
func (r *recorder) Logf(format string, args ...any)  {}
func (r *recorder) Name() string                     { return r.T.Name() + "/" + r.name }
func (r *recorder) Cleanup(f func())                 { r.cleanups = append(r.cleanups, f) }

func (r *recorder) run(name string, f func(t suiteT)) bool {
	child := &recorder{T: r.T, name: strings.TrimPrefix(r.name+"/"+name, "/"), failures: r.failures}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			for i := len(child.cleanups) - 1; i >= 0; i-- {
				child.cleanups[i]()
			}
		}()
		f(child)
	}()
	<-done
	if child.Failed() {
		r.mu.Lock()
		r.failed = true
		r.mu.Unlock()
	}
	return !child.Failed()
}

// fakeHarness runs the suite against the fake with caps, wrapping each
// mailtest.Mailbox with wrap (nil: none).
func fakeHarness(caps mailaccess.Capability, wrap func(*mailtest.Mailbox) mailaccess.Mailbox) Harness {
	if wrap == nil {
		wrap = func(m *mailtest.Mailbox) mailaccess.Mailbox { return m }
	}
	storeOf := func(t testing.TB, mb mailaccess.Mailbox) *mailtest.Store {
		var s *mailtest.Store
		require.True(t, mb.As(&s), "As(**mailtest.Store)")
		return s
	}
	return Harness{
		Open: func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
			s := mailtest.NewStore()
			for _, m := range msgs {
				s.Add(mailaccess.Inbox, m)
			}
			return wrap(s.Open(caps))
		},
		Reopen: func(t testing.TB, mb mailaccess.Mailbox) mailaccess.Mailbox {
			return wrap(storeOf(t, mb).Open(caps))
		},
		Deliver: func(t testing.TB, mb mailaccess.Mailbox, raw []byte) {
			storeOf(t, mb).Add(mailaccess.Inbox, raw)
		},
		OpenFolder: func(t testing.TB, mb mailaccess.Mailbox, folder string) (mailaccess.Mailbox, error) {
			m, err := storeOf(t, mb).OpenFolder(caps, folder)
			if err != nil {
				return nil, err
			}
			return wrap(m), nil
		},
	}
}

var profiles = map[string]mailaccess.Capability{
	"pop3":    mailtest.ProfilePOP3,
	"imap":    mailtest.ProfileIMAP,
	"maildir": mailtest.ProfileMaildir,
	"all":     mailaccess.AllCapabilities,
	"minimal": 0,
	"custom":  mailaccess.CapFolders | mailaccess.CapFlags | mailaccess.CapCopy | mailaccess.CapDelete | mailaccess.CapSearch,
}

func TestSuitePassesOnFake(t *testing.T) {
	for name, caps := range profiles {
		t.Run(name, func(t *testing.T) {
			TestMailbox(t, fakeHarness(caps, nil))
		})
	}
}

func TestSuitePassesOnFakeWithoutOptionalHooks(t *testing.T) {
	h := fakeHarness(mailtest.ProfilePOP3, nil)
	h.Reopen, h.Deliver = nil, nil
	TestMailbox(t, h)
}

// Broken wrappers around the fake. Each embeds *mailtest.Mailbox, so it keeps every
// method (Commit, CreateFolder, As...) except the one it breaks.

type corruptBodies struct{ *mailtest.Mailbox }

func (c corruptBodies) Open(ctx context.Context, folder string, id mailaccess.ID, opts *mailaccess.OpenOptions) (io.ReadCloser, error) {
	rc, err := c.Mailbox.Open(ctx, folder, id, opts)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	if len(b) > 0 {
		b[len(b)/2] ^= 0x20
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

type ignoresDeletes struct{ *mailtest.Mailbox }

func (ignoresDeletes) Delete(ctx context.Context, folder string, ids ...mailaccess.ID) error {
	return nil
}

// searchIgnoresNot forgets the Not criteria.
type searchIgnoresNot struct{ *mailtest.Mailbox }

func (s searchIgnoresNot) Search(ctx context.Context, folder string, c mailaccess.Criteria) ([]mailaccess.ID, error) {
	c.Not = nil
	return s.Mailbox.Search(ctx, folder, c)
}

// searchRawBytes searches the raw message for the subject or body, as a
// naive server does: no encoded words or transfer encodings undone.
type searchRawBytes struct{ *mailtest.Mailbox }

func (s searchRawBytes) Search(ctx context.Context, folder string, c mailaccess.Criteria) ([]mailaccess.ID, error) {
	needle := strings.ToLower(c.Subject + c.Body)
	if needle == "" {
		return s.Mailbox.Search(ctx, folder, c)
	}
	out := []mailaccess.ID{}
	for m, err := range s.List(ctx, folder, nil) {
		if err != nil {
			return nil, err
		}
		rc, err := s.Open(ctx, folder, m.ID(), nil)
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if strings.Contains(strings.ToLower(string(b)), needle) {
			out = append(out, m.ID())
		}
	}
	return out, nil
}

// sortIgnoresKeys returns the IDs in ascending order whatever the keys.
type sortIgnoresKeys struct{ *mailtest.Mailbox }

func (s sortIgnoresKeys) Sort(ctx context.Context, folder string, c mailaccess.Criteria, keys ...mailaccess.SortKey) ([]mailaccess.ID, error) {
	return s.Search(ctx, folder, c)
}

// closeHidesDiscards drops pending deletes at Close without a word.
type closeHidesDiscards struct{ *mailtest.Mailbox }

func (c closeHidesDiscards) Close() error {
	c.Mailbox.Close()
	return nil
}

// unseenZero reports 0 unseen where it knows nothing.
type unseenZero struct{ *mailtest.Mailbox }

func (u unseenZero) Status(ctx context.Context, folder string) (mailaccess.FolderStatus, error) {
	st, err := u.Mailbox.Status(ctx, folder)
	st.Unseen = max(st.Unseen, 0)
	return st, err
}

type searchReturnsNothing struct{ *mailtest.Mailbox }

func (searchReturnsNothing) Search(ctx context.Context, folder string, c mailaccess.Criteria) ([]mailaccess.ID, error) {
	return nil, nil
}

type silentAppend struct{ *mailtest.Mailbox }

func (silentAppend) Append(ctx context.Context, folder string, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	return "", nil
}

type wrongSize struct{ *mailtest.Mailbox }

func (w wrongSize) List(ctx context.Context, folder string, opts *mailaccess.ListOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		for m, err := range w.Mailbox.List(ctx, folder, opts) {
			if m != nil {
				info := m.Info()
				info.Size++
				m = driver.NewMessage(w, info)
			}
			if !yield(m, err) {
				return
			}
		}
	}
}

type ignoresCancel struct{ *mailtest.Mailbox }

func (i ignoresCancel) Status(ctx context.Context, folder string) (mailaccess.FolderStatus, error) {
	return i.Mailbox.Status(context.Background(), folder)
}

type deferredApplyAtOnce struct{ *mailtest.Mailbox }

func (d deferredApplyAtOnce) Delete(ctx context.Context, folder string, ids ...mailaccess.ID) error {
	d.Mailbox.Store.Expunge(folder, ids...)
	return nil
}

type wrongPush struct{ *mailtest.Mailbox }

func (w wrongPush) Watch(ctx context.Context, folder string, opts *mailaccess.WatchOptions) iter.Seq2[mailaccess.Event, error] {
	return func(yield func(mailaccess.Event, error) bool) {
		for ev, err := range w.Mailbox.Watch(ctx, folder, opts) {
			ev.Push = !ev.Push
			if !yield(ev, err) {
				return
			}
		}
	}
}

type ignoresFlags struct{ *mailtest.Mailbox }

func (ignoresFlags) SetFlags(ctx context.Context, folder string, ids []mailaccess.ID, op mailaccess.FlagOp, flags ...mailaccess.Flag) error {
	return nil
}

type ignoresMinUID struct{ *mailtest.Mailbox }

func (i ignoresMinUID) List(ctx context.Context, folder string, opts *mailaccess.ListOptions) iter.Seq2[mailaccess.Message, error] {
	var o mailaccess.ListOptions
	if opts != nil {
		o = *opts
	}
	o.MinUID = 0
	return i.Mailbox.List(ctx, folder, &o)
}

type vagueNotFound struct{ *mailtest.Mailbox }

func (v vagueNotFound) Open(ctx context.Context, folder string, id mailaccess.ID, opts *mailaccess.OpenOptions) (io.ReadCloser, error) {
	rc, err := v.Mailbox.Open(ctx, folder, id, opts)
	if err != nil {
		return nil, errors.New("something went wrong")
	}
	return rc, nil
}

// batchFake gives the fake a batch read, as the network drivers have one,
// and answers As for it as a driver does.
type batchFake struct{ *mailtest.Mailbox }

func (b batchFake) OpenAll(ctx context.Context, folder string, ids []mailaccess.ID, fn func(mailaccess.ID, io.Reader) error) error {
	for _, id := range ids {
		rc, err := b.Mailbox.Open(ctx, folder, id, nil)
		if errors.Is(err, mailaccess.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		err = fn(id, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (b batchFake) As(target any) bool {
	return driver.AsInterface(b, target) || b.Mailbox.As(target)
}

// upperOpen replaces Open (it upper-cases every message) and forgets that
// the batch read it lets As pass on goes around it.
type upperOpen struct{ mailaccess.Mailbox }

func (u upperOpen) Open(ctx context.Context, folder string, id mailaccess.ID, opts *mailaccess.OpenOptions) (io.ReadCloser, error) {
	rc, err := u.Mailbox.Open(ctx, folder, id, opts)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return io.NopCloser(bytes.NewReader(bytes.ToUpper(b))), err
}

// upperOpenHiding follows the rule: its As does not pass the batch read
// on, so the batch forms agree with its Open.
type upperOpenHiding struct{ upperOpen }

func (u upperOpenHiding) As(target any) bool {
	if _, ok := target.(*driver.BatchOpener); ok {
		return false
	}
	return u.upperOpen.As(target)
}

// Wrappers that break the reading methods.

// fetchIgnoresOrder yields Fetch's messages in UID order, not the order
// asked for.
type fetchIgnoresOrder struct{ *mailtest.Mailbox }

func (f fetchIgnoresOrder) Fetch(ctx context.Context, folder string, ids []mailaccess.ID, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	sorted := append([]mailaccess.ID(nil), ids...)
	slices.SortStableFunc(sorted, func(a, b mailaccess.ID) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(string(a), string(b))
	})
	return f.Mailbox.Fetch(ctx, folder, sorted, opts)
}

// fetchDropsHeaders never fills the header Fetch was asked for.
type fetchDropsHeaders struct{ *mailtest.Mailbox }

func (f fetchDropsHeaders) Fetch(ctx context.Context, folder string, ids []mailaccess.ID, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		for m, err := range f.Mailbox.Fetch(ctx, folder, ids, opts) {
			if m != nil {
				info := m.Info()
				info.Header = mailaccess.Header{}
				m = driver.NewMessage(f, info)
			}
			if !yield(m, err) {
				return
			}
		}
	}
}

// matchingIgnoresCriteria yields every message from FetchMatching.
type matchingIgnoresCriteria struct{ *mailtest.Mailbox }

func (m matchingIgnoresCriteria) FetchMatching(ctx context.Context, folder string, c mailaccess.Criteria, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return m.Mailbox.FetchMatching(ctx, folder, mailaccess.Criteria{}, opts)
}

// matchingIgnoresNot forgets the Not criteria in FetchMatching only.
type matchingIgnoresNot struct{ *mailtest.Mailbox }

func (m matchingIgnoresNot) FetchMatching(ctx context.Context, folder string, c mailaccess.Criteria, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	c.Not = nil
	return m.Mailbox.FetchMatching(ctx, folder, c, opts)
}

// datesWithoutFallback compares Since and Before with the internal date
// even where there is none (the zero time), as a POP3 search that forgets
// the Date header would.
type datesWithoutFallback struct{ *mailtest.Mailbox }

func (d datesWithoutFallback) Search(ctx context.Context, folder string, c mailaccess.Criteria) ([]mailaccess.ID, error) {
	if c.Since.IsZero() && c.Before.IsZero() {
		return d.Mailbox.Search(ctx, folder, c)
	}
	var out []mailaccess.ID
	for m, err := range d.Mailbox.List(ctx, folder, nil) {
		if err != nil {
			return nil, err
		}
		t := m.Info().InternalDate
		if (c.Since.IsZero() || !t.Before(c.Since)) && (c.Before.IsZero() || t.Before(c.Before)) {
			out = append(out, m.ID())
		}
	}
	return out, nil
}

// structureWithoutSizes reports every part's size as 0.
type structureWithoutSizes struct{ *mailtest.Mailbox }

func (s structureWithoutSizes) Structure(ctx context.Context, folder string, id mailaccess.ID) (*mailaccess.PartInfo, error) {
	st, err := s.Mailbox.Structure(ctx, folder, id)
	if st != nil {
		for p := range st.All() {
			p.Size = 0
		}
	}
	return st, err
}

// rawParts returns parts still transfer-encoded.
type rawParts struct{ *mailtest.Mailbox }

func (r rawParts) OpenPart(ctx context.Context, folder string, id mailaccess.ID, part []int, opts *mailaccess.PartOptions) (io.ReadCloser, error) {
	return r.Mailbox.Open(ctx, folder, id, &mailaccess.OpenOptions{Part: part})
}

// upperOpenParts replaces Open (upper-casing) but lets OpenPart through
// to the fake: its parts disagree with its messages.
type upperOpenParts struct{ upperOpen }

func TestSuiteChecksBatchFormsAgainstTheirMethods(t *testing.T) {
	rec := newRecorder(t)
	runSuite(rec, fakeHarness(mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return batchFake{m} }))
	for _, f := range *rec.failures {
		assert.False(t, strings.HasPrefix(f, "BatchForms:"), "a driver whose batch read agrees with Open passes: %s", f)
	}
	rec = newRecorder(t)
	runSuite(rec, fakeHarness(mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox {
		return upperOpenHiding{upperOpen{batchFake{m}}}
	}))
	for _, f := range *rec.failures {
		assert.False(t, strings.HasPrefix(f, "BatchForms:"), "a wrapper that hides the batch read passes BatchForms: %s", f)
	}
}

func TestSuiteCatchesBrokenMailboxes(t *testing.T) {
	cases := []struct {
		name    string
		caps    mailaccess.Capability
		wrap    func(*mailtest.Mailbox) mailaccess.Mailbox
		catchIn string // a subtest that must fail
	}{
		{"corrupt bodies", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return corruptBodies{m} }, "RoundTrip"},
		{"corrupt bodies pop3", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return corruptBodies{m} }, "RoundTrip"},
		{"ignores deletes", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return ignoresDeletes{m} }, "Delete"},
		{"ignores deferred deletes", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return ignoresDeletes{m} }, "Delete"},
		{"deferred delete applied before commit", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return deferredApplyAtOnce{m} }, "Delete"},
		{"search ignores not", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return searchIgnoresNot{m} }, "Search"},
		{"search ignores not, pop3", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return searchIgnoresNot{m} }, "Search"},
		{"search in raw bytes", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return searchRawBytes{m} }, "SearchDecoded"},
		{"sort ignores keys", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return sortIgnoresKeys{m} }, "Sort"},
		{"sort ignores keys, pop3", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return sortIgnoresKeys{m} }, "Sort"},
		{"close hides discarded deletes", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return closeHidesDiscards{m} }, "Delete"},
		{"unseen 0 without flags", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return unseenZero{m} }, "Capabilities"},
		{"search returns nothing", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return searchReturnsNothing{m} }, "Search"},
		{"search without capability succeeds", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return searchReturnsNothing{m} }, "Search"},
		{"silent append without capability", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return silentAppend{m} }, "Append"},
		{"wrong size", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return wrongSize{m} }, "RoundTrip"},
		{"ignores cancellation", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return ignoresCancel{m} }, "Cancelled"},
		{"push flag wrong", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return wrongPush{m} }, "Watch"},
		{"ignores flags", mailtest.ProfileMaildir, func(m *mailtest.Mailbox) mailaccess.Mailbox { return ignoresFlags{m} }, "Flags"},
		{"ignores MinUID", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return ignoresMinUID{m} }, "RoundTrip"},
		{"vague not-found error", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return vagueNotFound{m} }, "NotFound"},
		{"poll flag wrong", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return wrongPush{m} }, "Watch"},
		{"replaces Open, passes the batch read on", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return upperOpen{batchFake{m}} }, "BatchForms"},
		{"fetch ignores the order of IDs", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return fetchIgnoresOrder{m} }, "Fetch"},
		{"fetch drops headers", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return fetchDropsHeaders{m} }, "Fetch"},
		{"fetch matching ignores criteria", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return matchingIgnoresCriteria{m} }, "FetchMatching"},
		{"fetch matching ignores not", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return matchingIgnoresNot{m} }, "FetchMatching"},
		{"fetch matching ignores not, pop3", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return matchingIgnoresNot{m} }, "FetchMatching"},
		{"dates without the Date header, pop3", mailtest.ProfilePOP3, func(m *mailtest.Mailbox) mailaccess.Mailbox { return datesWithoutFallback{m} }, "SearchDates"},
		{"structure without sizes", mailtest.ProfileMaildir, func(m *mailtest.Mailbox) mailaccess.Mailbox { return structureWithoutSizes{m} }, "Structure"},
		{"parts not decoded", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return rawParts{m} }, "OpenPart"},
		{"replaces Open, passes OpenPart on", mailtest.ProfileIMAP, func(m *mailtest.Mailbox) mailaccess.Mailbox { return upperOpenParts{upperOpen{m}} }, "OpenPart"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder(t)
			runSuite(rec, fakeHarness(c.caps, c.wrap))
			require.True(t, rec.Failed(), "the suite did not notice the broken mailtest.Mailbox")
			caught := false
			for _, f := range *rec.failures {
				if strings.HasPrefix(f, c.catchIn+":") {
					caught = true
				}
			}
			assert.True(t, caught, "expected a failure in %s; got %q", c.catchIn, *rec.failures)
		})
	}
}

// A store that opens whatever folder its configuration names, as the fake
// did before it checked, fails OpenFolder.
func TestSuiteCatchesOpenIgnoringFolder(t *testing.T) {
	h := fakeHarness(mailtest.ProfileIMAP, nil)
	h.OpenFolder = func(t testing.TB, mb mailaccess.Mailbox, folder string) (mailaccess.Mailbox, error) {
		var s *mailtest.Store
		require.True(t, mb.As(&s))
		return s.Open(mailtest.ProfileIMAP), nil
	}
	rec := newRecorder(t)
	runSuite(rec, h)
	require.True(t, rec.Failed(), "the suite did not notice a folder ignored at open")
	for _, f := range *rec.failures {
		assert.True(t, strings.HasPrefix(f, "OpenFolder:"), "only OpenFolder should fail: %s", f)
	}
}

// The recorder itself must report a healthy fake as passing, or the test
// above would prove nothing.
func TestRecorderPassesHealthyFake(t *testing.T) {
	rec := newRecorder(t)
	runSuite(rec, fakeHarness(mailtest.ProfileIMAP, nil))
	assert.False(t, rec.Failed(), "failures: %q", *rec.failures)
}

// A store that rewrites line endings passes with Normalize set, and the
// suite notices when Normalize is missing.
func TestSuiteNormalize(t *testing.T) {
	h := fakeHarness(mailtest.ProfileIMAP, nil)
	open := h.Open
	h.Open = func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
		var crlf [][]byte
		for _, m := range msgs {
			crlf = append(crlf, mailtest.NormalizeCRLF(m))
		}
		return open(t, crlf)
	}
	h.Normalize = mailtest.NormalizeCRLF
	TestMailbox(t, h)

	h.Normalize = nil
	rec := newRecorder(t)
	runSuite(rec, h)
	assert.Contains(t, strings.Join(*rec.failures, "\n"), "RoundTrip:", "the bare-LF sample must differ without Normalize")
}
