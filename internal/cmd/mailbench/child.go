package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailaccess/go-mailaccess/internal/pop3wire"
)

// childSpec tells a child process which job to run.
type childSpec struct {
	Job      string `json:"job"`
	Kind     string `json:"kind"`
	Proto    string `json:"proto"`
	IMAPAddr string `json:"imap_addr"`
	POP3Addr string `json:"pop3_addr"`
	User     string `json:"user"`
	Password string `json:"password"`
	Dir      string `json:"dir"`
	// Seed and N say which corpus floor-disk writes (corpus.Generate).
	Seed int64 `json:"seed,omitempty"`
	N    int   `json:"n,omitempty"`
	// CPUProfile, if set, is the file the child writes its CPU profile to.
	CPUProfile string `json:"cpu_profile,omitempty"`
	// The incremental floors: the UIDNEXT and HIGHESTMODSEQ before the
	// change step, and how many messages it added.
	MinUID       uint32 `json:"min_uid,omitempty"`
	ChangedSince uint64 `json:"changed_since,omitempty"`
	New          int    `json:"new,omitempty"`
}

// childResult is what a child reports on stdout.
type childResult struct {
	Messages int   `json:"messages"`
	Bytes    int64 `json:"bytes"`
	// Updated is the number of messages whose flags a sync changed.
	Updated int `json:"updated,omitempty"`
	// Seconds is the child's own timing of the job, after its preparation
	// (see prepareChildJob) and without process start and exit. The
	// parent uses it only for jobs that are not clients (floor-disk).
	Seconds float64 `json:"seconds"`
	// PeakRSS is the child's VmHWM in bytes when the job ended.
	PeakRSS int64  `json:"peak_rss"`
	Err     string `json:"err,omitempty"`
}

// childTimeout bounds one job.
const childTimeout = 30 * time.Minute

