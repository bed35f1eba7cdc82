//go:build unix

package debroot

import (
	"os"
	"os/exec"
	"syscall"
)

// chrooted returns the process attributes that run a command with root as
// its root directory, in a process group of its own (so that Close can
// end the daemons it forks).
func chrooted(root string) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Chroot: root, Setpgid: true}
}

// setGroup is a no-op: chrooted already starts a process group.
func setGroup(*exec.Cmd) {}

// killGroup kills p's process group, and p.
func killGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = p.Kill()
}
