package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/mailaccess/go-mailaccess/fleet/sqlstate"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// River queues the fleet uses.
const (
	QueueSync    = "mailaccess_sync"
	QueueControl = "mailaccess_control"
)

// uniqueStates are the job states in which a second job for the same
// account is not inserted: one sync job per account at a time. A
// completed job does not count, so the account can be synced again.
var uniqueStates = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}

// SyncArgs is the River job that syncs one account.
type SyncArgs struct {
	Account string `json:"account"`
}

// Kind names the job kind.
func (SyncArgs) Kind() string { return "mailaccess_sync" }

// InsertOpts make sync jobs unique per account while one is pending,
// scheduled, available, retrying or running.
func (SyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSync, MaxAttempts: 8,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueStates}}
}

// EnqueueDueArgs is the periodic job, run on the elected leader only,
// that inserts a SyncArgs job for every account due: one periodic job
// for the whole fleet, not one per account.
type EnqueueDueArgs struct{}

// Kind names the job kind.
func (EnqueueDueArgs) Kind() string { return "mailaccess_enqueue_due" }

// InsertOpts keep at most one enqueuer job waiting.
func (EnqueueDueArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueControl, MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueStates}}
}

// RunOptions configure [Fleet.Run]; nil means the defaults.
type RunOptions struct {
	// Workers is how many accounts this process syncs at once
	// (default 10).
	Workers int
	// EnqueueEvery is how often the leader looks for due accounts
	// (default 15 s).
	EnqueueEvery time.Duration
	// SoftStop is how long running syncs may go on after ctx is
	// cancelled before their contexts are cancelled too (default 30 s).
	// A cancelled sync commits what it stored before it returns.
	SoftStop time.Duration
	// PollInterval is how often the job tables are polled for new jobs
	// (default 1 s, at least 100 ms; PostgreSQL is also told of new jobs
	// by NOTIFY).
	PollInterval time.Duration
	// ClientID names this process to River (default: random).
	ClientID string
	// Ready, if set, is called once the River client has started.
	Ready func()
	// RetryPolicy decides when River retries a sync job that failed with
	// a temporary error (a server down, a connection cut, a token
	// service unreachable); nil means River's default: attempt⁴ seconds
	// with ±10% jitter (1 s, 16 s, 81 s, 4 min 16 s...) for up to 8
	// attempts, after which the account waits for its next due time.
	// Permanent failures (refused credentials, a bad configuration) are
	// not retried, and busy accounts are snoozed without an attempt.
	RetryPolicy river.ClientRetryPolicy
}

// Run works the fleet's accounts as River jobs on the fleet's database
// until ctx is cancelled, then stops gracefully: no new sync starts,
// running syncs get RunOptions.SoftStop to finish and are then
// cancelled, which makes them commit what they stored. It migrates
// River's tables first. databaseURL is the fleet's database for
// PostgreSQL (River's driver needs a pgx pool of its own); with SQLite
// it may be empty, the fleet's *sql.DB is used.
//
// Every process runs the same Run: River elects one leader, which runs
// the due-accounts enqueuer and River's maintenance (stuck-job rescue,
// retries, cleanup); every process works sync jobs, each under the
// account's lease. River's rescue of a job whose worker died is tuned to
// the lease: JobTimeout is MaxSyncTime + LeaseTTL, and a running job is
// rescued after MaxSyncTime + 2×LeaseTTL, when its lease has surely
// expired.
func (f *Fleet) Run(ctx context.Context, databaseURL string, ro *RunOptions) error {
	var o RunOptions
	if ro != nil {
		o = *ro
	}
	if o.Workers <= 0 {
		o.Workers = 10
	}
	if o.EnqueueEvery <= 0 {
		o.EnqueueEvery = 15 * time.Second
	}
	if o.SoftStop <= 0 {
		o.SoftStop = 30 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.PollInterval < river.FetchCooldownDefault {
		return fmt.Errorf("fleet: RunOptions.PollInterval %s is below River's fetch cooldown %s: %w", o.PollInterval, river.FetchCooldownDefault, mailaccess.ErrInvalid)
	}
	switch f.st.Dialect() {
	case sqlstate.Postgres:
		if databaseURL == "" {
			return fmt.Errorf("fleet: Run on PostgreSQL needs the database URL: %w", mailaccess.ErrInvalid)
		}
		pool, err := pgxpool.New(ctx, databaseURL)
		if err != nil {
			return fmt.Errorf("fleet: open the job database: %w", err)
		}
		defer pool.Close()
		return runRiver(ctx, f, riverpgxv5.New(pool), o)
	default:
		return runRiver(ctx, f, riversqlite.New(f.db), o)
	}
}

func runRiver[TTx any](ctx context.Context, f *Fleet, drv riverdriver.Driver[TTx], o RunOptions) error {
	if err := migrateRiver(ctx, drv); err != nil {
		return err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &syncWorker{f: f})
	river.AddWorker(workers, &enqueueWorker[TTx]{f: f})
	client, err := river.NewClient(drv, &river.Config{
		ID: o.ClientID,
		Queues: map[string]river.QueueConfig{
			QueueSync:    {MaxWorkers: o.Workers},
			QueueControl: {MaxWorkers: 1},
		},
		Workers: workers,
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(o.EnqueueEvery),
			func() (river.JobArgs, *river.InsertOpts) { return EnqueueDueArgs{}, nil },
			&river.PeriodicJobOpts{ID: "mailaccess_enqueue_due", RunOnStart: true})},
		JobTimeout:           f.o.MaxSyncTime + f.o.LeaseTTL,
		RescueStuckJobsAfter: f.o.MaxSyncTime + 2*f.o.LeaseTTL,
		SoftStopTimeout:      o.SoftStop,
		RetryPolicy:          o.RetryPolicy,
		FetchPollInterval:    o.PollInterval,
		Logger:               f.log.With("component", "river"),
		ErrorHandler:         errorHandler{f.log},
	})
	if err != nil {
		return fmt.Errorf("fleet: job client: %w", err)
	}
	if err := client.Start(ctx); err != nil {
		return fmt.Errorf("fleet: start the job client: %w", err)
	}
	if o.Ready != nil {
		o.Ready()
	}
	<-client.Stopped()
	return nil
}

