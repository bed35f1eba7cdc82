package maildir

import (
	"io"
	"io/fs"
	"os"
	"time"
)

// FS is the file-system layer the Store does all of its file access
// through. Every name is relative to the Store's root and uses "/" as
// separator. The default implementation is an [os.Root], so no name can
// escape the root even through symbolic links.
//
// It exists so tests can inject failures (ENOSPC or EIO on write, fsync or
// rename): set [Options.WrapFS] to wrap the default.
type FS interface {
	// Open opens a file or directory for reading.
	Open(name string) (File, error)
	// OpenFile opens a file with the flags of [os.OpenFile].
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// Rename renames a file, replacing newname if it exists.
	Rename(oldname, newname string) error
	// Link makes newname a hard link to oldname; it fails if newname exists.
	Link(oldname, newname string) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes a tree.
	RemoveAll(name string) error
	// Mkdir creates a directory.
	Mkdir(name string, perm fs.FileMode) error
	// ReadDir lists a directory (order unspecified).
	ReadDir(name string) ([]fs.DirEntry, error)
	// Stat describes a file, following symbolic links inside the root.
	Stat(name string) (fs.FileInfo, error)
	// Chtimes sets a file's access and modification times.
	Chtimes(name string, atime, mtime time.Time) error
	// SyncDir fsyncs a directory, making the entries created, renamed or
	// removed in it durable.
	SyncDir(name string) error
	// SyncFS makes durable everything written so far to the file system
	// holding the store (syncfs(2) on Linux), so a batch of files costs
	// one sync instead of one fsync each. Where the OS has no such call it
	// returns an error matching errors.ErrUnsupported and the store
	// fsyncs each file.
	SyncFS() error
}

// TempFS is an optional extension of [FS] for unnamed files: the Store
// stages the keyed appends ([Store.AppendWithKey]) in them when the FS
// offers it, so a staged message has no directory entry until it is
// published, and a crash leaves nothing behind. The default FS implements
// it on Linux with open(2) O_TMPFILE and linkat(2). A wrapper passed
// through [Options.WrapFS] that does not implement it makes the Store
// stage named files in tmp/ instead.
//
// The Store decides once: the first CreateTemp error matching
// [errors.ErrUnsupported] (the file system has no unnamed files) makes it
// use named files for the rest of its life. EMFILE and ENFILE make it use
// a named file for that one message; any other error fails the append.
type TempFS interface {
	FS
	// CreateTemp creates an unnamed regular file, open for writing, on
	// the file system of directory dir (relative to the root), with
	// permission bits perm. The file has no name until LinkTemp gives it
	// one; closed without that, it is gone.
	CreateTemp(dir string, perm fs.FileMode) (File, error)
	// LinkTemp gives f, a file returned by CreateTemp and still open, the
	// name newname (relative to the root). It fails if newname exists.
	// It only links: making the data and the new entry durable is the
	// caller's business (SyncFS or Sync before, SyncDir after).
	LinkTemp(f File, newname string) error
}

// File is an open file of an [FS]. *os.File implements it.
type File interface {
	io.Reader
	io.Writer
	io.Closer
	Sync() error
	Stat() (fs.FileInfo, error)
	Fd() uintptr
}

// rootFS is the default FS: an os.Root.
type rootFS struct{ r *os.Root }

func (f rootFS) Open(name string) (File, error) { return f.r.Open(name) }
func (f rootFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	return f.r.OpenFile(name, flag, perm)
}
func (f rootFS) Rename(o, n string) error                  { return f.r.Rename(o, n) }
func (f rootFS) Link(o, n string) error                    { return f.r.Link(o, n) }
func (f rootFS) Remove(name string) error                  { return f.r.Remove(name) }
func (f rootFS) RemoveAll(name string) error               { return f.r.RemoveAll(name) }
func (f rootFS) Mkdir(name string, p fs.FileMode) error    { return f.r.Mkdir(name, p) }
func (f rootFS) Chtimes(name string, a, m time.Time) error { return f.r.Chtimes(name, a, m) }
func (f rootFS) Stat(name string) (fs.FileInfo, error)     { return f.r.Stat(name) }

func (f rootFS) ReadDir(name string) ([]fs.DirEntry, error) {
	d, err := f.r.Open(name)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return readDir(f.r, name, d)
}

func (f rootFS) SyncFS() error {
	d, err := f.r.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	return syncFS(d)
}

func (f rootFS) SyncDir(name string) error {
	d, err := f.r.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
