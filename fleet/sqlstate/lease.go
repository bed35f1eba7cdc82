package sqlstate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

// LeaseOptions configure [Store.Acquire]; nil means the defaults.
type LeaseOptions struct {
	// Holder names the worker in the lease row and in errors (default
	// "HOSTNAME:PID").
	Holder string
	// TTL is how long the lease lasts without renewal (default 1 min,
	// at least 100 ms). A dead worker's account is taken over after it.
	TTL time.Duration
	// RenewEvery is how often the lease is renewed in the background
	// (default TTL/3). A negative value disables background renewal: the
	// caller renews with [Lease.Renew] (tests).
	RenewEvery time.Duration
}

// DefaultTTL is the lease TTL when LeaseOptions.TTL is zero.
const DefaultTTL = time.Minute

// Lease is a held lease on one name (an account) with its fencing token.
// Its methods are safe for concurrent use.
type Lease struct {
	s      *Store
	name   string
	holder string
	token  int64
	ttl    time.Duration

	mu       sync.Mutex
	expires  int64     // database time (µs) of the expiry set last
	deadline time.Time // local time by which the lease is surely valid
	lost     error     // why the lease ended; nil while held
	done     chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
}

func defaultHolder() string {
	h, _ := os.Hostname()
	return h + ":" + strconv.Itoa(os.Getpid())
}

