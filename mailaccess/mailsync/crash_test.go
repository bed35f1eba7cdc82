//go:build unix

package mailsync_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// The crash test re-executes the test binary as a helper process that
// syncs and SIGKILLs itself at a random point; the parent then resumes
// the sync and checks the invariants.
const crashHelperEnv = "MAILACCESS_SYNC_CRASH_HELPER"

type crashConfig struct {
	Scenario     string // "mem": fake IMAP source; "maildir": Maildir source and "pop3": POP3 server, both with delete-after-download
	Src, Dst     string
	Seed         int64
	N            int
	KillAfter    time.Duration // > 0: SIGKILL after this delay
	KillProgress int           // > 0: SIGKILL at this progress callback
	// "pop3": the parent's in-process POP3 server (pop3test), in plaintext
	// on loopback unless CertPEM is set (then STLS).
	Addr, User, Pass string
	CertPEM          []byte
	// Incr ("mem", "maildir"): the parent first syncs the first half of
	// the messages to a clean state, keeping them on the source; the
	// helpers then sync the rest through the fast incremental pass, and
	// (Changed, "mem") flag changes on the first half.
	Incr, Changed bool
}

func crashRaws(c crashConfig) [][]byte {
	var raws [][]byte
	for m := range corpus.Generate(c.Seed, c.N) {
		raws = append(raws, m.Raw)
	}
	return raws
}

