package chaostest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

var (
	flagSeeds = flag.Int("chaos.seeds", 0, "number of random seeds the chaos property tests run (default 6, or $CHAOS_SEEDS)")
	flagSeed  = flag.Uint64("chaos.seed", 0, "run only this seed (with -chaos.seeds=1)")
	flagKinds = flag.String("chaos.kinds", "", "comma-separated kinds the random plans draw from (default all)")
	flagDove  = flag.Bool("chaos.dovecot", true, "also run the seeds against Dovecot when it is installed")
	flagConns = flag.Int("chaos.conns", 0, "IMAP connections per Mailbox (default 1, so that a seed replays the same faults)")
)

// regression is a seed that found a bug, with where: the test ("sync"
// or "mailbox") and the protocol of the servers it runs against (the
// in-process server and Dovecot). Each bug has a named test where it was
// fixed.
type regression struct {
	seed   uint64
	test   string
	target string // "pop3" or "imap": the targets of that protocol
}

// regressions run every time, before the random seeds.
var regressions = []regression{
	{405458, "sync", "pop3"},    // a body longer than listed by a few lines passed the size check (pop3 TestBodyCheckedAgainstListSize)
	{666831, "mailbox", "pop3"}, // a TOP answer cut short gave a header without its last fields (pop3 TestTruncatedHeaderRefused)
	{666831, "sync", "pop3"},    // a LIST size that lied once made a message be stored twice (TestSyncPOP3ListedSizeChanges)
	{402587, "mailbox", "imap"}, // a BODY[HEADER] literal cut short, likewise (imap TestTruncatedHeaderRefused)
	{772613, "mailbox", "imap"}, // the same, cut in the middle of a line
	{95475, "sync", "pop3"},     // a UIDL shared in one session, unique in the next: stored twice (TestSyncPOP3SharedUIDLBecomesUnique)
	{260265, "sync", "pop3"},    // the same
	{537249, "sync", "pop3"},    // two UIDLs exchanged between runs: both stored again (TestSyncPOP3UIDLsRenumbered)
	{248529, "sync", "imap"},    // Status saw a new UIDVALIDITY, List used the stale selection (imap TestStatusEpochReselects)
	{157890, "sync", "imap"},    // renumbered before the delete: records, and a message without Message-ID, not re-identified (TestSyncRenumberedBeforeDelete)
	{407780, "sync", "imap"},    // a FETCH response lost in a listing: a message never synced (imap TestListAccountsForEveryMessage)
	{997471, "mailbox", "pop3"}, // a refused UIDL probe: IDs of the session compared by content (harness)
}

// defaultSeeds is how many random seeds a plain go test runs, besides the
// regressions: a few seconds.
const defaultSeeds = 3