// childMain runs the job described on stdin and reports on stdout. It returns
// the process exit status.
func childMain(stdin io.Reader, stdout io.Writer) int {
	var spec childSpec
	if err := json.NewDecoder(stdin).Decode(&spec); err != nil {
		fmt.Fprintf(stdout, `{"err":%q}`+"\n", "bad job spec: "+err.Error())
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	defer cancel()
	job, err := prepareChildJob(ctx, spec)
	if err != nil {
		fmt.Fprintf(stdout, `{"err":%q}`+"\n", "prepare "+spec.Job+": "+err.Error())
		return 1
	}
	if spec.CPUProfile != "" {
		f, err := os.Create(spec.CPUProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stdout, `{"err":%q}`+"\n", "cpu profile: "+err.Error())
			return 1
		}
		defer f.Close()
	}
	start := time.Now()
	res, err := job(ctx)
	res.Seconds = time.Since(start).Seconds()
	pprof.StopCPUProfile() // does nothing when no profile runs
	if err != nil {
		res.Err = err.Error()
	}
	res.PeakRSS, _ = vmHWM("/proc/self/status")
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

// runChildJob runs one job in this process.
func runChildJob(ctx context.Context, spec childSpec) (childResult, error) {
	addr := spec.IMAPAddr
	if spec.Proto == "pop3" {
		addr = spec.POP3Addr
	}
	switch {
	case spec.Kind == kindWire && spec.Proto == "imap":
		return wireIMAP(ctx, addr, spec.User, spec.Password)
	case spec.Kind == kindWire && spec.Proto == "pop3":
		return wirePOP3(ctx, addr, spec.User, spec.Password)
	case spec.Kind == kindGoPOP3:
		return readGoPOP3(ctx, addr, spec.User, spec.Password)
	case spec.Kind == kindRead:
		return readAll(ctx, spec.Proto, addr, spec.User, spec.Password)
	case spec.Kind == kindSync || spec.Kind == kindResync:
		return syncInto(ctx, spec.Proto, addr, spec.User, spec.Password, spec.Dir)
	case spec.Kind == kindList:
		return listAll(ctx, spec.Proto, addr, spec.User, spec.Password)
	case spec.Kind == kindFloorStatus:
		return floorIMAPStatus(ctx, addr, spec.User, spec.Password)
	case spec.Kind == kindFloorUIDL:
		return floorPOP3UIDL(ctx, addr, spec.User, spec.Password)
	case spec.Kind == kindFloorIncr && spec.Proto == "imap":
		return floorIMAPIncr(ctx, addr, spec.User, spec.Password, spec.MinUID, spec.ChangedSince)
	case spec.Kind == kindFloorIncr && spec.Proto == "pop3":
		return floorPOP3Incr(ctx, addr, spec.User, spec.Password, spec.New)
	case spec.Kind == kindFetch:
		return fetchSelected(ctx, spec.Proto, addr, spec.User, spec.Password, spread(spec.N, 5))
	case spec.Kind == kindFetchUnseen:
		return fetchUnseen(ctx, spec.Proto, addr, spec.User, spec.Password, spread(spec.N, 2))
	}
	return childResult{}, fmt.Errorf("unknown job %s (%s/%s)", spec.Job, spec.Kind, spec.Proto)
}

// loginIMAPWire connects and logs in with go-imap's client alone; done
// closes the connection. ctx ending closes it too.
func loginIMAPWire(ctx context.Context, addr, user, pass string) (c *imapclient.Client, done func(), err error) {
	c, err = imapclient.DialInsecure(addr, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("imap dial: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	done = func() { stop(); c.Close() }
	if err := c.Login(user, pass).Wait(); err != nil {
		done()
		return nil, nil, fmt.Errorf("imap login: %w", err)
	}
	return c, done, nil
}

// openIMAPWire logs in with go-imap's client alone and examines INBOX; done
// closes the connection. ctx ending closes it too.
func openIMAPWire(ctx context.Context, addr, user, pass string) (c *imapclient.Client, done func(), err error) {
	c, done, err = loginIMAPWire(ctx, addr, user, pass)
	if err != nil {
		return nil, nil, err
	}
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		done()
		return nil, nil, fmt.Errorf("imap select: %w", err)
	}
	return c, done, nil
}

// wireIMAP is the IMAP floor: one UID FETCH 1:* BODY.PEEK[] over plaintext,
// bodies to io.Discard, with go-imap v2's client and nothing else.
func wireIMAP(ctx context.Context, addr, user, pass string) (childResult, error) {
	var res childResult
	c, done, err := openIMAPWire(ctx, addr, user, pass)
	if err != nil {
		return res, err
	}
	defer done()
	all := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}} // 1:*
	fetch := c.Fetch(all, &imap.FetchOptions{
		UID:         true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		got := false
		for item := msg.Next(); item != nil; item = msg.Next() {
			body, ok := item.(imapclient.FetchItemDataBodySection)
			if !ok || body.Literal == nil {
				continue
			}
			n, err := io.Copy(io.Discard, body.Literal)
			if err != nil {
				fetch.Close()
				return res, fmt.Errorf("imap fetch body: %w", err)
			}
			res.Bytes += n
			got = true
		}
		if got {
			res.Messages++
		}
	}
	if err := fetch.Close(); err != nil {
		return res, fmt.Errorf("imap fetch: %w", err)
	}
	if err := c.Logout().Wait(); err != nil {
		return res, fmt.Errorf("imap logout: %w", err)
	}
	return res, nil
}

// listIMAPWire fetches the metadata a listing needs (UID, size, date, flags)
// for every message; used to warm Dovecot's caches for the listing mailbox.
func listIMAPWire(ctx context.Context, addr, user, pass string) (childResult, error) {
	var res childResult
	c, done, err := openIMAPWire(ctx, addr, user, pass)
	if err != nil {
		return res, err
	}
	defer done()
	all := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
	fetch := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true})
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		if _, err := msg.Collect(); err != nil {
			fetch.Close()
			return res, err
		}
		res.Messages++
	}
	if err := fetch.Close(); err != nil {
		return res, fmt.Errorf("imap fetch: %w", err)
	}
	return res, c.Logout().Wait()
}

// wirePOP3 is the POP3 floor: USER/PASS, then RETR of every message,
// pipelined, bodies to io.Discard, with internal/pop3wire.
func wirePOP3(ctx context.Context, addr, user, pass string) (childResult, error) {
	var res childResult
	c, err := pop3wire.Dial(ctx, addr, nil, nil)
	if err != nil {
		return res, fmt.Errorf("pop3 dial: %w", err)
	}
	defer c.Close()
	if _, err := c.Capa(ctx); err != nil {
		return res, fmt.Errorf("pop3 capa: %w", err)
	}
	if err := c.Login(ctx, user, pass); err != nil {
		return res, fmt.Errorf("pop3 login: %w", err)
	}
	// CAPA again: servers may announce more after authentication.
	caps, err := c.Capa(ctx)
	if err != nil {
		return res, fmt.Errorf("pop3 capa: %w", err)
	}
	if !caps.Has("PIPELINING") {
		return res, errors.New("pop3: server does not announce PIPELINING")
	}
	count, _, err := c.Stat(ctx)
	if err != nil {
		return res, fmt.Errorf("pop3 stat: %w", err)
	}
	nums := make([]int, count)
	for i := range nums {
		nums[i] = i + 1
	}
	err = c.RetrAll(ctx, nums, func(_ int, body io.Reader) error {
		n, err := io.Copy(io.Discard, body)
		res.Bytes += n
		res.Messages++
		return err
	})
	if err != nil {
		return res, fmt.Errorf("pop3 retr: %w", err)
	}
	if err := c.Quit(ctx); err != nil {
		return res, fmt.Errorf("pop3 quit: %w", err)
	}
	return res, nil
}
