package fleet

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

// Account is one mailbox the fleet syncs, as kept in the registry. It
// holds no secret: Credential says where the secret comes from.
type Account struct {
	// ID names the account: 1 to 100 letters, digits, '.', '_' or '-'.
	// It is the lease name, the state scope and the destination prefix.
	ID string `json:"id"`
	// URL is the source, in mailaccess.ParseURL's form, without a
	// password ("imaps://me@imap.example.com", "pop3s://me@pop.example.com").
	URL string `json:"url"`
	// Credential says where the secret comes from, resolved at every
	// sync and never stored: "env:VAR" (password from the environment),
	// "token-env:VAR" (OAuth2 access token from the environment),
	// "cmd:COMMAND" (password printed by a command), "token-cmd:COMMAND"
	// (OAuth2 token printed by a command, run at each authentication),
	// "callback" (Options.Credentials or Options.Token of the program),
	// or "" (none).
	Credential string `json:"credential,omitempty"`
	// Folders to sync (patterns as mailsync.Options.Folders); empty means
	// INBOX.
	Folders []string `json:"folders,omitempty"`
	// Retention is the POP3 retention policy ("never", "after-download",
	// "after=720h"); empty means never.
	Retention string `json:"retention,omitempty"`
	// Interval is how often the account is synced (default 5 min).
	Interval time.Duration `json:"interval,omitempty"`
	// Disabled accounts are kept but not synced.
	Disabled bool `json:"disabled,omitempty"`
}

// DefaultInterval is the sync interval of an account that sets none.
const DefaultInterval = 5 * time.Minute

var validID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

// check validates a and returns the source Config it describes; its
// errors name the account.
func (a *Account) check() (mailaccess.Config, error) {
	cfg, err := a.config()
	if err != nil {
		return cfg, fmt.Errorf("fleet: account %q: %w", a.ID, err)
	}
	return cfg, nil
}

// config validates a and returns the source Config it describes; its
// errors do not name the account (the caller does).
func (a *Account) config() (mailaccess.Config, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), mailaccess.ErrInvalid)
	}
	if !validID.MatchString(a.ID) || a.ID == "." || a.ID == ".." {
		return mailaccess.Config{}, bad("ID must be 1 to 100 letters, digits, '.', '_' or '-'")
	}
	cfg, err := mailaccess.ParseURL(a.URL)
	if err != nil {
		return mailaccess.Config{}, err
	}
	if cfg.Password != "" {
		return mailaccess.Config{}, bad("the URL holds a password; the registry stores no secret: give it through the credential (env:VAR, cmd:COMMAND or callback)")
	}
	if _, err := mailsync.ParseRetention(a.Retention); err != nil {
		return mailaccess.Config{}, err
	}
	if a.Interval < 0 {
		return mailaccess.Config{}, bad("negative interval %s", a.Interval)
	}
	kind, _, _ := strings.Cut(a.Credential, ":")
	switch kind {
	case "", "callback":
	case "env", "token-env", "cmd", "token-cmd":
		if !strings.Contains(a.Credential, ":") || strings.TrimSpace(a.Credential[len(kind)+1:]) == "" {
			return mailaccess.Config{}, bad("credential %q names nothing after %q", kind, kind+":")
		}
	default:
		return mailaccess.Config{}, bad("credential must be env:VAR, token-env:VAR, cmd:COMMAND, token-cmd:COMMAND, callback or empty")
	}
	return cfg, nil
}

