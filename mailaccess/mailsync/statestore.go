package mailsync

import (
	"context"
	"io"
)

// StateStore keeps the sync engine's state: small opaque records, one per
// source account and folder. Save must be atomic and durable (write a
// temporary file, fsync, rename, fsync the directory, or a database
// transaction). Lock keeps two syncs from sharing a store at once.
type StateStore interface {
	// Lock takes the store's exclusive lock, failing (not waiting
	// forever) if another process holds it, and returns its release.
	Lock(ctx context.Context) (unlock func() error, err error)
	// Load returns the record saved under key, or nil and no error if
	// there is none.
	Load(ctx context.Context, key string) ([]byte, error)
	// Save replaces the record under key atomically and durably.
	Save(ctx context.Context, key string, data []byte) error
}

// StateOpener is an optional extension of a [StateStore] that returns a
// record as a stream. The engine decides a no-op resync from the first
// fields of a record (its head); through OpenState it reads only those
// instead of a record that grows with the folder (about 150 bytes a
// message). The Maildir state store implements it.
type StateOpener interface {
	StateStore
	// OpenState returns a reader over the record saved under key, or nil
	// and no error if there is none. The caller closes it.
	OpenState(ctx context.Context, key string) (io.ReadCloser, error)
}

// StateStoreProvider is the optional interface of a destination Mailbox
// that keeps sync state itself (Maildir keeps it in files beside the
// mail). [New] uses it when Options.State is nil, finding it on the
// destination or through its As, by the rule every optional interface
// follows (see package driver). It is declared here, not with the other
// optional interfaces in package driver, because its method returns a
// type of this package.
type StateStoreProvider interface {
	SyncState() (StateStore, error)
}
