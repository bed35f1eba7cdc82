package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest" // registers mem://
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

const testPassword = "s3cr3t-Passw0rd"

// result is what one run of the program produced.
type result struct {
	code           int
	stdout, stderr string
}

// report parses the -json report (the last JSON line of stdout).
func (r result) report(t *testing.T) *mailaccess.SyncReport {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var rep mailaccess.SyncReport
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &rep), "stdout: %s", r.stdout)
	return &rep
}

func envWith(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// runMailsync runs the program to completion.
func runMailsync(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return mailsyncCtx(t, context.Background(), env, args...)
}

func mailsyncCtx(t *testing.T, ctx context.Context, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, envWith(env), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// digest names a message by its length and a hash of its bytes, so
// byte-for-byte comparisons of message sets print readable diffs.
type digest string

func digestOf(b []byte) digest {
	h := sha256.Sum256(b)
	return digest(fmt.Sprintf("%d:%x", len(b), h[:8]))
}

func (d digest) size() int {
	n, _ := strconv.Atoi(strings.SplitN(string(d), ":", 2)[0])
	return n
}

// maildirMessages returns the digests of every message file of one
// Maildir folder directory (new/ and cur/), sorted.
func maildirMessages(t *testing.T, dir string) []digest {
	t.Helper()
	var out []digest
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			require.NoError(t, err)
			out = append(out, digestOf(b))
		}
	}
	slices.Sort(out)
	return out
}

func sorted(msgs []digest) []digest {
	out := slices.Clone(msgs)
	slices.Sort(out)
	return out
}

// storeMessages returns the digests of a fake folder's messages, sorted.
func storeMessages(st *mailtest.Store, folder string) []digest {
	var out []digest
	for _, m := range st.Messages(folder) {
		out = append(out, digestOf(m.Raw))
	}
	return sorted(out)
}

// seedMem fills a named fake store with the edge-case corpus in INBOX and
// a few generated messages in a nested folder.
func seedMem(t *testing.T) (name string, st *mailtest.Store) {
	t.Helper()
	name = t.Name()
	t.Cleanup(func() { mailtest.RemoveNamedStore(name) })
	st = mailtest.NamedStore(name)
	for _, m := range corpus.EdgeCases() {
		st.Add("INBOX", m.Raw)
	}
	for m := range corpus.Generate(7, 4) {
		st.Add("Archive/2024", m.Raw)
	}
	return name, st
}

func TestMemSourceAllFoldersAndResync(t *testing.T) {
	name, st := seedMem(t)
	dir := t.TempDir()

	r := runMailsync(t, nil, "-from", "mem://"+name, "-to", dir, "-folders", "*", "-json")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	rep := r.report(t)
	inbox, archive := storeMessages(st, "INBOX"), storeMessages(st, "Archive/2024")
	assert.Equal(t, len(inbox)+len(archive), rep.Total().New)
	assert.Len(t, rep.Folders, 2)
	assert.Contains(t, r.stderr, rep.String(), "the one-line summary goes to stderr with -json")

	assert.Equal(t, inbox, maildirMessages(t, dir), "INBOX is the Maildir root, byte for byte")
	assert.Equal(t, archive, maildirMessages(t, filepath.Join(dir, ".Archive.2024")), "Archive/2024 is the Maildir++ folder .Archive.2024")

	r = runMailsync(t, nil, "-from", "mem://"+name, "-to", dir, "-folders", "*", "-json")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, 0, r.report(t).Total().New, "a second run transfers nothing")
	assert.Equal(t, inbox, maildirMessages(t, dir))
	assert.Equal(t, archive, maildirMessages(t, filepath.Join(dir, ".Archive.2024")))
	assert.Len(t, st.Messages("INBOX"), len(inbox), "the default retention keeps mail on the source")
}

func TestDefaultFolderIsInbox(t *testing.T) {
	name, st := seedMem(t)
	dir := t.TempDir()
	r := runMailsync(t, nil, "-from", "mem://"+name, "-to", dir)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, storeMessages(st, "INBOX"), maildirMessages(t, dir))
	assert.NoDirExists(t, filepath.Join(dir, ".Archive.2024"))
	assert.Regexp(t, `^mailsync: 1 folders: \d+ new, .*\n$`, r.stdout, "one summary line on stdout")
}

