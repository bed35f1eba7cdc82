// Package sqlstate keeps the sync engine's state in a SQL database
// (PostgreSQL in production, SQLite embedded) and guards each account
// with a lease that expires and a fencing token, so that many workers on
// many machines can share accounts safely.
//
//	db, dialect, err := sqlstate.OpenDB(ctx, "postgres://fleet@db/fleet") // or "sqlite:/var/lib/fleet.db"
//	st, err := sqlstate.New(ctx, db, &sqlstate.Options{Dialect: dialect})
//
//	lease, err := st.Acquire(ctx, "acme-support", &sqlstate.LeaseOptions{TTL: time.Minute})
//	if errors.Is(err, sqlstate.ErrLeaseHeld) { ... another worker has it ... }
//	defer lease.Release(context.WithoutCancel(ctx))
//	ctx, cancel := lease.Context(ctx) // cancelled when the lease is lost
//	defer cancel()
//	s, err := mailsync.New(src, dst, &mailsync.Options{State: lease.State(), Account: "acme-support"})
//	report, err := s.Run(ctx)
//
// # Leases and fencing
//
// A lease is a row per name (an account) holding the holder, an expiry and
// a token. [Store.Acquire] takes the row when it is free or expired and
// increments the token; the lease is then renewed in the background every
// TTL/3 ([LeaseOptions.RenewEvery]). A lease is lost when a renewal finds
// the row taken by a newer token, or when renewals fail (database
// unreachable) until the TTL has passed since the last successful one:
// the worker then stops ([Lease.Context] is cancelled with
// [ErrLeaseLost]).
//
// Every Save of the lease's state store ([Lease.State]) runs in one
// transaction that locks the lease row, checks that it still holds the
// lease's token and has not expired, and only then writes; a state row
// written by a newer token is never overwritten by an older one. So a
// worker that lost its lease (paused by the scheduler or a debugger,
// partitioned from the database) can no longer commit sync state, and
// because the sync engine deletes from the source only messages recorded
// in committed state, it can no longer delete mail either; the store is
// also a mailsync.StateFencer, so the engine checks the lease in the
// database right before each delete and each commit of deletions, which
// closes the moment between a last commit and a delete. A takeover
// never needs the old worker's cooperation: once the TTL has passed by
// the database's clock, the next Acquire wins and the old token is dead.
//
// Time is the database's clock (PostgreSQL clock_timestamp(), SQLite
// unixepoch), never a worker's, so skewed worker clocks do not matter.
// Tests may set [Options.Now] instead.
//
// # Tables
//
// New creates, if missing, three tables (names prefixed with
// [Options.TablePrefix], default "mailaccess_"): lease (name, holder,
// token, expiry), state (scope, key, data, token, saved) and, with
// [Options.History], lease_log (one row per token: holder, acquired,
// last expiry, released), which lets an operator see who held an account
// when.
//
// SQLite: [OpenDB] opens the file in WAL mode with a busy timeout and
// immediate transactions, so several processes on one machine may share
// it; PostgreSQL is the database for several machines.
package sqlstate
