package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
)

// Users seeded on the server.
const (
	mainUser  = "bench"
	largeUser = "large"
	scaleUser = "scale" // the 100k folder (see scale.go)
	password  = "bench-password"
)

// Job kinds.
const (
	kindWire         = "wire"
	kindRead         = "read"
	kindSync         = "sync"
	kindResync       = "resync"
	kindList         = "list"
	kindMbsync       = "mbsync"
	kindMbsyncResync = "mbsync-resync"
	kindMpop         = "mpop"
	kindMpopResync   = "mpop-resync"
	// The floors (floors.go) and the 100k set's incremental jobs
	// (scale.go).
	kindFloorStatus = "floor-status"
	kindFloorUIDL   = "floor-uidl"
	kindFloorDisk   = "floor-disk"
	kindIncr        = "incr"
	kindMbsyncIncr  = "mbsync-incr"
	kindMpopIncr    = "mpop-incr"
	kindFloorIncr   = "floor-incr"
	kindFetch       = "fetch"
	kindFetchUnseen = "fetch-unseen"
)

// job is one measured task.
type job struct {
	Name  string
	Kind  string
	Proto string // "imap" or "pop3"
	User  string
	// Prep names the job whose output a resync job starts from.
	Prep string
	// Peer and Wire name the jobs this one is compared with.
	Peer, Wire string
	// Disk names the disk floor of a durable full sync: "vs floor" is
	// this job's median over the larger of Wire's and Disk's.
	Disk string
	// Replica names the untimed full sync that creates, once per
	// benchmark, the Maildir this job keeps syncing (the 100k set's no-op
	// and incremental jobs; see scale.go). Prep is then empty.
	Replica string
	// CatchUp marks an untimed run that brings a replica up to date with
	// the server, however much changed (see scale.go).
	CatchUp bool
}

// mailboxInfo describes a seeded mailbox.
type mailboxInfo struct {
	Messages int
	Bytes    int64 // as served: corpus.Normalize'd sizes
	// LFBytes is Bytes with every CRLF counted as LF: what mbsync and mpop
	// store (they write Maildir files with Unix line endings).
	LFBytes int64
}

// jobsFor lists the jobs for the main mailbox (prefix "") or the large one
// (prefix "large-").
func jobsFor(prefix, user string) []job {
	p := func(s string) string { return prefix + s }
	return []job{
		{Name: p("wire-imap"), Kind: kindWire, Proto: "imap", User: user, Peer: p("mbsync")},
		{Name: p("wire-pop3"), Kind: kindWire, Proto: "pop3", User: user, Peer: p("mpop")},
		{Name: p("floor-imap-status"), Kind: kindFloorStatus, Proto: "imap", User: user, Peer: p("mbsync-resync")},
		{Name: p("floor-pop3-uidl"), Kind: kindFloorUIDL, Proto: "pop3", User: user, Peer: p("mpop-resync")},
		{Name: p("floor-disk"), Kind: kindFloorDisk, Proto: "disk", User: user},
		{Name: p("read-imap"), Kind: kindRead, Proto: "imap", User: user, Peer: p("mbsync"), Wire: p("wire-imap")},
		{Name: p("read-pop3"), Kind: kindRead, Proto: "pop3", User: user, Peer: p("mpop"), Wire: p("wire-pop3")},
		{Name: p("read-gopop3"), Kind: kindGoPOP3, Proto: "pop3", User: user, Peer: p("mpop"), Wire: p("wire-pop3")},
		{Name: p("sync-imap"), Kind: kindSync, Proto: "imap", User: user, Peer: p("mbsync"), Wire: p("wire-imap"), Disk: p("floor-disk")},
		{Name: p("resync-imap"), Kind: kindResync, Proto: "imap", User: user, Prep: p("sync-imap"), Peer: p("mbsync-resync"), Wire: p("floor-imap-status")},
		{Name: p("sync-pop3"), Kind: kindSync, Proto: "pop3", User: user, Peer: p("mpop"), Wire: p("wire-pop3"), Disk: p("floor-disk")},
		{Name: p("resync-pop3"), Kind: kindResync, Proto: "pop3", User: user, Prep: p("sync-pop3"), Peer: p("mpop-resync"), Wire: p("floor-pop3-uidl")},
		{Name: p("mbsync"), Kind: kindMbsync, Proto: "imap", User: user, Wire: p("wire-imap"), Disk: p("floor-disk")},
		{Name: p("mbsync-resync"), Kind: kindMbsyncResync, Proto: "imap", User: user, Prep: p("mbsync"), Wire: p("floor-imap-status")},
		{Name: p("mpop"), Kind: kindMpop, Proto: "pop3", User: user, Wire: p("wire-pop3"), Disk: p("floor-disk")},
		{Name: p("mpop-resync"), Kind: kindMpopResync, Proto: "pop3", User: user, Prep: p("mpop"), Wire: p("floor-pop3-uidl")},
	}
}