// migrateRiver brings River's tables up to date; two processes starting
// at once may race, so a failure is retried.
func migrateRiver[TTx any](ctx context.Context, drv riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		return fmt.Errorf("fleet: job tables: %w", err)
	}
	for attempt := 0; ; attempt++ {
		_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err == nil || attempt == 4 || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(200+rand.IntN(800)) * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("fleet: migrate the job tables: %w", err)
	}
	return nil
}

// Migrate creates or updates River's job tables for the fleet's database
// (Run does it too). databaseURL as for Run.
func (f *Fleet) Migrate(ctx context.Context, databaseURL string) error {
	if f.st.Dialect() == sqlstate.Postgres {
		pool, err := pgxpool.New(ctx, databaseURL)
		if err != nil {
			return fmt.Errorf("fleet: open the job database: %w", err)
		}
		defer pool.Close()
		return migrateRiver(ctx, riverpgxv5.New(pool))
	}
	return migrateRiver(ctx, riversqlite.New(f.db))
}

type syncWorker struct {
	river.WorkerDefaults[SyncArgs]
	f *Fleet
}

// Timeout lets a sync run its MaxSyncTime and commit.
func (w *syncWorker) Timeout(*river.Job[SyncArgs]) time.Duration {
	return w.f.o.MaxSyncTime + w.f.o.LeaseTTL
}

// Work syncs the account. Busy (leased elsewhere, host at its limit) is
// snoozed, which costs no attempt; a permanent failure (refused
// credentials, a bad configuration) cancels the job: the account is
// tried again when it is next due; other failures are retried by River
// with its backoff.
func (w *syncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	_, err := w.f.SyncAccount(ctx, job.Args.Account)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNoAccount):
		return nil // removed meanwhile
	case errors.Is(err, ErrBusy):
		return river.JobSnooze(time.Duration(2000+rand.IntN(3000)) * time.Millisecond)
	case ctx.Err() != nil:
		// Shutting down: the sync committed what it stored; run the job
		// again at once on the next start, without counting an attempt.
		return river.JobSnooze(0)
	case driver.Permanent(err):
		return river.JobCancel(err)
	}
	return err
}

type enqueueWorker[TTx any] struct {
	river.WorkerDefaults[EnqueueDueArgs]
	f *Fleet
}

// Work inserts a sync job for every due account (unique per account).
func (w *enqueueWorker[TTx]) Work(ctx context.Context, job *river.Job[EnqueueDueArgs]) error {
	if overdue, oldest, err := w.f.lagStats(ctx); err == nil {
		w.f.m.overdue.Set(float64(overdue))
		w.f.m.oldest.Set(oldest.Seconds())
	}
	client := river.ClientFromContext[TTx](ctx)
	for {
		ids, err := w.f.due(ctx, 1000)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		params := make([]river.InsertManyParams, len(ids))
		for i, id := range ids {
			params[i] = river.InsertManyParams{Args: SyncArgs{Account: id}}
		}
		if _, err := client.InsertMany(ctx, params); err != nil {
			return fmt.Errorf("fleet: enqueue due accounts: %w", err)
		}
		if err := w.f.markEnqueued(ctx, ids); err != nil {
			return err
		}
	}
}

type errorHandler struct{ log *slog.Logger }

func (h errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.log.Debug("fleet: job failed; River retries it with backoff", "kind", job.Kind, "attempt", job.Attempt, "err", err)
	return nil
}

func (h errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.log.Error("fleet: job panicked", "kind", job.Kind, "attempt", job.Attempt, "panic", panicVal, "trace", trace)
	return nil
}
