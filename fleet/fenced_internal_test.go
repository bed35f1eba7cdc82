package fleet

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/fleet/internal/testdb"
	"github.com/mailaccess/go-mailaccess/fleet/sqlstate"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// TestFencedSourceChecksLeaseBeforeDelete: the source wrapper of a sync
// refuses a delete, and the commit of deferred deletes, once the lease is
// no longer held, and sends nothing to the server.
func TestFencedSourceChecksLeaseBeforeDelete(t *testing.T) {
	ctx := context.Background()
	var now atomic.Int64
	now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	db, dialect, err := sqlstate.OpenDB(ctx, testdb.SQLite(t).DSN)
	require.NoError(t, err)
	defer db.Close()
	st, err := sqlstate.New(ctx, db, &sqlstate.Options{Dialect: dialect, Now: func() time.Time { return time.UnixMicro(now.Load()) }})
	require.NoError(t, err)

	store := mailtest.NewStore()
	id := store.Add(mailaccess.Inbox, []byte("Subject: x\r\n\r\nx\r\n"))
	lease, err := st.Acquire(ctx, "acct:a", &sqlstate.LeaseOptions{TTL: time.Minute, RenewEvery: -1})
	require.NoError(t, err)
	src := fencedSource{store.Open(mailtest.ProfilePOP3), lease}

	// Held: the delete goes through (deferred until Commit on POP3).
	require.NoError(t, src.Delete(ctx, mailaccess.Inbox, id))

	// Lost: taken over by another worker after the TTL.
	now.Add((2 * time.Minute).Microseconds())
	_, err = st.Acquire(ctx, "acct:a", &sqlstate.LeaseOptions{TTL: time.Minute, RenewEvery: -1})
	require.NoError(t, err)
	require.ErrorIs(t, src.Commit(ctx), sqlstate.ErrLeaseLost)
	require.ErrorIs(t, src.Delete(ctx, mailaccess.Inbox, id), sqlstate.ErrLeaseLost)
	require.Len(t, store.Messages(mailaccess.Inbox), 1, "nothing deleted on the server")
}
