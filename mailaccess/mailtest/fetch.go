package mailtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailmime"
)

// Fetch yields the messages ids of folder, in the order of ids, from a
// snapshot taken when iteration starts: metadata, and the parsed header
// and part tree as opts asks. IDs of messages that are not there are
// skipped. It counts as one call of [OpFetch], whatever the number of IDs.
func (m *Mailbox) Fetch(ctx context.Context, folder string, ids []mailaccess.ID, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		if err := m.begin(ctx, OpFetch, folder, 0); err != nil {
			yield(nil, err)
			return
		}
		ids, err := driver.UniqueIDs(ids)
		if err != nil {
			yield(nil, opErr(OpFetch, folder, err))
			return
		}
		msgs, err := m.lookupAll(folder, ids)
		if err != nil {
			yield(nil, opErr(OpFetch, folder, err))
			return
		}
		var o mailaccess.FetchOptions
		if opts != nil {
			o = *opts
		}
		for _, s := range msgs {
			if err := ctx.Err(); err != nil {
				yield(nil, opErr(OpFetch, folder, err))
				return
			}
			if o.Headers {
				h, err := mailaccess.ParseHeader(bytes.NewReader(s.raw))
				if err != nil {
					yield(nil, opErr(OpFetch, folder, fmt.Errorf("message %s: %w", s.info.ID, err)))
					return
				}
				s.info.Header = h
			}
			if o.Structure {
				st, err := mailmime.ParseStructure(bytes.NewReader(s.raw), nil)
				if err != nil {
					yield(nil, opErr(OpFetch, folder, fmt.Errorf("message %s: %w", s.info.ID, err)))
					return
				}
				s.info.Structure = st
			}
			if !yield(driver.NewMessage(m, s.info), nil) {
				return
			}
		}
	}
}

// lookupAll copies the visible messages among ids, in that order.
func (m *Mailbox) lookupAll(folder string, ids []mailaccess.ID) ([]snap, error) {
	hide := m.pendingCopy(canonFolder(folder))
	m.Store.mu.Lock()
	defer m.Store.mu.Unlock()
	f, err := m.folderLocked(folder)
	if err != nil {
		return nil, err
	}
	out := make([]snap, 0, len(ids))
	for _, id := range ids {
		s, err := m.lookupLocked(f, id, hide)
		if err != nil {
			continue
		}
		out = append(out, snap{info: m.info(f.name, s), raw: s.raw})
	}
	return out, nil
}

// FetchMatching is Search and Fetch in one call when the handle has
// CapSearch; without it (the POP3 profile) each message is checked here,
// as the POP3 driver does (driver.FetchMatching).
func (m *Mailbox) FetchMatching(ctx context.Context, folder string, c mailaccess.Criteria, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return driver.FetchMatching(ctx, m, folder, c, opts)
}

// Structure parses the message's MIME structure (package mailmime,
// ParseStructure), with or without CapPartial. It counts as a call of
// [OpStructure].
func (m *Mailbox) Structure(ctx context.Context, folder string, id mailaccess.ID) (*mailaccess.PartInfo, error) {
	if err := m.begin(ctx, OpStructure, folder, 0); err != nil {
		return nil, err
	}
	raw, err := m.raw(folder, id)
	if err != nil {
		return nil, opErr(OpStructure, folder, err)
	}
	st, err := mailmime.ParseStructure(m.cutBody(folder, OpStructure, raw), nil)
	if err != nil {
		return nil, opErr(OpStructure, folder, err)
	}
	return st, nil
}

// OpenPart returns the part decoded (package mailmime, ReadPart), with or
// without CapPartial. It counts as a call of [OpOpenPart]; the stream
// honours CutBodyAfter (counted from the start of the message), the
// context and Close as Open's does.
func (m *Mailbox) OpenPart(ctx context.Context, folder string, id mailaccess.ID, part []int, opts *mailaccess.PartOptions) (io.ReadCloser, error) {
	if err := m.begin(ctx, OpOpenPart, folder, 0); err != nil {
		return nil, err
	}
	raw, err := m.raw(folder, id)
	if err != nil {
		return nil, opErr(OpOpenPart, folder, err)
	}
	r, err := mailmime.ReadPart(m.cutBody(folder, OpOpenPart, raw), part, opts, nil)
	if err != nil {
		return nil, opErr(OpOpenPart, folder, err)
	}
	return &body{r: r, ctx: ctx, folder: folder}, nil
}

// cutBody applies CutBodyAfter to a message read by op.
func (m *Mailbox) cutBody(folder string, op Op, raw []byte) io.Reader {
	var r io.Reader = bytes.NewReader(raw)
	if cut := m.bodyCut(); cut >= 0 && cut < int64(len(raw)) {
		r = &cutReader{r: io.LimitReader(r, cut), folder: folder, op: op}
	}
	return r
}