// Acquire takes the lease called name (an account ID) if it is free or
// expired, with a new fencing token, and renews it in the background
// until Release. If another holder's lease has not expired it fails with
// an error matching [ErrLeaseHeld] that names the holder.
func (s *Store) Acquire(ctx context.Context, name string, opts *LeaseOptions) (*Lease, error) {
	var o LeaseOptions
	if opts != nil {
		o = *opts
	}
	if name == "" {
		return nil, fmt.Errorf("sqlstate: acquire: empty lease name: %w", mailaccess.ErrInvalid)
	}
	if o.Holder == "" {
		o.Holder = defaultHolder()
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.TTL < 100*time.Millisecond {
		return nil, fmt.Errorf("sqlstate: acquire %q: TTL %s is below 100ms: %w", name, o.TTL, mailaccess.ErrInvalid)
	}
	if o.RenewEvery == 0 {
		o.RenewEvery = o.TTL / 3
	}
	sent := time.Now()
	token, expires, err := s.acquire(ctx, name, o.Holder, o.TTL)
	if err != nil {
		return nil, err
	}
	l := &Lease{s: s, name: name, holder: o.Holder, token: token, ttl: o.TTL,
		expires: expires, deadline: sent.Add(o.TTL), done: make(chan struct{}), stop: make(chan struct{})}
	l.wg.Add(1)
	go l.keep(o.RenewEvery)
	return l, nil
}

func (s *Store) acquire(ctx context.Context, name, holder string, ttl time.Duration) (token, expires int64, err error) {
	fail := func(err error) (int64, int64, error) {
		return 0, 0, fmt.Errorf("sqlstate: acquire lease %q: %w", name, err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	now, err := s.clock(ctx, tx)
	if err != nil {
		return fail(err)
	}
	expires = now + ttl.Microseconds()
	// Insert a new row, or take over a row whose lease expired: either
	// way with the next token. A row held by someone else is untouched
	// and nothing is returned.
	err = tx.QueryRowContext(ctx, s.q(`INSERT INTO `+s.t.lease+` (name, holder, token, expires_us) VALUES (?, ?, 1, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = `+s.t.lease+`.token + 1, expires_us = excluded.expires_us
		WHERE `+s.t.lease+`.expires_us <= ?
		RETURNING token`), name, holder, expires, now).Scan(&token)
	if errors.Is(err, sql.ErrNoRows) {
		var other string
		var until int64
		if err := tx.QueryRowContext(ctx, s.q("SELECT holder, expires_us FROM "+s.t.lease+" WHERE name = ?"), name).Scan(&other, &until); err != nil {
			return fail(fmt.Errorf("%w (holder unknown: %v)", ErrLeaseHeld, err))
		}
		return fail(fmt.Errorf("%w: %s holds it for %s more", ErrLeaseHeld, other, time.Duration(until-now)*time.Microsecond))
	}
	if err != nil {
		return fail(err)
	}
	if s.history {
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO "+s.t.log+" (name, token, holder, acquired_us, expires_us) VALUES (?, ?, ?, ?, ?)"),
			name, token, holder, now, expires); err != nil {
			return fail(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return token, expires, nil
}

// Name returns the lease's name.
func (l *Lease) Name() string { return l.name }

// Holder returns the holder named in the lease row.
func (l *Lease) Holder() string { return l.holder }

// Token returns the fencing token: it grows by one with every Acquire of
// the name, so a higher token is always the newer holder.
func (l *Lease) Token() int64 { return l.token }

// Expires returns the expiry set by the last successful renewal, by the
// database's clock.
func (l *Lease) Expires() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.UnixMicro(l.expires)
}

// Done returns a channel closed when the lease ends: lost, or released.
func (l *Lease) Done() <-chan struct{} { return l.done }

// Err returns nil while the lease is held, [ErrLeaseLost] (wrapped with
// the reason) once it was lost, or an error saying it was released.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// errReleased is the Err of a released lease.
var errReleased = errors.New("sqlstate: lease released")

// Context returns a context derived from parent that is cancelled, with
// the lease's Err as its cause, when the lease ends. Run the sync under
// it, so that a worker that lost its lease stops.
func (l *Lease) Context(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		select {
		case <-l.done:
			cancel(l.Err())
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// end records why the lease ended, once.
func (l *Lease) end(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return
	}
	l.lost = err
	close(l.done)
}

// keep renews the lease every interval until it ends. Renewals that fail
// for a reason other than a takeover are retried; once the local
// deadline (the send time of the last successful renewal plus the TTL)
// passes, the lease may have expired in the database: it is lost.
func (l *Lease) keep(every time.Duration) {
	defer l.wg.Done()
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		l.mu.Lock()
		wait := time.Until(l.deadline)
		l.mu.Unlock()
		deadline := time.NewTimer(wait)
		select {
		case <-l.stop:
			deadline.Stop()
			return
		case <-l.done:
			deadline.Stop()
			return
		case <-deadline.C:
			l.mu.Lock()
			passed := !time.Now().Before(l.deadline)
			l.mu.Unlock()
			if passed {
				l.end(fmt.Errorf("%w: no successful renewal of %q within its TTL %s", ErrLeaseLost, l.name, l.ttl))
				return
			}
		case <-tick:
			deadline.Stop()
			ctx, cancel := context.WithTimeout(context.Background(), max(wait, time.Millisecond))
			err := l.Renew(ctx)
			cancel()
			if err != nil && !errors.Is(err, ErrLeaseLost) {
				l.s.log.Warn("sqlstate: lease renewal failed; retrying", "lease", l.name, "err", err)
			}
		}
	}
}

// Renew extends the lease by its TTL from now. It fails with
// [ErrLeaseLost] (and the lease ends) if the lease expired or was taken
// over; other errors (a database that cannot be reached) leave the lease
// to its current expiry.
func (l *Lease) Renew(ctx context.Context) error {
	if err := l.Err(); err != nil {
		return err
	}
	sent := time.Now()
	tx, err := l.s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstate: renew lease %q: %w", l.name, err)
	}
	defer tx.Rollback()
	now, err := l.s.clock(ctx, tx)
	if err != nil {
		return fmt.Errorf("sqlstate: renew lease %q: %w", l.name, err)
	}
	expires := now + l.ttl.Microseconds()
	res, err := tx.ExecContext(ctx, l.s.q("UPDATE "+l.s.t.lease+" SET expires_us = ? WHERE name = ? AND token = ? AND expires_us > ?"),
		expires, l.name, l.token, now)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err == nil && n == 1 && l.s.history {
		_, err = tx.ExecContext(ctx, l.s.q("UPDATE "+l.s.t.log+" SET expires_us = ? WHERE name = ? AND token = ?"), expires, l.name, l.token)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("sqlstate: renew lease %q: %w", l.name, err)
	}
	if n != 1 {
		lost := fmt.Errorf("%w: %q (token %d) expired or was taken over before renewal", ErrLeaseLost, l.name, l.token)
		l.end(lost)
		return lost
	}
	l.mu.Lock()
	l.expires, l.deadline = expires, sent.Add(l.ttl)
	l.mu.Unlock()
	return nil
}

// Check verifies, in the database, that the lease is still held with its
// token and has not expired. Call it right before an action that must
// not happen without the lease (a delete on the mail server).
func (l *Lease) Check(ctx context.Context) error {
	if err := l.Err(); err != nil {
		return err
	}
	var token, expires int64
	var now int64
	err := l.s.db.QueryRowContext(ctx, l.s.q("SELECT token, expires_us, "+l.s.nowOrParam()+" FROM "+l.s.t.lease+" WHERE name = ?"),
		l.s.nowArgs(l.name)...).Scan(&token, &expires, &now)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
		token = 0
	}
	if err != nil {
		return fmt.Errorf("sqlstate: check lease %q: %w", l.name, err)
	}
	if token != l.token || expires <= now {
		lost := fmt.Errorf("%w: %q (token %d) is no longer held", ErrLeaseLost, l.name, l.token)
		l.end(lost)
		return lost
	}
	return nil
}

// nowOrParam and nowArgs read the clock inside a SELECT: the database's,
// or Options.Now as a parameter placed first.
func (s *Store) nowOrParam() string {
	if s.now != nil {
		return "CAST(? AS BIGINT)"
	}
	return s.nowExpr()
}

func (s *Store) nowArgs(args ...any) []any {
	if s.now != nil {
		return append([]any{s.now().UnixMicro()}, args...)
	}
	return args
}

// Release gives the lease back (it can be taken at once) and stops its
// renewal. It is idempotent; releasing a lease that was lost does
// nothing in the database.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	lost := l.lost
	l.mu.Unlock()
	l.wg.Wait()
	if lost != nil {
		return nil
	}
	l.end(errReleased)
	tx, err := l.s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstate: release lease %q: %w", l.name, err)
	}
	defer tx.Rollback()
	now, err := l.s.clock(ctx, tx)
	if err == nil {
		_, err = tx.ExecContext(ctx, l.s.q("UPDATE "+l.s.t.lease+" SET expires_us = ? WHERE name = ? AND token = ? AND expires_us > ?"), now, l.name, l.token, now)
	}
	if err == nil && l.s.history {
		_, err = tx.ExecContext(ctx, l.s.q("UPDATE "+l.s.t.log+" SET released_us = ? WHERE name = ? AND token = ?"), now, l.name, l.token)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("sqlstate: release lease %q: %w", l.name, err)
	}
	return nil
}