func TestFolderList(t *testing.T) {
	name, st := seedMem(t)
	st.Add("Sent", []byte("Subject: sent\r\n\r\nx\r\n"))
	dir := t.TempDir()
	r := runMailsync(t, nil, "-from", "mem://"+name, "-to", dir, "-folders", "Sent, Archive/*", "-json")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	var got []string
	for _, f := range r.report(t).Folders {
		got = append(got, f.Folder)
	}
	assert.ElementsMatch(t, []string{"Sent", "Archive/2024"}, got)
	assert.Empty(t, maildirMessages(t, dir), "INBOX was not selected")
	assert.Equal(t, storeMessages(st, "Sent"), maildirMessages(t, filepath.Join(dir, ".Sent")))
}

func TestConfigFile(t *testing.T) {
	name, st := seedMem(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "account.json")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`{"scheme":"mem","path":"`+name+`"}`), 0o600))
	r := runMailsync(t, nil, "-config", cfgPath, "-to", dir)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, storeMessages(st, "INBOX"), maildirMessages(t, dir))

	require.NoError(t, os.WriteFile(cfgPath, []byte(`{"scheme":`), 0o600))
	r = runMailsync(t, nil, "-config", cfgPath, "-to", dir)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "-config")
}

func TestInsecureFlag(t *testing.T) {
	o := &options{from: "imaps://alice@example.org", insecure: true}
	cfg, err := o.config(envWith(map[string]string{passwordEnv: "pw"}))
	require.NoError(t, err, "-insecure is accepted, and moot, with implicit TLS")
	assert.Equal(t, mailaccess.TLSImplicit, driver.NewConfig(cfg).EffectiveTLS())

	o = &options{from: "imap://alice@example.org", insecure: true, caFile: "ca.pem"}
	cfg, err = o.config(envWith(map[string]string{passwordEnv: "pw"}))
	require.NoError(t, err)
	assert.Equal(t, mailaccess.TLSInsecurePlaintext, cfg.TLS)
	assert.Equal(t, "ca.pem", cfg.CAFile)
	assert.Equal(t, mailaccess.Secret("pw"), cfg.Password)
}

func TestOverlayFromURL(t *testing.T) {
	base := mailaccess.Config{Scheme: "imaps", Host: "old.example", Port: 1993, User: "bob",
		Password: "from-file", Folder: "Archive", Options: map[string]string{"a": "1"}}
	u, err := mailaccess.ParseURL("pop3://alice@new.example")
	require.NoError(t, err)
	u.Options = map[string]string{"b": "2"}
	got := overlay(base, u)
	assert.Equal(t, "pop3", got.Scheme)
	assert.Equal(t, "new.example", got.Host)
	assert.Equal(t, 0, got.Port, "a new scheme does not keep the old port")
	assert.Equal(t, "alice", got.User)
	assert.Equal(t, mailaccess.Secret("from-file"), got.Password, "the file's password stays")
	assert.Equal(t, "", got.Folder)
	assert.Equal(t, map[string]string{"a": "1", "b": "2"}, got.Options)
}

// startPOP3 serves a fake maildrop seeded with the edge-case corpus over
// an in-process POP3 server.
func startPOP3(t *testing.T) (*pop3test.Server, *mailtest.Mailbox) {
	t.Helper()
	backing := mailtest.New(mailtest.ProfilePOP3)
	for _, m := range corpus.EdgeCases() {
		backing.Add("INBOX", m.Raw)
	}
	for m := range corpus.Generate(3, 5) {
		backing.Add("INBOX", m.Raw)
	}
	srv := pop3test.Start(t, backing, &pop3test.Options{User: "alice", Password: testPassword})
	return srv, backing
}

func pop3URL(srv *pop3test.Server) string {
	return fmt.Sprintf("pop3://alice@%s:%d", srv.Host(), srv.Port())
}

func TestPOP3InsecureAndResync(t *testing.T) {
	srv, backing := startPOP3(t)
	dir := t.TempDir()
	env := map[string]string{passwordEnv: testPassword}
	want := storeMessages(backing.Store, "INBOX")

	r := runMailsync(t, env, "-from", pop3URL(srv), "-insecure", "-to", dir, "-json")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, len(want), r.report(t).Total().New)
	assert.Equal(t, want, maildirMessages(t, dir), "message files hold the bytes the server sent")
	assert.NotContains(t, r.stdout+r.stderr, testPassword)

	r = runMailsync(t, env, "-from", pop3URL(srv), "-insecure", "-to", dir, "-json")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, 0, r.report(t).Total().New, "a second run transfers nothing")
	assert.Equal(t, want, maildirMessages(t, dir))
	assert.Len(t, backing.Messages("INBOX"), len(want), "never: nothing deleted on the server")
	assert.NotContains(t, strings.Join(srv.Commands(), " "), "DELE")
}

