//go:build unix

package dovecottest

import "syscall"

// signalProcess sends sig to pid and reports whether it could (signal 0
// only checks that the process exists).
func signalProcess(pid int, sig syscall.Signal) bool {
	return syscall.Kill(pid, sig) == nil
}

// signalGroup sends SIGTERM (or SIGKILL when kill) to the process group
// led by pid.
func signalGroup(pid int, kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	return syscall.Kill(-pid, sig)
}
