package maildir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// ReplaceFlags replaces the flags of many messages of folder
// ([driver.FlagReplacer]). A message's flags are in its file name, so
// each change is one rename; Was, the flags the caller believes the
// message carries, gives the file's current name ("new/ID" or
// "cur/ID:2,INFO") without a scan of the folder, which SetFlags needs
// the first time and which grows with the folder. A message whose name
// the hint misses (a mail reader changed its flags) is found by that
// scan. The directories are synced once, at the end (at Flush with
// Options.DeferDirSync). It returns nil, or one error per change: an
// error matching [mailaccess.ErrNotFound] for a message that is not
// there.
func (s *Store) ReplaceFlags(ctx context.Context, folder string, changes []driver.FlagChange) []error {
	errs := make([]error, len(changes))
	failed := false
	fail := func(i int, err error) {
		errs[i] = opErr("set flags", folder, err)
		failed = true
	}
	failAll := func(err error) []error {
		for i := range changes {
			fail(i, err)
		}
		return errs
	}
	if err := s.begin(ctx); err != nil {
		return failAll(err)
	}
	dir, err := s.folder(folder)
	if err != nil {
		return failAll(err)
	}
	subs := map[string]bool{}
	var renamed []int
	for i, c := range changes {
		if err := ctx.Err(); err != nil {
			fail(i, err)
			continue
		}
		from, to, err := s.renameFlags(dir, c)
		if err != nil {
			fail(i, err)
			continue
		}
		if from != to {
			renamed = append(renamed, i)
			subs[join(dir, "cur")] = true
			subs[from[:strings.LastIndexByte(from, '/')]] = true
		}
	}
	for d := range subs {
		if err := s.syncDir(d, s.opts.DeferDirSync); err != nil {
			for _, i := range renamed {
				if errs[i] == nil {
					fail(i, err)
				}
			}
			break
		}
	}
	if !failed {
		return nil
	}
	return errs
}

// renameFlags gives the file of message c.ID the name that carries
// c.Flags, trying the names c.Was implies before a scan, and returns its
// old and new paths (equal when it had the flags already).
func (s *Store) renameFlags(dir string, c driver.FlagChange) (from, to string, err error) {
	if err := validID(c.ID); err != nil {
		return "", "", err
	}
	s.mu.Lock()
	ds, err := s.dirLocked(dir)
	if err != nil {
		s.mu.Unlock()
		return "", "", err
	}
	info, err := infoFromFlags(c.Flags, func(k string) (byte, error) { return s.keywordLocked(dir, ds, k) })
	if err != nil {
		s.mu.Unlock()
		return "", "", err
	}
	var cands []string
	if p, ok := ds.files[c.ID]; ok {
		cands = append(cands, join(dir, p))
	}
	if was, ok := hintInfo(c.Was, ds.kw); ok {
		if was == "" {
			cands = append(cands, join(dir, "new", string(c.ID)))
		}
		cands = append(cands, join(dir, "cur", string(c.ID)+infoSep+was))
	}
	s.mu.Unlock()
	to = join(dir, "cur", string(c.ID)+infoSep+info)
	for _, p := range cands {
		if p == to {
			if _, err := s.fsys.Stat(p); err == nil {
				return p, to, nil
			}
			continue
		}
		err := s.fsys.Rename(p, to)
		if err == nil {
			s.placed(dir, c.ID, to)
			return p, to, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", "", err
		}
	}
	// The hint missed: find the file the slow way.
	p, err := s.locate(dir, c.ID)
	if err != nil {
		return "", "", err
	}
	if p != to {
		if err := s.fsys.Rename(p, to); err != nil {
			return "", "", err
		}
		s.placed(dir, c.ID, to)
	}
	return p, to, nil
}

// placed records in the folder's cache that message id is now at path p
// (relative to the root).
func (s *Store) placed(dir string, id mailaccess.ID, p string) {
	rel := p
	if dir != "." {
		rel = p[len(dir)+1:]
	}
	s.mu.Lock()
	if ds := s.dirs[dir]; ds != nil {
		ds.files[id] = rel
	}
	s.mu.Unlock()
}

// hintInfo is the info of a file name carrying flags, if the folder's
// keyword table can spell them (without adding to it).
func hintInfo(flags []mailaccess.Flag, kw []string) (string, bool) {
	ok := true
	info, err := infoFromFlags(flags, func(k string) (byte, error) {
		for i, name := range kw {
			if strings.EqualFold(name, k) {
				return byte('a' + i), nil
			}
		}
		ok = false
		return 0, errNoLetter
	})
	return info, ok && err == nil
}

var errNoLetter = errors.New("keyword without a letter")

// validID checks that id can name a message file.
func validID(id mailaccess.ID) error {
	if id == "" || strings.ContainsAny(string(id), "/\\:\x00") || strings.HasPrefix(string(id), ".") {
		return fmt.Errorf("message ID %q: %w", id, mailaccess.ErrInvalid)
	}
	return nil
}