// State returns the lease's fenced [mailsync.StateStore]: its records
// live in the scope of the lease's name; Save commits only while the
// lease is held with this token (else it fails with [ErrLeaseLost]);
// Lock succeeds while the lease is held. It is a [mailsync.StateFencer]:
// the sync engine checks the lease in the database (Check) right before
// every delete it sends to the mail server and every commit of deferred
// deletions, so a worker that lost its lease between its last state
// commit and a delete deletes nothing.
func (l *Lease) State() mailsync.StateStore { return fenced{l} }

type fenced struct{ l *Lease }

var _ mailsync.StateFencer = fenced{}

// Fence checks that the lease is still held with its token (Check).
func (f fenced) Fence(ctx context.Context) error { return f.l.Check(ctx) }

// Lock checks that the lease is held; the lease is the lock.
func (f fenced) Lock(ctx context.Context) (func() error, error) {
	if err := f.l.Check(ctx); err != nil {
		return nil, err
	}
	return func() error { return nil }, nil
}

// Load reads the record of key in the lease's scope.
func (f fenced) Load(ctx context.Context, key string) ([]byte, error) {
	return f.l.s.Load(ctx, f.l.name, key)
}

// Save writes the record of key if, in the same transaction, the lease
// row still holds this token and has not expired; the lease row stays
// locked until the commit, so a takeover waits for it and then sees it.
func (f fenced) Save(ctx context.Context, key string, data []byte) error {
	return f.l.save(ctx, key, data)
}

func (l *Lease) save(ctx context.Context, key string, data []byte) error {
	if err := l.Err(); err != nil {
		return fmt.Errorf("sqlstate: save state of %q: %w", l.name, err)
	}
	s := l.s
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstate: save state of %q: %w", l.name, err)
	}
	defer tx.Rollback()
	var token, expires, now int64
	err = tx.QueryRowContext(ctx, s.q("SELECT token, expires_us, "+s.nowOrParam()+" FROM "+s.t.lease+" WHERE name = ?"+s.forShare()),
		s.nowArgs(l.name)...).Scan(&token, &expires, &now)
	if errors.Is(err, sql.ErrNoRows) {
		err, token = nil, 0
	}
	if err != nil {
		return fmt.Errorf("sqlstate: save state of %q: %w", l.name, err)
	}
	if token != l.token || expires <= now {
		lost := fmt.Errorf("%w: %q (token %d) is no longer held; state not saved", ErrLeaseLost, l.name, l.token)
		l.end(lost)
		return fmt.Errorf("sqlstate: save state: %w", lost)
	}
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO `+s.t.state+` (scope, key, data, token, saved_us) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (scope, key) DO UPDATE SET data = excluded.data, token = excluded.token, saved_us = excluded.saved_us
		WHERE `+s.t.state+`.token <= excluded.token`), l.name, key, data, l.token, now)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: a newer token wrote the record", ErrLeaseLost)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("sqlstate: save state of %q: %w", l.name, err)
	}
	return nil
}
