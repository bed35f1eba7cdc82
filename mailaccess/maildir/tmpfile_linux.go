package maildir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

var _ TempFS = rootFS{}

// CreateTemp opens an O_TMPFILE inode in dir. The directory is resolved
// by the os.Root like any other name (so it cannot lead out of the root,
// even through a symbolic link); only its last component gets O_TMPFILE.
// A file system without O_TMPFILE answers EOPNOTSUPP (or, on kernels
// older than 3.11, EISDIR; EINVAL on some), all reported as
// errors.ErrUnsupported.
func (f rootFS) CreateTemp(dir string, perm fs.FileMode) (File, error) {
	file, err := f.r.OpenFile(dir, os.O_WRONLY|unix.O_TMPFILE, perm)
	if err != nil {
		if errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EINVAL) {
			err = fmt.Errorf("%w: %w", errors.ErrUnsupported, err)
		}
		return nil, err
	}
	return file, nil
}

// LinkTemp links the O_TMPFILE inode f as newname: the parent directory
// is opened through the os.Root and the inode linked into it under the
// last component only, so the name cannot escape the root.
func (f rootFS) LinkTemp(file File, newname string) error {
	dir, base := ".", newname
	if i := strings.LastIndexByte(newname, '/'); i >= 0 {
		dir, base = newname[:i], newname[i+1:]
	}
	if base == "" || base == "." || base == ".." {
		return &os.LinkError{Op: "linkat", Old: "(unnamed file)", New: newname, Err: syscall.EINVAL}
	}
	d, err := f.r.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := linkTempAt(int(file.Fd()), int(d.Fd()), base); err != nil {
		return &os.LinkError{Op: "linkat", Old: "(unnamed file)", New: newname, Err: err}
	}
	return nil
}

// linkTempAt links the open file fd as name in directory dirfd. It uses
// linkat(2) with AT_EMPTY_PATH, which some kernels allow only with
// CAP_DAC_READ_SEARCH; when refused it links the /proc/self/fd/N magic
// link instead (AT_SYMLINK_FOLLOW links the inode itself).
func linkTempAt(fd, dirfd int, name string) error {
	err := unix.Linkat(fd, "", dirfd, name, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) {
		err = linkProcFD(fd, dirfd, name)
	}
	return err
}

// linkProcFD is linkTempAt's fallback through /proc.
func linkProcFD(fd, dirfd int, name string) error {
	return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dirfd, name, unix.AT_SYMLINK_FOLLOW)
}

// setFileTimes sets the access and modification times of an open file to
// t: utimensat(2) with a NULL path acts on the descriptor itself (what
// futimens(3) does), the only way for a file that has no name.
func setFileTimes(f File, t time.Time) error {
	ts, err := unix.TimeToTimespec(t)
	if err != nil {
		return err
	}
	times := [2]unix.Timespec{ts, ts}
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(&times[0])), 0, 0, 0)
	if e != 0 {
		return os.NewSyscallError("utimensat", e)
	}
	return nil
}
