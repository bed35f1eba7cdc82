package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

// Redraw intervals: a terminal bar at most ten times a second, plain
// progress lines (logs, pipes) at most every five seconds.
const (
	ttyInterval   = 100 * time.Millisecond
	plainInterval = 5 * time.Second
)

// progress turns the engine's Progress callbacks into a bar (terminal,
// drawn by github.com/schollz/progressbar) or occasional lines (anything
// else) on w, plus a line per completed folder. It is safe for concurrent
// use.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	now      func() time.Time
	interval time.Duration

	start time.Time
	last  time.Time                    // last draw
	cur   map[string]mailsync.Progress // latest per folder
	done  map[string]bool              // completion line printed
	bar   *progressbar.ProgressBar     // the bar on screen, nil if none
	barOf string                       // the folder it shows
	// barDesc and barMax are the bar's description and maximum, set
	// only when they change (each change redraws the bar).
	barDesc string
	barMax  int64
}

func newProgress(w io.Writer, tty bool, now func() time.Time) *progress {
	p := &progress{w: w, tty: tty, now: now, interval: plainInterval}
	if tty {
		p.interval = ttyInterval
	}
	return p
}

// begin starts a pass.
func (p *progress) begin() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start = p.now()
	p.last = p.start
	p.cur = map[string]mailsync.Progress{}
	p.done = map[string]bool{}
}

// end clears the bar, if one is shown.
func (p *progress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

// update is the mailsync.Options.Progress callback.
func (p *progress) update(pr mailsync.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		p.start, p.cur, p.done = p.now(), map[string]mailsync.Progress{}, map[string]bool{}
	}
	p.cur[pr.Folder] = pr
	now := p.now()
	if pr.MessagesTotal > 0 && pr.Messages >= pr.MessagesTotal && !p.done[pr.Folder] {
		p.done[pr.Folder] = true
		p.clear()
		fmt.Fprintf(p.w, "mailsync: %s: %d messages, %s MB\n", pr.Folder, pr.Messages, mb(pr.Bytes))
		p.last = now
		return
	}
	if now.Sub(p.last) < p.interval {
		return
	}
	p.last = now
	if !p.tty {
		fmt.Fprintf(p.w, "mailsync: %s\n", p.line(pr, now))
		return
	}
	p.draw(pr)
}

// draw shows pr on the terminal bar, starting a new bar for a new folder.
// The bar measures bytes when the total is known, else messages; the
// description carries the message count.
func (p *progress) draw(pr mailsync.Progress) {
	if p.bar != nil && p.barOf != pr.Folder {
		p.clear()
	}
	total, cur := int64(pr.MessagesTotal), int64(pr.Messages)
	if pr.BytesTotal > 0 {
		total, cur = pr.BytesTotal, pr.Bytes
	}
	desc := fmt.Sprintf("%s %d/%d messages", pr.Folder, pr.Messages, pr.MessagesTotal)
	if p.bar == nil {
		p.bar = progressbar.NewOptions64(max(total, 1),
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionSetWidth(20),
			progressbar.OptionShowBytes(pr.BytesTotal > 0),
			progressbar.OptionShowCount(),
			progressbar.OptionSetRenderBlankState(false),
			progressbar.OptionThrottle(0), // progress throttles itself
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionClearOnFinish(),
		)
		p.barOf, p.barDesc, p.barMax = pr.Folder, desc, max(total, 1)
	}
	if p.barMax != max(total, 1) {
		p.barMax = max(total, 1)
		p.bar.ChangeMax64(p.barMax)
	}
	if p.barDesc != desc {
		p.barDesc = desc
		p.bar.Describe(desc)
	}
	p.bar.Set64(cur)
}

// clear erases the bar from the terminal.
func (p *progress) clear() {
	if p.bar != nil {
		p.bar.Clear()
		p.bar = nil
	}
}

// line renders "FOLDER 12/340 messages, 1.2/45.6 MB, 3.4 MB/s", the plain
// progress line.
func (p *progress) line(pr mailsync.Progress, now time.Time) string {
	var total int64
	for _, f := range p.cur {
		total += f.Bytes
	}
	rate := 0.0
	if el := now.Sub(p.start).Seconds(); el > 0 {
		rate = float64(total) / el
	}
	var b strings.Builder
	b.WriteString(pr.Folder)
	fmt.Fprintf(&b, " %d/%d messages, ", pr.Messages, pr.MessagesTotal)
	if pr.BytesTotal > 0 {
		fmt.Fprintf(&b, "%s/%s MB", mb(pr.Bytes), mb(pr.BytesTotal))
	} else {
		fmt.Fprintf(&b, "%s MB", mb(pr.Bytes))
	}
	fmt.Fprintf(&b, ", %s MB/s", mb(int64(rate)))
	return b.String()
}

// mb formats a byte count in megabytes (10^6 bytes) with one decimal.
func mb(n int64) string { return fmt.Sprintf("%.1f", float64(n)/1e6) }