func TestPOP3WithoutInsecureRefusesPlaintext(t *testing.T) {
	// The test server offers STLS with a certificate the system does not
	// trust; without -insecure or -ca the connection must not go ahead in
	// plaintext.
	srv, _ := startPOP3(t)
	r := runMailsync(t, map[string]string{passwordEnv: testPassword}, "-from", pop3URL(srv), "-to", t.TempDir())
	assert.Equal(t, 1, r.code)
	assert.NotContains(t, r.stderr, testPassword)
	assert.NotContains(t, strings.Join(srv.Commands(), " "), "PASS", "no password sent")
}

func TestPOP3DeleteAfterDownload(t *testing.T) {
	srv, backing := startPOP3(t)
	dir := t.TempDir()
	want := storeMessages(backing.Store, "INBOX")

	r := runMailsync(t, map[string]string{passwordEnv: testPassword},
		"-from", pop3URL(srv), "-insecure", "-to", dir, "-delete", "after-download", "-json")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	rep := r.report(t)
	assert.Equal(t, len(want), rep.Total().New)
	assert.Equal(t, len(want), rep.Total().SourceDeleted)
	assert.Equal(t, want, maildirMessages(t, dir))
	assert.Empty(t, backing.Messages("INBOX"), "the maildrop is empty after QUIT")

	// Every DELE came after the RETR of the same message.
	retr := map[string]bool{}
	for _, c := range srv.Commands() {
		if n, ok := strings.CutPrefix(c, "RETR "); ok {
			retr[n] = true
		}
		if n, ok := strings.CutPrefix(c, "DELE "); ok {
			// Message numbers are per session; what matters is that a
			// deleting session exists only once some message was read.
			assert.NotEmpty(t, retr, "DELE %s before any RETR", n)
		}
	}
}

func TestPOP3DeleteOnlyWhatWasStored(t *testing.T) {
	srv, backing := startPOP3(t)
	dir := t.TempDir()
	before := storeMessages(backing.Store, "INBOX")
	// Bodies longer than 3000 bytes are cut off mid-stream: those messages
	// cannot be stored, so they must not be deleted.
	backing.CutBodyAfter(3000)

	r := runMailsync(t, map[string]string{passwordEnv: testPassword},
		"-from", pop3URL(srv), "-insecure", "-to", dir, "-delete", "after-download")
	assert.Equal(t, 1, r.code, "a partial sync exits non-zero; stderr: %s", r.stderr)
	assert.Regexp(t, `(?m)^mailsync: .+\n\z`, r.stderr, "ends with a one-line message")
	t.Logf("stderr: %s", r.stderr)

	stored := maildirMessages(t, dir)
	left := storeMessages(backing.Store, "INBOX")
	for _, m := range stored {
		assert.LessOrEqual(t, m.size(), 3000, "no truncated message was stored")
	}
	assert.Equal(t, stored, slices.Compact(slices.Clone(stored)), "no message stored twice")
	for _, m := range before {
		switch {
		case !slices.Contains(left, m):
			assert.Contains(t, stored, m, "a message deleted from the server is in the Maildir")
		case m.size() > 3000:
			assert.NotContains(t, stored, m)
		}
	}
	backing.CutBodyAfter(-1)
	r = runMailsync(t, map[string]string{passwordEnv: testPassword},
		"-from", pop3URL(srv), "-insecure", "-to", dir, "-delete", "after-download")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, before, maildirMessages(t, dir), "the next run resumes and completes")
	assert.Empty(t, backing.Messages("INBOX"))
}

