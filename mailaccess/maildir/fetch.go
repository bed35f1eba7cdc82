package maildir

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"iter"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailmime"
)

// Fetch yields the messages ids of folder, in the order of ids, each
// looked up by its unique name (no listing of the folder): metadata from
// the directory entry as List gives it, and the header and part tree read
// from the file as opts asks. IDs that are not in the folder are skipped;
// an ID that cannot be a Maildir name is ErrInvalid.
func (s *Store) Fetch(ctx context.Context, folder string, ids []mailaccess.ID, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		fail := func(err error) { yield(nil, opErr("fetch", folder, err)) }
		if err := s.begin(ctx); err != nil {
			fail(err)
			return
		}
		dir, err := s.folder(folder)
		if err != nil {
			fail(err)
			return
		}
		ids, err = driver.UniqueIDs(ids)
		if err != nil {
			fail(err)
			return
		}
		var o mailaccess.FetchOptions
		if opts != nil {
			o = *opts
		}
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				fail(err)
				return
			}
			info, ok, err := s.fetchOne(folder, dir, id, &o)
			if err != nil {
				fail(err)
				return
			}
			if ok && !yield(driver.NewMessage(s, info), nil) {
				return
			}
		}
	}
}

// fetchOne builds one message's metadata; ok is false if it is not there.
func (s *Store) fetchOne(folder, dir string, id mailaccess.ID, o *mailaccess.FetchOptions) (mailaccess.MessageInfo, bool, error) {
	for try := 0; ; try++ {
		p, err := s.locate(dir, id)
		if errors.Is(err, mailaccess.ErrNotFound) {
			return mailaccess.MessageInfo{}, false, nil
		}
		if err != nil {
			return mailaccess.MessageInfo{}, false, err
		}
		s.mu.Lock()
		kw := append([]string(nil), s.dirs[dir].kw...)
		s.mu.Unlock()
		_, infoPart := splitName(p)
		info, ok, err := s.info(folder, entry{id: id, path: p, info: infoPart}, kw, o.Headers)
		if err == nil && ok && o.Structure {
			info.Structure, err = s.structure(p)
		}
		if (!ok || errors.Is(err, fs.ErrNotExist)) && try == 0 {
			continue // renamed under us by a mail reader: look again
		}
		if errors.Is(err, fs.ErrNotExist) {
			return mailaccess.MessageInfo{}, false, nil
		}
		return info, ok, err
	}
}

func (s *Store) structure(p string) (*mailaccess.PartInfo, error) {
	f, err := s.fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return mailmime.ParseStructure(f, nil)
}

// FetchMatching is Search (a local scan of the folder with driver.Match)
// and Fetch of what it found, in one call.
func (s *Store) FetchMatching(ctx context.Context, folder string, c mailaccess.Criteria, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return driver.FetchMatching(ctx, s, folder, c, opts)
}

// Structure reads the message's file and returns its part tree (package
// mailmime, ParseStructure): Maildir has no index of MIME structure.
func (s *Store) Structure(ctx context.Context, folder string, id mailaccess.ID) (*mailaccess.PartInfo, error) {
	st, err := driver.StructureByReading(ctx, s, folder, id)
	return st, opErr("structure", folder, err)
}

// OpenPart reads the message's file up to the part and returns it decoded
// (package mailmime, ReadPart).
func (s *Store) OpenPart(ctx context.Context, folder string, id mailaccess.ID, part []int, opts *mailaccess.PartOptions) (io.ReadCloser, error) {
	rc, err := driver.OpenPartByReading(ctx, s, folder, id, part, opts)
	return rc, opErr("open part", folder, err)
}