// largeJobs are the jobs run on the 200 MB message: the transfers and the
// full syncs (what a single large message tests is memory), no floors.
func largeJobs() []job {
	var out []job
	for _, j := range jobsFor("large-", largeUser) {
		switch j.Kind {
		case kindResync, kindMbsyncResync, kindMpopResync, kindFloorStatus, kindFloorUIDL, kindFloorDisk:
			continue
		}
		j.Disk = ""
		out = append(out, j)
	}
	return out
}

// catalog lists every job that can be selected, in run order.
func catalog() []job {
	return slices.Concat(jobsFor("", mainUser), largeJobs(), scaleJobs())
}

// allJobNames lists every job name in run order.
func allJobNames() []string {
	var names []string
	for _, j := range catalog() {
		names = append(names, j.Name)
	}
	return names
}

// Result is the outcome of one job over all runs.
type Result struct {
	Job      string    `json:"job"`
	Protocol string    `json:"protocol"`
	Seconds  []float64 `json:"seconds,omitempty"`
	Median   float64   `json:"median_seconds,omitempty"`
	MBps     float64   `json:"mb_per_s,omitempty"`
	// RSSMiB is the largest peak RSS over the runs.
	RSSMiB   float64 `json:"peak_rss_mib,omitempty"`
	Messages int     `json:"messages"`
	Bytes    int64   `json:"bytes"`
	// VsPeer is peer median / this median (above 1: faster than the peer).
	VsPeer float64 `json:"vs_peer,omitempty"`
	Peer   string  `json:"peer,omitempty"`
	// VsWire is this median / wire-floor median (1: at the floor).
	VsWire float64 `json:"vs_wire,omitempty"`
	Wire   string  `json:"wire,omitempty"`
	// VsFloor is this median / the larger of the wire floor's and the
	// disk floor's medians (durable full syncs only); Floor names the
	// floor job that was larger.
	VsFloor float64 `json:"vs_floor,omitempty"`
	Floor   string  `json:"floor,omitempty"`
	// Skipped says why the job did not run.
	Skipped string `json:"skipped,omitempty"`
}

// Report is the whole benchmark's output.
type Report struct {
	Machine string `json:"machine"`
	// LoadEnd is the load average when the last job finished (the
	// machine line holds it at the start).
	LoadEnd  string    `json:"load_end"`
	Started  time.Time `json:"started"`
	Messages int       `json:"corpus_messages"`
	Bytes    int64     `json:"corpus_bytes"`
	// ScaleMessages and ScaleBytes describe the 100k folder as it was
	// seeded (zero without -scale100k).
	ScaleMessages int       `json:"scale_messages,omitempty"`
	ScaleBytes    int64     `json:"scale_bytes,omitempty"`
	Seed          int64     `json:"seed"`
	Runs          int       `json:"runs"`
	Peers         []string  `json:"peers"`
	Results       []*Result `json:"results"`
}

// bench is the state of one benchmark.
type bench struct {
	opts      *options
	srv       *dovecottest.Server
	work      string
	exe       string
	mailboxes map[string]mailboxInfo
	peers     map[string]string // name -> version line
	logf      func(format string, args ...any)
	// scale is the state of the 100k folder and its replicas (scale.go).
	scale scaleState
}

// run performs the whole benchmark and writes the table (or JSON) to stdout.
func run(ctx context.Context, opts *options, stdout, stderr io.Writer) error {
	rep, err := runBench(ctx, opts, stderr)
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(stdout, rep)
	}
	return writeTable(stdout, rep)
}

