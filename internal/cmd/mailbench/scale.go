package main

// The 100k set (-scale100k): what a sync costs when little or nothing
// changed in a large folder, the case where a client that does work per
// message on every run (mbsync asks the flags of every message, mpop and
// any POP3 client list every UIDL) falls behind one whose work follows the
// change.
//
// One user ("scale") holds ScaleN (100,000) small messages, seeded
// straight into its Maildir like the main corpus. Each tool that syncs it
// (ours over IMAP and over POP3, mbsync, mpop) gets one replica, created
// by an untimed full sync before the first run and kept for the whole
// benchmark. Every run then measures, in this order:
//
//   - the floors (bare connect + login + STATUS + logout; connect + login +
//     UIDL + QUIT) and the no-op resyncs, against replicas that are up to
//     date;
//   - the incremental floors and syncs, after one change step made on the
//     server before the first of them (untimed, through a side IMAP
//     connection): scaleNew messages APPENDed (with \Seen) and \Flagged
//     toggled on scaleFlagChanges messages spread over the folder, so that
//     ours and mbsync (and, for the new messages, ours over POP3 and
//     mpop) see exactly the same changes since their last run, with
//     CONDSTORE modseqs;
//   - the listing, and Fetch of 10 selected messages and of the 10
//     unseen ones (scaleSelected: the rest of the folder is \Seen).
//
// Nothing is reset by deleting: the folder grows by scaleNew messages a
// run (100,000 → 100,030 over 3 runs) and each replica follows it, so
// every repetition measures the same thing (scaleNew new messages and
// scaleFlagChanges flag changes since the replica's last run, on a folder
// of about ScaleN messages) without expunges, which would make a CONDSTORE
// client without QRESYNC list the whole folder, and without deleting
// files (see "Outputs are kept" in doc.go). A replica whose incremental
// job is not selected is brought up to date by an untimed catch-up sync
// before anything measures it. Before every job the server's STATUS is
// compared with what the bench's own changes left, so that a tool that
// changed the server behind the bench's back (a flag set by a download)
// fails the run instead of skewing the next measurement, and the server's
// view of the folder is settled (see settle).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

const (
	// scalePrefix starts the name of every job of the 100k set.
	scalePrefix = "100k-"
	// scaleNew is the number of messages each change step appends.
	scaleNew = 10
	// scaleFlagChanges is the number of messages whose \Flagged each
	// change step toggles.
	scaleFlagChanges = 100
)

// scaleSelected is how many messages the Fetch job selects, and how many
// of the folder stay unseen (everything else is \Seen): what the
// FetchMatching job asks for. The server's POP3 downloads set no flag
// (pop3_no_flag_updates), so they stay unseen.
const scaleSelected = 10

// spread returns scaleSelected sequence numbers spread over a folder of n
// messages, offset by off: the messages the Fetch job selects (off 5) and
// the unseen ones (off 2).
func spread(n, off int) []uint32 {
	out := make([]uint32, scaleSelected)
	for k := range out {
		out[k] = uint32(off + k*(n/scaleSelected))
	}
	return out
}

