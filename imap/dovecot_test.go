package imap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
)

// dovecotExtra gives the test Dovecot special-use folders.
var dovecotExtra = []string{
	"namespace inbox {",
	"  inbox = yes",
	"  mailbox Sent {",
	"    special_use = \\Sent",
	"    auto = subscribe",
	"  }",
	"  mailbox Trash {",
	"    special_use = \\Trash",
	"    auto = subscribe",
	"  }",
	"  mailbox Archive {",
	"    special_use = \\Archive",
	"    auto = create",
	"  }",
	"}",
}

func startDovecot(t *testing.T) *dovecottest.Server { return startDovecotTB(t) }

var userSeq atomic.Int64

// dovecotUser adds a fresh user and returns a config for scheme (imap:
// STARTTLS, imaps: implicit TLS), both verifying the test certificate.
func dovecotUser(t testing.TB, srv *dovecottest.Server, scheme string, msgs [][]byte) mailaccess.Config {
	t.Helper()
	name := fmt.Sprintf("u%d-%d", time.Now().UnixNano()%1e6, userSeq.Add(1))
	require.NoError(t, srv.AddUser(name, "secret-pw", msgs))
	addr := srv.IMAPAddr
	if scheme == "imaps" {
		addr = srv.IMAPSAddr
	}
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	p, _ := strconv.Atoi(port)
	return mailaccess.Config{Scheme: scheme, Host: host, Port: p, User: name, Password: "secret-pw", TLSConfig: srv.TLSConfig()}
}

// dialDovecot dials a Dovecot test user. (dovecottest keeps one passwd
// file per user, so a user can log in as soon as AddUser returns.)
func dialDovecot(cfg mailaccess.Config) (*Mailbox, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return Dial(ctx, cfg)
}

var dovecotCfgs sync.Map // *Mailbox -> mailaccess.Config

func dovecotHarness(t *testing.T, srv *dovecottest.Server, scheme string) conformance.Harness {
	dialCfg := func(t testing.TB, cfg mailaccess.Config) mailaccess.Mailbox {
		mb, err := dialDovecot(cfg)
		require.NoError(t, err)
		dovecotCfgs.Store(mb, cfg)
		return mb
	}
	return conformance.Harness{
		Open: func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
			return dialCfg(t, dovecotUser(t, srv, scheme, msgs))
		},
		Reopen: func(t testing.TB, old mailaccess.Mailbox) mailaccess.Mailbox {
			cfg, ok := dovecotCfgs.Load(old)
			require.True(t, ok)
			return dialCfg(t, cfg.(mailaccess.Config))
		},
		Deliver: func(t testing.TB, mb mailaccess.Mailbox, raw []byte) {
			cfg, ok := dovecotCfgs.Load(mb)
			require.True(t, ok)
			require.NoError(t, srv.AddMessages(cfg.(mailaccess.Config).User, [][]byte{raw}))
		},
		OpenFolder: func(t testing.TB, old mailaccess.Mailbox, folder string) (mailaccess.Mailbox, error) {
			cfg, ok := dovecotCfgs.Load(old)
			require.True(t, ok)
			c := cfg.(mailaccess.Config)
			c.Folder = folder
			return dialFolder(c)
		},
		Normalize: corpus.Normalize,
		UnknownID: unknownID,
	}
}

// TestConformanceDovecot runs the conformance suite against Dovecot over
// STARTTLS and over implicit TLS.
func TestConformanceDovecot(t *testing.T) {
	srv := startDovecot(t)
	for _, scheme := range []string{"imap", "imaps"} {
		t.Run(scheme, func(t *testing.T) {
			conformance.TestMailbox(t, dovecotHarness(t, srv, scheme))
		})
	}
}