// runBench performs the whole benchmark and returns its report.
func runBench(ctx context.Context, opts *options, stderr io.Writer) (*Report, error) {
	b := &bench{opts: opts, mailboxes: map[string]mailboxInfo{}, peers: map[string]string{}}
	lg := log.New(stderr, "mailbench: ", log.Lmsgprefix|log.Ltime)
	b.logf = func(format string, args ...any) {
		if opts.Verbose {
			lg.Printf(format, args...)
		}
	}
	if ok, why := dovecottest.Available(); !ok {
		return nil, fmt.Errorf("dovecot not available: %s", why)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	b.exe = exe
	b.findPeers()

	rep := &Report{Machine: machineLine(), Started: time.Now(), Seed: opts.Seed, Runs: opts.Runs}
	for name, v := range b.peers {
		rep.Peers = append(rep.Peers, name+" ("+v+")")
	}
	sort.Strings(rep.Peers)

	b.work, err = os.MkdirTemp("", "mailbench-")
	if err != nil {
		return nil, err
	}
	if opts.Keep {
		fmt.Fprintf(stderr, "mailbench: keeping outputs in %s\n", b.work)
	} else {
		defer os.RemoveAll(b.work)
	}

	b.logf("starting dovecot")
	srvOpts := &dovecottest.Options{ExtraConfig: []string{
		// One user holds 100k messages in the 100k set, and peers log in
		// many times in a row.
		"mail_max_userip_connections = 100",
		// A POP3 download sets no flag: the 100k folder keeps its unseen
		// messages, and a job's downloads leave the server as they found
		// it (the 100k set checks that nothing but the bench changed it).
		"pop3_no_flag_updates = yes",
	}}
	b.srv, err = dovecottest.NewServer(srvOpts)
	if err != nil {
		return nil, fmt.Errorf("start dovecot: %w", err)
	}
	defer b.srv.Close()

	jobs := b.selectJobs()
	if len(jobs) == 0 {
		return nil, errors.New("no job selected")
	}
	if err := b.seed(ctx, jobs); err != nil {
		return nil, err
	}
	main := b.mailboxes[mainUser]
	rep.Messages, rep.Bytes = main.Messages, main.Bytes
	scale := b.mailboxes[scaleUser]
	rep.ScaleMessages, rep.ScaleBytes = scale.Messages, scale.Bytes
	if err := b.warmUp(ctx, jobs); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}

	results := map[string]*Result{}
	var order []*Result
	for _, j := range jobs {
		r := &Result{Job: j.Name, Protocol: j.Proto, Peer: j.Peer, Wire: j.Wire}
		if why := b.unavailable(j); why != "" {
			r.Skipped = why
		}
		results[j.Name] = r
		order = append(order, r)
	}
	if err := b.scaleSetup(ctx, jobs, results); err != nil {
		return nil, err
	}
	rss := map[string]float64{}
	for run := 1; run <= opts.Runs; run++ {
		runDir := filepath.Join(b.work, fmt.Sprintf("run%d", run))
		if err := os.MkdirAll(runDir, 0o755); err != nil {
			return nil, err
		}
		prepDirs := map[string]string{}
		for _, j := range jobs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r := results[j.Name]
			if r.Skipped != "" {
				continue
			}
			dir := ""
			switch {
			case j.User == scaleUser:
				// The 100k set: a replica kept across runs (or none),
				// brought to the state the job measures from (untimed).
				d, err := b.scaleBefore(ctx, j, run, runDir)
				if err != nil {
					return nil, fmt.Errorf("run %d: %s (preparing): %w", run, j.Name, err)
				}
				dir = d
			case j.Prep != "":
				d, ok := prepDirs[j.Prep]
				if !ok {
					// The full job was not selected: run it untimed.
					pj := b.jobByName(j.Prep)
					d = filepath.Join(runDir, pj.Name)
					b.logf("run %d: %s (preparation)", run, pj.Name)
					if _, err := b.runJob(ctx, pj, d, ""); err != nil {
						return nil, fmt.Errorf("run %d: %s (preparing %s): %w", run, pj.Name, j.Name, err)
					}
					prepDirs[j.Prep] = d
				}
				dir = d
				// A resync measured right after the full run would hit
				// mbsync's same-second Maildir guard (it sleeps 1 s when
				// the directory changed within the current second); a
				// real resync happens later.
				time.Sleep(resyncPause)
			default:
				dir = filepath.Join(runDir, j.Name)
			}
			// Start every job with no dirty pages left by the one before.
			syncDisks()
			b.logf("run %d: %s", run, j.Name)
			profile := ""
			if opts.CPUProfile != "" {
				profile = filepath.Join(opts.CPUProfile, fmt.Sprintf("%s-run%d.cpu", j.Name, run))
			}
			m, err := b.runJob(ctx, j, dir, profile)
			if err != nil {
				return nil, fmt.Errorf("run %d: %s: %w", run, j.Name, err)
			}
			if j.Replica != "" {
				b.scaleAfter(j)
			}
			b.logf("run %d: %s: %.3fs, %.1f MiB RSS, %d messages", run, j.Name, m.Seconds, m.RSSMiB, m.Messages)
			r.Seconds = append(r.Seconds, m.Seconds)
			rss[j.Name] = max(rss[j.Name], m.RSSMiB)
			r.Messages, r.Bytes = m.Messages, m.Bytes
			if j.Kind == kindSync || j.Kind == kindMbsync || j.Kind == kindMpop {
				prepDirs[j.Name] = dir
			}
		}
		// The outputs stay until the whole benchmark is over: deleting
		// tens of thousands of files between runs would slow the file
		// creations of the next ones. Without a journal (as on this
		// project's machines), ext4 skips inodes deleted in the last 60 to
		// 300 s when allocating new ones (recently_deleted in
		// fs/ext4/ialloc.c), reading inode tables for each candidate:
		// measured, that kernel scan was over half the CPU time of a
		// 10,000-file sync started right after such a delete, and it hit
		// whichever job came first after the delete.
	}
	for _, r := range order {
		if r.Skipped != "" {
			continue
		}
		r.Median = median(r.Seconds)
		r.RSSMiB = rss[r.Job]
		if r.Bytes > 0 && r.Median > 0 {
			r.MBps = float64(r.Bytes) / 1e6 / r.Median
		}
	}
	for _, r := range order {
		if r.Skipped != "" || r.Median <= 0 {
			continue
		}
		if p := results[r.Peer]; p != nil && p.Skipped == "" && p.Median > 0 {
			r.VsPeer = p.Median / r.Median
		} else {
			r.Peer = ""
		}
		if w := results[r.Wire]; w != nil && w.Skipped == "" && w.Median > 0 {
			r.VsWire = r.Median / w.Median
		} else {
			r.Wire = ""
		}
		if j := b.jobByName(r.Job); j.Disk != "" {
			r.Floor, r.VsFloor = floorOf(r.Median, results[j.Wire], results[j.Disk])
		}
	}
	rep.Results = order
	rep.LoadEnd = loadAverage()
	return rep, nil
}

