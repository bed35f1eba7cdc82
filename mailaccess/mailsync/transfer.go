package mailsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// batchBodyLimit is the largest message the batch reader buffers in memory
// to hand to a writer goroutine; larger ones are written while streaming.
// Memory in flight is bounded by (Concurrency+1) × batchBodyLimit.
const batchBodyLimit = 1 << 20

// batchChunk is how many messages one batch read (OpenAll) asks for.
const batchChunk = 512

// maxConsecutiveFailures stops a transfer whose messages keep failing:
// the source or the destination is failing, and what is stored is kept.
const maxConsecutiveFailures = 8

// job is one message for a writer goroutine.
type job struct {
	it item
	// stored: the destination holds the key already (HasKey said so): the
	// writer records it, nothing is read.
	stored bool
	// hasBody: the message's bytes were read (batch download): body, and
	// with rest the unread remainder (large messages).
	hasBody bool
	body    []byte
	rest    io.Reader
}

// result is a worker's outcome for one message: stored (err nil), gone
// from the source before it could be read, or failed (err). A batch
// result is the error that ended a batch download early, for no one
// message.
type result struct {
	it    item
	dst   mailaccess.ID
	size  int64
	msgID string
	print string // header fingerprint, for sources whose IDs can be reused
	gone  bool
	batch bool
	err   error
}

// transfer stores the messages with a pool of workers and commits the
// state every BatchSize messages.
func (r *folderRun) transfer(ctx context.Context, fetch []item) error {
	if err := r.ensureDest(ctx); err != nil {
		return err
	}
	// What the destination folder keeps is learnt before the workers
	// start: they only read it.
	sets := make([][]mailaccess.Flag, len(fetch))
	for i, it := range fetch {
		sets[i] = it.flags
	}
	if err := r.learnKept(ctx, sets...); err != nil {
		return err
	}
	now := r.s.o.Now().Unix()
	if err := r.markOpen(ctx); err != nil {
		return err
	}
	if err := r.writeAhead(ctx, fetch, now); err != nil {
		return err
	}
	var bytesTotal int64
	for i, it := range fetch {
		bytesTotal += it.size
		fetch[i].pos = i // the source's order, for the destination's
		if r.s.keyed != nil {
			fetch[i].akey = r.keyOf(it)
		}
	}
	r.start = time.Now()
	if !r.start.After(r.s.lastStart) {
		r.start = r.s.lastStart.Add(time.Microsecond)
	}
	r.s.lastStart = r.start
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := r.startWorkers(wctx, fetch)
	c := &committer{r: r, ctx: context.WithoutCancel(ctx), now: now, cancel: cancel, done: make(chan error, 1)}
	t := &tally{r: r, total: len(fetch), bytesTotal: bytesTotal, seen: make(map[mailaccess.ID]bool, len(fetch))}
	for in := results; in != nil || c.busy; {
		select {
		case err := <-c.done:
			c.finished(err)
			c.maybeStart()
		case res, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			if t.add(res, wctx) {
				c.add(res)
			} else if t.consecutive >= maxConsecutiveFailures {
				cancel() // the source or destination is failing: stop, keep what is stored
			}
		}
	}
	err := c.flush()
	if err != nil && t.stoppedBy == nil {
		t.stoppedBy = err
	}
	if ctx.Err() == nil {
		t.account(fetch)
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

// tally counts the outcomes of a transfer for the report.
type tally struct {
	r                     *folderRun
	total                 int
	bytesTotal, doneBytes int64
	stored, consecutive   int
	seen                  map[mailaccess.ID]bool // state keys with an outcome
	gone                  []mailaccess.ID
	stoppedBy             error // the error that ended a batch download early
}

// add takes one result and reports whether the message was stored.
func (t *tally) add(res result, wctx context.Context) bool {
	r := t.r
	switch {
	case res.batch:
		t.stoppedBy = res.err
		r.fail(res.err)
		return false
	case res.gone:
		t.seen[res.it.key] = true
		t.gone = append(t.gone, res.it.id)
		r.fr.Skipped++
		return false
	case res.err != nil && wctx.Err() != nil && errors.Is(res.err, context.Canceled):
		return false // cut short by the stop: counted as not stored by account
	case res.err != nil:
		t.seen[res.it.key] = true
		r.fr.Skipped++
		r.fail(fmt.Errorf("message %s: %w", res.it.id, res.err))
		t.consecutive++
		return false
	}
	t.seen[res.it.key] = true
	t.consecutive = 0
	t.stored++
	t.doneBytes += res.size
	r.fr.New++
	r.fr.Bytes += res.size
	if r.s.o.Progress != nil {
		r.s.o.Progress(Progress{Folder: r.folder, Messages: t.stored, MessagesTotal: t.total, Bytes: t.doneBytes, BytesTotal: t.bytesTotal})
	}
	return true
}

// account reports what the transfer did not store and why: messages
// found gone (a note: deleted on the source meanwhile), and any message
// without an outcome (an error: the transfer stopped early), so that a
// pass that stored less than it listed never looks like a success.
func (t *tally) account(fetch []item) {
	r := t.r
	if len(t.gone) > 0 {
		r.incomplete = true
		r.note("%d listed messages were deleted from the source before they could be downloaded (%s); not stored", len(t.gone), idList(t.gone))
	}
	var missing []mailaccess.ID
	for _, it := range fetch {
		if !t.seen[it.key] {
			missing = append(missing, it.id)
		}
	}
	if len(missing) == 0 {
		return
	}
	r.fr.Skipped += len(missing)
	why := "the transfer stopped after repeated failures"
	if t.stoppedBy != nil {
		why = "the transfer stopped: " + t.stoppedBy.Error()
	}
	r.fail(fmt.Errorf("%d of %d messages to download were not stored (%s): %s; the next run fetches them", len(missing), len(fetch), idList(missing), why))
}

// idList names up to ten IDs.
func idList(ids []mailaccess.ID) string {
	const most = 10
	var b strings.Builder
	for i, id := range ids[:min(len(ids), most)] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(id))
	}
	if len(ids) > most {
		fmt.Fprintf(&b, " and %d more", len(ids)-most)
	}
	return b.String()
}