// TestDovecotEdgeCasesByteExact fetches every edge-case corpus message and
// compares it with what Dovecot must send (corpus.Normalize).
func TestDovecotEdgeCasesByteExact(t *testing.T) {
	srv := startDovecot(t)
	edges := corpus.EdgeCases()
	raws := make([][]byte, len(edges))
	for i, m := range edges {
		raws[i] = m.Raw
	}
	ctx := context.Background()
	mb, err := dialDovecot(dovecotUser(t, srv, "imaps", raws))
	require.NoError(t, err)
	defer mb.Close()
	var msgs []mailaccess.Message
	for m, err := range mb.List(ctx, "INBOX", &mailaccess.ListOptions{Headers: true}) {
		require.NoError(t, err)
		msgs = append(msgs, m)
	}
	require.Len(t, msgs, len(edges))
	for i, m := range msgs {
		want := corpus.Normalize(edges[i].Raw)
		rc, err := m.Open(ctx)
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		assert.True(t, bytes.Equal(want, got), "%s: not byte-exact (want %d bytes, got %d)", edges[i].Name, len(want), len(got))
		assert.Equal(t, int64(len(want)), m.Size(), "%s: RFC822.SIZE", edges[i].Name)
		if edges[i].Subject != "" {
			assert.Equal(t, edges[i].Subject, m.Header().Subject(), "%s: decoded subject", edges[i].Name)
		}
	}
}

// TestDovecotCondstore checks change detection: HIGHESTMODSEQ moves after a
// flag change and ChangedSince lists just the changed message.
func TestDovecotCondstore(t *testing.T) {
	srv := startDovecot(t)
	ctx := context.Background()
	raws := [][]byte{[]byte("Subject: a\r\n\r\na\r\n"), []byte("Subject: b\r\n\r\nb\r\n"), []byte("Subject: c\r\n\r\nc\r\n")}
	mb, err := dialDovecot(dovecotUser(t, srv, "imap", raws))
	require.NoError(t, err)
	defer mb.Close()
	require.True(t, mb.Capabilities().Has(mailaccess.CapChanges), "Dovecot offers CONDSTORE: %s", mb.Capabilities())
	before, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	require.NotZero(t, before.HighestModSeq)
	var all []mailaccess.Message
	for m, err := range mb.List(ctx, "INBOX", nil) {
		require.NoError(t, err)
		assert.NotZero(t, m.Info().ModSeq, "MODSEQ is fetched with CONDSTORE")
		all = append(all, m)
	}
	require.Len(t, all, 3)
	require.NoError(t, mb.SetFlags(ctx, "INBOX", []mailaccess.ID{all[1].ID()}, mailaccess.AddFlags, mailaccess.FlagFlagged))
	after, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Greater(t, after.HighestModSeq, before.HighestModSeq)
	var changed []mailaccess.ID
	for m, err := range mb.List(ctx, "INBOX", &mailaccess.ListOptions{ChangedSince: before.HighestModSeq}) {
		require.NoError(t, err)
		changed = append(changed, m.ID())
		assert.True(t, m.HasFlag(mailaccess.FlagFlagged))
	}
	assert.Equal(t, []mailaccess.ID{all[1].ID()}, changed)
}

// TestDovecotFolderRoles checks LIST special-use mapping.
func TestDovecotFolderRoles(t *testing.T) {
	srv := startDovecot(t)
	ctx := context.Background()
	mb, err := dialDovecot(dovecotUser(t, srv, "imaps", nil))
	require.NoError(t, err)
	defer mb.Close()
	fs, err := mb.Folders(ctx)
	require.NoError(t, err)
	roles := map[string]mailaccess.Role{}
	for _, f := range fs {
		roles[f.Name] = f.Role
	}
	assert.Equal(t, mailaccess.RoleInbox, roles["INBOX"])
	assert.Equal(t, mailaccess.RoleSent, roles["Sent"])
	assert.Equal(t, mailaccess.RoleTrash, roles["Trash"])
	assert.Equal(t, mailaccess.RoleArchive, roles["Archive"])
}

