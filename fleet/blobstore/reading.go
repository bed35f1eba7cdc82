package blobstore

import (
	"context"
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