// scaleJobs are the timed jobs of the 100k set, in run order (see the file
// comment for why the order matters).
func scaleJobs() []job {
	p := func(s string) string { return scalePrefix + s }
	u := scaleUser
	return []job{
		{Name: p("floor-imap-status"), Kind: kindFloorStatus, Proto: "imap", User: u, Peer: p("mbsync-resync")},
		{Name: p("floor-pop3-uidl"), Kind: kindFloorUIDL, Proto: "pop3", User: u, Peer: p("mpop-resync")},
		{Name: p("resync-imap"), Kind: kindResync, Proto: "imap", User: u, Replica: p("sync-imap"), Peer: p("mbsync-resync"), Wire: p("floor-imap-status")},
		{Name: p("mbsync-resync"), Kind: kindMbsyncResync, Proto: "imap", User: u, Replica: p("mbsync"), Wire: p("floor-imap-status")},
		{Name: p("resync-pop3"), Kind: kindResync, Proto: "pop3", User: u, Replica: p("sync-pop3"), Peer: p("mpop-resync"), Wire: p("floor-pop3-uidl")},
		{Name: p("mpop-resync"), Kind: kindMpopResync, Proto: "pop3", User: u, Replica: p("mpop"), Wire: p("floor-pop3-uidl")},
		{Name: p("floor-imap-incr"), Kind: kindFloorIncr, Proto: "imap", User: u, Peer: p("mbsync-incr")},
		{Name: p("incr-imap"), Kind: kindIncr, Proto: "imap", User: u, Replica: p("sync-imap"), Peer: p("mbsync-incr"), Wire: p("floor-imap-incr")},
		{Name: p("mbsync-incr"), Kind: kindMbsyncIncr, Proto: "imap", User: u, Replica: p("mbsync"), Wire: p("floor-imap-incr")},
		{Name: p("floor-pop3-incr"), Kind: kindFloorIncr, Proto: "pop3", User: u, Peer: p("mpop-incr")},
		{Name: p("incr-pop3"), Kind: kindIncr, Proto: "pop3", User: u, Replica: p("sync-pop3"), Peer: p("mpop-incr"), Wire: p("floor-pop3-incr")},
		{Name: p("mpop-incr"), Kind: kindMpopIncr, Proto: "pop3", User: u, Replica: p("mpop"), Wire: p("floor-pop3-incr")},
		{Name: p("list-imap"), Kind: kindList, Proto: "imap", User: u},
		{Name: p("fetch10-imap"), Kind: kindFetch, Proto: "imap", User: u},
		{Name: p("fetchunseen-imap"), Kind: kindFetchUnseen, Proto: "imap", User: u},
	}
}

// scaleReplicaJobs are the untimed full syncs that create the replicas.
func scaleReplicaJobs() []job {
	p := func(s string) string { return scalePrefix + s }
	u := scaleUser
	return []job{
		{Name: p("sync-imap"), Kind: kindSync, Proto: "imap", User: u},
		{Name: p("sync-pop3"), Kind: kindSync, Proto: "pop3", User: u},
		{Name: p("mbsync"), Kind: kindMbsync, Proto: "imap", User: u},
		{Name: p("mpop"), Kind: kindMpop, Proto: "pop3", User: u},
	}
}

// isIncr reports whether j measures the run's change step.
func isIncr(j job) bool {
	return j.Kind == kindIncr || j.Kind == kindMbsyncIncr || j.Kind == kindMpopIncr || j.Kind == kindFloorIncr
}

// scaleState is the state of the 100k folder and of its replicas.
type scaleState struct {
	// gen counts the change steps applied; changedRun is the run that
	// applied the last one (0: none yet).
	gen, changedRun int
	// appended counts the messages the change steps appended.
	appended int
	// mark is the server's state as the bench's own changes left it;
	// changedFrom is the mark before the last change step (what the
	// incremental floors list changes since).
	mark, changedFrom serverMark
	// replicas are keyed by the name of the job that created them.
	replicas map[string]*replica
}

// replica is one tool's copy of the 100k folder.
type replica struct {
	job  job    // the full sync that created it; its Kind says which tool
	dir  string // the Maildir
	gen  int    // the change steps it has synced
	last time.Time
}

// serverMark is what STATUS says about the 100k folder.
type serverMark struct {
	Messages      uint32
	UIDNext       imap.UID
	HighestModSeq uint64
}

// flagged is the number of \Flagged messages on the server (and in an up
// to date IMAP replica) after gen change steps: the steps toggle the same
// messages, odd steps set the flag, even ones clear it.
func flaggedAfter(gen int) int {
	if gen%2 == 1 {
		return scaleFlagChanges
	}
	return 0
}

