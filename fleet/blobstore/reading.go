package blobstore

import (
	"context"
	"errors"
	"io"
	"iter"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// Fetch yields the messages of ids in folder. A bucket has no index but
// its listing, so Fetch lists the folder's objects once (metadata only)
// and keeps those asked for; headers and structures, when opts asks for
// them, are read from each kept object.
func (s *Store) Fetch(ctx context.Context, folder string, ids []mailaccess.ID, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return driver.FetchFromList(ctx, s, folder, ids, opts)
}

// FetchMatching yields the messages of folder that match c, checked
// locally with the evaluator every store without server search shares:
// an object is read only for the criteria its metadata cannot decide.
func (s *Store) FetchMatching(ctx context.Context, folder string, c mailaccess.Criteria, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return driver.FetchMatching(ctx, s, folder, c, opts)
}

// Structure reads the message's object and parses its MIME structure.
func (s *Store) Structure(ctx context.Context, folder string, id mailaccess.ID) (*mailaccess.PartInfo, error) {
	return driver.StructureByReading(ctx, s, folder, id)
}

// OpenPart reads the message's object up to the part and returns it
// decoded as opts asks.
func (s *Store) OpenPart(ctx context.Context, folder string, id mailaccess.ID, part []int, opts *mailaccess.PartOptions) (io.ReadCloser, error) {
	return driver.OpenPartByReading(ctx, s, folder, id, part, opts)
}

// Search returns the IDs of the messages of folder that match c. A bucket
// cannot search: each object is checked locally with the evaluator every
// driver without server search shares ([driver.Match]), from its listed
// metadata where that decides, else by reading the object (streamed, no
// further than needed). The Mailbox has no [mailaccess.CapSearch].
func (s *Store) Search(ctx context.Context, folder string, c mailaccess.Criteria) ([]mailaccess.ID, error) {
	if err := c.Validate(); err != nil {
		return nil, errs.Op("search", folder, err)
	}
	var out []mailaccess.ID
	for m, err := range s.List(ctx, folder, nil) {
		if err != nil {
			return nil, errs.Op("search", folder, err)
		}
		info := m.Info()
		ok, err := driver.Match(c, driver.Candidate{Info: info, Open: func() (io.ReadCloser, error) {
			return s.Open(ctx, folder, info.ID, nil)
		}})
		if errors.Is(err, mailaccess.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, errs.Op("search", folder, err)
		}
		if ok {
			out = append(out, info.ID)
		}
	}
	return out, nil
}

// Sort returns the IDs of the messages that match c ordered by keys, as
// IMAP SORT orders them, with the sort every store without server sort
// shares ([driver.Sort]): Search, then the header of each match when a key
// needs it.
func (s *Store) Sort(ctx context.Context, folder string, c mailaccess.Criteria, keys ...mailaccess.SortKey) ([]mailaccess.ID, error) {
	ids, err := driver.Sort(ctx, s, folder, c, keys...)
	if err != nil {
		return nil, errs.Op("sort", folder, err)
	}
	return ids, nil
}