// markOpen saves, before a transfer to a keyed destination, that the
// destination may come to hold messages no saved record names (a run that
// dies before its commit leaves them there). A fast pass, which starts
// only from a clean saved state, then asks the destination for the key of
// every message it stores until a clean pass clears the mark; without the
// mark, a message the state proves new is also new to the destination. A
// saved state that is not clean (a first run, a pass that failed) needs no
// mark: the next pass is a full one, which asks the destination anyway.
func (r *folderRun) markOpen(ctx context.Context) error {
	st := r.st
	if r.s.keyed == nil || st.Open || !st.savedClean {
		return nil
	}
	st.Open = true
	if err := st.save(ctx, r.s.o.State); err != nil {
		st.Open = false
		return fmt.Errorf("commit sync state: %w", err)
	}
	return nil
}

// writeAhead records, for a destination without keyed appends, what is
// about to be appended, so a crash is reconciled instead of storing twice.
func (r *folderRun) writeAhead(ctx context.Context, fetch []item, now int64) error {
	if r.s.keyed != nil {
		return nil
	}
	for _, it := range fetch {
		if !r.st.update(it.key, func(m *stateMsg) { m.Pending = true }) {
			r.st.put(stateMsg{Src: it.key, Size: it.size, First: now, Pending: true, UID: it.uid})
		}
	}
	if err := r.st.save(ctx, r.s.o.State); err != nil {
		return fmt.Errorf("commit sync state: %w", err)
	}
	return nil
}

