//go:build windows

package maildir

import (
	"time"

	"golang.org/x/sys/windows"
)

// setFileTimes sets the access and modification times of an open file to
// t. The default FS offers unnamed files only on Linux; this serves a
// [TempFS] brought by Options.WrapFS.
func setFileTimes(f File, t time.Time) error {
	ft := windows.NsecToFiletime(t.UnixNano())
	return windows.SetFileTime(windows.Handle(f.Fd()), nil, &ft, &ft)
}
