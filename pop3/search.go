package pop3

import (
	"context"
	"io"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// Search evaluates c here, POP3 having no server-side search, with the
// evaluator every local search shares (driver.Filter, IMAP SEARCH's
// meaning), reading no more than c needs: sizes come from the session's
// LIST; the header criteria of the messages the size does not rule out
// are decided from pipelined "TOP n 0" (with TOP); the bodies of those
// still undecided are downloaded with pipelined RETR, each read no
// further than needed. POP3 keeps no flags, so WithFlags matches nothing
// and WithoutFlags everything; it has no internal date, so Since and
// Before compare the Date header (read with the other header criteria;
// a message without a valid Date matches neither); it has no numeric UIDs
// (MinUID and MaxUID match nothing). FetchMatching evaluates c the same
// way.
func (m *Mailbox) Search(ctx context.Context, folder string, c mailaccess.Criteria) ([]mailaccess.ID, error) {
	if err := checkFolder(folder); err != nil {
		return nil, opErr("search", folder, err)
	}
	if err := c.Validate(); err != nil {
		return nil, opErr("search", folder, err)
	}
	infos, err := m.snapshot(ctx)
	if err != nil {
		return nil, opErr("search", folder, err)
	}
	ids, err := driver.Filter(ctx, c, infos, m.source(folder))
	if err != nil {
		return nil, opErr("search", folder, err)
	}
	return ids, nil
}

// source is how driver.Filter reads this maildrop: headers with TOP when
// the server has it (else from the bodies), bodies with pipelined RETR.
func (m *Mailbox) source(folder string) driver.Source {
	src := driver.Source{Bodies: func(ctx context.Context, ids []mailaccess.ID, fn func(mailaccess.ID, io.Reader) error) error {
		return m.OpenAll(ctx, folder, ids, fn)
	}}
	if m.caps.Has(mailaccess.CapHeaders) {
		src.Headers = m.fillHeaders
	}
	return src
}

// Sort orders the messages Search selects as IMAP SORT would
// (driver.Sorter), POP3 having no sort: the sizes come from LIST, the
// header fields from pipelined TOP (or RETR) of the matching messages
// only, when a key needs them. POP3 has no internal date: SortArrival
// keeps maildrop order, and SortDate uses the Date header alone.
func (m *Mailbox) Sort(ctx context.Context, folder string, c mailaccess.Criteria, keys ...mailaccess.SortKey) ([]mailaccess.ID, error) {
	s, err := driver.NewSorter(keys...)
	if err != nil {
		return nil, opErr("sort", folder, err)
	}
	ids, err := m.Search(ctx, folder, c)
	if err != nil || len(keys) == 0 {
		return ids, err
	}
	infos, err := m.snapshot(ctx)
	if err != nil {
		return nil, opErr("sort", folder, err)
	}
	want := make(map[mailaccess.ID]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	matched := infos[:0]
	for _, info := range infos {
		if want[info.ID] {
			matched = append(matched, info)
		}
	}
	for len(matched) > 0 {
		chunk := matched[:min(defaultBatch, len(matched))]
		matched = matched[len(chunk):]
		if s.NeedsHeader() {
			if err := m.fillHeaders(ctx, chunk); err != nil {
				return nil, opErr("sort", folder, err)
			}
		}
		for _, info := range chunk {
			if info.ID != "" { // "" if deleted since Search
				s.Add(info)
			}
		}
	}
	return s.IDs(), nil
}
