package mailsync

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// settleIdentities decides, for a source whose IDs can name other
// messages over time (POP3 UIDLs; not IMAP UIDs, which the UIDVALIDITY
// pins), what the listed messages the plan would download are, before
// anything is stored: a message is stored once, whatever ID the source
// gives it now.
//   - A stored message listed under its ID with another size is not
//     taken for a new message on the size alone: sizes that servers list
//     change (estimates, line-end conventions), and a UIDL reused for a
//     new message has another header. Only one whose header, then whose
//     content, differs from the stored copy is stored as new; one that
//     cannot be read to tell is an error for that message, and its record
//     is left as it is.
//   - A message to be downloaded whose content is that of a stored
//     message the listing no longer shows under its ID (a UIDL that
//     stopped or started being shared with another message, UIDLs
//     exchanged or renumbered by a server that derives them from message
//     numbers) takes over that message's record instead of being stored
//     again.
//
// Headers are compared first (FetchHeader: POP3 TOP), so only a message
// whose header is that of a stored one is downloaded to compare.
func (r *folderRun) settleIdentities(ctx context.Context, p *plan) error {
	if r.mode != modeList || len(p.fetch) == 0 {
		return nil
	}
	if err := r.checkReused(ctx, p); err != nil {
		return err
	}
	return r.adoptByContent(ctx, p)
}

// checkReused keeps, of the messages classify took for new messages
// under the ID of a stored one because their size changed, those that
// are other messages.
func (r *folderRun) checkReused(ctx context.Context, p *plan) error {
	drop := map[mailaccess.ID]bool{}
	for _, it := range p.reused {
		m, ok := r.st.get(it.key)
		if !ok || m.Deleted || m.Dst == "" || it.unstable {
			continue // an ID back after its message was deleted: a new message
		}
		same, err := r.sameContent(ctx, &m, it)
		switch {
		case errors.Is(err, mailaccess.ErrNotFound):
			continue // gone: the transfer notes it
		case err != nil:
			drop[it.key] = true
			r.fr.Skipped++
			r.fail(fmt.Errorf("message %s: listed as %d bytes while the message stored under its ID has %d, and it could not be read to tell whether it is that message; not stored: %w",
				it.id, it.size, m.listedSize(), err))
		case same:
			drop[it.key] = true
			r.st.update(it.key, func(m *stateMsg) {
				m.Listed = 0
				if it.size != m.Size {
					m.Listed = it.size
				}
			})
			r.note("source ID %q is listed with another size (%d, was %d) but is the message stored; not stored again", it.key, it.size, m.listedSize())
		}
	}
	if len(drop) > 0 {
		keep := func(it item) bool { return drop[it.key] }
		p.reused = slices.DeleteFunc(p.reused, keep)
		p.fetch = slices.DeleteFunc(p.fetch, keep)
	}
	return nil
}

// sameContent reports whether the source's message it is the message m
// records: the headers first (when m's print is known), then the whole
// content against the stored copy. A stored copy that cannot be read is
// not proof either way: false.
func (r *folderRun) sameContent(ctx context.Context, m *stateMsg, it item) (bool, error) {
	if m.Print != "" && r.caps.Has(mailaccess.CapHeaders) {
		h, err := r.s.src.FetchHeader(ctx, r.folder, it.id)
		if err != nil {
			return false, err
		}
		if headerPrint(h) != m.Print {
			return false, nil
		}
	}
	src, err := r.digest(ctx, r.s.src, r.folder, it.id)
	if err != nil {
		return false, err
	}
	dst, err := r.digest(ctx, r.s.dst, r.dest, m.Dst)
	if err != nil {
		return false, nil
	}
	return src == dst, nil
}

// adoptByContent gives the record of a stored message that the listing
// does not show under its ID (not listed, or listed as another message)
// to a message the plan would download whose content is that message's.
func (r *folderRun) adoptByContent(ctx context.Context, p *plan) error {
	if len(p.fetch) == 0 {
		return nil
	}
	reused := make(map[mailaccess.ID]bool, len(p.reused))
	for _, it := range p.reused {
		reused[it.key] = true
	}
	bySize := map[int64][]int{} // such records, by listed size
	for i, m := range r.st.Msgs {
		if m.Pending || m.Dst == "" {
			continue
		}
		if p.listed.has(m.Src) && !reused[m.Src] {
			continue
		}
		bySize[m.listedSize()] = append(bySize[m.listedSize()], i)
	}
	if len(bySize) == 0 {
		return nil
	}
	moves := map[int]mailaccess.ID{} // record index -> the ID that takes it
	adopters := map[mailaccess.ID]bool{}
	stored := map[mailaccess.ID][32]byte{}
	for _, it := range p.fetch {
		var cands []int
		for _, i := range bySize[it.size] {
			if _, taken := moves[i]; !taken {
				cands = append(cands, i)
			}
		}
		if len(cands) == 0 {
			continue
		}
		print := ""
		if r.caps.Has(mailaccess.CapHeaders) {
			h, err := r.s.src.FetchHeader(ctx, r.folder, it.id)
			if err != nil {
				continue // the transfer meets the same failure, with its message
			}
			print = headerPrint(h)
			cands = slices.DeleteFunc(cands, func(i int) bool {
				return r.st.Msgs[i].Print != "" && r.st.Msgs[i].Print != print
			})
			if len(cands) == 0 {
				continue
			}
		}
		src, err := r.digest(ctx, r.s.src, r.folder, it.id)
		if err != nil {
			continue
		}
		for _, i := range cands {
			m := &r.st.Msgs[i]
			d, ok := stored[m.Dst]
			if !ok {
				if d, err = r.digest(ctx, r.s.dst, r.dest, m.Dst); err != nil {
					continue
				}
				stored[m.Dst] = d
			}
			if d == src {
				moves[i], adopters[it.key] = it.key, true
				r.note("message %s is the message stored under the source ID %q; it now has the ID %q and is not stored again", it.id, m.Src, it.key)
				break
			}
		}
	}
	if len(moves) == 0 {
		return nil
	}
	// A record whose ID an adopter takes and that moves nowhere itself
	// names a message no longer listed: it goes, as a gone message goes.
	for i := range r.st.Msgs {
		if _, moved := moves[i]; !moved && adopters[r.st.Msgs[i].Src] {
			r.st.Msgs[i].Src = mailaccess.ID("\x00displaced\x00" + string(r.st.Msgs[i].Src))
		}
	}
	for i, key := range moves {
		r.st.Msgs[i].Src = key
		r.st.Msgs[i].Reident = false
	}
	r.st.rekeyed()
	p.fetch = slices.DeleteFunc(p.fetch, func(it item) bool { return adopters[it.key] })
	p.reused = slices.DeleteFunc(p.reused, func(it item) bool {
		_, recorded := r.st.get(it.key)
		return adopters[it.key] || !recorded
	})
	return nil
}
