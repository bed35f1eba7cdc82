package maildir

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

// StateDir is the directory under the root where SyncState keeps the sync
// engine's records. Its name has no leading dot, so it is never taken for
// a Maildir++ folder.
const StateDir = "mailaccess-sync"

// ErrSyncRunning is returned by the state store's Lock when another sync
// (in this or another process) holds the lock of the store.
var ErrSyncRunning = errors.New("another sync is running on this Maildir")

// SyncState returns the store's [mailsync.StateStore]: one file per key
// in root/mailaccess-sync/ named after the SHA-256 of the key
// (KEYHASH.json), saved by write-temporary, fsync, rename, fsync
// directory, and a lock file root/mailaccess-sync/lock held with flock(2)
// (non-blocking: a second sync fails at once with [ErrSyncRunning]).
func (s *Store) SyncState() (mailsync.StateStore, error) {
	s.stateOnce.Do(func() {
		err := s.fsys.Mkdir(StateDir, 0o700)
		if err == nil {
			err = s.fsys.SyncDir(".") // the directory itself must survive a crash
		}
		if err != nil && !errors.Is(err, fs.ErrExist) {
			s.stateErr = opErr("sync state", "", err)
			return
		}
		s.state = &stateStore{s: s}
	})
	return s.state, s.stateErr
}

var _ mailsync.StateOpener = (*stateStore)(nil)

type stateStore struct {
	s  *Store
	mu sync.Mutex
}

func stateName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return join(StateDir, hex.EncodeToString(sum[:16])+".json")
}

// Lock takes root/mailaccess-sync/lock with a non-blocking exclusive lock
// (flock(2) on Unix, LockFileEx on Windows).
func (st *stateStore) Lock(ctx context.Context) (func() error, error) {
	if err := st.s.begin(ctx); err != nil {
		return nil, opErr("lock", "", err)
	}
	f, err := st.s.fsys.OpenFile(join(StateDir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, opErr("lock", "", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLockHeld) {
			return nil, opErr("lock", "", fmt.Errorf("%w (lock file %s/%s/lock): %w", ErrSyncRunning, st.s.path, StateDir, mailaccess.ErrLocked))
		}
		return nil, opErr("lock", "", err)
	}
	// Holding the lock, no other sync writes to this store: staged files
	// in tmp/ that this Store does not know are left by a sync that
	// died before its Flush.
	if err := st.s.sweepStaged(); err != nil {
		st.s.log.Warn("maildir: could not remove stale staged files", "err", err)
	}
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			err = unlockFile(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		})
		return err
	}, nil
}

// Load reads the record of key; nil, nil if there is none.
func (st *stateStore) Load(ctx context.Context, key string) ([]byte, error) {
	rc, err := st.OpenState(ctx, key)
	if rc == nil || err != nil {
		return nil, err
	}
	defer rc.Close()
	// Read in one buffer of the file's size: a record of a large folder
	// is megabytes, which ReadAll would copy over and over as it grows.
	size := int64(0)
	if f, ok := rc.(File); ok {
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
	}
	// bytes.MinRead more: ReadFrom sees the end without growing.
	buf := bytes.NewBuffer(make([]byte, 0, min(size, maxStateRecord)+bytes.MinRead))
	_, err = buf.ReadFrom(io.LimitReader(rc, maxStateRecord))
	return buf.Bytes(), opErr("load state", "", err)
}

// maxStateRecord bounds a state record Load reads.
const maxStateRecord = 1 << 30

// OpenState returns the record of key as a stream (nil, nil if there is
// none): the sync engine reads only the head of a large record through it.
func (st *stateStore) OpenState(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := st.s.begin(ctx); err != nil {
		return nil, opErr("load state", "", err)
	}
	f, err := st.s.fsys.Open(stateName(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, opErr("load state", "", err)
	}
	return f, nil
}

// Save replaces the record of key: write a temporary file, fsync it,
// rename it over the record, fsync the directory. When Save returns nil
// the record survives a crash; when it fails the previous record is
// intact.
func (st *stateStore) Save(ctx context.Context, key string, data []byte) error {
	if err := st.s.begin(ctx); err != nil {
		return opErr("save state", "", err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return opErr("save state", "", st.s.writeFileAtomic(stateName(key), data, false))
}