func TestWrongPassword(t *testing.T) {
	srv, backing := startPOP3(t)
	dir := t.TempDir()
	r := runMailsync(t, map[string]string{passwordEnv: "wrong-" + testPassword}, "-from", pop3URL(srv), "-insecure", "-to", dir)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	assert.Contains(t, r.stderr, "authentication failed")
	assert.Contains(t, r.stderr, passwordEnv)
	assert.NotContains(t, r.stderr+r.stdout, testPassword)
	assert.Empty(t, maildirMessages(t, dir))
	assert.NotEmpty(t, backing.Messages("INBOX"))
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"nothing", nil, "-from URL (or -config FILE) is required"},
		{"no to", []string{"-from", "mem://x"}, "-to DIR is required"},
		{"unknown flag", []string{"-bogus"}, "flag provided but not defined"},
		{"bad delete", []string{"-from", "mem://x", "-to", "d", "-delete", "sometimes"}, "-delete"},
		{"bad duration", []string{"-from", "mem://x", "-to", "d", "-delete", "after=-1h"}, "-delete"},
		{"stray argument", []string{"-from", "mem://x", "-to", "d", "extra"}, "unexpected argument"},
		{"empty folders", []string{"-from", "mem://x", "-to", "d", "-folders", " , "}, "names no folder"},
		{"bad url", []string{"-from", "imaps://", "-to", "d"}, "needs a host"},
		{"password flag", []string{"-from", "mem://x", "-to", "d", "-password", "x"}, "flag provided but not defined"},
		{"no password", []string{"-from", "imaps://alice@example.org", "-to", "d"}, "no password: set $" + passwordEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runMailsync(t, nil, tc.args...)
			assert.Equal(t, 2, r.code)
			assert.Contains(t, r.stderr, tc.msg)
			if tc.name != "bad url" && tc.name != "no password" {
				assert.Contains(t, r.stderr, "usage: mailsync -from URL -to DIR")
			}
			assert.Empty(t, r.stdout)
		})
	}
}

func TestUnknownSchemeAndFolder(t *testing.T) {
	r := runMailsync(t, nil, "-from", "gopher://alice@example.org", "-to", t.TempDir())
	assert.Equal(t, 2, r.code, "a scheme no driver registered is a usage error, found when the URL is parsed")
	assert.Contains(t, r.stderr, "no driver")

	name, _ := seedMem(t)
	r = runMailsync(t, nil, "-from", "mem://"+name, "-to", t.TempDir(), "-folders", "NoSuchFolder")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "NoSuchFolder")
}

func TestInterruptThenResume(t *testing.T) {
	name := t.Name()
	t.Cleanup(func() { mailtest.RemoveNamedStore(name) })
	st := mailtest.NamedStore(name)
	for m := range corpus.Generate(11, 40) {
		st.Add("INBOX", m.Raw)
	}
	st.SetLatency(20 * time.Millisecond) // every call of the source is slow
	dir := t.TempDir()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() { done <- mailsyncCtx(t, ctx, nil, "-from", "mem://"+name, "-to", dir) }()
	time.Sleep(100 * time.Millisecond) // let it start; the outcome does not depend on when
	cancel()
	r := <-done
	assert.Equal(t, 130, r.code, "stdout: %s stderr: %s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "interrupted")
	assert.Contains(t, r.stderr, "next run resumes")
	partial := maildirMessages(t, dir)
	assert.Less(t, len(partial), 40, "the run was cut short")

	st.SetLatency(0)
	r = runMailsync(t, nil, "-from", "mem://"+name, "-to", dir, "-json")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, storeMessages(st, "INBOX"), maildirMessages(t, dir), "each message exactly once after the resumed run")
}

// syncBuffer is written by the program's goroutine while the test reads.
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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatchSyncsNewMail(t *testing.T) {
	name, st := seedMem(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-from", "mem://" + name, "-to", dir, "-watch", "-debounce", "10ms", "-json"},
			envWith(nil), &stdout, &stderr)
	}()
	waitFor(t, "the watcher", func() bool {
		return st.Watching("INBOX") > 0 && strings.Contains(stderr.String(), "watching INBOX (push (IDLE))")
	})
	require.Equal(t, 1, strings.Count(stdout.String(), "\n"), "first pass reported")

	st.Add("INBOX", []byte("Subject: arrived while watching\r\n\r\nhello\r\n"))
	waitFor(t, "the second pass", func() bool { return strings.Count(stdout.String(), "\n") >= 2 })
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var rep mailaccess.SyncReport
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &rep))
	assert.Equal(t, 1, rep.Total().New)
	assert.Equal(t, storeMessages(st, "INBOX"), maildirMessages(t, dir))

	cancel()
	select {
	case code := <-done:
		assertStopped(t, code, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("mailsync -watch did not stop")
	}
}

