package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/fleet"
	"github.com/mailaccess/go-mailaccess/fleet/internal/testdb"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestDemoOnce runs the demo as "go run" with no flags would (plus -once
// and its own directory): every account is synced and listed.
func TestDemoOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, tdb testdb.DB) {
		dir := t.TempDir()
		out, errs, code := runCLI(t, "-db", tdb.DSN, "-store", "file://"+filepath.Join(dir, "mail"), "demo", "-once", "-messages", "20")
		require.Equal(t, 0, code, "stderr: %s", errs)
		assert.Contains(t, out, "ACCOUNT")
		for _, id := range []string{"imap-000", "imap-002", "pop3-000", "pop3-002"} {
			var line string
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, id+" ") {
					line = l
				}
			}
			require.NotEmpty(t, line, "account %s listed", id)
			assert.Contains(t, strings.Fields(line), "20", "20 messages stored for %s: %s", id, line)
		}
		// The registry outlives the process: list reads it.
		out, errs, code = runCLI(t, "-db", tdb.DSN, "-store", "file://"+filepath.Join(dir, "mail"), "list", "-json")
		require.Equal(t, 0, code, errs)
		var list []fleet.Status
		require.NoError(t, json.Unmarshal([]byte(out), &list))
		assert.Len(t, list, 6)
	})
}

func TestAddStatusRemove(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "f.db")
	store := "file://" + filepath.Join(dir, "mail")
	_, errs, code := runCLI(t, "-db", db, "-store", store, "add", "-id", "acme", "-url", "imaps://me:pw@imap.example.com")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "credential")
	assert.NotContains(t, errs, ":pw@")
	out, errs, code := runCLI(t, "-db", db, "-store", store, "add", "-id", "acme", "-url", "imaps://me@imap.example.com", "-credential", "env:ACME_PW", "-interval", "1h")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "added acme")
	out, _, code = runCLI(t, "-db", db, "-store", store, "status", "acme")
	require.Equal(t, 0, code)
	var st fleet.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.Equal(t, "env:ACME_PW", st.Credential)
	assert.Equal(t, time.Hour, st.Interval)
	_, _, code = runCLI(t, "-db", db, "-store", store, "remove", "acme")
	require.Equal(t, 0, code)
	_, errs, code = runCLI(t, "-db", db, "-store", store, "status", "acme")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "no such account")
	_, _, code = runCLI(t, "-db", db, "nonsense")
	assert.Equal(t, 2, code)
}