// TestDovecotWatch: Watch sees a message appended by another connection,
// then, after the test kills its connection mid-IDLE and appends while it
// is away, reconnects and reports that message in its catch-up.
func TestDovecotWatch(t *testing.T) {
	srv := startDovecot(t)
	cfg := dovecotUser(t, srv, "imap", [][]byte{[]byte("Subject: old\r\n\r\nold\r\n")})
	warm, err := dialDovecot(cfg) // wait until Dovecot knows the user
	require.NoError(t, err)
	warm.Close()
	testWatchKill(t, cfg, func(t *testing.T, raw []byte) mailaccess.ID {
		other, err := dialDovecot(cfg)
		require.NoError(t, err)
		defer other.Close()
		id, err := other.Append(context.Background(), "INBOX", bytes.NewReader(raw), nil)
		require.NoError(t, err)
		require.NotEmpty(t, id, "Dovecot answers APPENDUID")
		return id
	})
}

// BenchmarkDovecot compares, on Dovecot, reading every body through the
// Mailbox with the raw go-imap wire floor. Skipped without Dovecot.
func BenchmarkDovecot(b *testing.B) {
	if ok, why := dovecottest.Available(); !ok {
		b.Skip("no Dovecot: " + why)
	}
	srv := dovecottest.Start(b, nil)
	msgs, size := benchCorpus(benchMessages)
	cfg := dovecotUser(b, srv, "imap", msgs)
	runBodyBenchmarks(b, cfg, len(msgs), size)
}

// peakHeap runs fn while sampling the heap, and returns the largest
// HeapInuse growth seen over the value before fn.
//
// The GC runs at GOGC=10 meanwhile, so that the peak reflects live memory
// rather than garbage the collector had not yet reclaimed (an in-process
// server's large live heap would otherwise let garbage pile up).
func peakHeap(fn func()) (peak uint64) {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak {
				peak = ms.HeapInuse - base
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak
}

// streamLarge seeds one message of size bytes and reads it through Open,
// checking every byte, and returns the peak heap growth while reading.
func streamLarge(tb testing.TB, size int64) (peak uint64, elapsed time.Duration) {
	srv := startDovecotTB(tb)
	cfg := dovecotUser(tb, srv, "imap", nil)
	require.NoError(tb, srv.AddMessageReader(cfg.User, corpus.Large(7, size)))
	mb, err := dialDovecot(cfg)
	require.NoError(tb, err)
	defer mb.Close()
	ctx := context.Background()
	want := sha256.New()
	_, err = io.Copy(want, corpus.Large(7, size))
	require.NoError(tb, err)
	got := sha256.New()
	var n int64
	start := time.Now()
	peak = peakHeap(func() {
		rc, err := mb.Open(ctx, "INBOX", idIn(tb, mb, "INBOX", 1), nil)
		require.NoError(tb, err)
		n, err = io.Copy(got, rc)
		require.NoError(tb, err)
		require.NoError(tb, rc.Close())
	})
	elapsed = time.Since(start)
	require.Equal(tb, corpus.LargeSize(size), n)
	require.Equal(tb, want.Sum(nil), got.Sum(nil), "the large message arrives intact (it has CRLF line ends, so Dovecot sends it unchanged)")
	return peak, elapsed
}

func startDovecotTB(tb testing.TB) *dovecottest.Server {
	tb.Helper()
	return dovecottest.Start(tb, &dovecottest.Options{ExtraConfig: dovecotExtra})
}

// TestDovecotLargeMessageFlatMemory streams a 48 MB message through Open:
// the heap must not grow with the message.
func TestDovecotLargeMessageFlatMemory(t *testing.T) {
	peak, _ := streamLarge(t, 48<<20)
	t.Logf("peak heap growth while streaming 48 MB: %.1f MB", float64(peak)/(1<<20))
	assert.Less(t, peak, uint64(16<<20), "Open must stream, not buffer")
}

// BenchmarkDovecotLarge200MB streams one 200 MB message and reports the
// peak heap growth.
func BenchmarkDovecotLarge200MB(b *testing.B) {
	for b.Loop() {
		peak, _ := streamLarge(b, 200<<20)
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	}
	b.SetBytes(200 << 20)
}

// BenchmarkDovecotList lists a folder of IMAP_BENCH_LIST_N (default
// 100,000) small messages on Dovecot (a separate process, so the heap
// measured is the client's alone) and reports the peak heap growth.
func BenchmarkDovecotList(b *testing.B) {
	n := listBenchN
	srv := startDovecotTB(b)
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = []byte(fmt.Sprintf("Subject: m%d\r\nFrom: a@example.com\r\n\r\nbody %d\r\n", i, i))
	}
	cfg := dovecotUser(b, srv, "imap", msgs)
	msgs = nil
	mb, err := dialDovecot(cfg)
	require.NoError(b, err)
	defer mb.Close()
	benchList(b, mb, n)
}

