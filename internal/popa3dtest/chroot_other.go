//go:build !unix

package popa3dtest

import "syscall"

// canChroot is whether this system can run popa3d in a private root: not
// here (popa3d is a Unix server, and the package builds elsewhere only so
// that the module does).
const canChroot = false

// chrooted is never called where canChroot is false.
func chrooted(string) *syscall.SysProcAttr { return nil }
