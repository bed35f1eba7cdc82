package maildir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// CreateFolder makes the sub-Maildir ".name" (with cur, new and tmp and a
// "maildirfolder" marker, as Maildir++ does).
func (s *Store) CreateFolder(ctx context.Context, name string) error {
	if err := s.begin(ctx); err != nil {
		return opErr("create folder", name, err)
	}
	dir, err := folderDir(name)
	if err != nil {
		return err
	}
	if dir == "." {
		return opErr("create folder", name, fmt.Errorf("INBOX always exists: %w", fs.ErrExist))
	}
	if err := s.fsys.Mkdir(dir, 0o700); err != nil {
		return opErr("create folder", name, err)
	}
	if err := s.makeMaildir(dir); err != nil {
		return opErr("create folder", name, err)
	}
	if f, err := s.fsys.OpenFile(join(dir, "maildirfolder"), os.O_WRONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	s.uidValidity(dir)
	return opErr("create folder", name, s.fsys.SyncDir("."))
}

// RenameFolder renames ".name" and its subfolders ".name.*". Renaming
// INBOX is refused.
func (s *Store) RenameFolder(ctx context.Context, name, newName string) error {
	if err := s.begin(ctx); err != nil {
		return opErr("rename folder", name, err)
	}
	from, err := s.folder(name)
	if err != nil {
		return opErr("rename folder", name, err)
	}
	to, err := folderDir(newName)
	if err != nil {
		return err
	}
	if from == "." || to == "." {
		return opErr("rename folder", name, fmt.Errorf("INBOX cannot be renamed: %w", mailaccess.ErrInvalid))
	}
	if _, err := s.fsys.Stat(to); err == nil {
		return opErr("rename folder", newName, fmt.Errorf("folder %q exists: %w", newName, fs.ErrExist))
	}
	ents, err := s.fsys.ReadDir(".")
	if err != nil {
		return opErr("rename folder", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range ents {
		n := e.Name()
		if n != from && !strings.HasPrefix(n, from+".") {
			continue
		}
		if err := s.fsys.Rename(n, to+n[len(from):]); err != nil {
			return opErr("rename folder", name, err)
		}
		delete(s.dirs, n)
		delete(s.dirs, to+n[len(from):])
	}
	return opErr("rename folder", name, s.fsys.SyncDir("."))
}

// DeleteFolder removes ".name" and every message in it (not its
// subfolders). Deleting INBOX is refused.
func (s *Store) DeleteFolder(ctx context.Context, name string) error {
	if err := s.begin(ctx); err != nil {
		return opErr("delete folder", name, err)
	}
	dir, err := s.folder(name)
	if err != nil {
		return opErr("delete folder", name, err)
	}
	if dir == "." {
		return opErr("delete folder", name, fmt.Errorf("INBOX cannot be deleted: %w", mailaccess.ErrInvalid))
	}
	// Rename first so that a crash never leaves a half-deleted folder
	// visible as a folder.
	trash := "mailaccess-deleting-" + uniqueName(s.now(), 0)
	if err := s.fsys.Rename(dir, trash); err != nil {
		return opErr("delete folder", name, err)
	}
	s.mu.Lock()
	delete(s.dirs, dir)
	s.mu.Unlock()
	err = s.fsys.RemoveAll(trash)
	if serr := s.fsys.SyncDir("."); err == nil && !errors.Is(serr, fs.ErrNotExist) {
		err = serr
	}
	return opErr("delete folder", name, err)
}
