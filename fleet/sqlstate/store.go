package sqlstate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" database/sql driver
	_ "modernc.org/sqlite"             // "sqlite" database/sql driver, no cgo

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Dialect is the SQL database behind a [Store].
type Dialect int

// Dialects.
const (
	SQLite Dialect = iota + 1
	Postgres
)

// String returns "sqlite" or "postgres".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// Errors of leases. Both match [mailaccess.ErrLocked] too.
var (
	// ErrLeaseHeld: Acquire found the lease held by another holder whose
	// lease has not expired.
	ErrLeaseHeld = fmt.Errorf("lease held by another worker: %w", mailaccess.ErrLocked)
	// ErrLeaseLost: the lease expired or was taken over; the holder must
	// stop, and its Saves fail.
	ErrLeaseLost = fmt.Errorf("lease lost (expired or taken over by another worker): %w", mailaccess.ErrLocked)
)

// Options configure a [Store]; nil means the defaults.
type Options struct {
	// Dialect of the database (required unless the *sql.DB came from
	// [OpenDB] through [Open]).
	Dialect Dialect
	// TablePrefix prefixes the table names (default "mailaccess_"):
	// letters, digits and underscores only.
	TablePrefix string
	// History keeps a row per lease token in the lease_log table (holder,
	// acquired, last expiry, released). Off by default: it grows with
	// every sync.
	History bool
	// Now, if set, replaces the database's clock (tests). Every worker
	// sharing a database must then use the same clock.
	Now func() time.Time
	// Logger receives warnings (failed renewals); nil means silent.
	Logger *slog.Logger
}

// Store is a SQL database holding leases and sync state. It is safe for
// concurrent use.
type Store struct {
	db      *sql.DB
	dialect Dialect
	t       tables
	history bool
	now     func() time.Time
	log     *slog.Logger
}

type tables struct{ lease, state, log string }

