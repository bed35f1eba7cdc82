package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

// Redraw intervals: a terminal bar at most ten times a second, plain
// progress lines (logs, pipes) at most every five seconds.
const (
	ttyInterval   = 100 * time.Millisecond
	plainInterval = 5 * time.Second
)

// progress turns the engine's Progress callbacks into a bar (terminal) or
// occasional lines (anything else) on w, plus a line per completed folder.
// It is safe for concurrent use.
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
	shown int                          // width of the bar on screen, 0 if none
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
	line := p.line(pr, now)
	if !p.tty {
		fmt.Fprintf(p.w, "mailsync: %s\n", line)
		return
	}
	pad := ""
	if n := p.shown - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.shown = len(line)
}

// clear erases the bar from the terminal.
func (p *progress) clear() {
	if p.shown > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.shown))
		p.shown = 0
	}
}

// line renders "FOLDER [####....] 12/340 msgs 1.2/45.6 MB 3.4 MB/s" (the
// bar only on a terminal).
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
	if p.tty {
		frac := 0.0
		switch {
		case pr.BytesTotal > 0:
			frac = float64(pr.Bytes) / float64(pr.BytesTotal)
		case pr.MessagesTotal > 0:
			frac = float64(pr.Messages) / float64(pr.MessagesTotal)
		}
		const width = 20
		n := min(max(int(frac*width), 0), width)
		b.WriteString(" [" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]")
	}
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
