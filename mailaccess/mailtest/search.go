package mailtest

import (
	"bytes"
	"context"
	"io"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// Search returns the IDs of the messages matching c, in UID order, with
// or without CapSearch (without it, as on POP3, a real driver reads the
// messages to search them; the fake's result is the same either way). It
// evaluates c with the evaluator every local search shares
// (driver.Match), whose meaning is IMAP SEARCH's as Dovecot implements
// it.
func (m *Mailbox) Search(ctx context.Context, folder string, c mailaccess.Criteria) ([]mailaccess.ID, error) {
	msgs, err := m.matching(ctx, OpSearch, folder, c)
	if err != nil {
		return nil, err
	}
	ids := make([]mailaccess.ID, 0, len(msgs))
	for _, s := range msgs {
		ids = append(ids, s.info.ID)
	}
	return ids, nil
}

// Sort returns the IDs of the messages matching c ordered by keys, as
// IMAP SORT orders them (driver.Sorter), with or without CapSort.
func (m *Mailbox) Sort(ctx context.Context, folder string, c mailaccess.Criteria, keys ...mailaccess.SortKey) ([]mailaccess.ID, error) {
	s, err := driver.NewSorter(keys...)
	if err != nil {
		return nil, opErr(OpSort, folder, err)
	}
	msgs, err := m.matching(ctx, OpSort, folder, c)
	if err != nil {
		return nil, err
	}
	for _, msg := range msgs {
		info := msg.info
		if s.NeedsHeader() {
			if info.Header, err = mailaccess.ParseHeader(bytes.NewReader(msg.raw)); err != nil {
				info.Header = mailaccess.Header{} // sorts as a message without those fields
			}
		}
		s.Add(info)
	}
	return s.IDs(), nil
}

// matching returns the visible messages of folder that match c, in UID
// order.
func (m *Mailbox) matching(ctx context.Context, op Op, folder string, c mailaccess.Criteria) ([]snap, error) {
	if err := m.begin(ctx, op, folder, 0); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, opErr(op, folder, err)
	}
	msgs, err := m.snapshot(folder, nil)
	if err != nil {
		return nil, opErr(op, folder, err)
	}
	out := msgs[:0]
	for _, s := range msgs {
		if err := ctx.Err(); err != nil {
			return nil, opErr(op, folder, err)
		}
		raw := s.raw
		ok, err := driver.Match(c, driver.Candidate{Info: s.info, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(raw)), nil
		}})
		if err != nil {
			return nil, opErr(op, folder, err)
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, nil
}
