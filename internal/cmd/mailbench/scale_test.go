package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
)

// scaleJobNames lists the 100k set's job names.
func scaleJobNames() []string {
	var names []string
	for _, j := range scaleJobs() {
		names = append(names, j.Name)
	}
	return names
}

// peerMissing says whether job name needs a peer that is not installed.
func peerMissing(name string) bool {
	for _, p := range []string{"mbsync", "mpop"} {
		if strings.Contains(name, p) {
			if _, err := exec.LookPath(p); err != nil {
				return true
			}
		}
	}
	return false
}

// TestScale100kTiny runs the 100k set on a 300-message folder for two runs
// and checks every row: two change steps, each measured by every
// incremental job as exactly its new messages (the tool itself checks the
// flags, the replicas' contents and that the server changed only by the
// bench's hand, and fails the run otherwise), no-op resyncs that store
// nothing, floors and listing that see the whole folder as it grows, the
// incremental floors that see the change step, the Fetch jobs that read
// their 10 messages, and peak RSS for every job.
func TestScale100kTiny(t *testing.T) {
	requireDovecot(t)
	const n, runs = 300, 2
	opts := &options{N: 1, Seed: 3, Runs: runs, Scale100k: true, ScaleN: n, Only: scaleJobNames()}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var logs bytes.Buffer
	opts.Verbose = true
	rep, err := runBench(ctx, opts, &logs)
	require.NoError(t, err, logs.String())

	assert.Equal(t, n, rep.ScaleMessages)
	assert.Positive(t, rep.ScaleBytes)
	require.Len(t, rep.Results, len(scaleJobs()))
	byName := map[string]*Result{}
	for _, r := range rep.Results {
		byName[r.Job] = r
	}
	for _, j := range scaleJobs() {
		r := byName[j.Name]
		require.NotNil(t, r, "no row for %s", j.Name)
		switch {
		case peerMissing(j.Name):
			assert.Contains(t, r.Skipped, "not installed", j.Name)
			continue
		}
		require.Empty(t, r.Skipped, j.Name)
		require.Len(t, r.Seconds, runs, j.Name)
		assert.Positive(t, r.RSSMiB, "%s: peak RSS reported", j.Name)
		// Messages holds the last run's figure. Run 2's floors and
		// no-ops come before its change step (the folder holds run 1's
		// appended messages); its listing comes after.
		switch {
		case isIncr(j):
			assert.Equal(t, scaleNew, r.Messages, j.Name)
		case j.Kind == kindResync || j.Kind == kindMbsyncResync || j.Kind == kindMpopResync:
			assert.Zero(t, r.Messages, j.Name)
		case j.Kind == kindList:
			assert.Equal(t, n+runs*scaleNew, r.Messages, j.Name)
		case j.Kind == kindFetch || j.Kind == kindFetchUnseen:
			assert.Equal(t, 10, r.Messages, j.Name)
		default:
			assert.Equal(t, n+(runs-1)*scaleNew, r.Messages, j.Name)
		}
	}
	// Ours against the peers and the floors.
	assert.Equal(t, "100k-floor-imap-status", byName["100k-resync-imap"].Wire)
	assert.Positive(t, byName["100k-resync-imap"].VsWire)
	assert.Equal(t, "100k-floor-pop3-uidl", byName["100k-resync-pop3"].Wire)
	assert.Equal(t, "100k-floor-imap-incr", byName["100k-incr-imap"].Wire)
	assert.Equal(t, "100k-floor-pop3-incr", byName["100k-incr-pop3"].Wire)
	assert.Positive(t, byName["100k-incr-pop3"].VsWire)
	if !peerMissing("mbsync") {
		assert.Equal(t, "100k-mbsync-incr", byName["100k-incr-imap"].Peer)
		assert.Positive(t, byName["100k-incr-imap"].VsPeer)
	}
	if !peerMissing("mpop") {
		assert.Equal(t, "100k-mpop-resync", byName["100k-resync-pop3"].Peer)
		assert.Positive(t, byName["100k-resync-pop3"].VsPeer)
	}
	// Two change steps, the replicas created once, no catch-up needed
	// when every incremental job runs.
	assert.Equal(t, 2, strings.Count(logs.String(), "change step "), logs.String())
	assert.NotContains(t, logs.String(), "caught up", logs.String())

	var table bytes.Buffer
	require.NoError(t, writeTable(&table, rep))
	t.Logf("%s\n%s", logs.String(), table.String())
	assert.Contains(t, table.String(), "100k folder: 300 small messages")
	assert.NotContains(t, table.String(), "skipped:\n  100k-fetch")
}

// TestScaleCatchUp selects a no-op resync whose replica has no incremental
// job next to an incremental job that changes the server every run: from
// the second run on, the no-op's replica must be brought up to date,
// untimed, before it is measured, and the measurement is still a no-op
// (the tool fails the run if the resync stores or updates anything).
func TestScaleCatchUp(t *testing.T) {
	requireDovecot(t)
	opts := &options{N: 1, Seed: 4, Runs: 2, Scale100k: true, ScaleN: 200,
		Only: []string{"100k-resync-pop3", "100k-incr-imap"}, Verbose: true}
	var logs bytes.Buffer
	rep, err := runBench(context.Background(), opts, &logs)
	require.NoError(t, err, logs.String())
	require.Len(t, rep.Results, 2)
	assert.Equal(t, "100k-resync-pop3", rep.Results[0].Job)
	assert.Len(t, rep.Results[0].Seconds, 2)
	assert.Zero(t, rep.Results[0].Messages)
	assert.Equal(t, scaleNew, rep.Results[1].Messages)
	assert.Equal(t, 1, strings.Count(logs.String(), "replica 100k-sync-pop3: caught up 1 change steps"), logs.String())
}

