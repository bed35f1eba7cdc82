//go:build !unix

package debroot

import (
	"os"
	"os/exec"
	"syscall"
)

// chrooted is never used where Check fails (not Linux); it exists so that
// the module builds everywhere.
func chrooted(string) *syscall.SysProcAttr { return nil }

func setGroup(*exec.Cmd) {}

func killGroup(p *os.Process) { _ = p.Kill() }
