package fleet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/fleet"
	"github.com/mailaccess/go-mailaccess/fleet/internal/demo"
	"github.com/mailaccess/go-mailaccess/fleet/internal/testdb"
	"github.com/mailaccess/go-mailaccess/internal/secrettest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// syncBuffer is a log destination safe for the fleet's goroutines.
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

// tokenServer starts a POP3 server that accepts OAuth2 bearer tokens only
// (AUTH XOAUTH2 and OAUTHBEARER; no USER/PASS, no APOP, no PLAIN), one
// token per user, all users on one maildrop of n messages. It returns the
// server and the messages.
func tokenServer(t *testing.T, tokens map[string]string, n int) (*pop3test.Server, [][]byte) {
	t.Helper()
	back := mailtest.NewStore()
	var sent [][]byte
	for i := range n {
		raw := demo.Message("oauth", i, 300)
		back.Add(mailaccess.Inbox, raw)
		sent = append(sent, raw)
	}
	users := map[string]string{}
	for u := range tokens {
		users[u] = "unused-password-" + u // no password mechanism is offered
	}
	srv := pop3test.Start(t, back.Open(mailtest.ProfileIMAP), &pop3test.Options{
		Users: users, Tokens: tokens, SASL: []string{"XOAUTH2", "OAUTHBEARER"},
		NoUser: true, NoAPOP: true, NoSTLS: true,
	})
	return srv, sent
}

// tokenURL is the source URL of user on srv, with an optional forced
// SASL mechanism.
func tokenURL(srv *pop3test.Server, user, auth string) string {
	cfg := srv.Config(user, "")
	cfg.TLS = mailaccess.TLSInsecurePlaintext
	cfg.Auth = auth
	return cfg.URL()
}

// TestOAuth2TokenPerAccount: each account's token comes from its own
// source (Options.Token for "callback" accounts, "token-env:VAR",
// "token-cmd:COMMAND"), is asked for at every sync (a rotated token is
// picked up), and reaches the server's XOAUTH2 or OAUTHBEARER login: the
// server accepts nothing else, so a stored message proves it. The
// callback is given the account it authenticates.
func TestOAuth2TokenPerAccount(t *testing.T) {
	const (
		tokAlice = "ya29.alice-token-0001"
		tokBob   = "ya29.bob-token-0002"
		tokCarol = "ya29.carol-token-0003"
		tokDave  = "ya29.dave-token-0004"
	)
	tokens := map[string]string{"alice": tokAlice, "bob": tokBob, "carol": tokCarol, "dave": tokDave}
	srv, sent := tokenServer(t, tokens, 7)

	// The callback's tokens, by account ID, rotatable by the test.
	var mu sync.Mutex
	cbTokens := map[string]string{"cb-alice": tokAlice, "cb-dave-bearer": tokDave}
	var calls []string
	t.Setenv("FLEET_TEST_BOB_TOKEN", tokBob)
	tokFile := filepath.Join(t.TempDir(), "carol.token")
	require.NoError(t, os.WriteFile(tokFile, []byte(tokCarol+"\n"), 0o600))

	storeURL := "file://" + t.TempDir()
	var logs syncBuffer
	f := newFleet(t, testdb.SQLite(t), storeURL, &fleet.Options{
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Token: func(_ context.Context, a fleet.Account) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, a.ID)
			tok, ok := cbTokens[a.ID]
			if !ok {
				return "", fmt.Errorf("no token for %s", a.ID)
			}
			return tok, nil
		},
	})
	ctx := context.Background()
	accounts := []fleet.Account{
		{ID: "cb-alice", URL: tokenURL(srv, "alice", ""), Credential: "callback"},
		{ID: "cb-dave-bearer", URL: tokenURL(srv, "dave", "oauthbearer"), Credential: "callback"},
		{ID: "env-bob", URL: tokenURL(srv, "bob", ""), Credential: "token-env:FLEET_TEST_BOB_TOKEN"},
		{ID: "cmd-carol", URL: tokenURL(srv, "carol", ""), Credential: "token-cmd:cat " + tokFile},
	}
	for _, a := range accounts {
		require.NoError(t, f.Add(ctx, a))
	}
	for _, a := range accounts {
		rep, err := f.SyncAccount(ctx, a.ID)
		require.NoError(t, err, a.ID)
		assert.Equal(t, len(sent), rep.Total().New, a.ID)
		assert.Equal(t, sortBytes(sent), sortBytes(stored(t, storeURL, a.ID)), "%s: every message stored once", a.ID)
	}
	mu.Lock()
	assert.Equal(t, []string{"cb-alice", "cb-dave-bearer"}, calls, "the callback is asked once per login, with the account it logs in")
	calls = nil
	mu.Unlock()
	var mechs []string
	for _, c := range srv.Commands() {
		if strings.HasPrefix(strings.ToUpper(c), "AUTH ") {
			mechs = append(mechs, strings.Fields(c)[1])
		}
	}
	assert.ElementsMatch(t, []string{"XOAUTH2", "OAUTHBEARER", "XOAUTH2", "XOAUTH2"}, mechs, "one OAuth2 login per account")

	// Rotation: the provider issues new tokens; each source is asked
	// again at the next sync, nothing is cached between syncs.
	rotated := map[string]string{"alice": tokAlice + "-r", "bob": tokBob + "-r", "carol": tokCarol + "-r", "dave": tokDave + "-r"}
	srv2, _ := tokenServer(t, rotated, 3)
	mu.Lock()
	cbTokens["cb-alice"], cbTokens["cb-dave-bearer"] = rotated["alice"], rotated["dave"]
	mu.Unlock()
	t.Setenv("FLEET_TEST_BOB_TOKEN", rotated["bob"])
	require.NoError(t, os.WriteFile(tokFile, []byte(rotated["carol"]+"\n"), 0o600))
	for _, a := range accounts {
		user := map[string]string{"cb-alice": "alice", "cb-dave-bearer": "dave", "env-bob": "bob", "cmd-carol": "carol"}[a.ID]
		a.URL = tokenURL(srv2, user, map[string]string{"cb-dave-bearer": "oauthbearer"}[a.ID])
		require.NoError(t, f.Add(ctx, a))
		_, err := f.SyncAccount(ctx, a.ID)
		require.NoError(t, err, "%s with its rotated token", a.ID)
	}

	for _, tok := range []string{tokAlice, tokBob, tokCarol, tokDave, rotated["alice"], rotated["bob"], rotated["carol"], rotated["dave"]} {
		assert.NotContains(t, logs.String(), tok, "a token in the logs")
	}
}

