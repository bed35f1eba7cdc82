package fleet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailaccess/go-mailaccess/fleet/blobstore"
	"github.com/mailaccess/go-mailaccess/fleet/sqlstate"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

// Options configure a [Fleet]; nil means the defaults.
type Options struct {
	// Store is where mail goes: a gocloud.dev/blob bucket URL
	// ("file:///var/mail/fleet", "s3://bucket?region=…", "mem://"),
	// each account under the prefix "ID/"; or "maildir:///path", one
	// Maildir per account in /path/ID. Ignored when Destination is set.
	Store string
	// Destination, if set, opens the destination of an account instead
	// of Store. It must return a Mailbox with keyed appends (blobstore,
	// maildir) for exactly-once storage across workers.
	Destination func(ctx context.Context, a Account) (mailaccess.Mailbox, error)
	// Credentials, if set, fills the secret of an account whose
	// Credential is "callback" (from a vault, a KMS...). Token, if set,
	// is the OAuth2 access-token callback of such accounts, called at
	// every authentication (and again after the server refused a token).
	Credentials func(ctx context.Context, a Account, cfg *mailaccess.Config) error
	Token       func(ctx context.Context, a Account) (string, error)
	// Configure, if set, adjusts each source Config before it is opened
	// (a CA pool, timeouts, a trace writer).
	Configure func(a Account, cfg *mailaccess.Config)

	// LeaseTTL is how long an account's lease lasts without renewal
	// (default 1 min): a dead worker's accounts are taken over after it.
	LeaseTTL time.Duration
	// MaxSyncTime bounds one sync of one account (default 10 min); a
	// longer sync commits what it stored and continues in the next job.
	MaxSyncTime time.Duration
	// HostLimit returns how many accounts of one server host the whole
	// fleet syncs at once (default 8); 0 or less means no limit.
	HostLimit func(host string) int
	// Holder names this worker in leases (default HOSTNAME:PID).
	Holder string
	// TablePrefix prefixes the fleet's tables (default "mailfleet_").
	TablePrefix string

	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
	// Registerer receives the Prometheus metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Hooks observe syncs (tests, progress displays).
	Hooks Hooks
}

// Hooks are called around each account sync; any may be nil. They must
// return quickly.
type Hooks struct {
	// SyncStart is called once the account's lease is held, before the
	// source is touched, with the lease's fencing token.
	SyncStart func(account string, token int64)
	// Progress is called as messages are stored.
	Progress func(account string, p mailsync.Progress)
	// SyncEnd is called after the sync, before the lease is released.
	SyncEnd func(account string, token int64, rep *mailaccess.SyncReport, err error)
}

// Fleet syncs many accounts: the registry, the state and leases in SQL,
// the mail in a destination store. [Fleet.SyncAccount] syncs one account;
// [Fleet.Run] works the accounts as jobs on River.
type Fleet struct {
	st     *sqlstate.Store
	db     *sql.DB
	o      Options
	prefix string
	log    *slog.Logger
	m      *metrics
}

// ErrBusy: the account is being synced by another worker, or its host is
// at its concurrency limit; try later. It matches mailaccess.ErrLocked.
var ErrBusy = fmt.Errorf("fleet: busy: %w", mailaccess.ErrLocked)

