// Package fleet syncs many mail accounts on many machines: an account
// registry, sync state and leases in SQL (package sqlstate: PostgreSQL in
// production, SQLite embedded), accounts worked as jobs on River
// (github.com/riverqueue/river), and mail stored in object storage
// (package blobstore: S3, GCS, Azure, local files) or one Maildir per
// account.
//
//	db, dialect, _ := sqlstate.OpenDB(ctx, "postgres://fleet@db/fleet")
//	st, _ := sqlstate.New(ctx, db, &sqlstate.Options{Dialect: dialect})
//	f, _ := fleet.New(ctx, st, &fleet.Options{Store: "s3://archive?region=eu-west-1"})
//	f.Add(ctx, fleet.Account{ID: "acme", URL: "imaps://support@imap.acme.example", Credential: "env:ACME_PASSWORD"})
//	f.Run(ctx, "postgres://fleet@db/fleet", nil) // in every worker process, on every machine
//
// # Guarantees
//
//   - One worker per account at a time: a sync holds the account's lease
//     (sqlstate.Lease), renewed while it runs. A worker that dies loses
//     it after Options.LeaseTTL and another takes the account over. A
//     worker that lost its lease (paused, partitioned) is stopped, cannot
//     commit state (fencing token), and so cannot delete mail on the
//     server: the engine deletes only what committed state records, and
//     checks the lease again right before every delete (the lease's
//     state store is a mailsync.StateFencer).
//   - Every message stored exactly once: destinations with keyed appends
//     (blobstore's conditional writes, Maildir's keys) make a re-run or a
//     takeover idempotent.
//   - Scheduling on River: one sync job per account at a time (unique
//     jobs), periodic syncs enqueued by the elected leader for the
//     accounts due (one periodic job for the fleet), retries with
//     backoff ([RunOptions.RetryPolicy]), stuck jobs of dead workers
//     rescued after MaxSyncTime plus two lease TTLs, per-host caps
//     ([Options.HostLimit]: lease-backed slots in SQL; a job that finds
//     its host full is snoozed, which frees its worker for other hosts
//     and costs no attempt), and a graceful stop that lets running syncs
//     finish or commit.
//
// Secrets never enter the registry: an account names where its secret
// comes from ([Account].Credential), resolved at each sync.
package fleet
