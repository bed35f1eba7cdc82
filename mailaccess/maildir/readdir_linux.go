package maildir

import (
	"encoding/binary"
	"io/fs"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// readDir lists directory d, opened as name in root r, reading each
// entry's type from getdents64(2). os.File.ReadDir stats every entry of a
// directory opened through an os.Root, one system call per message of a
// folder (100,000 for a folder of 100,000 messages, most of the cost of
// listing it); here only an entry whose type the file system does not
// report is stat'ed.
func readDir(r *os.Root, name string, d *os.File) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	buf := make([]byte, 64<<10)
	fd := int(d.Fd())
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return out, &fs.PathError{Op: "getdents", Path: name, Err: err}
		}
		if n <= 0 {
			return out, nil
		}
		for b := buf[:n]; len(b) > 0; {
			// struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
			if len(b) < 19 {
				return out, &fs.PathError{Op: "getdents", Path: name, Err: unix.EINVAL}
			}
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				return out, &fs.PathError{Op: "getdents", Path: name, Err: unix.EINVAL}
			}
			typ, raw := b[18], b[19:reclen]
			b = b[reclen:]
			for i, c := range raw {
				if c == 0 {
					raw = raw[:i]
					break
				}
			}
			if string(raw) == "." || string(raw) == ".." {
				continue
			}
			e := &dirent{r: r, dir: name, name: string(raw)}
			switch typ {
			case unix.DT_REG:
			case unix.DT_DIR:
				e.typ = fs.ModeDir
			case unix.DT_LNK:
				e.typ = fs.ModeSymlink
			case unix.DT_FIFO:
				e.typ = fs.ModeNamedPipe
			case unix.DT_SOCK:
				e.typ = fs.ModeSocket
			case unix.DT_CHR:
				e.typ = fs.ModeDevice | fs.ModeCharDevice
			case unix.DT_BLK:
				e.typ = fs.ModeDevice
			default:
				fi, err := r.Lstat(path.Join(name, e.name))
				if err != nil {
					if os.IsNotExist(err) {
						continue // gone since it was listed
					}
					return out, err
				}
				e.typ = fi.Mode().Type()
			}
			out = append(out, e)
		}
	}
}

// dirent is an entry listed by readDir.
type dirent struct {
	r         *os.Root
	dir, name string
	typ       fs.FileMode
}

func (e *dirent) Name() string               { return e.name }
func (e *dirent) IsDir() bool                { return e.typ.IsDir() }
func (e *dirent) Type() fs.FileMode          { return e.typ }
func (e *dirent) Info() (fs.FileInfo, error) { return e.r.Lstat(path.Join(e.dir, e.name)) }
func (e *dirent) String() string             { return fs.FormatDirEntry(e) }
