//go:build unix

package maildir

import (
	"errors"
	"syscall"
)

// errLockHeld is what lockFile returns when another process holds the lock.
var errLockHeld = syscall.EWOULDBLOCK

// lockFile takes an exclusive flock(2) on f without waiting.
func lockFile(f File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EAGAIN) {
		return errLockHeld
	}
	return err
}

// unlockFile releases the lock of lockFile.
func unlockFile(f File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// openFileLimit returns the soft RLIMIT_NOFILE.
func openFileLimit() (uint64, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, false
	}
	return uint64(rl.Cur), true
}
