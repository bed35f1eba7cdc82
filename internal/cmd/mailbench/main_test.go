package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
)

// TestMain lets the test binary act as the benchmark's child process, as
// the real command does when it re-executes itself.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// requireDovecot skips without Dovecot, except under CI where it must exist.
func requireDovecot(t *testing.T) {
	t.Helper()
	if ok, why := dovecottest.Available(); !ok {
		if os.Getenv("CI") == "true" {
			t.Fatalf("dovecot required under CI: %s", why)
		}
		t.Skipf("dovecot not available: %s", why)
	}
}

// TestRunTinyScale runs the whole benchmark but the 100k set (see
// scale_test.go) at a tiny scale and checks that every job produced a row
// that moved the whole mailbox (or says why it was skipped).
func TestRunTinyScale(t *testing.T) {
	requireDovecot(t)
	const n = 20
	opts := &options{
		N: n, Seed: 7, Runs: 1, Large: true,
		LargeSize: 1 << 20,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var logs bytes.Buffer
	rep, err := runBench(ctx, opts, &logs)
	require.NoError(t, err, logs.String())

	assert.Equal(t, n, rep.Messages)
	assert.Positive(t, rep.Bytes)
	byName := map[string]*Result{}
	for _, r := range rep.Results {
		byName[r.Job] = r
	}
	_, haveMbsync := exec.LookPath("mbsync")
	_, haveMpop := exec.LookPath("mpop")
	var names []string
	for _, j := range slices.Concat(jobsFor("", mainUser), largeJobs()) {
		names = append(names, j.Name)
	}
	assert.Len(t, rep.Results, len(names), "the 100k set runs only with -scale100k")
	for _, name := range names {
		r := byName[name]
		require.NotNil(t, r, "no row for job %s", name)
		// The drivers and the engine are built in: only a missing peer
		// may skip a job.
		switch {
		case strings.Contains(name, "mbsync") && haveMbsync != nil,
			strings.Contains(name, "mpop") && haveMpop != nil:
			assert.Contains(t, r.Skipped, "not installed", "job %s", name)
			continue
		}
		require.Empty(t, r.Skipped, "job %s", name)
		require.Len(t, r.Seconds, 1, "job %s", name)
		assert.Positive(t, r.Median, "job %s", name)
		assert.Positive(t, r.RSSMiB, "job %s", name)
		want := n
		if strings.HasPrefix(name, "large-") {
			want = 1
		}
		if strings.Contains(name, "resync") {
			want = 0
		}
		assert.Equal(t, want, r.Messages, "job %s", name)
	}
	// Ratios are taken only against jobs that ran.
	if w := byName["wire-imap"]; haveMbsync == nil {
		assert.Positive(t, w.VsPeer)
		assert.Equal(t, "mbsync", w.Peer)
		assert.Positive(t, byName["mbsync"].VsWire)
	}
	// Durable full syncs are set against the larger of their two floors.
	for _, name := range []string{"sync-imap", "sync-pop3", "mbsync", "mpop"} {
		r := byName[name]
		if r.Skipped != "" {
			continue
		}
		wire := byName["wire-"+r.Protocol]
		wantFloor := wire.Job
		if d := byName["floor-disk"]; d.Median > wire.Median {
			wantFloor = d.Job
		}
		assert.Equal(t, wantFloor, r.Floor, "job %s", name)
		assert.InDelta(t, r.Median/byName[wantFloor].Median, r.VsFloor, 1e-9, "job %s", name)
	}
	assert.Empty(t, byName["large-sync-imap"].Floor, "no disk floor for the large message")
	// The no-op resyncs are set against the bare clients.
	assert.Equal(t, "floor-imap-status", byName["resync-imap"].Wire)
	assert.Equal(t, "floor-pop3-uidl", byName["resync-pop3"].Wire)

	var table bytes.Buffer
	require.NoError(t, writeTable(&table, rep))
	for _, name := range names {
		assert.Contains(t, table.String(), "\n  "+name+" ")
	}
	var js bytes.Buffer
	require.NoError(t, writeJSON(&js, rep))
	var back Report
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	assert.Len(t, back.Results, len(rep.Results))
}

// TestOnlySelectsJobs checks that -only restricts the jobs and that a
// resync selected alone still has its full sync run first, untimed.
func TestOnlySelectsJobs(t *testing.T) {
	requireDovecot(t)
	if _, err := exec.LookPath("mpop"); err != nil {
		t.Skip("mpop not installed")
	}
	opts, err := parseFlags([]string{"-n", "5", "-runs", "2", "-only", "wire-pop3,mpop-resync"}, &bytes.Buffer{})
	require.NoError(t, err)
	rep, err := runBench(context.Background(), opts, &bytes.Buffer{})
	require.NoError(t, err)
	require.Len(t, rep.Results, 2)
	assert.Equal(t, "wire-pop3", rep.Results[0].Job)
	assert.Equal(t, 5, rep.Results[0].Messages)
	assert.Len(t, rep.Results[0].Seconds, 2)
	assert.Equal(t, "mpop-resync", rep.Results[1].Job)
	assert.Len(t, rep.Results[1].Seconds, 2)
	assert.Zero(t, rep.Results[1].Messages)
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 10_000, o.N)
	assert.Equal(t, 3, o.Runs)
	assert.Equal(t, int64(200<<20), o.LargeSize)
	assert.Equal(t, 100_000, o.ScaleN)
	assert.False(t, o.Scale100k)

	_, err = parseFlags([]string{"-only", "wire-imap,nope"}, &bytes.Buffer{})
	assert.Error(t, err)
	_, err = parseFlags([]string{"-runs", "0"}, &bytes.Buffer{})
	assert.Error(t, err)
	o, err = parseFlags([]string{"-only", "sync-imap, mbsync", "-large", "-json"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []string{"sync-imap", "mbsync"}, o.Only)
	assert.True(t, o.Large)
	assert.True(t, o.JSON)
	o, err = parseFlags([]string{"-scale100k", "-only", "100k-incr-imap,floor-disk"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, o.Scale100k)
	assert.Equal(t, []string{"100k-incr-imap", "floor-disk"}, o.Only)
	_, err = parseFlags([]string{"-list100k"}, &bytes.Buffer{})
	assert.Error(t, err, "-list100k is folded into -scale100k")
}

func TestMedian(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
	assert.Equal(t, 0.0, median(nil))
}

func TestVmHWM(t *testing.T) {
	v, err := vmHWM("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	assert.Greater(t, v, int64(1<<20), "a Go test binary has more than 1 MiB resident")
}

func TestPeerConfigs(t *testing.T) {
	rc := mbsyncConfig("127.0.0.1", "1143", "bench", "pw", "/tmp/x")
	for _, want := range []string{"FSync yes", "Port 1143", "SSLType None", "AuthMechs LOGIN", "Inbox /tmp/x", "Far :bench-far:", "Near :bench-near:", "Patterns INBOX", "Create Near", "SyncState *"} {
		assert.Contains(t, rc, want)
	}
	rc = mpopConfig("127.0.0.1", "1110", "bench", "pw", "/tmp/x", "/tmp/u")
	for _, want := range []string{"port 1110", "tls off", "auth user", "delivery maildir /tmp/x", "keep on", "uidls_file /tmp/u"} {
		assert.Contains(t, rc, want)
	}
}

// Example_table shows the table the command prints.
func Example_table() {
	rep := &Report{
		Machine: "2 CPUs", Messages: 10000, Bytes: 468_000_000, Seed: 1, Runs: 3,
		Results: []*Result{
			{Job: "wire-imap", Median: 1.4, MBps: 334.3, RSSMiB: 9.5, Messages: 10000, VsPeer: 13.57, Peer: "mbsync"},
			{Job: "floor-disk", Median: 1.6, MBps: 292.5, RSSMiB: 460.2, Messages: 10000},
			{Job: "mbsync", Median: 19.0, MBps: 24.6, RSSMiB: 6.1, Messages: 10000, VsWire: 13.57, Wire: "wire-imap", VsFloor: 11.88, Floor: "floor-disk"},
		},
	}
	writeTable(os.Stdout, rep)
	// Output:
	// mailbench: 10000 messages, 468.0 MB, seed 1, 3 runs (medians); 2 CPUs
	//
	//   job         median s   MB/s  RSS MiB   msgs        vs peer           vs wire           vs floor
	//   wire-imap      1.400  334.3      9.5  10000  13.57x mbsync                 -                  -
	//   floor-disk     1.600  292.5    460.2  10000              -                 -                  -
	//   mbsync        19.000   24.6      6.1  10000              -  13.57x wire-imap  11.88x floor-disk
	//
	// vs peer = peer median / job median (>1: faster than mbsync for IMAP, mpop for POP3);
	// vs wire = job median / wire-floor median (1: at the floor);
	// vs floor = durable sync median / max(wire floor, floor-disk) median, naming the larger floor.
}

func TestLFSize(t *testing.T) {
	n, err := lfSize(strings.NewReader("a\r\nb\r\rc\n\r"))
	require.NoError(t, err)
	assert.Equal(t, int64(8), n, "one CRLF folds to LF; lone CR and LF stay")
	// A CRLF split across reads is still one CRLF.
	big := strings.Repeat("x", 64<<10-1) + "\r\n"
	n, err = lfSize(strings.NewReader(big))
	require.NoError(t, err)
	assert.Equal(t, int64(len(big)-1), n)
}
