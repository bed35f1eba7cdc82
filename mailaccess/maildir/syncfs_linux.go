package maildir

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS runs syncfs(2) on the file system holding d: every dirty page and
// inode of that file system is written and the journal committed.
func syncFS(d *os.File) error { return unix.Syncfs(int(d.Fd())) }