// TestFailingTokenSource: a token source that fails (the callback
// returns an error, the variable is empty, the command exits non-zero, a
// token the server refuses) fails that account only, with an error that
// names the account and never the token, recorded in the registry; the
// other accounts of the fleet sync. Neither the errors, the registry, nor
// the logs show a token.
func TestFailingTokenSource(t *testing.T) {
	const (
		tokGood  = "ya29.good-token-9876"
		tokStale = "ya29.stale-token-5432" // refused by the server
		tokCmd   = "ya29.cmd-token-1357"   // printed by a failing command
	)
	srv, sent := tokenServer(t, map[string]string{"good": tokGood, "stale": tokGood + "-not-this-one"}, 4)
	t.Setenv("FLEET_TEST_EMPTY_TOKEN", "")
	// A token command that prints a token on both outputs, then fails.
	script := filepath.Join(t.TempDir(), "token.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho "+tokCmd+"\necho "+tokCmd+" >&2\nexit 3\n"), 0o700))
	storeURL := "file://" + t.TempDir()
	var logs syncBuffer
	f := newFleet(t, testdb.SQLite(t), storeURL, &fleet.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Token: func(_ context.Context, a fleet.Account) (string, error) {
			switch a.ID {
			case "cb-good":
				return tokGood, nil
			case "cb-stale":
				return tokStale, nil
			}
			return "", errors.New("vault: token endpoint unreachable")
		},
	})
	ctx := context.Background()
	accounts := []fleet.Account{
		{ID: "cb-good", URL: tokenURL(srv, "good", ""), Credential: "callback"},
		{ID: "cb-vault-down", URL: tokenURL(srv, "good", ""), Credential: "callback"},
		{ID: "cb-stale", URL: tokenURL(srv, "stale", ""), Credential: "callback"},
		{ID: "env-empty", URL: tokenURL(srv, "good", ""), Credential: "token-env:FLEET_TEST_EMPTY_TOKEN"},
		{ID: "cmd-fails", URL: tokenURL(srv, "good", ""), Credential: "token-cmd:" + script},
	}
	for _, a := range accounts {
		require.NoError(t, f.Add(ctx, a))
	}
	secrets := []string{tokGood, tokStale, tokCmd}
	for _, a := range accounts {
		_, err := f.SyncAccount(ctx, a.ID)
		if a.ID == "cb-good" {
			require.NoError(t, err)
			continue
		}
		require.Error(t, err, a.ID)
		assert.Contains(t, err.Error(), fmt.Sprintf("%q", a.ID), "the error names the account")
		st, gerr := f.Get(ctx, a.ID)
		require.NoError(t, gerr)
		assert.Equal(t, int64(1), st.Failures, a.ID)
		assert.Equal(t, strings.TrimPrefix(err.Error(), fmt.Sprintf("fleet: account %q: ", a.ID)), st.LastError,
			"the registry records why, in the account's own row")
		assert.Empty(t, stored(t, storeURL, a.ID), a.ID)
		for _, s := range secrets {
			secrettest.NoSecret(t, err, s)
			secrettest.NoSecret(t, st, s)
		}
		t.Logf("%s: %v", a.ID, err)
	}
	// What each failure says.
	_, err := f.SyncAccount(ctx, "cb-vault-down")
	assert.Contains(t, err.Error(), "vault: token endpoint unreachable", "the callback's own error is kept")
	_, err = f.SyncAccount(ctx, "cb-stale")
	assert.ErrorIs(t, err, mailaccess.ErrAuth, "a refused token is an authentication failure")
	_, err = f.SyncAccount(ctx, "env-empty")
	assert.ErrorIs(t, err, mailaccess.ErrAuth)
	assert.Contains(t, err.Error(), "FLEET_TEST_EMPTY_TOKEN")
	_, err = f.SyncAccount(ctx, "cmd-fails")
	assert.Contains(t, err.Error(), "credential command failed")

	assert.Equal(t, sortBytes(sent), sortBytes(stored(t, storeURL, "cb-good")), "the other accounts sync")
	list, err := f.List(ctx)
	require.NoError(t, err)
	for _, s := range secrets {
		secrettest.NoSecret(t, list, s)
		assert.NotContains(t, logs.String(), s, "a token in the logs")
	}
}
