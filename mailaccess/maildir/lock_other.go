//go:build !unix && !windows

package maildir

import "errors"

// errLockHeld is never returned where there is no file locking.
var errLockHeld = errors.New("maildir: sync lock held")

// lockFile cannot lock on this system: a sync lock that would not
// exclude anything is refused rather than pretended.
func lockFile(File) error {
	return errors.New("maildir: no file locking on this system: the sync state cannot be protected")
}

func unlockFile(File) error { return nil }

func openFileLimit() (uint64, bool) { return 0, false }
