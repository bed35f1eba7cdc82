package mailtest

import (
	"bytes"
	"context"
	"io"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// Search returns the IDs of the messages matching every non-zero field of
// c, in UID order. Needs CapSearch. It evaluates c with the matcher every
// local store shares (driver.Match): strings match case-insensitively in
// header values, raw or decoded, and in the decoded text parts.
func (m *Mailbox) Search(ctx context.Context, folder string, c mailaccess.Criteria) ([]mailaccess.ID, error) {
	if err := m.begin(ctx, OpSearch, folder, mailaccess.CapSearch); err != nil {
		return nil, err
	}
	msgs, err := m.snapshot(folder, nil)
	if err != nil {
		return nil, opErr(OpSearch, folder, err)
	}
	ids := []mailaccess.ID{}
	for _, s := range msgs {
		if err := ctx.Err(); err != nil {
			return nil, opErr(OpSearch, folder, err)
		}
		info := s.info
		if u, ok := parseID(info.ID); ok {
			info.UID = u
		}
		raw := s.raw
		ok, err := driver.Match(c, driver.Candidate{Info: info, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(raw)), nil
		}})
		if err != nil {
			return nil, opErr(OpSearch, folder, err)
		}
		if ok {
			ids = append(ids, s.info.ID)
		}
	}
	return ids, nil
}
