package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailmime"
)

// This file holds the shared parts of the Mailbox methods that read what a
// program selected: Fetch, FetchMatching, Structure and OpenPart. Every
// driver of this module implements them natively; a store without a better
// way (and a third-party Mailbox) builds them from these helpers, which use
// only the Mailbox's other methods.

// UniqueIDs returns ids without repeats, in the order of first occurrence,
// and fails with [mailaccess.ErrInvalid] on an empty ID: what Fetch yields
// for its ids.
func UniqueIDs(ids []mailaccess.ID) ([]mailaccess.ID, error) {
	seen := make(map[mailaccess.ID]bool, len(ids))
	out := make([]mailaccess.ID, 0, len(ids))
	for _, id := range ids {
		if id == "" {
			return nil, fmt.Errorf("empty message ID: %w", mailaccess.ErrInvalid)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// FetchFromList implements [mailaccess.Mailbox].Fetch for a Mailbox that
// has no way to find given messages but listing the folder: it lists the
// folder once (metadata only), keeps the messages of ids, and completes
// them with FetchHeader and Structure as opts asks. It costs a listing of
// the whole folder: a driver that can look messages up does better.
func FetchFromList(ctx context.Context, mb mailaccess.Mailbox, folder string, ids []mailaccess.ID, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		ids, err := UniqueIDs(ids)
		if err != nil {
			yield(nil, err)
			return
		}
		if len(ids) == 0 {
			return
		}
		index := make(map[mailaccess.ID]int, len(ids))
		for i, id := range ids {
			index[id] = i
		}
		found := make([]*mailaccess.MessageInfo, len(ids))
		for m, err := range mb.List(ctx, folder, nil) {
			if err != nil {
				yield(nil, err)
				return
			}
			if i, ok := index[m.ID()]; ok {
				info := m.Info()
				found[i] = &info
			}
		}
		for _, info := range found {
			if info == nil {
				continue
			}
			ok, err := Complete(ctx, mb, info, opts)
			if err != nil {
				yield(nil, err)
				return
			}
			if ok && !yield(NewMessage(mb, *info), nil) {
				return
			}
		}
	}
}

// Complete adds to info what opts asks for and info lacks: the header
// (mb.FetchHeader) and the part tree (mb.Structure). It reports false,
// without error, if the message is gone (ErrNotFound).
func Complete(ctx context.Context, mb mailaccess.Mailbox, info *mailaccess.MessageInfo, opts *mailaccess.FetchOptions) (bool, error) {
	if opts == nil {
		return true, nil
	}
	if opts.Headers && info.Header.IsZero() {
		h, err := mb.FetchHeader(ctx, info.Folder, info.ID)
		if errors.Is(err, mailaccess.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		info.Header = h
	}
	if opts.Structure && info.Structure == nil {
		s, err := mb.Structure(ctx, info.Folder, info.ID)
		if errors.Is(err, mailaccess.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		info.Structure = s
	}
	return true, nil
}

// fetchMatchBatch is how many matching messages FetchMatching hands to
// Fetch at a time when it filters locally.
const fetchMatchBatch = 256

// FetchMatching implements [mailaccess.Mailbox].FetchMatching with mb's
// own methods. With [mailaccess.CapSearch] it runs mb.Search and then
// mb.Fetch of the IDs found, so what is fetched grows with what matched.
// Without it (POP3) it lists the folder (with headers when the criteria
// read the header, so that a header criterion costs a header fetch, not a
// message download), checks each message with [Match] (which opens the
// message only for the criteria the metadata and header cannot decide:
// Body, Text) and fetches what opts asks for of the messages that match.
func FetchMatching(ctx context.Context, mb mailaccess.Mailbox, folder string, c mailaccess.Criteria, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	if mb.Capabilities().Has(mailaccess.CapSearch) {
		return func(yield func(mailaccess.Message, error) bool) {
			ids, err := mb.Search(ctx, folder, c)
			if err != nil {
				yield(nil, err)
				return
			}
			for m, err := range mb.Fetch(ctx, folder, ids, opts) {
				if !yield(m, err) || err != nil {
					return
				}
			}
		}
	}
	return func(yield func(mailaccess.Message, error) bool) {
		lm := &localMatch{ctx: ctx, mb: mb, folder: folder, c: c, yield: yield}
		if opts != nil {
			lm.o = *opts
		}
		lm.run()
	}
}

// localMatch is a FetchMatching that checks each message itself.
type localMatch struct {
	ctx    context.Context
	mb     mailaccess.Mailbox
	folder string
	c      mailaccess.Criteria
	o      mailaccess.FetchOptions
	yield  func(mailaccess.Message, error) bool
	batch  []mailaccess.ID // matched, waiting for Fetch
}

func (lm *localMatch) run() {
	listHeaders := criteriaReadHeader(lm.c)
	// What List gives is enough unless the options ask for more.
	direct := !lm.o.Structure && (!lm.o.Headers || listHeaders)
	for m, err := range lm.mb.List(lm.ctx, lm.folder, &mailaccess.ListOptions{Headers: listHeaders, BatchSize: lm.o.BatchSize}) {
		if err != nil {
			lm.yield(nil, err)
			return
		}
		info := m.Info()
		ok, err := Match(lm.c, Candidate{Info: info, Open: func() (io.ReadCloser, error) {
			return lm.mb.Open(lm.ctx, lm.folder, info.ID, nil)
		}})
		switch {
		case errors.Is(err, mailaccess.ErrNotFound):
			continue // gone meanwhile
		case err != nil:
			lm.yield(nil, err)
			return
		case !ok:
			continue
		case direct:
			if listHeaders && !lm.o.Headers {
				info.Header = mailaccess.Header{} // listed for matching only
				m = NewMessage(lm.mb, info)
			}
			if !lm.yield(m, nil) {
				return
			}
		default:
			if lm.batch = append(lm.batch, info.ID); len(lm.batch) >= fetchMatchBatch && !lm.flush() {
				return
			}
		}
	}
	lm.flush()
}

// flush fetches and yields the matched messages waiting; false means
// stop.
func (lm *localMatch) flush() bool {
	ids := lm.batch
	lm.batch = nil
	if len(ids) == 0 {
		return true
	}
	for m, err := range lm.mb.Fetch(lm.ctx, lm.folder, ids, &lm.o) {
		if !lm.yield(m, err) || err != nil {
			return false
		}
	}
	return true
}

// criteriaReadHeader reports whether c has criteria that read the header
// (Text looks in the header first). Keep it in step with [Match].
func criteriaReadHeader(c mailaccess.Criteria) bool {
	return c.From != "" || c.To != "" || c.Cc != "" || c.Subject != "" || c.Text != "" || len(c.Header) > 0
}

// StructureByReading implements [mailaccess.Mailbox].Structure by reading
// the message with mb.Open and parsing it, streamed
// ([mailmime.ParseStructure]): for stores without partial fetch, and as
// the fallback when a server's description cannot be used.
func StructureByReading(ctx context.Context, mb mailaccess.Mailbox, folder string, id mailaccess.ID) (*mailaccess.PartInfo, error) {
	rc, err := mb.Open(ctx, folder, id, nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return mailmime.ParseStructure(rc, nil)
}

// OpenPartByReading implements [mailaccess.Mailbox].OpenPart by reading
// the message with mb.Open up to the part and decoding it
// ([mailmime.ReadPart]). Closing the reader closes the message.
func OpenPartByReading(ctx context.Context, mb mailaccess.Mailbox, folder string, id mailaccess.ID, part []int, opts *mailaccess.PartOptions) (io.ReadCloser, error) {
	if len(part) == 0 {
		return nil, fmt.Errorf("empty part path (Open reads the whole message): %w", mailaccess.ErrInvalid)
	}
	rc, err := mb.Open(ctx, folder, id, nil)
	if err != nil {
		return nil, err
	}
	r, err := mailmime.ReadPart(rc, part, opts, nil)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &partReader{Reader: r, c: rc}, nil
}

type partReader struct {
	io.Reader
	c io.Closer
}

func (p *partReader) Close() error { return p.c.Close() }
