// Package testdb gives the fleet module's tests their databases: a SQLite
// file in a temporary directory always, and PostgreSQL when
// MAILFLEET_TEST_POSTGRES holds its URL (.ci/postgres prints one), each
// test in a schema of its own. Under CI=true a missing PostgreSQL fails
// the test instead of skipping it.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"
)

// EnvPostgres names the environment variable holding the PostgreSQL URL.
const EnvPostgres = "MAILFLEET_TEST_POSTGRES"

// DB is a test database: Name for subtests, DSN for sqlstate.OpenDB.
type DB struct {
	Name string
	DSN  string
}

// SQLite returns a fresh SQLite database file for t.
func SQLite(t testing.TB) DB {
	return DB{Name: "sqlite", DSN: "sqlite:" + filepath.Join(t.TempDir(), "fleet.db")}
}

// Postgres returns a fresh schema on the test PostgreSQL, dropped at the
// end of t. Without MAILFLEET_TEST_POSTGRES it skips t, or fails it under
// CI=true.
func Postgres(t testing.TB) DB {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set under CI=true: .ci/run starts PostgreSQL and exports it", EnvPostgres)
		}
		t.Skipf("PostgreSQL tests need %s (run .ci/postgres to start one)", EnvPostgres)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("testdb: open %s: %v", EnvPostgres, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("testdb: create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testdb: %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return DB{Name: "postgres", DSN: u.String()}
}

// Each runs f as a subtest on SQLite and on PostgreSQL (skipped, or failed
// under CI=true, when PostgreSQL is not available).
func Each(t *testing.T, f func(t *testing.T, db DB)) {
	t.Run("sqlite", func(t *testing.T) { f(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, Postgres(t)) })
}