// startWorkers starts the writers and what feeds them (a batch download,
// or the list of messages for writers that open each one), and returns
// the channel of their results, closed when all are done. Every result is
// delivered: the caller drains the channel until it is closed, even after
// ctx is cancelled.
func (r *folderRun) startWorkers(ctx context.Context, fetch []item) <-chan result {
	jobs := make(chan job)
	results := make(chan result)
	var wg sync.WaitGroup
	for range min(r.s.o.Concurrency, len(fetch)) {
		wg.Go(func() {
			for j := range jobs {
				results <- r.store(ctx, j)
			}
		})
	}
	wg.Go(func() {
		defer close(jobs)
		if bo := r.s.batch; bo != nil {
			r.feedBatch(ctx, bo, fetch, jobs, results)
			return
		}
		for _, it := range fetch {
			select {
			case jobs <- job{it: it}:
			case <-ctx.Done():
				return
			}
		}
	})
	go func() { wg.Wait(); close(results) }()
	return results
}

// committer commits stored messages in the background while the writers
// go on: a commit makes the destination durable (Flush: one file-system
// sync, the renames or links, the directory syncs) and then saves the
// state, and the writers would otherwise wait for it. At most one commit
// runs at a time; results that arrive meanwhile join the next batch. Only
// the committing goroutine touches the state while a commit runs; the
// channel done hands it back.
type committer struct {
	r      *folderRun
	ctx    context.Context // not cancelled: what is on disk is recorded
	now    int64
	cancel context.CancelFunc // stops the writers when a commit fails
	batch  []result
	busy   bool
	err    error
	done   chan error
}

// add queues a stored message and starts a commit if the batch is full.
func (c *committer) add(res result) {
	c.batch = append(c.batch, res)
	c.maybeStart()
}

// maybeStart starts a background commit of the batch when it is full and
// no commit runs. A batch is BatchSize messages, or an eighth of the
// folder's records if that is more: a commit costs the destination a few
// file-system syncs, so a large first sync makes fewer, larger commits.
func (c *committer) maybeStart() {
	if c.busy || c.err != nil || len(c.batch) == 0 || len(c.batch) < max(c.r.s.o.BatchSize, c.r.st.count()/8) {
		return
	}
	b := c.batch
	c.batch = nil
	c.busy = true
	go func() { c.done <- c.commit(b) }()
}

// finished takes the outcome of a background commit.
func (c *committer) finished(err error) {
	c.busy = false
	if err != nil && c.err == nil {
		c.err = err
		c.cancel()
	}
}

// flush commits what is left, once no commit runs, and returns the first
// commit error.
func (c *committer) flush() error {
	if c.err == nil && len(c.batch) > 0 {
		c.finished(c.commit(c.batch))
	}
	return c.err
}

// commit makes the batch durable in the destination, then records it.
func (c *committer) commit(b []result) error {
	r := c.r
	if err := driver.Flush(c.ctx, r.s.dst); err != nil {
		return fmt.Errorf("flush destination: %w", err)
	}
	for _, res := range b {
		e := stateMsg{Src: res.it.key, First: c.now}
		if !res.it.fresh {
			if m, ok := r.st.get(res.it.key); ok {
				e = m
			}
		}
		e.Dst, e.Size, e.MsgID, e.Pending, e.Deleted = res.dst, res.size, res.msgID, false, false
		e.Print, e.Listed = res.print, 0
		if res.it.size != res.size {
			e.Listed = res.it.size
		}
		e.Flags = flagStrings(res.it.flags)
		e.UID = res.it.uid
		if e.First == 0 {
			e.First = c.now
		}
		r.st.put(e)
	}
	if err := r.st.save(c.ctx, r.s.o.State); err != nil {
		return fmt.Errorf("commit sync state: %w", err)
	}
	return nil
}

