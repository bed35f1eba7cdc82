//go:build unix && !linux

package maildir

import (
	"time"

	"golang.org/x/sys/unix"
)

// setFileTimes sets the access and modification times of an open file to
// t (futimes(2)). The default FS offers unnamed files only on Linux; this
// serves a [TempFS] brought by Options.WrapFS.
func setFileTimes(f File, t time.Time) error {
	tv := unix.NsecToTimeval(t.UnixNano())
	return unix.Futimes(int(f.Fd()), []unix.Timeval{tv, tv})
}