// TestScaleMarkCatchesOutsideChanges checks that a change on the server
// the bench did not make (here a flag set through another connection)
// makes the check before the next job fail, naming the change, instead of
// being measured as part of a no-op.
func TestScaleMarkCatchesOutsideChanges(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	b := &bench{opts: &options{Seed: 1, ScaleN: 150}, srv: srv, mailboxes: map[string]mailboxInfo{},
		logf: func(string, ...any) {}}
	ctx := context.Background()
	require.NoError(t, b.seedScale(ctx))
	require.NoError(t, b.warmScale(ctx))
	require.NoError(t, b.checkMark(ctx, "warm-up"), "nothing changed yet")

	require.NoError(t, b.applyScaleChanges(ctx))
	require.NoError(t, b.checkMark(ctx, "the change step"), "the bench's own changes are expected")
	assert.Equal(t, 150+scaleNew, b.mailboxes[scaleUser].Messages)

	c, done, err := loginIMAPWire(ctx, srv.IMAPAddr, scaleUser, password)
	require.NoError(t, err)
	_, err = c.Select("INBOX", nil).Wait()
	require.NoError(t, err)
	require.NoError(t, c.Store(imap.SeqSetNum(7), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagAnswered}}, nil).Close())
	done()
	err = b.checkMark(ctx, "job X")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "changed on the server after job X")
}

// TestCheckReplica checks the replica check against Maildirs it must
// accept and reject: wrong message count, wrong number of flagged
// messages (IMAP only).
func TestCheckReplica(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"cur", "new", "tmp"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, sub), 0o700))
	}
	write := func(sub, name string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, sub, name), []byte("x"), 0o600))
	}
	write("cur", "1.a.host,S=1:2,FS")
	write("cur", "2.b.host,S=1:2,S")
	write("cur", "3.c.host,U=3:2,FRS") // mbsync's names carry ,U=
	write("new", "4.d.host,S=1")
	write("cur", ".hidden:2,F")

	n, flagged, err := maildirFlagged(dir)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	assert.Equal(t, 2, flagged)

	b := &bench{mailboxes: map[string]mailboxInfo{scaleUser: {Messages: 4}}}
	imapJob := job{Name: "x", Proto: "imap"}
	pop3Job := job{Name: "y", Proto: "pop3"}
	b.scale.gen = 0 // no change step yet: nothing flagged
	assert.ErrorContains(t, b.checkReplica(imapJob, dir), "2 \\Flagged messages, want 0")
	assert.NoError(t, b.checkReplica(pop3Job, dir), "POP3 replicas have no flags to compare")
	b.mailboxes[scaleUser] = mailboxInfo{Messages: 5}
	assert.ErrorContains(t, b.checkReplica(pop3Job, dir), "holds 4 messages, want 5")
}

// TestFloorOf checks which floor a durable sync is set against.
func TestFloorOf(t *testing.T) {
	wire := &Result{Job: "wire-imap", Median: 0.5}
	disk := &Result{Job: "floor-disk", Median: 0.8}
	name, r := floorOf(2.0, wire, disk)
	assert.Equal(t, "floor-disk", name)
	assert.InDelta(t, 2.5, r, 1e-9)
	name, r = floorOf(2.0, wire, &Result{Job: "floor-disk", Skipped: "no"})
	assert.Equal(t, "wire-imap", name)
	assert.InDelta(t, 4.0, r, 1e-9)
	name, r = floorOf(2.0, nil, nil)
	assert.Empty(t, name)
	assert.Zero(t, r)
}

// TestCPUProfileNewJobs checks that -cpuprofile writes one profile per
// timed run of the floors and of the 100k set's syncs (ours only: not
// the peers', not the untimed replica creation), each a gzip-compressed
// pprof profile.
func TestCPUProfileNewJobs(t *testing.T) {
	requireDovecot(t)
	prof := t.TempDir()
	timed := []string{"floor-imap-status", "floor-pop3-uidl", "floor-disk", "100k-floor-imap-status",
		"100k-resync-imap", "100k-incr-imap", "100k-incr-pop3", "100k-list-imap"}
	only := append(slices.Clone(timed), "100k-mpop-incr")
	opts := &options{N: 4, Seed: 5, Runs: 1, Scale100k: true, ScaleN: 120, Only: only, CPUProfile: prof}
	var logs bytes.Buffer
	_, err := runBench(context.Background(), opts, &logs)
	require.NoError(t, err, logs.String())

	ents, err := os.ReadDir(prof)
	require.NoError(t, err)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
		f, err := os.Open(filepath.Join(prof, e.Name()))
		require.NoError(t, err)
		zr, err := gzip.NewReader(f)
		require.NoError(t, err, e.Name())
		body, err := io.ReadAll(zr)
		require.NoError(t, err, e.Name())
		assert.NotEmpty(t, body, e.Name())
		f.Close()
	}
	var want []string
	for _, j := range timed {
		want = append(want, j+"-run1.cpu")
	}
	assert.ElementsMatch(t, want, got)
}