// feedBatch downloads the messages in pipelined batches and hands them to
// the writers: small messages as buffers, large ones written while
// streaming (the batch reader waits for them).
//
// Every message asked for is accounted for, whatever the driver's way of
// reporting: delivered (a result follows from its writer), or, when a
// batch read ends without delivering it, opened on its own by a writer
// ([folderRun.store]: stored, found gone, or an error naming it). Only
// when the batch read failed as a whole (a lost connection, a
// UIDVALIDITY change, a closed Mailbox) is the rest left for the next
// pass; the transfer then reports how many were not stored and why.
func (r *folderRun) feedBatch(ctx context.Context, bo driver.BatchOpener, fetch []item, jobs chan<- job, results chan<- result) {
	for start := 0; start < len(fetch); start += batchChunk {
		if !r.feedChunk(ctx, bo, fetch[start:min(start+batchChunk, len(fetch))], jobs, results) {
			return
		}
	}
}

// feedChunk is feedBatch for one batch read's worth of messages; it
// reports whether to go on with the next.
func (r *folderRun) feedChunk(ctx context.Context, bo driver.BatchOpener, part []item, jobs chan<- job, results chan<- result) bool {
	byID := make(map[mailaccess.ID]item, len(part))
	for _, it := range part {
		byID[it.id] = it
	}
	delivered := make(map[mailaccess.ID]bool, len(part))
	for remaining := part; ; {
		ids := make([]mailaccess.ID, len(remaining))
		for i, it := range remaining {
			ids[i] = it.id
		}
		// A batch read of its own context: one cut at the size limit is
		// cancelled, so the driver drops the session instead of reading
		// the rest of a body that may never end.
		bctx, cancel := context.WithCancel(ctx)
		cut := false
		err := bo.OpenAll(bctx, r.folder, ids, func(id mailaccess.ID, rd io.Reader) error {
			it, ok := byID[id]
			if !ok || delivered[id] {
				return fmt.Errorf("batch download returned unrequested message %q: %w", id, errStopBatch)
			}
			delivered[id] = true
			err := r.feedOne(bctx, it, rd, jobs, results)
			if errors.Is(err, ErrTooLarge) {
				cut = true
				cancel()
			}
			return err
		})
		cancel()
		if ctx.Err() != nil {
			return false
		}
		remaining = slices.DeleteFunc(slices.Clone(remaining), func(it item) bool { return delivered[it.id] })
		switch {
		case cut:
			continue // the rest on a new session
		case err != nil && stopsBatch(err):
			results <- result{batch: true, err: fmt.Errorf("batch download stopped: %w", err)}
			return false
		case err != nil:
			// Failures of single messages (a NIL body, a body the server
			// withheld): each undelivered message is opened on its own
			// below, which names the ones that fail.
			r.s.o.Logger.Debug("sync: batch download reported failures", "folder", r.folder, "err", err)
		}
		for _, it := range remaining {
			select {
			case jobs <- job{it: it}:
			case <-ctx.Done():
				return false
			}
		}
		return true
	}
}

// errStopBatch ends a batch download from its callback.
var errStopBatch = errors.New("batch download stopped by the sync engine")

// stopsBatch reports whether a batch read's error is about the session
// rather than single messages, so that opening the undelivered messages
// one by one would only repeat it.
func stopsBatch(err error) bool {
	return errors.Is(err, mailaccess.ErrTemporary) || errors.Is(err, mailaccess.ErrUIDValidity) ||
		errors.Is(err, mailaccess.ErrClosed) || errors.Is(err, mailaccess.ErrAuth) ||
		errors.Is(err, mailaccess.ErrLocked) || errors.Is(err, errStopBatch)
}

