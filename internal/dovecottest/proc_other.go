//go:build !unix

package dovecottest

import (
	"errors"
	"syscall"
)

// Dovecot runs on Unix only: elsewhere Available reports it missing and
// no process is ever started, so there is nothing to signal.

func signalProcess(int, syscall.Signal) bool { return false }

func signalGroup(int, bool) error { return errors.ErrUnsupported }
