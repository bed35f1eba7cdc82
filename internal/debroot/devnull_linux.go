package debroot

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// makeDevNull creates dev/null in root as a character device (1, 3), mode
// 0666, as the host's: servers open it (Courier's daemons redirect their
// output to it), and in a root without it a write to /dev/null by a
// process running as root would leave a regular file. A device node
// rather than a bind mount of the host's: nothing to unmount, nothing
// left mounted if the test dies. It is opened once to make sure the
// filesystem allows devices.
func makeDevNull(root string) error {
	p := filepath.Join(root, "dev", "null")
	_ = os.Remove(p)
	if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		return fmt.Errorf("debroot: creating /dev/null in the root: %w", err)
	}
	if err := os.Chmod(p, 0o666); err != nil { // past the umask
		return fmt.Errorf("debroot: %w", err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("debroot: /dev/null in the root %s cannot be opened (a filesystem mounted nodev? put the temporary directory elsewhere, e.g. TMPDIR): %w", root, err)
	}
	return f.Close()
}