// Status on a folder that a pooled connection has selected still sees mail
// delivered since (the sync engine's no-op check relies on it).
func TestDovecotStatusSeesNewMailOnSelectedFolder(t *testing.T) {
	srv := startDovecot(t)
	ctx := context.Background()
	cfg := dovecotUser(t, srv, "imap", [][]byte{[]byte("Subject: a\r\n\r\na\r\n")})
	cfg.MaxConns = 1 // the one connection keeps INBOX selected
	mb, err := dialDovecot(cfg)
	require.NoError(t, err)
	defer mb.Close()
	for _, err := range mb.List(ctx, "INBOX", nil) {
		require.NoError(t, err)
	}
	before, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	require.Equal(t, 1, before.Messages)
	require.NoError(t, srv.AddMessages(cfg.User, [][]byte{[]byte("Subject: b\r\n\r\nb\r\n")}))
	after, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, 2, after.Messages)
	assert.Greater(t, after.UIDNext, before.UIDNext)
}

// The no-op resync against Dovecot (Dial, Status, Close) costs one
// connection and one command per round trip it needs: Dovecot's login OK
// carries the post-login capabilities, so no CAPABILITY follows it. Only
// after STARTTLS is CAPABILITY asked once (the pre-TLS list must not be
// trusted, RFC 9051 6.2.1).
func TestDovecotStatusRoundTrips(t *testing.T) {
	srv := startDovecot(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"imaps", []string{"AUTHENTICATE", "STATUS", "LOGOUT"}},
		{"imap", []string{"CAPABILITY", "AUTHENTICATE", "STATUS", "LOGOUT"}},
		{"plaintext", []string{"AUTHENTICATE", "STATUS", "LOGOUT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scheme := tc.name
			if scheme == "plaintext" {
				scheme = "imap"
			}
			cfg := dovecotUser(t, srv, scheme, [][]byte{[]byte("Subject: a\r\n\r\na\r\n")})
			if tc.name == "plaintext" {
				cfg.TLS = mailaccess.TLSInsecurePlaintext
			}
			var trace bytes.Buffer
			cfg.Trace = &trace
			mb, err := dialDovecot(cfg)
			require.NoError(t, err)
			assert.True(t, mb.Capabilities().Has(mailaccess.CapChanges), "post-login capabilities (CONDSTORE)")
			st, err := mb.Status(ctx, "INBOX")
			require.NoError(t, err)
			assert.Equal(t, 1, st.Messages)
			require.NoError(t, mb.Close())

			var cmds []string
			ids := map[string]bool{}
			for _, line := range strings.Split(strings.TrimSpace(trace.String()), "\n") {
				prefix, rest, _ := strings.Cut(line, ": ")
				ids[prefix[1:]] = true
				if f := strings.Fields(rest); prefix[0] == 'C' && len(f) >= 2 {
					cmds = append(cmds, f[1])
				}
			}
			assert.Equal(t, tc.want, cmds, trace.String())
			assert.Len(t, ids, 1, "one connection")
		})
	}
}