// smallMessage is message i of the 100k folder: a few hundred bytes.
func smallMessage(seed int64, i int) []byte {
	date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	return fmt.Appendf(nil, "From: Sender %[3]d <sender%[3]d@example.org>\r\n"+
		"To: list@example.net\r\n"+
		"Subject: listing test message %[1]d\r\n"+
		"Date: %[2]s\r\n"+
		"Message-ID: <list-%[4]d-%[1]d@example.org>\r\n"+
		"\r\n"+
		"Message %[1]d of the listing mailbox.\r\n",
		i, date.Format(time.RFC1123Z), i%97, seed)
}

// addScaleMessage counts message m, added to the 100k folder, in its
// mailbox info.
func (b *bench) addScaleMessage(m []byte) {
	info := b.mailboxes[scaleUser]
	info.Messages++
	info.Bytes += int64(len(m))
	info.LFBytes += int64(len(m) - bytes.Count(m, []byte("\r\n")))
	b.mailboxes[scaleUser] = info
}

// seedScale creates the user of the 100k folder with ScaleN small
// messages, written straight into its Maildir (with the ,S=,W= sizes in
// the names) before its first login.
func (b *bench) seedScale(ctx context.Context) error {
	if b.opts.ScaleN < scaleFlagChanges {
		return fmt.Errorf("the 100k folder needs at least %d messages, not %d", scaleFlagChanges, b.opts.ScaleN)
	}
	start := time.Now()
	if err := b.srv.AddUser(scaleUser, password, nil); err != nil {
		return err
	}
	b.mailboxes[scaleUser] = mailboxInfo{}
	batch := make([][]byte, 0, 1000)
	for i := range b.opts.ScaleN {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := smallMessage(b.opts.Seed, i)
		b.addScaleMessage(m)
		batch = append(batch, m)
		if len(batch) == cap(batch) || i == b.opts.ScaleN-1 {
			if err := b.srv.AddMessages(scaleUser, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	b.logf("seeded %d small messages in %s", b.opts.ScaleN, time.Since(start).Round(time.Millisecond))
	return nil
}

// warmScale marks every message of the 100k folder \Seen (so that a POP3
// download, which sets \Seen, changes nothing an IMAP client would see),
// lets Dovecot index it once over IMAP and POP3, and records the server's
// state.
func (b *bench) warmScale(ctx context.Context) error {
	c, done, err := loginIMAPWire(ctx, b.srv.IMAPAddr, scaleUser, password)
	if err != nil {
		return err
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		done()
		return fmt.Errorf("imap select: %w", err)
	}
	all := imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}
	err = c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
	if err == nil {
		err = c.Store(imap.SeqSetNum(spread(b.opts.ScaleN, 2)...), &imap.StoreFlags{Op: imap.StoreFlagsDel, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
	}
	if err == nil {
		err = c.Logout().Wait()
	}
	done()
	if err != nil {
		return fmt.Errorf("imap store \\Seen: %w", err)
	}
	want := b.mailboxes[scaleUser].Messages
	res, err := listIMAPWire(ctx, b.srv.IMAPAddr, scaleUser, password)
	if err == nil && res.Messages != want {
		err = fmt.Errorf("imap listed %d messages, want %d", res.Messages, want)
	}
	if err != nil {
		return err
	}
	res, err = floorPOP3UIDL(ctx, b.srv.POP3Addr, scaleUser, password)
	if err == nil && res.Messages != want {
		err = fmt.Errorf("pop3 listed %d messages, want %d", res.Messages, want)
	}
	if err != nil {
		return err
	}
	b.scale.mark, err = b.scaleMark(ctx)
	return err
}

// scaleMark asks the server the state of the 100k folder, on a connection
// of its own (STATUS on a selected folder may answer from a stale view).
func (b *bench) scaleMark(ctx context.Context) (serverMark, error) {
	c, done, err := loginIMAPWire(ctx, b.srv.IMAPAddr, scaleUser, password)
	if err != nil {
		return serverMark{}, err
	}
	defer done()
	d, err := c.Status("INBOX", statusFloorOptions).Wait()
	if err != nil {
		return serverMark{}, fmt.Errorf("imap status: %w", err)
	}
	if d.NumMessages == nil {
		return serverMark{}, fmt.Errorf("imap status: no MESSAGES in %+v", d)
	}
	c.Logout()
	return serverMark{Messages: *d.NumMessages, UIDNext: d.UIDNext, HighestModSeq: d.HighestModSeq}, nil
}

// checkMark fails when the server is not as the bench's own changes left
// it: some tool changed it, and what the next job measures would not be
// what its name says.
func (b *bench) checkMark(ctx context.Context, after string) error {
	now, err := b.scaleMark(ctx)
	if err != nil {
		return err
	}
	if now != b.scale.mark {
		return fmt.Errorf("the 100k folder changed on the server after %s, not by the bench: STATUS %+v, want %+v", after, now, b.scale.mark)
	}
	return nil
}

// scaleSetup creates, untimed, the replica of every selected job of the
// 100k set that will run.
func (b *bench) scaleSetup(ctx context.Context, jobs []job, results map[string]*Result) error {
	b.scale.replicas = map[string]*replica{}
	for _, j := range jobs {
		if j.Replica == "" || results[j.Name].Skipped != "" || b.scale.replicas[j.Replica] != nil {
			continue
		}
		rj := b.jobByName(j.Replica)
		r := &replica{job: rj, dir: filepath.Join(b.work, "100k", rj.Name)}
		if err := os.MkdirAll(filepath.Dir(r.dir), 0o755); err != nil {
			return err
		}
		start := time.Now()
		if _, err := b.runJob(ctx, rj, r.dir, ""); err != nil {
			return fmt.Errorf("%s (creating the replica for %s): %w", rj.Name, j.Name, err)
		}
		r.gen, r.last = b.scale.gen, time.Now()
		b.scale.replicas[j.Replica] = r
		b.logf("replica %s: full sync of %d messages in %s (untimed)", rj.Name, b.mailboxes[scaleUser].Messages, time.Since(start).Round(time.Millisecond))
		if err := b.checkMark(ctx, rj.Name); err != nil {
			return err
		}
	}
	return nil
}

// scaleBefore brings the replica of j to the state j measures from
// (untimed) and returns its directory: up to date for a no-op, exactly
// this run's change step behind for an incremental job.
func (b *bench) scaleBefore(ctx context.Context, j job, run int, runDir string) (string, error) {
	r := b.scale.replicas[j.Replica]
	if r == nil && j.Replica != "" {
		return "", fmt.Errorf("no replica %s", j.Replica)
	}
	if isIncr(j) && b.scale.changedRun != run {
		// Every replica first syncs what it missed, so that each
		// incremental job of this run sees this change step alone.
		for _, o := range b.scale.replicas {
			if err := b.catchUp(ctx, o); err != nil {
				return "", err
			}
		}
		if err := b.applyScaleChanges(ctx); err != nil {
			return "", fmt.Errorf("changing the 100k folder: %w", err)
		}
		b.scale.changedRun = run
	}
	if r == nil {
		// A floor, the listing or a fetch: no replica, nothing kept.
		if err := b.settle(ctx); err != nil {
			return "", err
		}
		return filepath.Join(runDir, j.Name), b.checkMark(ctx, "the previous job")
	}
	if !isIncr(j) {
		if err := b.catchUp(ctx, r); err != nil {
			return "", err
		}
	}
	if behind := b.scale.gen - r.gen; isIncr(j) && behind != 1 || !isIncr(j) && behind != 0 {
		return "", fmt.Errorf("replica %s is %d change steps behind the server before %s", r.job.Name, behind, j.Name)
	}
	if err := b.settle(ctx); err != nil {
		return "", err
	}
	if err := b.checkMark(ctx, "the previous job"); err != nil {
		return "", err
	}
	// mbsync sleeps a second when its Maildir changed within the current
	// second; a real resync comes later than that.
	if wait := resyncPause - time.Since(r.last); wait > 0 {
		time.Sleep(wait)
	}
	return r.dir, nil
}

// settleAge is how old the folder's directories must be before Dovecot
// trusts what it recorded of them: it keeps rescanning a maildir whose
// cur/ or new/ changed within the last second or so.
const settleAge = 2 * time.Second

// settle brings the server's view of the 100k folder up to date before a
// timed job, untimed: it waits until the folder's directories have not
// changed for settleAge and then opens it once (SELECT, NOOP), so that
// Dovecot rescans a directory the previous job or the change step changed
// here rather than in whichever job comes first. What a session costs the
// server anyway (Dovecot reads its UID list and, on the first message
// file a session opens, rescans the directory) stays in every job.
func (b *bench) settle(ctx context.Context) error {
	md := b.srv.MaildirPath(scaleUser)
	newest := func() (time.Time, error) {
		var t time.Time
		for _, sub := range []string{"cur", "new"} {
			fi, err := os.Stat(filepath.Join(md, sub))
			if err != nil {
				return t, err
			}
			if fi.ModTime().After(t) {
				t = fi.ModTime()
			}
		}
		return t, nil
	}
	for range 5 {
		before, err := newest()
		if err != nil {
			return err
		}
		if wait := settleAge - time.Since(before); wait > 0 {
			time.Sleep(wait)
		}
		c, done, err := loginIMAPWire(ctx, b.srv.IMAPAddr, scaleUser, password)
		if err != nil {
			return err
		}
		_, err = c.Select("INBOX", nil).Wait()
		if err == nil {
			err = c.Noop().Wait()
		}
		if err == nil {
			err = c.Logout().Wait()
		}
		done()
		if err != nil {
			return fmt.Errorf("settling the 100k folder: %w", err)
		}
		after, err := newest()
		if err != nil {
			return err
		}
		if after.Equal(before) {
			return nil
		}
	}
	return errors.New("the 100k folder's directories keep changing on the server")
}

// scaleAfter records that the replica of j, which just ran, is up to date.
func (b *bench) scaleAfter(j job) {
	if r := b.scale.replicas[j.Replica]; r != nil {
		r.gen, r.last = b.scale.gen, time.Now()
	}
}

// catchUp syncs r, untimed, if it missed change steps.
func (b *bench) catchUp(ctx context.Context, r *replica) error {
	if r.gen == b.scale.gen {
		return nil
	}
	cj := r.job
	cj.CatchUp = true
	start := time.Now()
	if wait := resyncPause - time.Since(r.last); wait > 0 {
		time.Sleep(wait)
	}
	if _, err := b.runJob(ctx, cj, r.dir, ""); err != nil {
		return fmt.Errorf("%s (catching up): %w", cj.Name, err)
	}
	b.logf("replica %s: caught up %d change steps in %s (untimed)", cj.Name, b.scale.gen-r.gen, time.Since(start).Round(time.Millisecond))
	r.gen, r.last = b.scale.gen, time.Now()
	return b.checkMark(ctx, cj.Name+" (catching up)")
}

// applyScaleChanges is one change step on the server, through a side IMAP
// connection: scaleNew messages appended (\Seen) and \Flagged toggled on
// scaleFlagChanges messages spread evenly over the seeded folder. It
// checks the result with SEARCH and records the new server state.
func (b *bench) applyScaleChanges(ctx context.Context) error {
	start := time.Now()
	b.scale.changedFrom = b.scale.mark
	c, done, err := loginIMAPWire(ctx, b.srv.IMAPAddr, scaleUser, password)
	if err != nil {
		return err
	}
	defer done()
	for k := range scaleNew {
		i := b.opts.ScaleN + b.scale.appended + k
		m := smallMessage(b.opts.Seed, i)
		cmd := c.Append("INBOX", int64(len(m)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
		_, err := cmd.Write(m)
		if cerr := cmd.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			_, err = cmd.Wait()
		}
		if err != nil {
			return fmt.Errorf("imap append: %w", err)
		}
		b.addScaleMessage(m)
	}
	b.scale.appended += scaleNew
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		return fmt.Errorf("imap select: %w", err)
	}
	var set imap.SeqSet
	stride := b.opts.ScaleN / scaleFlagChanges
	for i := range scaleFlagChanges {
		set.AddNum(uint32(1 + i*stride))
	}
	op := imap.StoreFlagsAdd
	if flaggedAfter(b.scale.gen+1) == 0 {
		op = imap.StoreFlagsDel
	}
	if err := c.Store(set, &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		return fmt.Errorf("imap store \\Flagged: %w", err)
	}
	b.scale.gen++
	sr, err := c.Search(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagFlagged}}, nil).Wait()
	if err != nil {
		return fmt.Errorf("imap search: %w", err)
	}
	if n := len(sr.AllSeqNums()); n != flaggedAfter(b.scale.gen) {
		return fmt.Errorf("after the change step %d messages are \\Flagged, want %d", n, flaggedAfter(b.scale.gen))
	}
	if err := c.Logout().Wait(); err != nil {
		return fmt.Errorf("imap logout: %w", err)
	}
	if b.scale.mark, err = b.scaleMark(ctx); err != nil {
		return err
	}
	if int(b.scale.mark.Messages) != b.mailboxes[scaleUser].Messages {
		return fmt.Errorf("after the change step the folder holds %d messages, want %d", b.scale.mark.Messages, b.mailboxes[scaleUser].Messages)
	}
	b.logf("change step %d: %d messages appended, \\Flagged toggled on %d, in %s (untimed)", b.scale.gen, scaleNew, scaleFlagChanges, time.Since(start).Round(time.Millisecond))
	return nil
}

// checkIncr checks an incremental sync of ours: it stored the change
// step's new messages and, over IMAP, updated the flags it toggled.
func (b *bench) checkIncr(j job, dir string, res childResult) error {
	wantUpdated := 0
	if j.Proto == "imap" {
		wantUpdated = scaleFlagChanges
	}
	if res.Messages != scaleNew || res.Updated != wantUpdated {
		return fmt.Errorf("%s stored %d messages and updated %d, want %d and %d", j.Name, res.Messages, res.Updated, scaleNew, wantUpdated)
	}
	return b.checkReplica(j, dir)
}

// checkReplica checks that a replica of the 100k folder that just synced
// holds every message on the server and, for IMAP, the server's flags.
func (b *bench) checkReplica(j job, dir string) error {
	want := b.mailboxes[scaleUser].Messages
	n, flagged, err := maildirFlagged(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", j.Name, err)
	}
	if n != want {
		return fmt.Errorf("%s: the replica holds %d messages, want %d", j.Name, n, want)
	}
	if j.Proto == "imap" && flagged != flaggedAfter(b.scale.gen) {
		return fmt.Errorf("%s: the replica holds %d \\Flagged messages, want %d", j.Name, flagged, flaggedAfter(b.scale.gen))
	}
	return nil
}

// maildirFlagged counts the message files in a Maildir's cur and new, and
// those among them flagged F in their info (":2,...F...").
func maildirFlagged(dir string) (n, flagged int, err error) {
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return n, flagged, err
		}
		for _, e := range ents {
			name := e.Name()
			if !e.Type().IsRegular() || len(name) == 0 || name[0] == '.' {
				continue
			}
			n++
			if i := strings.LastIndex(name, ":2,"); i >= 0 && strings.IndexByte(name[i:], 'F') >= 0 {
				flagged++
			}
		}
	}
	return n, flagged, nil
}
