package imap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
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

func startDovecot(t *testing.T) *dovecottest.Server {
	t.Helper()
	return dovecottest.Start(t, &dovecottest.Options{ExtraConfig: dovecotExtra})
}

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

// dialDovecot dials, retrying an authentication failure for a while:
// dovecottest adds users by rewriting a passwd-file that Dovecot re-reads
// only when its size or mtime changes, so a user added within the same
// second as another may not be known at once.
func dialDovecot(cfg mailaccess.Config) (*Mailbox, error) {
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		mb, err := Dial(ctx, cfg)
		cancel()
		if err == nil || !errors.Is(err, mailaccess.ErrAuth) || attempt == 12 {
			return mb, err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

var dovecotCfgs sync.Map // *Mailbox -> mailaccess.Config

func dovecotHarness(t *testing.T, srv *dovecottest.Server, scheme string) mailtest.Harness {
	dialCfg := func(t testing.TB, cfg mailaccess.Config) mailaccess.Mailbox {
		mb, err := dialDovecot(cfg)
		require.NoError(t, err)
		dovecotCfgs.Store(mb, cfg)
		return mb
	}
	return mailtest.Harness{
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
		Normalize: corpus.Normalize,
	}
}

// TestConformanceDovecot runs the conformance suite against Dovecot over
// STARTTLS and over implicit TLS.
func TestConformanceDovecot(t *testing.T) {
	srv := startDovecot(t)
	for _, scheme := range []string{"imap", "imaps"} {
		t.Run(scheme, func(t *testing.T) {
			mailtest.TestMailbox(t, dovecotHarness(t, srv, scheme))
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