// Dovecot offers SORT: the driver declares CapSort and lets the server
// sort (the conformance suite checks the order); a URL folder Dovecot
// does not have fails at Open.
func TestDovecotSortOnTheServerAndFolderAtOpen(t *testing.T) {
	srv := startDovecot(t)
	cfg := dovecotUser(t, srv, "imaps", [][]byte{
		[]byte("Subject: b\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\n1\r\n"),
		[]byte("Subject: a\r\nDate: Tue, 02 Jan 2024 10:00:00 +0000\r\n\r\n2\r\n"),
	})
	var trace bytes.Buffer
	cfg.Trace = &trace
	mb, err := dialDovecot(cfg)
	require.NoError(t, err)
	defer mb.Close()
	require.True(t, mb.Capabilities().Has(mailaccess.CapSort))
	ids, err := mb.Sort(context.Background(), "INBOX", mailaccess.Criteria{Not: []mailaccess.Criteria{{Subject: "zzz"}}},
		mailaccess.SortKey{By: mailaccess.SortDate, Reverse: true})
	require.NoError(t, err)
	_, msgs := listAll(t, mb)
	assert.Equal(t, []mailaccess.ID{msgs[1].ID(), msgs[0].ID()}, ids)
	assert.Contains(t, trace.String(), `UID SORT (REVERSE DATE) UTF-8 NOT (SUBJECT "zzz")`)

	cfg.Trace = nil
	cfg.Folder = "Arhcive"
	_, err = mailaccess.Open(context.Background(), cfg)
	require.ErrorIs(t, err, mailaccess.ErrNotFound)
	assert.Contains(t, err.Error(), "the folder of the URL (Config.Folder) does not exist")
	cfg.Folder = "Archive" // made by the test configuration
	mb2, err := mailaccess.Open(context.Background(), cfg)
	require.NoError(t, err)
	mb2.Close()
}

func listAll(t *testing.T, mb mailaccess.Mailbox) ([]mailaccess.ID, []mailaccess.Message) {
	t.Helper()
	var ids []mailaccess.ID
	var msgs []mailaccess.Message
	for m, err := range mb.List(context.Background(), "INBOX", nil) {
		require.NoError(t, err)
		ids = append(ids, m.ID())
		msgs = append(msgs, m)
	}
	return ids, msgs
}

// Item 3 on a real server: IDs listed before "Work" was deleted and
// recreated by another session touch nothing in the new folder.
func TestDovecotRecreatedFolder(t *testing.T) {
	srv := startDovecot(t)
	ctx := context.Background()
	cfg := dovecotUser(t, srv, "imap", nil)
	cfg.MaxConns = 1 // one connection, which keeps the folder selected
	mb, err := dialDovecot(cfg)
	require.NoError(t, err)
	defer mb.Close()
	fill := func(mb *Mailbox, what string) {
		require.NoError(t, mb.CreateFolder(ctx, "Work"))
		for i := range 3 {
			_, err := mb.Append(ctx, "Work", strings.NewReader(fmt.Sprintf("Subject: %s %d\r\n\r\nbody\r\n", what, i)), nil)
			require.NoError(t, err)
		}
	}
	fill(mb, "old")
	testRecreatedFolder(t, mb, func() {
		other, err := dialDovecot(cfg)
		require.NoError(t, err)
		defer other.Close()
		require.NoError(t, other.DeleteFolder(ctx, "Work"))
		fill(other, "new")
	})
}