func TestMaildirSource(t *testing.T) {
	name, st := seedMem(t)
	first := t.TempDir()
	r := runMailsync(t, nil, "-from", "mem://"+name, "-to", first, "-folders", "*")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)

	// A Maildir is a source like any other: copy the copy.
	second := t.TempDir()
	r = runMailsync(t, nil, "-from", "maildir://"+first, "-to", second, "-folders", "*", "-json")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, storeMessages(st, "INBOX"), maildirMessages(t, second))
	assert.Equal(t, storeMessages(st, "Archive/2024"), maildirMessages(t, filepath.Join(second, ".Archive.2024")))
	r = runMailsync(t, nil, "-from", "maildir://"+first, "-to", second, "-folders", "*", "-json")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, 0, r.report(t).Total().New)
}

func TestTraceAndVerbose(t *testing.T) {
	srv, _ := startPOP3(t)
	dir := t.TempDir()
	trace := filepath.Join(t.TempDir(), "trace.log")
	r := runMailsync(t, map[string]string{passwordEnv: testPassword},
		"-from", pop3URL(srv), "-insecure", "-to", dir, "-trace", trace, "-v")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	b, err := os.ReadFile(trace)
	require.NoError(t, err)
	assert.Contains(t, string(b), "UIDL", "the trace holds the protocol exchange")
	assert.NotContains(t, string(b), testPassword)
	assert.Contains(t, r.stderr, "level=", "-v logs to stderr")
	assert.NotContains(t, r.stderr, testPassword)
}

func TestPOP3Watch(t *testing.T) {
	srv, backing := startPOP3(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-from", pop3URL(srv), "-insecure", "-to", dir, "-watch", "-poll", "20ms", "-debounce", "0s", "-json"},
			envWith(map[string]string{passwordEnv: testPassword}), &stdout, &stderr)
	}()
	waitFor(t, "the watch to start", func() bool { return strings.Contains(stderr.String(), "watching INBOX (polling every 20ms)") })
	extra := []byte("Subject: polled\r\n\r\narrived later\r\n")
	backing.Add("INBOX", extra)
	waitFor(t, "the polled message in the Maildir", func() bool { return slices.Contains(maildirMessages(t, dir), digestOf(extra)) })
	waitFor(t, "the pass's report", func() bool { return strings.Count(stdout.String(), "\n") >= 2 })
	assert.Equal(t, storeMessages(backing.Store, "INBOX"), maildirMessages(t, dir))
	cancel()
	select {
	case code := <-done:
		assertStopped(t, code, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("mailsync -watch did not stop")
	}
	assert.NotContains(t, stderr.String(), "IN-USE", "the polls and the passes never fought over the maildrop lock")
}

// assertStopped checks how -watch ended on Ctrl-C: cleanly (0, "stopped")
// when it was waiting, or 130 with the resume message when the Ctrl-C fell
// in a pass (a late watch event can start a no-op pass at any time).
func assertStopped(t *testing.T, code int, stderr string) {
	t.Helper()
	switch code {
	case 0:
		assert.Contains(t, stderr, "mailsync: stopped\n")
	case 130:
		assert.Contains(t, stderr, "next run resumes")
	default:
		t.Errorf("exit status %d after Ctrl-C; stderr: %s", code, stderr)
	}
}

func TestConfigFileWithPassword(t *testing.T) {
	srv, backing := startPOP3(t)
	cfgPath := filepath.Join(t.TempDir(), "account.json")
	cfg := fmt.Sprintf(`{"scheme":"pop3","host":%q,"port":%d,"user":"alice","password":%q,"tls":"insecure-plaintext"}`,
		srv.Host(), srv.Port(), testPassword)
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))

	dir := t.TempDir()
	r := runMailsync(t, nil, "-config", cfgPath, "-to", dir)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, storeMessages(backing.Store, "INBOX"), maildirMessages(t, dir))

	// -from overrides the file's server but keeps its password;
	// $MAILSYNC_PASSWORD overrides the file's password.
	r = runMailsync(t, map[string]string{passwordEnv: "wrong-password"}, "-config", cfgPath, "-from", pop3URL(srv), "-insecure", "-to", dir)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "authentication failed")
	assert.NotContains(t, r.stderr, "wrong-password")
	r = runMailsync(t, nil, "-config", cfgPath, "-from", pop3URL(srv), "-insecure", "-to", dir, "-json")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, 0, r.report(t).Total().New)
}
