package mailsync

import (
	"context"
	"io"
)

// StateStore keeps the sync engine's state: opaque records under string
// keys, a few per source account and folder (a head of a few hundred
// bytes, and per-message records that a pass reads only when it needs
// them; see [New]). Save must be atomic and durable (write a temporary
// file, fsync, rename, fsync the directory, or a database transaction);
// the engine orders its Saves so that a crash between two of them leaves a
// consistent state. Lock keeps two syncs from sharing a store at once.
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
// record as a stream. The engine reads the head of a folder's state
// first; a record written by an older version holds every message after
// its head (about 150 bytes a message), and through OpenState the engine
// reads only the head of it, so that a no-op resync stays cheap until the
// first pass that changes something rewrites it. The Maildir state store
// implements it.
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

// FolderState summarizes the sync state of one source folder, as read by
// [ReadFolderState]: for monitoring a service's accounts, and for tests.
type FolderState struct {
	Account, Folder string
	// Dest is the destination folder the messages are stored in.
	Dest string
	// Clean reports that the last pass over the folder ended without
	// error, so that the next one can start from its checkpoint.
	Clean bool
	// Messages counts the messages recorded as stored and still on the
	// source as far as the engine knows (not those it deleted from the
	// source under a Retention policy).
	Messages int
}

// ReadFolderState reads the summary of a folder's sync state from ss, in
// time independent of the folder's size (a record of an older version is
// read whole). It returns nil and no error when the folder has none.
func ReadFolderState(ctx context.Context, ss StateStore, account, folder string) (*FolderState, error) {
	head, legacy, err := readHead(ctx, ss, account, folder)
	if err != nil || head == nil {
		return nil, err
	}
	if legacy {
		st, err := loadState(ctx, ss, account, folder)
		if err != nil {
			return nil, err
		}
		head = &st.stateHead
	}
	return &FolderState{Account: head.Account, Folder: head.Folder, Dest: head.Dest, Clean: head.Clean, Messages: head.Live}, nil
}