// Items 1 and 2 on a real server: Dovecot behind a proxy that sends the UID
// after the body and a NIL body for one message.
func TestDovecotQuirkProxy(t *testing.T) {
	srv := startDovecot(t)
	raws := [][]byte{[]byte("Subject: a\r\n\r\naaa\r\n"), []byte("Subject: b\r\n\r\nbbb\r\n"), []byte("Subject: c\r\n\r\nccc\r\n")}
	cfg := dovecotUser(t, srv, "imap", raws)
	var nilUID atomic.Uint32
	p, err := imaptest.StartProxy(srv.IMAPAddr, imaptest.Quirks{UIDLast: true, Body: func(uid imap.UID, b []byte) []byte {
		if uint32(uid) == nilUID.Load() {
			return nil
		}
		return b
	}})
	require.NoError(t, err)
	defer p.Close()
	cfg = p.Config(cfg.User, string(cfg.Password))
	mb, err := dialDovecot(cfg)
	require.NoError(t, err)
	defer mb.Close()
	ids, _ := listHeaders(t, mb, "INBOX")
	require.Len(t, ids, 3)
	got, readErrs, err := readAllOpenAll(t, mb, ids)
	require.NoError(t, err)
	assert.Empty(t, readErrs)
	for i, id := range ids {
		assert.Equal(t, string(raws[i]), string(got[id]))
	}
	nilUID.Store(2)
	got, _, err = readAllOpenAll(t, mb, ids)
	assert.ErrorIs(t, err, mailaccess.ErrProtocol)
	assert.ErrorContains(t, err, string(ids[1]))
	assert.Len(t, got, 2)
	lines := strings.Join(p.CommandLines(), "\n")
	assert.Contains(t, lines, "AUTHENTICATE [redacted]")
	assert.NotContains(t, lines, base64.StdEncoding.EncodeToString([]byte("\x00"+cfg.User+"\x00secret-pw")))
}

// A ChangedSince listing of a large folder with few changes takes a few
// round trips, not one per batch of the folder: while batches come back
// sparse their range grows. Every changed message is listed once, and a
// listing where everything changed is complete too.
func TestDovecotChangedSinceRoundTrips(t *testing.T) {
	srv := startDovecot(t)
	ctx := context.Background()
	const n = 5000
	raws := make([][]byte, n)
	for i := range raws {
		raws[i] = fmt.Appendf(nil, "Subject: %d\r\n\r\n%d\r\n", i, i)
	}
	cfg := dovecotUser(t, srv, "imap", raws)
	cfg.TLS = mailaccess.TLSInsecurePlaintext
	var trace bytes.Buffer
	cfg.Trace = &trace
	mb, err := dialDovecot(cfg)
	require.NoError(t, err)
	defer mb.Close()
	before, err := mb.Status(ctx, "INBOX")
	require.NoError(t, err)
	var ids []mailaccess.ID
	for m, err := range mb.List(ctx, "INBOX", nil) {
		require.NoError(t, err)
		ids = append(ids, m.ID())
	}
	require.Len(t, ids, n)
	want := []mailaccess.ID{ids[7], ids[2600], ids[4999]}
	require.NoError(t, mb.SetFlags(ctx, "INBOX", want, mailaccess.AddFlags, mailaccess.FlagFlagged))

	count := func() (got []mailaccess.ID, fetches int) {
		trace.Reset()
		for m, err := range mb.List(ctx, "INBOX", &mailaccess.ListOptions{ChangedSince: before.HighestModSeq}) {
			require.NoError(t, err)
			got = append(got, m.ID())
		}
		return got, strings.Count(trace.String(), "(CHANGEDSINCE")
	}
	got, fetches := count()
	assert.Equal(t, want, got)
	assert.LessOrEqual(t, fetches, 4, "UID FETCH ... CHANGEDSINCE commands for %d messages in batches of %d", n, DefaultBatchSize)

	require.NoError(t, mb.SetFlags(ctx, "INBOX", ids, mailaccess.AddFlags, mailaccess.FlagSeen))
	got, _ = count()
	assert.Equal(t, ids, got, "everything changed: everything listed, once")
}