var validPrefix = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// New returns a Store on db, creating its tables if they do not exist.
func New(ctx context.Context, db *sql.DB, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Dialect != SQLite && o.Dialect != Postgres {
		return nil, fmt.Errorf("sqlstate: Options.Dialect must be SQLite or Postgres: %w", mailaccess.ErrInvalid)
	}
	if o.TablePrefix == "" {
		o.TablePrefix = "mailaccess_"
	}
	if !validPrefix.MatchString(o.TablePrefix) {
		return nil, fmt.Errorf("sqlstate: table prefix %q: want letters, digits and underscores: %w", o.TablePrefix, mailaccess.ErrInvalid)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{db: db, dialect: o.Dialect, history: o.History, now: o.Now, log: o.Logger,
		t: tables{o.TablePrefix + "lease", o.TablePrefix + "state", o.TablePrefix + "lease_log"}}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// DB returns the database the Store uses.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect returns the Store's dialect.
func (s *Store) Dialect() Dialect { return s.dialect }

func (s *Store) migrate(ctx context.Context) error {
	blob := "BLOB"
	if s.dialect == Postgres {
		blob = "BYTEA"
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + s.t.lease + ` (
			name TEXT PRIMARY KEY,
			holder TEXT NOT NULL,
			token BIGINT NOT NULL,
			expires_us BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + s.t.state + ` (
			scope TEXT NOT NULL,
			key TEXT NOT NULL,
			data ` + blob + ` NOT NULL,
			token BIGINT NOT NULL,
			saved_us BIGINT NOT NULL,
			PRIMARY KEY (scope, key))`,
		`CREATE TABLE IF NOT EXISTS ` + s.t.log + ` (
			name TEXT NOT NULL,
			token BIGINT NOT NULL,
			holder TEXT NOT NULL,
			acquired_us BIGINT NOT NULL,
			expires_us BIGINT NOT NULL,
			released_us BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (name, token))`,
	}
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			if s.dialect == Postgres && isUniqueViolation(err) {
				continue // two processes created the table at once
			}
			return fmt.Errorf("sqlstate: create tables (%s): %w", s.dialect, err)
		}
	}
	return nil
}

// isUniqueViolation reports PostgreSQL's error for concurrent CREATE TABLE
// IF NOT EXISTS (a race on the catalog), which is harmless.
func isUniqueViolation(err error) bool {
	return strings.Contains(err.Error(), "SQLSTATE 23505") || strings.Contains(err.Error(), "pg_type_typname_nsp_index")
}

// q rewrites ? placeholders for the dialect ($1, $2... for PostgreSQL).
func (s *Store) q(query string) string {
	if s.dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// nowExpr is the database's clock in microseconds since 1970.
func (s *Store) nowExpr() string {
	if s.dialect == Postgres {
		return "CAST(EXTRACT(EPOCH FROM clock_timestamp())*1000000 AS BIGINT)"
	}
	return "CAST(unixepoch('subsec')*1000000 AS INTEGER)"
}

// queryer is a *sql.DB or *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// clock returns the current time in microseconds: Options.Now, else the
// database's clock read through q (inside the caller's transaction).
func (s *Store) clock(ctx context.Context, q queryer) (int64, error) {
	if s.now != nil {
		return s.now().UnixMicro(), nil
	}
	var now int64
	if err := q.QueryRowContext(ctx, "SELECT "+s.nowExpr()).Scan(&now); err != nil {
		return 0, fmt.Errorf("read the database clock: %w", err)
	}
	return now, nil
}

// forShare locks the selected lease row against a concurrent takeover
// until the transaction ends (SQLite transactions are serialised whole).
func (s *Store) forShare() string {
	if s.dialect == Postgres {
		return " FOR SHARE"
	}
	return ""
}

// Load returns the record saved under key in scope, without a lease: what
// an operator's status query reads. Nil and no error if there is none.
func (s *Store) Load(ctx context.Context, scope, key string) ([]byte, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx, s.q("SELECT data FROM "+s.t.state+" WHERE scope = ? AND key = ?"), scope, key).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstate: load state %q: %w", scope, err)
	}
	return data, nil
}

// Keys returns the keys saved in scope, sorted.
func (s *Store) Keys(ctx context.Context, scope string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT key FROM "+s.t.state+" WHERE scope = ? ORDER BY key"), scope)
	if err != nil {
		return nil, fmt.Errorf("sqlstate: list state of %q: %w", scope, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// DeleteScope removes every state record of scope and its lease (an
// account removed from a fleet). It fails with [ErrLeaseHeld] while a
// worker holds the lease.
func (s *Store) DeleteScope(ctx context.Context, scope string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstate: delete %q: %w", scope, err)
	}
	defer tx.Rollback()
	now, err := s.clock(ctx, tx)
	if err != nil {
		return fmt.Errorf("sqlstate: delete %q: %w", scope, err)
	}
	var held int
	err = tx.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM "+s.t.lease+" WHERE name = ? AND expires_us > ?"), scope, now).Scan(&held)
	if err == nil && held > 0 {
		return fmt.Errorf("sqlstate: delete %q: %w", scope, ErrLeaseHeld)
	}
	for _, q := range []string{"DELETE FROM " + s.t.state + " WHERE scope = ?", "DELETE FROM " + s.t.lease + " WHERE name = ?"} {
		if err == nil {
			_, err = tx.ExecContext(ctx, s.q(q), scope)
		}
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("sqlstate: delete %q: %w", scope, err)
	}
	return nil
}

// LeaseInfo describes a lease row, as [Store.Leases] reports it.
type LeaseInfo struct {
	Name    string
	Holder  string
	Token   int64
	Expires time.Time
	Held    bool // not expired at the time of the query
}

// Leases returns the lease rows whose names start with prefix.
func (s *Store) Leases(ctx context.Context, prefix string) ([]LeaseInfo, error) {
	now, err := s.clock(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("sqlstate: leases: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q("SELECT name, holder, token, expires_us FROM "+s.t.lease+" WHERE substr(name, 1, ?) = ? ORDER BY name"), len(prefix), prefix)
	if err != nil {
		return nil, fmt.Errorf("sqlstate: leases: %w", err)
	}
	defer rows.Close()
	var out []LeaseInfo
	for rows.Next() {
		var li LeaseInfo
		var exp int64
		if err := rows.Scan(&li.Name, &li.Holder, &li.Token, &exp); err != nil {
			return nil, err
		}
		li.Expires, li.Held = time.UnixMicro(exp), exp > now
		out = append(out, li)
	}
	return out, rows.Err()
}

// HistoryEntry is one token's tenure of a lease ([Options.History]).
// Times are the database's clock (or Options.Now).
type HistoryEntry struct {
	Name     string
	Token    int64
	Holder   string
	Acquired time.Time
	// Expires is the expiry set by the last successful renewal; Released
	// is when the holder gave the lease back (zero if it never did: it
	// died or lost the lease). The tenure ended at Released if set, else
	// at Expires.
	Expires, Released time.Time
}

// End is when the tenure ended: Released, or Expires when it was never
// released.
func (h HistoryEntry) End() time.Time {
	if !h.Released.IsZero() && h.Released.Before(h.Expires) {
		return h.Released
	}
	return h.Expires
}

// History returns the lease_log rows (Options.History), ordered by name
// and token.
func (s *Store) History(ctx context.Context) ([]HistoryEntry, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT name, token, holder, acquired_us, expires_us, released_us FROM "+s.t.log+" ORDER BY name, token")
	if err != nil {
		return nil, fmt.Errorf("sqlstate: history: %w", err)
	}
	defer rows.Close()
	var out []HistoryEntry
	for rows.Next() {
		var h HistoryEntry
		var acq, exp, rel int64
		if err := rows.Scan(&h.Name, &h.Token, &h.Holder, &acq, &exp, &rel); err != nil {
			return nil, err
		}
		h.Acquired, h.Expires = time.UnixMicro(acq), time.UnixMicro(exp)
		if rel != 0 {
			h.Released = time.UnixMicro(rel)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// OpenDB opens the database named by dsn and reports its dialect:
//
//   - "postgres://..." or "postgresql://..." opens PostgreSQL through
//     pgx's database/sql driver;
//   - "sqlite:PATH", "file:PATH" or a plain path opens a SQLite file
//     through modernc.org/sqlite (no cgo) in WAL mode, with a 10 s busy
//     timeout and immediate transactions, so several processes on one
//     machine can share it. ":memory:" is refused (a pool of connections
//     would see different databases).
func OpenDB(ctx context.Context, dsn string) (*sql.DB, Dialect, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, 0, fmt.Errorf("sqlstate: open postgres: %w", redactDSN(err, dsn))
		}
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, 0, fmt.Errorf("sqlstate: connect to postgres %s: %w", safeDSN(dsn), redactDSN(err, dsn))
		}
		return db, Postgres, nil
	}
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
	if path == "" || path == ":memory:" || strings.Contains(path, "mode=memory") {
		return nil, 0, fmt.Errorf("sqlstate: sqlite database %q: want a file path: %w", dsn, mailaccess.ErrInvalid)
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstate: open sqlite %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, 0, fmt.Errorf("sqlstate: open sqlite %s: %w", path, err)
	}
	return db, SQLite, nil
}

// safeDSN returns a database URL without its password.
func safeDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable database URL)"
	}
	return u.Redacted()
}

// redactDSN replaces the password of dsn in err's text, if the driver
// echoed it.
func redactDSN(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}

// Rebind rewrites the ? placeholders of query for the Store's dialect
// ($1, $2... for PostgreSQL), for programs that keep their own tables in
// the same database.
func (s *Store) Rebind(query string) string { return s.q(query) }

// Now returns the Store's clock: Options.Now, else the database's.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	us, err := s.clock(ctx, s.db)
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlstate: %w", err)
	}
	return time.UnixMicro(us), nil
}