// floorOf returns the larger of a durable sync's two floors (either may
// be missing) and median over it.
func floorOf(median float64, floors ...*Result) (name string, ratio float64) {
	var top *Result
	for _, f := range floors {
		if f != nil && f.Skipped == "" && f.Median > 0 && (top == nil || f.Median > top.Median) {
			top = f
		}
	}
	if top == nil {
		return "", 0
	}
	return top.Job, median / top.Median
}

// findPeers records the installed peer programs.
func (b *bench) findPeers() {
	want := b.opts.Peers
	if want == nil {
		want = []string{"mbsync", "mpop"}
	}
	for _, name := range want {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		out, _ := exec.Command(path, "--version").Output()
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		b.peers[name] = line
	}
}

// selectJobs returns the jobs to run, in order.
func (b *bench) selectJobs() []job {
	all := jobsFor("", mainUser)
	if b.opts.Large {
		all = append(all, largeJobs()...)
	}
	if b.opts.Scale100k {
		all = append(all, scaleJobs()...)
	}
	if len(b.opts.Only) == 0 {
		return all
	}
	var out []job
	for _, j := range catalog() {
		if slices.Contains(b.opts.Only, j.Name) {
			out = append(out, j)
		}
	}
	return out
}

// jobByName finds a job by name, among the selectable jobs and the
// untimed full syncs that create the 100k set's replicas.
func (b *bench) jobByName(name string) job {
	for _, j := range slices.Concat(catalog(), scaleReplicaJobs()) {
		if j.Name == name {
			return j
		}
	}
	panic("mailbench: no job " + name)
}