// crashSource builds the helper's source identically in child and parent.
func crashSource(t testing.TB, c crashConfig, raws [][]byte) mailaccess.Mailbox {
	if c.Scenario == "mem" {
		fake := mailtest.New(mailtest.ProfileIMAP)
		for i, r := range raws {
			if i%3 == 0 {
				fake.Add("INBOX", r, mailaccess.FlagSeen)
			} else {
				fake.Add("INBOX", r)
			}
		}
		if c.Changed {
			// Flags changed since the first half was synced, as another
			// client changes them: with a new modification sequence.
			for i, m := range fake.Messages("INBOX")[:c.N/2] {
				if i%5 == 0 {
					fake.SetFlagsDirect("INBOX", m.ID, mailaccess.AddFlags, mailaccess.FlagFlagged)
				}
			}
		}
		return fake
	}
	if c.Scenario == "pop3" {
		host, port, _ := strings.Cut(c.Addr, ":")
		p, _ := strconv.Atoi(port)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(c.CertPEM)
		cfg := mailaccess.Config{Scheme: "pop3", Host: host, Port: p, User: c.User, Password: mailaccess.Secret(c.Pass),
			TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
		if c.CertPEM == nil {
			// Loopback test server without STLS: a TLS handshake per
			// helper would dominate the run time under -race.
			cfg.TLS, cfg.TLSConfig = mailaccess.TLSInsecurePlaintext, nil
		}
		for attempt := 0; ; attempt++ {
			mb, err := pop3.Dial(context.Background(), cfg)
			// The previous (killed) session's lock is released when the
			// server sees its connection close, which may take a moment.
			if errors.Is(err, mailaccess.ErrLocked) && attempt < 200 {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Fatalf("dial pop3: %v", err)
			}
			return mb
		}
	}
	src, err := maildir.Open(c.Src, &maildir.Options{NoCreate: true})
	if err != nil {
		t.Fatalf("open source: %v", err)
	}
	return src
}

func crashSync(t testing.TB, c crashConfig, src, dst mailaccess.Mailbox, progress func(mailsync.Progress)) (mailaccess.Sync, error) {
	o := &mailsync.Options{Account: "crash", BatchSize: 4, Concurrency: 8, Progress: progress, Retry: fastRetry}
	if c.Scenario != "mem" && !c.Incr {
		o.Retention = mailsync.Retention{Policy: mailsync.DeleteAfterDownload}
	}
	return mailsync.New(src, dst, o)
}

func TestSyncCrashHelper(t *testing.T) {
	raw := os.Getenv(crashHelperEnv)
	if raw == "" {
		t.Skip("helper process of TestSyncCrash; runs only when re-executed by it")
	}
	var c crashConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	kill := func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) }
	src := crashSource(t, c, crashRaws(c))
	dst, err := maildir.Open(c.Dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	s, err := crashSync(t, c, src, dst, func(mailsync.Progress) {
		if c.KillProgress > 0 && n.Add(1) == int64(c.KillProgress) {
			kill()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.KillAfter > 0 {
		time.AfterFunc(c.KillAfter, kill)
	}
	if _, err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSyncCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the test binary hundreds of times")
	}
	target := 200
	if v := os.Getenv("MAILACCESS_CRASH_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "MAILACCESS_CRASH_KILLS")
		target = n
	}
	kills, completed := 0, 0
	scenarioKills := map[string]int{}
	for seed := int64(1); kills < target; seed++ {
		require.Less(t, seed, int64(10*target+10), "the helper keeps finishing before being killed")
		rng := rand.New(rand.NewPCG(uint64(seed), 42))
		c := crashConfig{Seed: seed, N: 30, Dst: crashDir(t), Scenario: "mem"}
		raws := crashRaws(c)
		var backing *mailtest.Mailbox
		var server *pop3test.Server
		if seed%3 == 0 {
			c.Scenario = "pop3"
			backing = mailtest.New(mailtest.ProfileMaildir)
			for _, r := range raws {
				backing.Add("INBOX", r)
			}
			var err error
			opts := &pop3test.Options{NoSTLS: true}
			switch seed % 9 {
			case 0:
				// Sessions end after 80 commands: the runs reconnect (a
				// pass of 30 messages with delete-after-download takes
				// more), killed at any point of it.
				opts.DropAfter, opts.DropText = 80, "[SYS/TEMP] autologout"
			case 3:
				// Messages 2 and 3 share a UIDL: identified by content.
				opts.IDs = dupUIDLs
			}
			server, err = pop3test.NewServer(backing, opts)
			require.NoError(t, err)
			c.Addr, c.User, c.Pass = server.Addr, pop3test.DefaultUser, pop3test.DefaultPassword
		}
		if seed%3 == 1 {
			c.Scenario = "maildir"
			c.Src = crashDir(t)
			// A source Maildir as an MDA would leave it (no fsync needed
			// for a fixture).
			for _, sub := range []string{"cur", "new", "tmp"} {
				require.NoError(t, os.Mkdir(filepath.Join(c.Src, sub), 0o700))
			}
		}
		c.Incr = c.Scenario != "pop3" && seed/3%2 == 1
		deliver := func(from, to int) {
			for i := from; i < to && c.Scenario == "maildir"; i++ {
				name := fmt.Sprintf("%d.M%06dP1Q%d.fixture,S=%d", 1700000000+i, i, i, len(raws[i]))
				require.NoError(t, os.WriteFile(filepath.Join(c.Src, "new", name), raws[i], 0o600))
			}
		}
		if c.Incr {
			// A clean state of the first half, kept on the source.
			deliver(0, c.N/2)
			src := crashSource(t, c, raws[:c.N/2])
			dst, err := maildir.Open(c.Dst, nil)
			require.NoError(t, err)
			s, err := crashSync(t, c, src, dst, nil)
			require.NoError(t, err)
			_, err = s.Run(context.Background())
			require.NoError(t, err, "seed %d: the first half", seed)
			dst.Close()
			src.Close()
			deliver(c.N/2, c.N)
			c.Changed = c.Scenario == "mem"
		} else {
			deliver(0, c.N)
		}
		for round := 0; round < 6 && kills < target; round++ {
			transfers := c.N
			if c.Incr {
				transfers = c.N - c.N/2
			}
			if rng.IntN(2) == 0 {
				c.KillAfter, c.KillProgress = time.Duration(1+rng.IntN(50_000))*time.Microsecond, 0
			} else {
				c.KillAfter, c.KillProgress = 0, 1+rng.IntN(transfers)
			}
			killed := runCrashHelper(t, c)
			if killed {
				kills++
				scenarioKills[fmt.Sprintf("%s incr=%v", c.Scenario, c.Incr)]++
			} else {
				completed++
			}
			checkNothingPartialOrLost(t, c, raws, backing)
			if !killed {
				break
			}
		}
		// Resume in this process: every message exactly once.
		src := crashSource(t, c, raws)
		dst, err := maildir.Open(c.Dst, nil)
		require.NoError(t, err)
		s, err := crashSync(t, c, src, dst, nil)
		require.NoError(t, err)
		_, err = s.Run(context.Background())
		require.NoError(t, err, "seed %d", seed)
		requireExactlyOnce(t, c.Dst, raws)
		checkStateConsistent(t, c, dst)
		if fake, ok := src.(*mailtest.Mailbox); ok && c.Incr {
			requireFlagsMatch(t, fake, dst)
		}
		switch {
		case c.Incr:
		case c.Scenario == "maildir":
			ents, err := os.ReadDir(filepath.Join(c.Src, "new"))
			require.NoError(t, err)
			require.Empty(t, ents, "seed %d: source emptied by the retention policy", seed)
		case c.Scenario == "pop3":
			require.Empty(t, backing.Messages("INBOX"), "seed %d: maildrop emptied by the retention policy", seed)
		}
		dst.Close()
		src.Close()
		if server != nil {
			server.Close()
		}
	}
	t.Logf("crash test: %d SIGKILLs (%d helper runs finished before their kill point); by scenario: %v", kills, completed, scenarioKills)
}

// crashDir returns a temporary directory, on /dev/shm when there is one: a
// SIGKILL loses nothing that is in the page cache, so what this test
// checks does not depend on fsync reaching the disk, and tmpfs makes the
// hundreds of runs fast. (Ordering of fsyncs is checked by the order and
// fault tests.)
func crashDir(t *testing.T) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "mailaccess-crash-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

// runCrashHelper runs one helper and reports whether it was SIGKILLed.
func runCrashHelper(t *testing.T, c crashConfig) bool {
	t.Helper()
	cfg, err := json.Marshal(c)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestSyncCrashHelper$", "-test.count=1")
	// atexit_sleep_ms=0: a race-enabled helper that finishes exits at once.
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+string(cfg), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if err == nil {
		return false
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	t.Fatalf("helper failed (%+v): %v\n%s", c, err, out.String())
	return false
}

// checkNothingPartialOrLost: after a kill, every file outside tmp/ is a
// whole source message, and (retention scenario) every message is in the
// source or the destination.
func checkNothingPartialOrLost(t *testing.T, c crashConfig, raws [][]byte, backing *mailtest.Mailbox) {
	t.Helper()
	files := storedFiles(t, c.Dst)
	for name, b := range files {
		require.True(t, slicesContainsBytes(raws, b), "seed %d: partial or foreign file %s visible", c.Seed, name)
	}
	if c.Scenario == "mem" {
		return
	}
	have := map[string]bool{}
	for _, b := range files {
		have[string(b)] = true
	}
	if c.Scenario == "maildir" {
		for _, b := range storedFiles(t, c.Src) {
			have[string(b)] = true
		}
	} else {
		for _, m := range backing.Messages("INBOX") {
			have[string(m.Raw)] = true
		}
	}
	for i, r := range raws {
		require.True(t, have[string(r)], "seed %d: message %d lost (neither in source nor destination)", c.Seed, i)
	}
}

// checkStateConsistent: every recorded message exists in the destination,
// no two records share a file, nothing is left pending.
func checkStateConsistent(t *testing.T, c crashConfig, dst *maildir.Store) {
	t.Helper()
	rec := loadStateRec(t, dst, "crash", "INBOX")
	names := map[string]bool{}
	for name := range storedFiles(t, c.Dst) {
		id, _, _ := strings.Cut(name[len("new/"):], ":2,")
		names[id] = true
	}
	seen := map[string]bool{}
	live := 0
	for _, m := range rec.Msgs {
		require.False(t, m.Pending, "seed %d: pending entry %s", c.Seed, m.Src)
		require.True(t, names[m.Dst], "seed %d: state records %s -> %s, which is not in the store", c.Seed, m.Src, m.Dst)
		require.False(t, seen[m.Dst], "seed %d: two records for %s", c.Seed, m.Dst)
		seen[m.Dst] = true
		if !m.Deleted {
			live++
		}
	}
	if c.Scenario == "mem" || c.Incr {
		require.Equal(t, c.N, live, "seed %d: records", c.Seed)
	}
}
