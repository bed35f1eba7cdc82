//go:build windows

package maildir

import (
	"errors"

	"golang.org/x/sys/windows"
)

// errLockHeld is what lockFile returns when another process holds the lock.
var errLockHeld = windows.ERROR_LOCK_VIOLATION

// lockFile takes an exclusive lock on the first byte of f with LockFileEx,
// failing at once if another handle holds it. Like flock(2), the lock is
// released when the file is closed or the process ends.
func lockFile(f File) error {
	ol := new(windows.Overlapped)
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if errors.Is(err, windows.ERROR_IO_PENDING) {
		return errLockHeld
	}
	return err
}

// unlockFile releases the lock of lockFile.
func unlockFile(f File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
}

// openFileLimit: Windows has no per-process descriptor limit to respect
// here (and unnamed staged files are a Linux feature).
func openFileLimit() (uint64, bool) { return 0, false }