// feedOne hands one message of a batch download to the writers. A
// failure of the message (its body fails verification, the destination
// refuses it) is its result; the batch goes on.
func (r *folderRun) feedOne(ctx context.Context, it item, rd io.Reader, jobs chan<- job, results chan<- result) error {
	j := job{it: it}
	if r.s.keyed != nil && !it.fresh {
		if _, ok, err := r.s.keyed.HasKey(ctx, r.dest, it.akey); err == nil && ok {
			j.stored = true // already stored: the writer records it, nothing read
		}
	}
	if !j.stored {
		lr := r.limit(rd)
		buf, err := readBody(lr, it.size)
		if err != nil {
			return stopIfTooLarge(err, sendResult(ctx, results, result{it: it, err: err}))
		}
		j.hasBody, j.body = true, buf
		if len(buf) > batchBodyLimit {
			// Too big to buffer: write it now, streaming.
			j.rest = lr
			res := r.store(ctx, j)
			return stopIfTooLarge(res.err, sendResult(ctx, results, res))
		}
	}
	select {
	case jobs <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stopIfTooLarge returns, for a message cut at the size limit, an error
// that ends the batch read (the rest of the body is not read: it may never
// end), else err.
func stopIfTooLarge(cause, err error) error {
	if errors.Is(cause, ErrTooLarge) {
		return errors.Join(cause, errStopBatch)
	}
	return err
}

// limit cuts a message body at Options.MaxMessageSize.
func (r *folderRun) limit(rd io.Reader) io.Reader {
	return &sizeLimit{r: rd, max: r.s.o.MaxMessageSize}
}

// sizeLimit passes at most max bytes of a body through; where a byte
// more arrives it returns an error matching [ErrTooLarge].
type sizeLimit struct {
	r      io.Reader
	n, max int64
}

func (l *sizeLimit) Read(p []byte) (int, error) {
	if rest := l.max - l.n; int64(len(p)) > rest {
		p = p[:rest+1] // one byte more tells "over the limit" from "at it"
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n - int(l.n-l.max), fmt.Errorf("the body goes on past %d bytes, the limit (Options.MaxMessageSize; raise it to store larger messages): its bytes are discarded: %w", l.max, ErrTooLarge)
	}
	return n, err
}

// sendResult delivers a result from the feeder. The result is delivered
// even once ctx is cancelled (the collector drains results until they
// are closed); the cancellation then ends the batch.
func sendResult(ctx context.Context, results chan<- result, res result) error {
	select {
	case results <- res:
		return nil
	case <-ctx.Done():
		results <- res
		return ctx.Err()
	}
}

// store copies one message from the source to the destination.
func (r *folderRun) store(ctx context.Context, j job) result {
	s := r.s
	it := j.it
	res := result{it: it}
	opts := &mailaccess.AppendOptions{Flags: r.dstFlags(it.flags), Date: it.date}
	if s.keyed != nil && !j.stored && !j.hasBody && !it.fresh {
		_, ok, err := s.keyed.HasKey(ctx, r.dest, it.akey)
		if err != nil {
			res.err = err
			return res
		}
		j.stored = ok
	}
	if j.stored {
		// Stored by a run that did not commit: no download.
		res.dst, res.err = s.keyed.AppendWithKey(ctx, r.dest, it.akey, strings.NewReader(""), opts)
		res.size = it.size
		return res
	}
	if j.hasBody && j.rest == nil {
		// A buffered body: no copy of its head to keep, its size known.
		res.dst, res.err = r.append(ctx, it, bytes.NewReader(j.body), opts)
		res.size = int64(len(j.body))
		if res.err == nil {
			res.msgID, res.print = r.headInfo(j.body[:min(len(j.body), headLimit)], true)
		}
		releaseBody(j.body)
		return res
	}
	var src io.Reader
	if j.hasBody {
		src = io.MultiReader(bytes.NewReader(j.body), j.rest) // rest counts toward the limit already
	} else {
		octx, cancel := context.WithCancel(ctx)
		defer cancel()
		rc, err := s.src.Open(octx, r.folder, it.id, nil)
		if err != nil {
			res.gone = errors.Is(err, mailaccess.ErrNotFound)
			if !res.gone {
				res.err = err
			}
			return res
		}
		defer func() {
			if errors.Is(res.err, ErrTooLarge) {
				// The rest is not wanted: the driver drops the session
				// rather than read a body that may never end.
				cancel()
			}
			rc.Close()
		}()
		src = r.limit(rc)
	}
	var head headCapture
	var cnt countWriter
	body := io.TeeReader(src, io.MultiWriter(&head, &cnt))
	res.dst, res.err = r.append(ctx, it, body, opts)
	res.size = cnt.n
	if res.err == nil {
		res.msgID, res.print = r.headInfo(head.b, len(head.b) < headLimit)
	}
	return res
}

// append appends a message to the destination folder: with its key, in
// the source's order when the destination can keep it, when the
// destination has keyed appends; else plainly.
func (r *folderRun) append(ctx context.Context, it item, body io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	switch {
	case it.fresh && r.s.newKey != nil:
		return r.s.newKey.AppendNewKeyAt(ctx, r.dest, it.akey, r.start, it.pos, body, opts)
	case r.s.ordered != nil:
		return r.s.ordered.AppendWithKeyAt(ctx, r.dest, it.akey, r.start, it.pos, body, opts)
	case r.s.keyed != nil:
		return r.s.keyed.AppendWithKey(ctx, r.dest, it.akey, body, opts)
	}
	return r.s.dst.Append(ctx, r.dest, body, opts)
}

// headLimit is how much of a message is kept to read its Message-ID.
const headLimit = 64 << 10

// headInfo returns the Message-ID of a message whose first bytes are
// head, or "", and, for a source whose IDs can be reused, the fingerprint
// of its header when head holds all of it (whole says head is the whole
// message).
func (r *folderRun) headInfo(head []byte, whole bool) (msgID, print string) {
	h, err := mailaccess.ParseHeader(bytes.NewReader(head))
	if err != nil {
		return "", ""
	}
	if r.mode != modeUID && (whole || bytes.Contains(head, []byte("\n\r\n")) || bytes.Contains(head, []byte("\n\n"))) {
		print = headerPrint(h)
	}
	return h.MessageID(), print
}

// headerPrint is the fingerprint of a header: 64 bits of SHA-256 over
// its fields in order, names folded to lower case, values raw. The
// header a server sends for TOP (FetchHeader) has the same fields as the
// message it sends for RETR, so the print of a stored message and the
// print of the message on the server agree when they are the same
// message.
func headerPrint(h mailaccess.Header) string {
	sum := sha256.New()
	for k, v := range h.Fields() {
		sum.Write([]byte(strings.ToLower(k)))
		sum.Write([]byte{0})
		sum.Write([]byte(v))
		sum.Write([]byte{0})
	}
	return hex.EncodeToString(sum.Sum(nil)[:8])
}

// headCapture keeps the first bytes of a message, to read its Message-ID.
type headCapture struct{ b []byte }

func (h *headCapture) Write(p []byte) (int, error) {
	if room := headLimit - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// bodyPool recycles the buffers of bodies read by the batch download, so
// that a sync does not allocate (and clear, and collect) one per message.
// Only buffers up to pooledBody bytes are kept (most messages are
// smaller): a pool of 1 MiB buffers would hold a megabyte for every small
// message in flight.
var bodyPool = sync.Pool{New: func() any { return new([]byte) }}

// pooledBody is the largest buffer kept in bodyPool.
const pooledBody = 128 << 10

// readBody reads a message of about expect bytes into a buffer, pooled
// when small: at most batchBodyLimit+1 bytes (more means "too big to
// buffer"). The size the server claims (expect) only chooses a first
// buffer up to the pooled size; beyond it the buffer grows with the
// bytes that arrive.
func readBody(r io.Reader, expect int64) ([]byte, error) {
	r = io.LimitReader(r, batchBodyLimit+1)
	want := int(min(max(expect, 0), pooledBody-512)) + 512
	var buf []byte
	if want <= pooledBody {
		bp := bodyPool.Get().(*[]byte)
		buf = (*bp)[:0]
	}
	if cap(buf) < want {
		buf = make([]byte, 0, want)
	}
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// releaseBody returns a buffer from readBody to the pool.
func releaseBody(b []byte) {
	if cap(b) <= pooledBody {
		b = b[:0]
		bodyPool.Put(&b)
	}
}