// Status is an account with what the fleet knows of its syncs.
type Status struct {
	Account
	// Host is the source's server (per-host concurrency caps apply to it).
	Host string `json:"host"`
	// NextDue is when the account is due for its next sync.
	NextDue time.Time `json:"next_due"`
	// LastStart, LastSuccess and LastErrorAt are the times of the last
	// sync started, the last that ended without error, and the last that
	// failed (LastError says why).
	LastStart   time.Time `json:"last_start,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Messages and Bytes stored in all syncs so far.
	Messages int64 `json:"messages"`
	Bytes    int64 `json:"bytes"`
	// Backlog is how many messages the last sync found to store and left
	// for the next (a sync cut by MaxSyncTime, or failed messages).
	Backlog int64 `json:"backlog"`
	// Syncs and Failures count the syncs run and those that failed.
	Syncs    int64 `json:"syncs"`
	Failures int64 `json:"failures"`
	// Holder is the worker syncing it now ("" when none).
	Holder string `json:"holder,omitempty"`
}

func (f *Fleet) table() string { return f.prefix + "account" }

func (f *Fleet) migrate(ctx context.Context) error {
	_, err := f.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+f.table()+` (
		id TEXT PRIMARY KEY,
		url TEXT NOT NULL,
		credential TEXT NOT NULL,
		folders TEXT NOT NULL,
		retention TEXT NOT NULL,
		interval_us BIGINT NOT NULL,
		host TEXT NOT NULL,
		disabled INTEGER NOT NULL DEFAULT 0,
		next_due_us BIGINT NOT NULL,
		enqueued_us BIGINT NOT NULL DEFAULT 0,
		last_start_us BIGINT NOT NULL DEFAULT 0,
		last_success_us BIGINT NOT NULL DEFAULT 0,
		last_error_us BIGINT NOT NULL DEFAULT 0,
		last_error TEXT NOT NULL DEFAULT '',
		messages BIGINT NOT NULL DEFAULT 0,
		bytes BIGINT NOT NULL DEFAULT 0,
		backlog BIGINT NOT NULL DEFAULT 0,
		syncs BIGINT NOT NULL DEFAULT 0,
		failures BIGINT NOT NULL DEFAULT 0)`)
	if err != nil {
		return fmt.Errorf("fleet: create the account table: %w", err)
	}
	return nil
}

// Add registers an account, or replaces the settings of one with the same
// ID (its history is kept). It is due at once.
func (f *Fleet) Add(ctx context.Context, a Account) error {
	cfg, err := a.check()
	if err != nil {
		return err
	}
	folders, _ := json.Marshal(a.Folders)
	now, err := f.st.Now(ctx)
	if err != nil {
		return err
	}
	_, err = f.db.ExecContext(ctx, f.st.Rebind(`INSERT INTO `+f.table()+` (id, url, credential, folders, retention, interval_us, host, disabled, next_due_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET url = excluded.url, credential = excluded.credential, folders = excluded.folders,
			retention = excluded.retention, interval_us = excluded.interval_us, host = excluded.host, disabled = excluded.disabled,
			next_due_us = excluded.next_due_us`),
		a.ID, a.URL, a.Credential, string(folders), a.Retention, int64(a.Interval/time.Microsecond), strings.ToLower(cfg.Host), boolInt(a.Disabled), now.UnixMicro())
	if err != nil {
		return fmt.Errorf("fleet: add account %q: %w", a.ID, err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ErrNoAccount: the registry has no account with that ID.
var ErrNoAccount = fmt.Errorf("fleet: no such account: %w", mailaccess.ErrNotFound)

// Remove unregisters an account and deletes its sync state (not the mail
// stored for it). It fails while a worker syncs it (sqlstate.ErrLeaseHeld).
func (f *Fleet) Remove(ctx context.Context, id string) error {
	if err := f.st.DeleteScope(ctx, leaseName(id)); err != nil {
		return fmt.Errorf("fleet: remove %q: %w", id, err)
	}
	res, err := f.db.ExecContext(ctx, f.st.Rebind("DELETE FROM "+f.table()+" WHERE id = ?"), id)
	if err != nil {
		return fmt.Errorf("fleet: remove %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %q", ErrNoAccount, id)
	}
	return nil
}

const statusColumns = `id, url, credential, folders, retention, interval_us, host, disabled, next_due_us, last_start_us,
	last_success_us, last_error_us, last_error, messages, bytes, backlog, syncs, failures`

func scanStatus(sc interface{ Scan(...any) error }) (Status, error) {
	var s Status
	var folders string
	var interval, due, start, succ, errAt int64
	var disabled int
	err := sc.Scan(&s.ID, &s.URL, &s.Credential, &folders, &s.Retention, &interval, &s.Host, &disabled, &due, &start,
		&succ, &errAt, &s.LastError, &s.Messages, &s.Bytes, &s.Backlog, &s.Syncs, &s.Failures)
	if err != nil {
		return s, err
	}
	if folders != "" && folders != "null" {
		if err := json.Unmarshal([]byte(folders), &s.Folders); err != nil {
			return s, fmt.Errorf("fleet: account %q has corrupt folders %q: %w", s.ID, folders, err)
		}
	}
	s.Interval, s.Disabled = time.Duration(interval)*time.Microsecond, disabled != 0
	s.NextDue = time.UnixMicro(due)
	s.LastStart, s.LastSuccess, s.LastErrorAt = usTime(start), usTime(succ), usTime(errAt)
	return s, nil
}

func usTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us)
}

// Get returns one account's status.
func (f *Fleet) Get(ctx context.Context, id string) (Status, error) {
	s, err := scanStatus(f.db.QueryRowContext(ctx, f.st.Rebind("SELECT "+statusColumns+" FROM "+f.table()+" WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("%w: %q", ErrNoAccount, id)
	}
	if err != nil {
		return s, fmt.Errorf("fleet: account %q: %w", id, err)
	}
	if ls, err := f.st.Leases(ctx, leaseName(id)); err == nil {
		for _, l := range ls {
			if l.Name == leaseName(id) && l.Held {
				s.Holder = l.Holder
			}
		}
	}
	return s, nil
}

// List returns every account's status, ordered by ID.
func (f *Fleet) List(ctx context.Context) ([]Status, error) {
	rows, err := f.db.QueryContext(ctx, "SELECT "+statusColumns+" FROM "+f.table()+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("fleet: list accounts: %w", err)
	}
	defer rows.Close()
	var out []Status
	for rows.Next() {
		s, err := scanStatus(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	leases, err := f.st.Leases(ctx, "acct:")
	if err != nil {
		return nil, err
	}
	held := map[string]string{}
	for _, l := range leases {
		if l.Held {
			held[l.Name] = l.Holder
		}
	}
	for i := range out {
		out[i].Holder = held[leaseName(out[i].ID)]
	}
	return out, nil
}

// due returns the IDs of the enabled accounts whose next sync is due and
// that were not enqueued since they fell due (or were enqueued so long
// ago that the job must have been lost).
func (f *Fleet) due(ctx context.Context, limit int) ([]string, error) {
	now, err := f.st.Now(ctx)
	if err != nil {
		return nil, err
	}
	stale := now.Add(-(f.o.MaxSyncTime + 4*f.o.LeaseTTL)).UnixMicro()
	rows, err := f.db.QueryContext(ctx, f.st.Rebind("SELECT id FROM "+f.table()+
		" WHERE disabled = 0 AND next_due_us <= ? AND (enqueued_us < next_due_us OR enqueued_us < ?) ORDER BY next_due_us LIMIT ?"),
		now.UnixMicro(), stale, limit)
	if err != nil {
		return nil, fmt.Errorf("fleet: due accounts: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// markEnqueued records that sync jobs of ids were inserted now.
func (f *Fleet) markEnqueued(ctx context.Context, ids []string) error {
	now, err := f.st.Now(ctx)
	if err != nil {
		return err
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, now.UnixMicro())
	marks := make([]string, len(ids))
	for i, id := range ids {
		marks[i] = "?"
		args = append(args, id)
	}
	_, err = f.db.ExecContext(ctx, f.st.Rebind("UPDATE "+f.table()+" SET enqueued_us = ? WHERE id IN ("+strings.Join(marks, ",")+")"), args...)
	if err != nil {
		return fmt.Errorf("fleet: mark enqueued: %w", err)
	}
	return nil
}

// lagStats returns how many enabled accounts are overdue and by how much
// the most overdue one is late.
func (f *Fleet) lagStats(ctx context.Context) (overdue int64, oldest time.Duration, err error) {
	now, err := f.st.Now(ctx)
	if err != nil {
		return 0, 0, err
	}
	var minDue sql.NullInt64
	err = f.db.QueryRowContext(ctx, f.st.Rebind("SELECT COUNT(*), MIN(next_due_us) FROM "+f.table()+" WHERE disabled = 0 AND next_due_us <= ?"), now.UnixMicro()).Scan(&overdue, &minDue)
	if err != nil {
		return 0, 0, fmt.Errorf("fleet: lag: %w", err)
	}
	if minDue.Valid {
		oldest = now.Sub(time.UnixMicro(minDue.Int64))
	}
	return overdue, oldest, nil
}

// recordStart notes that a sync of id started and returns how late it is.
func (f *Fleet) recordStart(ctx context.Context, id string) (time.Duration, error) {
	now, err := f.st.Now(ctx)
	if err != nil {
		return 0, err
	}
	var due int64
	err = f.db.QueryRowContext(ctx, f.st.Rebind("SELECT next_due_us FROM "+f.table()+" WHERE id = ?"), id).Scan(&due)
	if err != nil {
		return 0, err
	}
	_, err = f.db.ExecContext(ctx, f.st.Rebind("UPDATE "+f.table()+" SET last_start_us = ? WHERE id = ?"), now.UnixMicro(), id)
	return max(now.Sub(time.UnixMicro(due)), 0), err
}

// recordEnd stores the outcome of a sync: next due after the interval
// (at once when work is left), totals, the error if any.
func (f *Fleet) recordEnd(ctx context.Context, st Status, rep *mailaccess.SyncReport, backlog int64, runErr error) error {
	now, err := f.st.Now(ctx)
	if err != nil {
		return err
	}
	interval := st.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	next := now.Add(interval)
	if backlog > 0 && runErr == nil {
		next = now // cut by MaxSyncTime: go on soon
	}
	var msgs, bytes int64
	if rep != nil {
		t := rep.Total()
		msgs, bytes = int64(t.New), t.Bytes
	}
	q := "UPDATE " + f.table() + " SET next_due_us = ?, messages = messages + ?, bytes = bytes + ?, backlog = ?, syncs = syncs + 1, "
	args := []any{next.UnixMicro(), msgs, bytes, backlog}
	if runErr != nil {
		// Retries come from the job engine with backoff; the account is
		// due again after its interval at the latest.
		q += "failures = failures + 1, last_error_us = ?, last_error = ? WHERE id = ?"
		args = append(args, now.UnixMicro(), truncate(runErr.Error(), 2000), st.ID)
	} else {
		q += "last_success_us = ?, last_error = '' WHERE id = ?"
		args = append(args, now.UnixMicro(), st.ID)
	}
	_, err = f.db.ExecContext(ctx, f.st.Rebind(q), args...)
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