// seeds returns the seeds the test (sync or mailbox) runs on the target:
// the regressions for it, then n random ones, a fixed sequence, so that
// CI runs the same seeds every time (-chaos.seeds=N or CHAOS_SEEDS=N for
// more; -chaos.seed=S for one).
func seeds(test string, tg target) []uint64 {
	if *flagSeed != 0 {
		return []uint64{*flagSeed}
	}
	n := *flagSeeds
	if n == 0 {
		if v, err := strconv.Atoi(os.Getenv("CHAOS_SEEDS")); err == nil && v > 0 {
			n = v
		} else {
			n = defaultSeeds
		}
	}
	var out []uint64
	seen := map[uint64]bool{}
	for _, r := range regressions {
		if r.test == test && strings.HasSuffix(tg.name, r.target) && !seen[r.seed] {
			out, seen[r.seed] = append(out, r.seed), true
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range n {
		if s := 1000 + r.Uint64N(1<<20); !seen[s] {
			out, seen[s] = append(out, s), true
		}
	}
	return out
}

func kinds(t *testing.T) []Kind {
	if *flagKinds == "" {
		return AllKinds()
	}
	ks, err := ParseKinds(*flagKinds)
	require.NoError(t, err)
	return ks
}

// messages returns the test corpus of a seed: a few realistic messages
// and edge cases, all with CRLF line ends, no two alike, and every
// fourth seed one larger than the sync engine buffers (streamed).
func messages(seed uint64) [][]byte {
	var out [][]byte
	mix := corpus.Mix{Plain: 6, HTML: 2}
	for m := range mix.Generate(int64(seed), 6+int(seed%5)) {
		out = append(out, m.Raw)
	}
	for i, m := range corpus.EdgeCases() {
		if i%3 == int(seed%3) {
			out = append(out, corpus.Normalize(m.Raw))
		}
	}
	if seed%4 == 0 {
		var b bytes.Buffer
		io.Copy(&b, corpus.Large(int64(seed), 1300<<10))
		out = append(out, corpus.Normalize(b.Bytes()))
	}
	return dedupe(out)
}

func dedupe(msgs [][]byte) [][]byte {
	seen := map[[32]byte]bool{}
	var out [][]byte
	for _, m := range msgs {
		h := sha256.Sum256(m)
		if !seen[h] {
			seen[h] = true
			out = append(out, m)
		}
	}
	return out
}

// target is a server the chaos runs against.
type target struct {
	name  string
	proto Protocol
	// start starts a server holding msgs and returns it.
	start func(t *testing.T, msgs [][]byte) server
}

// server is a running target: its plaintext address, the credentials, and
// a function that delivers more messages to the mailbox.
type server struct {
	addr, user, pass string
	add              func(msgs [][]byte)
}

var dovecotOnce struct {
	sync.Once
	srv *dovecottest.Server
	n   atomic.Int64
}

func targets() []target {
	ts := []target{
		{"pop3", POP3, func(t *testing.T, msgs [][]byte) server {
			backing := mailtest.New(mailtest.ProfileMaildir)
			add := func(msgs [][]byte) {
				for _, m := range msgs {
					backing.Add("INBOX", m)
				}
			}
			add(msgs)
			srv := pop3test.Start(t, backing, &pop3test.Options{SASL: []string{}})
			return server{srv.Addr, pop3test.DefaultUser, pop3test.DefaultPassword, add}
		}},
		{"imap", IMAP, func(t *testing.T, msgs [][]byte) server {
			srv := imaptest.Start(t, nil, imaptest.User{Name: "alice", Password: "pw", Messages: msgs})
			return server{srv.Addr, "alice", "pw", func(msgs [][]byte) {
				for _, m := range msgs {
					_, err := srv.Append("alice", "INBOX", m, nil)
					require.NoError(t, err)
				}
			}}
		}},
	}
	if ok, _ := dovecottest.Available(); ok && *flagDove {
		dovecot := func(proto Protocol) func(t *testing.T, msgs [][]byte) server {
			return func(t *testing.T, msgs [][]byte) server {
				srv := sharedDovecot(t)
				user := fmt.Sprintf("chaos%d", dovecotOnce.n.Add(1))
				require.NoError(t, srv.AddUser(user, "chaos-pw", msgs))
				addr := srv.IMAPAddr
				if proto == POP3 {
					addr = srv.POP3Addr
				}
				return server{addr, user, "chaos-pw", func(msgs [][]byte) {
					require.NoError(t, srv.AddMessages(user, msgs))
				}}
			}
		}
		ts = append(ts, target{"dovecot-pop3", POP3, dovecot(POP3)}, target{"dovecot-imap", IMAP, dovecot(IMAP)})
	}
	return ts
}

// sharedDovecot starts one Dovecot for the whole test binary (each run
// gets a user of its own); TestMain stops it.
func sharedDovecot(t *testing.T) *dovecottest.Server {
	dovecotOnce.Do(func() {
		s, err := dovecottest.NewServer(nil)
		if err != nil {
			t.Logf("dovecot: %v", err)
			return
		}
		dovecotOnce.srv = s
	})
	if dovecotOnce.srv == nil {
		t.Fatal("dovecot did not start")
	}
	return dovecotOnce.srv
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if dovecotOnce.srv != nil {
		dovecotOnce.srv.Close()
	}
	os.Exit(code)
}

// config returns the client configuration for addr: plaintext, short
// timeouts (the faults stall longer than they), one IMAP connection (so
// that the faults meet the same commands on every run of a seed).
func config(proto Protocol, addr, user, pass string, timeout time.Duration) mailaccess.Config {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	cfg := mailaccess.Config{Host: host, Port: p, User: user, Password: mailaccess.Secret(pass),
		TLS: mailaccess.TLSInsecurePlaintext, MaxConns: 1}
	if *flagConns > 0 {
		cfg.MaxConns = *flagConns
	}
	if timeout > 0 {
		cfg.DialTimeout, cfg.CommandTimeout = mailaccess.Duration(timeout), mailaccess.Duration(timeout)
	}
	if proto == POP3 {
		cfg.Scheme, cfg.Auth = "pop3", "user"
	} else {
		cfg.Scheme, cfg.Auth = "imap", "login"
	}
	return cfg
}

func dial(ctx context.Context, cfg mailaccess.Config) (mailaccess.Mailbox, error) {
	if cfg.Scheme == "pop3" {
		mb, err := pop3.Dial(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return mb, nil
	}
	mb, err := imap.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return mb, nil
}

// chaosTimeout is the clients' command timeout in the chaotic runs; the
// plans stall longer. runDeadline bounds a whole run: a run still going
// then is hung (a liveness failure, not a speed measurement).
const (
	chaosTimeout = 500 * time.Millisecond
	runDeadline  = 2 * time.Minute
)

// withTimes sets the plan's stalls from chaosTimeout: a stall outlasts
// the clients' timeout by half.
func withTimes(p Plan) Plan {
	p.Stall, p.Trickle = chaosTimeout*3/2, 10*time.Millisecond
	return p
}

// heapCeiling is the most heap the test process may hold at any moment
// of a run, whatever sizes the server claims (literals of 2^40 octets,
// lines of 16 MiB): the drivers' default limits (a 4 MiB line, 1 MiB of
// literals, 8 KiB POP3 lines), the engine's buffers, the servers and the
// proxy of the test.
const heapCeiling = 64 << 20

// heapWatch samples the heap until stopped and returns its peak.
type heapWatch struct {
	stop chan struct{}
	done chan struct{}
	peak atomic.Uint64
}

func watchHeap() *heapWatch {
	h := &heapWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > h.peak.Load() {
				h.peak.Store(ms.HeapAlloc)
			}
			select {
			case <-h.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return h
}

func (h *heapWatch) Stop() uint64 {
	close(h.stop)
	<-h.done
	return h.peak.Load()
}

// TestChaosSync syncs through the chaos proxy, with delete-after-download
// and keep-on-server, for every seed and server, then again without
// chaos, and checks the invariants after each run (see checkRun).
func TestChaosSync(t *testing.T) {
	ks := kinds(t)
	for _, tg := range targets() {
		for _, ret := range []mailsync.Retention{{Policy: mailsync.KeepOnServer}, {Policy: mailsync.DeleteAfterDownload}} {
			for _, seed := range seeds("sync", tg) {
				t.Run(fmt.Sprintf("%s/%s/seed=%d", tg.name, ret, seed), func(t *testing.T) {
					runSync(t, tg, ret, withTimes(RandomPlan(seed, ks)))
				})
			}
		}
	}
}

// runSync is one property run: a chaotic sync, the checks, a clean sync,
// the checks.
func runSync(t *testing.T, tg target, ret mailsync.Retention, plan Plan) {
	msgs := messages(plan.Seed)
	// Odd seeds sync part of the mail without chaos first, so that the
	// chaotic run is an incremental one, with state to get wrong.
	first := msgs
	if plan.Seed%2 == 1 {
		first = msgs[:len(msgs)/2]
	}
	srv := tg.start(t, first)
	addr, user, pass := srv.addr, srv.user, srv.pass
	plan.Bodies = msgs
	p, err := Start(tg.proto, addr, plan)
	require.NoError(t, err)
	defer p.Close()
	t.Logf("plan %s, %d messages (%d before the chaos)", plan, len(msgs), len(first))
	dir := t.TempDir()
	if len(first) < len(msgs) {
		p.Calm()
		rep, err, _ := syncOnce(t, config(tg.proto, p.Addr, user, pass, 0), dir, ret)
		require.NoError(t, err, "the first run, without chaos")
		require.Equal(t, len(first), rep.Total().New)
		srv.add(msgs[len(first):])
		p.Excite()
	}
	defer func() {
		if t.Failed() || testing.Verbose() {
			for _, e := range p.Events() {
				t.Logf("fault: %s", e)
			}
		}
	}()

	// The chaotic run.
	rep, err, peak := syncOnce(t, config(tg.proto, p.Addr, user, pass, chaosTimeout), dir, ret)
	t.Logf("chaos run: %v; err: %v; peak heap %d MiB; faults %d", rep, err, peak>>20, len(p.Events()))
	logNotes(t, rep)
	if os.Getenv("CHAOS_DUMP") != "" {
		dumpDir(t, dir)
	}
	require.Less(t, peak, uint64(heapCeiling), "peak heap during the chaotic run")
	requireErrorNamed(t, err)
	onServer := serverContents(t, tg.proto, addr, user, pass)
	stored := checkStored(t, dir, msgs)
	for _, m := range msgs {
		h := sha256.Sum256(m)
		require.True(t, onServer[h] > 0 || stored[h] > 0,
			"message of %d bytes (%.40q) is neither on the server nor stored: lost", len(m), m)
	}
	if err == nil {
		for _, m := range msgs {
			h := sha256.Sum256(m)
			if stored[h] == 0 && onServer[h] > 0 && !mayHide(p) {
				t.Errorf("the run reported success but did not store a message of %d bytes (%.40q); report %v", len(m), m, rep)
			}
		}
	}

	// The clean run: everything ends up stored exactly once.
	p.Calm()
	rep, err, peak = syncOnce(t, config(tg.proto, p.Addr, user, pass, 0), dir, ret)
	t.Logf("clean run: %v; err: %v; peak heap %d MiB", rep, err, peak>>20)
	logNotes(t, rep)
	require.NoError(t, err, "the run without chaos")
	stored = checkStored(t, dir, msgs)
	for _, m := range msgs {
		require.Equal(t, 1, stored[sha256.Sum256(m)], "copies of a message of %d bytes (%.40q) after the clean run", len(m), m)
	}
}

func logNotes(t *testing.T, rep *mailaccess.SyncReport) {
	if rep == nil {
		return
	}
	for _, n := range rep.Total().Notes {
		t.Logf("  note: %s", n)
	}
	for _, e := range rep.Total().Errors {
		t.Logf("  error: %s", e)
	}
}

// tlog writes to the test log.
type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// mayHide reports whether a fault fired that can hide a message from a
// client without any way to tell (a listing that omits it), so that a
// successful run may legitimately not have stored it.
func mayHide(p *Proxy) bool {
	// POP3 has no way to tell a listing that leaves a message out; an IMAP
	// client can (the listing's sequence numbers) and must.
	return p.Fired(LieCount) || p.Fired(RecycleUIDL) || p.Fired(UIDValidity) || p.proto == POP3 && p.Fired(Withhold)
}

func syncOnce(t *testing.T, cfg mailaccess.Config, dir string, ret mailsync.Retention) (*mailaccess.SyncReport, error, uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), runDeadline)
	defer cancel()
	defer func() {
		if ctx.Err() != nil {
			t.Fatalf("the run was still going after %s (hung)", runDeadline)
		}
	}()
	hw := watchHeap()
	rep, err := func() (*mailaccess.SyncReport, error) {
		src, err := dial(ctx, cfg)
		if err != nil {
			return nil, err
		}
		defer src.Close()
		dst, err := maildir.Open(dir, nil)
		if err != nil {
			return nil, err
		}
		defer dst.Close()
		o := &mailsync.Options{Account: "chaos", Retention: ret,
			Retry: mailsync.Retry{Attempts: 3, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}}
		if os.Getenv("CHAOS_LOG") != "" {
			o.Logger = slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		s, err := mailsync.New(src, dst, o)
		if err != nil {
			return nil, err
		}
		return s.Run(ctx)
	}()
	return rep, err, hw.Stop()
}

// requireErrorNamed checks that an error says something: it matches one
// of the package's sentinels or carries text beyond a bare "EOF".
func requireErrorNamed(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if msg == "EOF" || msg == "unexpected EOF" || strings.HasSuffix(msg, ": EOF") && !strings.Contains(msg, "mail") {
		t.Errorf("an error that does not say what went wrong: %q", msg)
	}
}

// checkStored checks every file in the Maildir is byte-identical to a
// source message and none is there twice, and returns the count per
// message digest.
func checkStored(t *testing.T, dir string, msgs [][]byte) map[[32]byte]int {
	t.Helper()
	want := map[[32]byte]bool{}
	for _, m := range msgs {
		want[sha256.Sum256(m)] = true
	}
	got := map[[32]byte]int{}
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			require.NoError(t, err)
			h := sha256.Sum256(b)
			require.True(t, want[h], "stored file %s (%d bytes, %.60q) is not byte-identical to any source message", e.Name(), len(b), b)
			got[h]++
			require.Equal(t, 1, got[h], "message stored twice: %s (%d bytes, %.60q)", e.Name(), len(b), b)
		}
	}
	return got
}

// serverContents lists what the server holds now, by digest, over a
// direct connection.
func serverContents(t *testing.T, proto Protocol, addr, user, pass string) map[[32]byte]int {
	t.Helper()
	ctx := context.Background()
	var out map[[32]byte]int
	var err error
	for range 50 { // a POP3 server may hold the maildrop lock of a dropped session a moment
		out, err = contents(ctx, config(proto, addr, user, pass, 0))
		if !errors.Is(err, mailaccess.ErrLocked) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err, "listing the server directly")
	return out
}

func contents(ctx context.Context, cfg mailaccess.Config) (map[[32]byte]int, error) {
	mb, err := dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer mb.Close()
	out := map[[32]byte]int{}
	for m, err := range mb.List(ctx, mailaccess.Inbox, nil) {
		if err != nil {
			return nil, err
		}
		rc, err := m.Open(ctx)
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		out[[32]byte(h.Sum(nil))]++
	}
	return out, nil
}