var validPrefix = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// New returns a Fleet on st's database, creating its table if missing.
func New(ctx context.Context, st *sqlstate.Store, opts *Options) (*Fleet, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Store == "" && o.Destination == nil {
		return nil, fmt.Errorf("fleet: Options.Store or Options.Destination is required: %w", mailaccess.ErrInvalid)
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = time.Minute
	}
	if o.MaxSyncTime == 0 {
		o.MaxSyncTime = 10 * time.Minute
	}
	if o.HostLimit == nil {
		o.HostLimit = func(string) int { return 8 }
	}
	if o.TablePrefix == "" {
		o.TablePrefix = "mailfleet_"
	}
	if !validPrefix.MatchString(o.TablePrefix) {
		return nil, fmt.Errorf("fleet: table prefix %q: %w", o.TablePrefix, mailaccess.ErrInvalid)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	f := &Fleet{st: st, db: st.DB(), o: o, prefix: o.TablePrefix, log: o.Logger, m: newMetrics(o.Registerer)}
	if err := f.migrate(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

// State returns the Fleet's state store.
func (f *Fleet) State() *sqlstate.Store { return f.st }

func leaseName(id string) string { return "acct:" + id }

// source returns the Config of a's source with its secret resolved.
func (f *Fleet) source(ctx context.Context, a Account) (mailaccess.Config, error) {
	cfg, err := a.config()
	if err != nil {
		return cfg, err
	}
	kind, arg, _ := strings.Cut(a.Credential, ":")
	switch kind {
	case "env":
		v := os.Getenv(arg)
		if v == "" {
			return cfg, fmt.Errorf("environment variable %s (its credential) is empty: %w", arg, mailaccess.ErrAuth)
		}
		cfg.Password = mailaccess.Secret(v)
	case "token-env":
		cfg.Token = func(context.Context) (string, error) {
			if v := os.Getenv(arg); v != "" {
				return v, nil
			}
			return "", fmt.Errorf("environment variable %s (its token) is empty: %w", arg, mailaccess.ErrAuth)
		}
	case "cmd":
		v, err := runCredential(ctx, arg)
		if err != nil {
			return cfg, err
		}
		cfg.Password = mailaccess.Secret(v)
	case "token-cmd":
		cfg.Token = func(ctx context.Context) (string, error) { return runCredential(ctx, arg) }
	case "callback":
		switch {
		case f.o.Token != nil:
			cfg.Token = func(ctx context.Context) (string, error) {
				tok, err := f.o.Token(ctx, a)
				if err != nil {
					return "", fmt.Errorf("token callback (Options.Token): %w", err)
				}
				return tok, nil
			}
		case f.o.Credentials != nil:
			if err := f.o.Credentials(ctx, a, &cfg); err != nil {
				return cfg, fmt.Errorf("credentials callback (Options.Credentials): %w", err)
			}
		default:
			return cfg, fmt.Errorf("credential is \"callback\" but the program sets neither Options.Credentials nor Options.Token: %w", mailaccess.ErrInvalid)
		}
	}
	if f.o.Configure != nil {
		f.o.Configure(a, &cfg)
	}
	return cfg, nil
}

// runCredential runs a credential command and returns its first output
// line. Its output never appears in errors.
func runCredential(ctx context.Context, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stderr = nil
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("credential command failed: %w", err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", fmt.Errorf("credential command printed nothing: %w", mailaccess.ErrAuth)
	}
	return line, nil
}

// destination opens a's destination.
func (f *Fleet) destination(ctx context.Context, a Account) (mailaccess.Mailbox, error) {
	if f.o.Destination != nil {
		return f.o.Destination(ctx, a)
	}
	if path, ok := strings.CutPrefix(f.o.Store, "maildir://"); ok {
		dir := filepath.Join(filepath.FromSlash(path), a.ID)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("destination: %w", err)
		}
		return maildir.Open(dir, nil)
	}
	return blobstore.Open(ctx, f.o.Store, &blobstore.Options{Prefix: a.ID + "/", Logger: f.log})
}

// hostSlot takes one of the host's concurrency slots (a lease per slot),
// or fails with ErrBusy.
func (f *Fleet) hostSlot(ctx context.Context, host string) (*sqlstate.Lease, error) {
	limit := f.o.HostLimit(host)
	if limit <= 0 || host == "" {
		return nil, nil
	}
	for i := range limit {
		l, err := f.st.Acquire(ctx, fmt.Sprintf("host:%s#%d", host, i), &sqlstate.LeaseOptions{Holder: f.o.Holder, TTL: f.o.LeaseTTL})
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, sqlstate.ErrLeaseHeld) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w: host %s has %d syncs running (its limit)", ErrBusy, host, limit)
}

// SyncAccount syncs one account now: it takes a slot of the account's
// host and the account's lease (or fails with [ErrBusy]), syncs it into
// its destination under the lease (the sync stops if the lease is lost),
// records the outcome in the registry, and releases both. A sync longer
// than MaxSyncTime commits what it stored and returns without error,
// leaving the account due at once.
func (f *Fleet) SyncAccount(ctx context.Context, id string) (*mailaccess.SyncReport, error) {
	st, err := f.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if st.Disabled {
		return &mailaccess.SyncReport{}, nil
	}
	slot, err := f.hostSlot(ctx, st.Host)
	if err != nil {
		f.m.busy.Inc()
		return nil, err
	}
	if slot != nil {
		defer slot.Release(context.WithoutCancel(ctx))
	}
	lease, err := f.st.Acquire(ctx, leaseName(id), &sqlstate.LeaseOptions{Holder: f.o.Holder, TTL: f.o.LeaseTTL})
	if errors.Is(err, sqlstate.ErrLeaseHeld) {
		f.m.busy.Inc()
		return nil, fmt.Errorf("%w: account %s: %w", ErrBusy, id, err)
	}
	if err != nil {
		return nil, err
	}
	defer lease.Release(context.WithoutCancel(ctx))
	lctx, cancelLease := lease.Context(ctx)
	defer cancelLease()
	if slot != nil {
		go func() {
			select {
			case <-slot.Done():
				cancelLease() // the host slot was lost: stop too
			case <-lctx.Done():
			}
		}()
	}

	lag, err := f.recordStart(ctx, id)
	if err != nil {
		return nil, err
	}
	f.m.lag.Observe(lag.Seconds())
	if h := f.o.Hooks.SyncStart; h != nil {
		h(id, lease.Token())
	}
	start := time.Now()
	rep, backlog, runErr := f.run(lctx, st.Account, lease)
	if runErr == nil && lctx.Err() != nil && !errors.Is(context.Cause(lctx), context.DeadlineExceeded) && ctx.Err() == nil {
		runErr = context.Cause(lctx)
	}
	if h := f.o.Hooks.SyncEnd; h != nil {
		h(id, lease.Token(), rep, runErr)
	}
	f.m.observe(rep, runErr, time.Since(start))
	if err := f.recordEnd(context.WithoutCancel(ctx), st, rep, backlog, runErr); err != nil {
		f.log.Error("fleet: could not record the sync's outcome", "account", id, "err", err)
	}
	attrs := []any{"account", id, "token", lease.Token(), "duration", time.Since(start).Round(time.Millisecond)}
	if rep != nil {
		t := rep.Total()
		attrs = append(attrs, "new", t.New, "bytes", t.Bytes, "source_deleted", t.SourceDeleted, "backlog", backlog)
	}
	if runErr != nil {
		f.log.Warn("fleet: sync failed", append(attrs, "err", runErr)...)
	} else {
		f.log.Info("fleet: synced", attrs...)
	}
	if runErr != nil {
		// The error names the account, whatever failed (its credential or
		// token source, the source server, the destination, the lease):
		// River records it, callers log it. The hooks, the log line and
		// the registry's row carry the account beside it.
		return rep, fmt.Errorf("fleet: account %q: %w", id, runErr)
	}
	return rep, nil
}

// run syncs a under lease, within MaxSyncTime.
func (f *Fleet) run(ctx context.Context, a Account, lease *sqlstate.Lease) (*mailaccess.SyncReport, int64, error) {
	cfg, err := f.source(ctx, a)
	if err != nil {
		return nil, 0, err
	}
	src, err := mailaccess.Open(ctx, cfg)
	if err != nil {
		return nil, 0, err
	}
	defer src.Close()
	dst, err := f.destination(ctx, a)
	if err != nil {
		return nil, 0, err
	}
	defer dst.Close()
	ret, _ := mailsync.ParseRetention(a.Retention)
	var backlog = map[string]int64{}
	// The lease's state store is fenced: the engine sends deletes only for
	// messages in committed state, which a lost lease cannot commit, and
	// checks the lease again right before each delete and commit
	// (mailsync.StateFencer), closing the window between the two.
	s, err := mailsync.New(src, dst, &mailsync.Options{
		State:     lease.State(),
		Account:   a.ID,
		Folders:   a.Folders,
		Retention: ret,
		Logger:    f.log,
		Progress: func(p mailsync.Progress) {
			backlog[p.Folder] = int64(p.MessagesTotal - p.Messages)
			if h := f.o.Hooks.Progress; h != nil {
				h(a.ID, p)
			}
		},
	})
	if err != nil {
		return nil, 0, err
	}
	sctx, cancel := context.WithTimeout(ctx, f.o.MaxSyncTime)
	defer cancel()
	rep, err := s.Run(sctx)
	var left int64
	for _, n := range backlog {
		left += n
	}
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		// Cut by MaxSyncTime: what was stored is committed; go on later.
		if left == 0 {
			left = 1
		}
		return rep, left, nil
	}
	return rep, left, err
}