// unavailable says why j cannot run in this build or on this machine, or "".
func (b *bench) unavailable(j job) string {
	switch j.Kind {
	case kindMbsync, kindMbsyncResync:
		if _, ok := b.peers["mbsync"]; !ok {
			return "mbsync not installed"
		}
	case kindMpop, kindMpopResync:
		if _, ok := b.peers["mpop"]; !ok {
			return "mpop not installed"
		}
	case kindMbsyncIncr:
		if _, ok := b.peers["mbsync"]; !ok {
			return "mbsync not installed"
		}
	case kindMpopIncr:
		if _, ok := b.peers["mpop"]; !ok {
			return "mpop not installed"
		}
	case kindRead, kindList:
		return driverMissing(j.Proto)
	case kindSync, kindResync, kindIncr:
		if why := driverMissing(j.Proto); why != "" {
			return why
		}
		return syncMissing()
	case kindFloorDisk:
		if floorDiskUnsupported != "" {
			return floorDiskUnsupported
		}
		if need, avail := b.mailboxes[j.User].Bytes, memAvailable(); avail > 0 && need > avail/2 {
			return fmt.Sprintf("the corpus (%d MB) is held in memory and would take more than half the available memory (%d MB)", need/1e6, avail/1e6)
		}
	case kindFetch, kindFetchUnseen:
		return driverMissing(j.Proto)
	}
	return ""
}

// memAvailable returns MemAvailable from /proc/meminfo in bytes, or 0.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// seed creates the users the selected jobs need, before any login.
func (b *bench) seed(ctx context.Context, jobs []job) error {
	need := map[string]bool{}
	for _, j := range jobs {
		need[j.User] = true
	}
	if need[mainUser] {
		start := time.Now()
		if err := b.srv.AddUser(mainUser, password, nil); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		var info mailboxInfo
		batch := make([][]byte, 0, 100)
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			err := b.srv.AddMessages(mainUser, batch)
			clear(batch)
			batch = batch[:0]
			return err
		}
		for m := range corpus.Generate(b.opts.Seed, b.opts.N) {
			if err := ctx.Err(); err != nil {
				return err
			}
			info.Messages++
			norm := corpus.Normalize(m.Raw)
			info.Bytes += int64(len(norm))
			info.LFBytes += int64(len(norm) - bytes.Count(norm, []byte("\r\n")))
			batch = append(batch, m.Raw)
			if len(batch) == cap(batch) {
				if err := flush(); err != nil {
					return fmt.Errorf("seed: %w", err)
				}
			}
		}
		if err := flush(); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		b.mailboxes[mainUser] = info
		b.logf("seeded %d messages, %d bytes in %s", info.Messages, info.Bytes, time.Since(start).Round(time.Millisecond))
	}
	if need[largeUser] {
		if err := b.srv.AddUser(largeUser, password, nil); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		if err := b.srv.AddMessageReader(largeUser, corpus.Large(b.opts.Seed, b.opts.LargeSize)); err != nil {
			return fmt.Errorf("seed large message: %w", err)
		}
		lf, err := lfSize(corpus.Large(b.opts.Seed, b.opts.LargeSize))
		if err != nil {
			return err
		}
		b.mailboxes[largeUser] = mailboxInfo{Messages: 1, Bytes: corpus.LargeSize(b.opts.LargeSize), LFBytes: lf}
		b.logf("seeded the large message (%d bytes)", corpus.LargeSize(b.opts.LargeSize))
	}
	if need[scaleUser] {
		if err := b.seedScale(ctx); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}

