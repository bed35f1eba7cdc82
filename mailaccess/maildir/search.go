package maildir

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"iter"
	"slices"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// Search returns the IDs of the folder's messages that match c, in
// ascending order, evaluated here with the evaluator every local search
// shares (driver.Match, IMAP SEARCH's meaning): flags, size and date are
// checked from the directory entry; header, Body and Text criteria read
// the file, streamed, with MIME parts decoded, only as far as needed.
// Maildir has no numeric UIDs, so a non-zero MinUID or MaxUID matches
// nothing.
func (s *Store) Search(ctx context.Context, folder string, c mailaccess.Criteria) ([]mailaccess.ID, error) {
	if err := s.begin(ctx); err != nil {
		return nil, opErr("search", folder, err)
	}
	if err := c.Validate(); err != nil {
		return nil, opErr("search", folder, err)
	}
	dir, err := s.folder(folder)
	if err != nil {
		return nil, opErr("search", folder, err)
	}
	ents, kw, err := s.entries(dir)
	if err != nil {
		return nil, opErr("search", folder, err)
	}
	out := []mailaccess.ID{}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, opErr("search", folder, err)
		}
		mi, ok, err := s.info(folder, e, kw, false)
		if err != nil {
			return nil, opErr("search", folder, err)
		}
		if !ok {
			continue
		}
		path := e.path
		match, err := driver.Match(c, driver.Candidate{Info: mi, Open: func() (io.ReadCloser, error) { return s.fsys.Open(path) }})
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, opErr("search", folder, err)
		}
		if match {
			out = append(out, e.id)
		}
	}
	return out, nil
}

// Sort returns the IDs of the messages that match c ordered by keys, as
// IMAP SORT orders them: Search, then the header of each match read from
// its file when a key needs it (driver.Sort). The internal date (SortArrival)
// is the file's modification time.
func (s *Store) Sort(ctx context.Context, folder string, c mailaccess.Criteria, keys ...mailaccess.SortKey) ([]mailaccess.ID, error) {
	ids, err := driver.Sort(ctx, s, folder, c, keys...)
	if err != nil {
		return nil, opErr("sort", folder, err)
	}
	return ids, nil
}

// Watch polls the folder (a Maildir has no push) every
// WatchOptions.PollInterval (default 1 minute) with the polling watch
// every driver without push shares (driver.PollWatch), and reports new,
// removed and re-flagged messages.
func (s *Store) Watch(ctx context.Context, folder string, opts *mailaccess.WatchOptions) iter.Seq2[mailaccess.Event, error] {
	poll := func(ctx context.Context) (driver.Snapshot, error) {
		if err := s.begin(ctx); err != nil {
			return driver.Snapshot{}, err
		}
		dir, err := s.folder(folder)
		if err != nil {
			return driver.Snapshot{}, err
		}
		ents, _, err := s.entries(dir)
		if err != nil {
			return driver.Snapshot{}, err
		}
		slices.SortFunc(ents, func(a, b entry) int { return strings.Compare(string(a.id), string(b.id)) })
		var snap driver.Snapshot
		for _, e := range ents {
			snap.IDs = append(snap.IDs, e.id)
			snap.Versions = append(snap.Versions, e.info)
		}
		return snap, nil
	}
	return driver.PollWatch(ctx, folder, opts, driver.Poller{Errors: errs, Poll: poll})
}
