package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest" // registers mem://
)

// syncBuffer is an io.Writer the program writes from its goroutine while
// the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startWatch runs the program in the background and returns its output
// buffers and a function that stops it (as Ctrl-C would) and returns its
// exit status.
func startWatch(t *testing.T, args ...string) (stdout, stderr *syncBuffer, stop func() int) {
	t.Helper()
	return startWatchEnv(t, func(string) string { return "" }, args...)
}

// startWatchEnv is startWatch with an environment.
func startWatchEnv(t *testing.T, env func(string) string, args ...string) (stdout, stderr *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, env, stdout, stderr) }()
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Error("watch did not stop after cancellation")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return stdout, stderr, stop
}

// waitFor waits until cond holds, failing the test after a generous bound
// (a correctness bound, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const newMail = "From: =?UTF-8?Q?Zo=C3=AB_Martin?= <zoe@example.org>\r\n" +
	"To: alice@example.org\r\n" +
	"Subject: =?ISO-8859-1?Q?R=E9union?= de jeudi\r\n" +
	"Message-ID: <watch-1@example.org>\r\n" +
	"\r\n" +
	"See you there.\r\n"

func TestWatchPushPrintsNewMail(t *testing.T) {
	name := t.Name()
	t.Cleanup(func() { mailtest.RemoveNamedStore(name) })
	st := mailtest.NamedStore(name)
	st.Add("INBOX", []byte("Subject: old\r\n\r\nalready there\r\n"))

	stdout, stderr, stop := startWatch(t, "-url", "mem://"+name)
	waitFor(t, "the watcher", func() bool { return st.Watching("INBOX") > 0 })
	assert.Contains(t, stdout.String(), "watching INBOX at mem://"+name+": push (IDLE)\n")

	id := st.Add("INBOX", []byte(newMail))
	want := "  " + string(id) + ": From: Zoë Martin <zoe@example.org> Subject: Réunion de jeudi\n"
	waitFor(t, "the new-mail lines", func() bool { return strings.Contains(stdout.String(), want) })

	out := stdout.String()
	assert.Contains(t, out, "new INBOX ids=["+string(id)+"] count=2 push\n")
	assert.NotContains(t, out, "Subject: old", "mail present at start is not reported")
	assert.Equal(t, 0, stop(), "Ctrl-C exits 0; stderr: %s", stderr.String())
	assert.Empty(t, stderr.String())
}

func TestWatchPollWithoutPush(t *testing.T) {
	name := t.Name()
	t.Cleanup(func() { mailtest.RemoveNamedStore(name) })
	st := mailtest.NamedStore(name)

	stdout, stderr, stop := startWatch(t, "-url", "mem://"+name+"?opt.profile=pop3", "-poll", "20ms")
	waitFor(t, "the watcher", func() bool { return st.Watching("INBOX") > 0 })
	assert.Contains(t, stdout.String(), "poll every 20ms\n")

	id := st.Add("INBOX", []byte(newMail))
	waitFor(t, "the new-mail event", func() bool {
		return strings.Contains(stdout.String(), "new INBOX ids=["+string(id)+"] count=1 poll\n")
	})
	waitFor(t, "the header line", func() bool { return strings.Contains(stdout.String(), "Subject: Réunion de jeudi") })
	assert.Equal(t, 0, stop(), "stderr: %s", stderr.String())
}

func TestWatchExpungeEvent(t *testing.T) {
	name := t.Name()
	t.Cleanup(func() { mailtest.RemoveNamedStore(name) })
	st := mailtest.NamedStore(name)
	id := st.Add("INBOX", []byte(newMail))

	stdout, _, stop := startWatch(t, "-url", "mem://"+name)
	waitFor(t, "the watcher", func() bool { return st.Watching("INBOX") > 0 })
	require.Equal(t, 1, st.Expunge("INBOX", id))
	waitFor(t, "the expunge event", func() bool {
		return strings.Contains(stdout.String(), "expunge INBOX ids=["+string(id)+"] count=0 push\n")
	})
	assert.Equal(t, 0, stop())
}

func TestWatchErrors(t *testing.T) {
	env := func(string) string { return "hunter2-secret" }
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no url", nil, 2, "-url is required"},
		{"unknown flag", []string{"-bogus"}, 2, "flag provided but not defined"},
		{"bad url", []string{"-url", "imaps://"}, 2, "needs a host"},
		{"unknown folder", []string{"-url", "mem://", "-folder", "Nope"}, 1, "Nope"},
		{"no driver", []string{"-url", "gopher://alice@host"}, 2, "no driver"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, env, &stdout, &stderr)
			assert.Equal(t, tc.code, code)
			assert.Contains(t, stderr.String(), tc.msg)
			assert.NotContains(t, stderr.String()+stdout.String(), "hunter2")
		})
	}
}

func TestWatchInsecureIsMootWithImplicitTLS(t *testing.T) {
	// Nothing listens on port 1: what matters is that the flag does not
	// make the imaps:// configuration invalid (exit 2).
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-url", "imaps://alice@127.0.0.1:1", "-insecure"},
		func(string) string { return "pw" }, &stdout, &stderr)
	assert.Equal(t, 1, code, "stderr: %s", stderr.String())
	assert.Contains(t, stderr.String(), "127.0.0.1:1")
}
