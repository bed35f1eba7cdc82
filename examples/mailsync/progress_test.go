package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

// fakeClock is a manual clock for the progress display.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock                   { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }
func step(n int, b int64) mailsync.Progress {
	return mailsync.Progress{Folder: "INBOX", Messages: n, MessagesTotal: 10, Bytes: b, BytesTotal: 10e6}
}

func TestProgressTerminalBar(t *testing.T) {
	var out bytes.Buffer
	clk := newClock()
	p := newProgress(&out, true, clk.now)
	p.begin()

	p.update(step(1, 1e6))
	assert.Empty(t, out.String(), "nothing drawn within the first tenth of a second")

	clk.advance(time.Second)
	p.update(step(2, 2e6))
	assert.Regexp(t, `^INBOX 2/10 messages +20% \|.*\| \(2\.0/10 MB, `, lastDraw(out.String()))
	assert.NotContains(t, out.String(), "\n", "the bar stays on one line")

	out.Reset()
	clk.advance(50 * time.Millisecond)
	p.update(step(3, 3e6))
	assert.Empty(t, out.String(), "at most ten redraws a second")

	clk.advance(time.Second)
	p.update(step(5, 5e6))
	assert.Regexp(t, `^INBOX 5/10 messages +50% \|`, lastDraw(out.String()))
	assert.NotContains(t, out.String(), "\n", "the bar stays on one line")

	out.Reset()
	clk.advance(time.Millisecond)
	p.update(step(10, 10e6))
	assert.Regexp(t, `^\r +\rmailsync: INBOX: 10 messages, 10\.0 MB\n$`, out.String(), "completion erases the bar and prints a line")

	out.Reset()
	p.end()
	assert.Empty(t, out.String(), "no bar left to clear")
}

// lastDraw returns what the last redraw of a terminal line left on it.
func lastDraw(s string) string { return s[strings.LastIndex(s, "\r")+1:] }

func TestProgressTerminalEndClearsBar(t *testing.T) {
	var out bytes.Buffer
	clk := newClock()
	p := newProgress(&out, true, clk.now)
	p.begin()
	clk.advance(time.Second)
	p.update(step(1, 1e6))
	assert.Contains(t, out.String(), "INBOX 1/10 messages")
	out.Reset()
	p.end()
	assert.Regexp(t, `^\r +\r$`, out.String())
}

func TestProgressPlainLines(t *testing.T) {
	var out bytes.Buffer
	clk := newClock()
	p := newProgress(&out, false, clk.now)
	p.begin()
	for i := 1; i <= 9; i++ {
		clk.advance(time.Second)
		p.update(step(i, int64(i)*1e6))
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	assert.Equal(t, []string{"mailsync: INBOX 5/10 messages, 5.0/10.0 MB, 1.0 MB/s"}, lines, "one line per five seconds, no carriage returns")

	out.Reset()
	clk.advance(time.Second)
	p.update(step(10, 10e6))
	assert.Equal(t, "mailsync: INBOX: 10 messages, 10.0 MB\n", out.String())
	p.end()
	assert.Equal(t, "mailsync: INBOX: 10 messages, 10.0 MB\n", out.String(), "end writes nothing when not a terminal")
}

func TestIsTerminal(t *testing.T) {
	assert.False(t, isTerminal(&bytes.Buffer{}))
	f, err := osCreateTemp(t)
	if assert.NoError(t, err) {
		assert.False(t, isTerminal(f), "a regular file is not a terminal")
	}
}

func osCreateTemp(t *testing.T) (*os.File, error) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err == nil {
		t.Cleanup(func() { f.Close() })
	}
	return f, err
}