// lfSize returns the size of r's bytes with every CRLF counted as LF.
func lfSize(r io.Reader) (int64, error) {
	buf := make([]byte, 64<<10)
	var n, crlf int64
	prevCR := false
	for {
		k, err := r.Read(buf)
		for _, c := range buf[:k] {
			if c == '\n' && prevCR {
				crlf++
			}
			prevCR = c == '\r'
		}
		n += int64(k)
		if err == io.EOF {
			return n - crlf, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// warmUp reads every seeded file once and fetches every mailbox once over
// each protocol, untimed, so that timed runs start from the same warm state
// (page cache filled, Dovecot's indexes built, \Seen set by POP3 once).
func (b *bench) warmUp(ctx context.Context, jobs []job) error {
	users := map[string]bool{}
	for _, j := range jobs {
		users[j.User] = true
	}
	for user := range users {
		start := time.Now()
		var n int64
		err := filepath.WalkDir(b.srv.MaildirPath(user), func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			c, err := io.Copy(io.Discard, f)
			n += c
			return err
		})
		if err != nil {
			return err
		}
		addrs := b.addrs()
		if user == scaleUser {
			if err := b.warmScale(ctx); err != nil {
				return err
			}
		} else {
			if _, err := wireIMAP(ctx, addrs.IMAP, user, password); err != nil {
				return err
			}
			if _, err := wirePOP3(ctx, addrs.POP3, user, password); err != nil {
				return err
			}
		}
		b.logf("warmed up %s (%d bytes on disk) in %s", user, n, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// serverAddrs are the plaintext addresses of the server.
type serverAddrs struct{ IMAP, POP3 string }

func (b *bench) addrs() serverAddrs {
	return serverAddrs{IMAP: b.srv.IMAPAddr, POP3: b.srv.POP3Addr}
}

// resyncPause separates a full sync from the resync that follows it.
const resyncPause = 1100 * time.Millisecond

// measurement is one run of one job.
type measurement struct {
	Seconds  float64
	RSSMiB   float64
	Messages int
	Bytes    int64
}

// runJob runs j once with output directory dir, checks its outcome and
// returns its measurement. Our jobs write a CPU profile to profile unless
// it is "" (the peers never do).
func (b *bench) runJob(ctx context.Context, j job, dir, profile string) (measurement, error) {
	info := b.mailboxes[j.User]
	switch j.Kind {
	case kindMbsync, kindMbsyncResync, kindMbsyncIncr:
		return b.runMbsync(ctx, j, dir, info)
	case kindMpop, kindMpopResync, kindMpopIncr:
		return b.runMpop(ctx, j, dir, info)
	}
	spec := childSpec{
		Job: j.Name, Kind: j.Kind, Proto: j.Proto,
		IMAPAddr: b.srv.IMAPAddr, POP3Addr: b.srv.POP3Addr,
		User: j.User, Password: password, Dir: dir,
		CPUProfile: profile,
	}
	if j.Kind == kindIncr {
		spec.Kind = kindSync // the same sync as any other; only the checks differ
	}
	switch j.Kind {
	case kindFloorDisk:
		spec.Seed, spec.N = b.opts.Seed, info.Messages
	case kindFloorIncr:
		spec.MinUID, spec.ChangedSince, spec.New = uint32(b.scale.changedFrom.UIDNext), b.scale.changedFrom.HighestModSeq, scaleNew
	case kindFetch, kindFetchUnseen:
		spec.N = b.opts.ScaleN
	}
	in, err := json.Marshal(spec)
	if err != nil {
		return measurement{}, err
	}
	cmd := exec.CommandContext(ctx, b.exe)
	// GORACE: a race-enabled binary (the tests) would otherwise sleep 1 s
	// at exit; other binaries ignore it.
	cmd.Env = append(os.Environ(), childEnv+"=1", "GORACE=atexit_sleep_ms=0")
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	m, err := timeCmd(cmd)
	if err != nil {
		return m, fmt.Errorf("child: %w: %s", err, tail(errb.String()))
	}
	var res childResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return m, fmt.Errorf("child output: %w: %q", err, tail(out.String()))
	}
	if res.Err != "" {
		return m, errors.New(res.Err)
	}
	m.Messages, m.Bytes = res.Messages, res.Bytes
	m.RSSMiB = max(m.RSSMiB, float64(res.PeakRSS)/(1<<20))
	if j.Kind == kindFloorDisk {
		// Not a client: the parent's clock and its RSS samples would
		// count building the corpus in memory. The child timed the
		// writing alone, and restarted its peak RSS before it.
		m.Seconds = res.Seconds
		m.RSSMiB = float64(res.PeakRSS) / (1 << 20)
	}
	switch {
	case j.CatchUp:
		return m, b.checkReplica(j, dir)
	case j.Kind == kindResync:
		if res.Messages != 0 || res.Updated != 0 {
			return m, fmt.Errorf("no-op resync stored %d messages and updated %d, want 0 and 0", res.Messages, res.Updated)
		}
		if n, err := countMaildir(dir); err != nil || n != info.Messages {
			return m, fmt.Errorf("after resync the maildir holds %d messages (err %v), want %d", n, err, info.Messages)
		}
		m.Bytes = 0
		if j.Replica != "" {
			return m, b.checkReplica(j, dir)
		}
	case j.Kind == kindIncr:
		m.Bytes = 0 // a few small messages: no throughput to speak of
		return m, b.checkIncr(j, dir, res)
	case j.Kind == kindFloorIncr:
		wantUpdated := 0
		if j.Proto == "imap" {
			wantUpdated = scaleFlagChanges
		}
		if res.Messages != scaleNew || res.Updated != wantUpdated {
			return m, fmt.Errorf("%s saw %d new messages and %d flag changes, want %d and %d", j.Name, res.Messages, res.Updated, scaleNew, wantUpdated)
		}
		m.Bytes = 0
	case j.Kind == kindFetch || j.Kind == kindFetchUnseen:
		if res.Messages != 10 {
			return m, fmt.Errorf("%s read %d messages, want 10", j.Name, res.Messages)
		}
		m.Bytes = 0
	case j.Kind == kindFloorStatus || j.Kind == kindFloorUIDL:
		if res.Messages != info.Messages {
			return m, fmt.Errorf("%s saw %d messages, want %d", j.Name, res.Messages, info.Messages)
		}
		m.Bytes = 0
	default:
		if res.Messages != info.Messages {
			return m, fmt.Errorf("%s moved %d messages, want %d", j.Kind, res.Messages, info.Messages)
		}
		if (j.Kind == kindWire || j.Kind == kindRead || j.Kind == kindGoPOP3) && res.Bytes != info.Bytes {
			return m, fmt.Errorf("%s streamed %d bytes, want %d", j.Kind, res.Bytes, info.Bytes)
		}
		if j.Kind == kindSync || j.Kind == kindFloorDisk {
			n, size, err := maildirStats(dir)
			if err != nil || n != info.Messages || size != info.Bytes {
				return m, fmt.Errorf("the %s maildir holds %d messages of %d bytes (err %v), want %d of %d", j.Kind, n, size, err, info.Messages, info.Bytes)
			}
		}
		if j.Kind == kindList {
			m.Bytes = 0 // metadata only
		} else {
			m.Bytes = info.Bytes
		}
	}
	return m, nil
}

// timeCmd runs cmd and returns its wall time and peak RSS.
//
// The peak RSS is the process's VmHWM (its own address space's high-water
// mark), sampled from /proc every rssPollInterval while it runs. wait4's
// ru_maxrss cannot be used: Linux folds the RSS high-water mark of the
// address space an exec replaces into the new program's ru_maxrss, and Go
// starts children with CLONE_VM, so every child would report at least this
// (parent) process's peak. Children of ours also report their final VmHWM
// themselves (see childMain), which closes the sampling gap at exit.
func timeCmd(cmd *exec.Cmd) (measurement, error) {
	var m measurement
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return m, err
	}
	done := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		var hwm int64
		t := time.NewTicker(rssPollInterval)
		defer t.Stop()
		for {
			if v, err := vmHWM(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)); err == nil {
				hwm = max(hwm, v)
			}
			select {
			case <-done:
				peak <- hwm
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	m.Seconds = time.Since(start).Seconds()
	close(done)
	m.RSSMiB = float64(<-peak) / (1 << 20)
	return m, err
}

// rssPollInterval is how often a running job's VmHWM is sampled.
const rssPollInterval = 5 * time.Millisecond

// vmHWM reads the VmHWM line (peak resident set size) of a
// /proc/PID/status file, in bytes.
func vmHWM(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		return kb << 10, nil
	}
	return 0, errors.New(path + ": no VmHWM")
}

// countMaildir counts the message files in a Maildir's cur and new.
func countMaildir(dir string) (int, error) {
	n, _, err := maildirStats(dir)
	return n, err
}

// maildirStats counts the message files in a Maildir's cur and new and sums
// their sizes.
func maildirStats(dir string) (n int, size int64, err error) {
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return n, size, err
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				return n, size, err
			}
			n++
			size += fi.Size()
		}
	}
	return n, size, nil
}

// median returns the median of xs.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// tail returns the end of a long output.
func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}
