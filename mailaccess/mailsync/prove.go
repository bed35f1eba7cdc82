package mailsync

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// batchPrints is how many messages to prove make one listing with
// headers cheaper than a header fetch each (POP3: one pipelined TOP pass
// instead of a round trip per message).
const batchPrints = 16

// prove keeps, of the candidates for deletion from the source, those
// shown to be the message stored, as the reliability rules demand before
// any delete. An IMAP UID names one message for as long as its
// UIDVALIDITY (which the ID carries) holds, so in UID mode the ID is the
// proof, except for records matched by Message-ID after a UIDVALIDITY
// change. Any other ID (a POP3 UIDL, which a server may give to a new
// message once the old one is gone, or while it is still there) is proven
// by the listed size and then the fingerprint of the header the source
// sends now (FetchHeader: POP3 TOP) against the one recorded when the
// message was stored, or, for records without one, against the stored
// copy's header; when the prints differ, the whole message on the source
// is compared with the stored copy. A candidate that is shown to be
// another message is returned in reused, to be stored as new; one that
// cannot be checked (not in this pass's listing, or gone) is kept.
func (r *folderRun) prove(ctx context.Context, cands []deletion, listed listing) (proven []deletion, reused []item, err error) {
	var check []deletion
	for _, d := range cands {
		m, _ := r.st.get(d.key)
		if r.mode == modeUID && !m.Reident {
			proven = append(proven, d)
			continue
		}
		it, ok := listed.get(d.key)
		switch {
		case !ok:
			continue
		case m.listedSize() != it.size:
			reused = append(reused, it)
		default:
			check = append(check, d)
		}
	}
	prints, err := r.sourcePrints(ctx, check, listed)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range check {
		m, _ := r.st.get(d.key)
		it, _ := listed.get(d.key)
		print, ok := prints[it.id]
		if !ok {
			continue // gone from the source
		}
		same, err := r.sameMessage(ctx, &m, it, print)
		if err != nil {
			return nil, nil, err
		}
		if same {
			if m.Reident {
				r.st.update(d.key, func(m *stateMsg) { m.Reident = false })
			}
			proven = append(proven, d)
		} else {
			reused = append(reused, it)
		}
	}
	return proven, reused, nil
}

// sourcePrints returns the header prints of the source's messages the
// deletions name, by source ID; a message missing from the result is gone.
func (r *folderRun) sourcePrints(ctx context.Context, check []deletion, listed listing) (map[mailaccess.ID]string, error) {
	out := make(map[mailaccess.ID]string, len(check))
	// Not when deletions go in chunks (the server's sessions are short):
	// the listing reads every header of the folder, more than a session
	// allows.
	if len(check) >= batchPrints && r.caps.Has(mailaccess.CapHeaders) && r.s.deleteChunk == 0 {
		want := make(map[mailaccess.ID]bool, len(check))
		for _, d := range check {
			it, _ := listed.get(d.key)
			want[it.id] = true
		}
		for m, err := range r.s.src.List(ctx, r.folder, &mailaccess.ListOptions{Headers: true}) {
			if err != nil {
				return nil, fmt.Errorf("fetching headers to prove identities before deleting: %w", err)
			}
			if info := m.Info(); want[info.ID] && !info.Header.IsZero() {
				out[info.ID] = headerPrint(info.Header)
			}
		}
		return out, nil
	}
	for _, d := range check {
		it, _ := listed.get(d.key)
		id := it.id
		h, err := r.s.src.FetchHeader(ctx, r.folder, id)
		if errors.Is(err, mailaccess.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("fetching the header of %s to prove its identity before deleting it: %w", id, err)
		}
		out[id] = headerPrint(h)
	}
	return out, nil
}

// sameMessage reports whether the source's message it, whose header
// print is print, is the message m records as stored.
func (r *folderRun) sameMessage(ctx context.Context, m *stateMsg, it item, print string) (bool, error) {
	stored := m.Print
	if stored == "" && m.Dst != "" {
		// A record made before prints were kept: the stored copy's header.
		if h, err := r.s.dst.FetchHeader(ctx, r.dest, m.Dst); err == nil {
			stored = headerPrint(h)
		}
	}
	if stored != "" && stored == print {
		return true, nil
	}
	if m.Dst == "" {
		return false, nil
	}
	// The prints differ, or the stored one is unknown: compare the whole
	// message (a server whose TOP differs from its RETR would otherwise
	// have every message taken for a new one).
	a, err := r.digest(ctx, r.s.src, r.folder, it.id)
	if errors.Is(err, mailaccess.ErrNotFound) || errors.Is(err, mailaccess.ErrProtocol) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	b, err := r.digest(ctx, r.s.dst, r.dest, m.Dst)
	if err != nil {
		return false, nil // the stored copy is not there to compare: not proven
	}
	return a == b, nil
}

// digest is the SHA-256 of a message of mb.
func (r *folderRun) digest(ctx context.Context, mb mailaccess.Mailbox, folder string, id mailaccess.ID) ([32]byte, error) {
	rc, err := mb.Open(ctx, folder, id, nil)
	if err != nil {
		return [32]byte{}, err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return [32]byte{}, err
	}
	return [32]byte(h.Sum(nil)), nil
}
