//go:build unix

package popa3dtest

import "syscall"

// canChroot is whether this system can run popa3d in a private root.
const canChroot = true

// chrooted returns the process attributes that run a command with root
// as its root directory.
func chrooted(root string) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Chroot: root}
}
