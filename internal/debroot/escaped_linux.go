package debroot

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// killEscaped kills every process whose root directory is root: the ones
// that left the process groups Close kills, as a daemon does that calls
// setsid (Courier's gam_server, which its IMAP server starts and which
// would otherwise outlive the test by half a minute).
func killEscaped(root string) {
	want, err := filepath.EvalSymlinks(root)
	if err != nil {
		return
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if r, err := os.Readlink(filepath.Join("/proc", e.Name(), "root")); err == nil && r == want {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
