package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/fleet"
	"github.com/mailaccess/go-mailaccess/fleet/internal/demo"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// lockedBuffer collects the output of a command running in a goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTokenCredentialsFromTheCommandLine registers accounts with
// "-credential token-env:VAR" and "-credential token-cmd:COMMAND" and
// runs the workers ("mailfleet run") against a server that accepts
// OAuth2 tokens only: the token of each account reaches its login and
// the mail is stored; an account whose token command fails is listed
// with an error naming it. No token appears in any output, logs at debug
// level included, or in the registry.
func TestTokenCredentialsFromTheCommandLine(t *testing.T) {
	const (
		tokEnv = "ya29.cli-env-token-2468"
		tokCmd = "ya29.cli-cmd-token-1357"
	)
	back := mailtest.NewStore()
	for i := range 6 {
		back.Add(mailaccess.Inbox, demo.Message("cli", i, 300))
	}
	srv := pop3test.Start(t, back.Open(mailtest.ProfileIMAP), &pop3test.Options{
		Users:  map[string]string{"envuser": "x-unused", "cmduser": "y-unused"},
		Tokens: map[string]string{"envuser": tokEnv, "cmduser": tokCmd},
		SASL:   []string{"XOAUTH2"}, NoUser: true, NoAPOP: true, NoSTLS: true,
	})
	url := func(user string) string {
		cfg := srv.Config(user, "")
		cfg.TLS = mailaccess.TLSInsecurePlaintext
		return cfg.URL()
	}
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokFile, []byte(tokCmd+"\n"), 0o600))
	badCmd := filepath.Join(dir, "bad-token.sh")
	require.NoError(t, os.WriteFile(badCmd, []byte("#!/bin/sh\necho "+tokCmd+"\necho "+tokCmd+" >&2\nexit 7\n"), 0o700))
	t.Setenv("MAILFLEET_TEST_TOKEN", tokEnv)
	db := "sqlite:" + filepath.Join(dir, "f.db")
	store := "file://" + filepath.Join(dir, "mail")

	var outputs []string
	cli := func(args ...string) string {
		out, errs, code := runCLI(t, append([]string{"-db", db, "-store", store}, args...)...)
		outputs = append(outputs, out, errs)
		require.Equal(t, 0, code, "mailfleet %v: %s", args, errs)
		return out
	}
	cli("add", "-id", "env-acct", "-url", url("envuser"), "-credential", "token-env:MAILFLEET_TEST_TOKEN")
	cli("add", "-id", "cmd-acct", "-url", url("cmduser"), "-credential", "token-cmd:cat "+tokFile)
	cli("add", "-id", "bad-cmd", "-url", url("cmduser"), "-credential", "token-cmd:"+badCmd)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var runOut, runErr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-v", "-db", db, "-store", store, "run", "-workers", "3", "-progress=false"}, &runOut, &runErr)
	}()
	var list []fleet.Status
	require.Eventually(t, func() bool {
		var out, errb bytes.Buffer
		if run(ctx, []string{"-db", db, "-store", store, "list", "-json"}, &out, &errb) != 0 {
			return false
		}
		list = nil
		if json.Unmarshal(out.Bytes(), &list) != nil || len(list) != 3 {
			return false
		}
		for _, s := range list {
			if s.LastSuccess.IsZero() && s.LastError == "" {
				return false
			}
		}
		return true
	}, time.Minute, 100*time.Millisecond, "every account synced or failed")
	cancel()
	require.Equal(t, 0, <-done, runErr.String())
	outputs = append(outputs, runOut.String(), runErr.String())

	byID := map[string]fleet.Status{}
	for _, s := range list {
		byID[s.ID] = s
	}
	for _, id := range []string{"env-acct", "cmd-acct"} {
		assert.Empty(t, byID[id].LastError, id)
		assert.Equal(t, int64(6), byID[id].Messages, "%s: its token reached the XOAUTH2 login", id)
	}
	assert.Contains(t, byID["bad-cmd"].LastError, "credential command failed")
	assert.Zero(t, byID["bad-cmd"].Messages)

	out := cli("list")
	cli("status", "bad-cmd")
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "bad-cmd ") {
			row = l
		}
	}
	assert.Contains(t, row, "credential command failed", "the table shows why the account failed")
	for _, o := range outputs {
		assert.NotContains(t, o, tokEnv, "a token in mailfleet's output")
		assert.NotContains(t, o, tokCmd, "a token in mailfleet's output")
	}
	assert.Contains(t, runErr.String(), "bad-cmd", "the failure is logged with its account")
}
