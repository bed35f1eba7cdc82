package mailsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// apply carries out a plan: store the new messages, carry flag changes
// over, forget (and with MirrorDeletes delete locally) what is gone,
// record the checkpoint, then delete from the source what the Retention
// policy says, only among messages recorded in saved state.
func (r *folderRun) apply(ctx context.Context, p *plan) error {
	if p.emptyReset {
		return r.keepOnEmpty(ctx)
	}
	for _, it := range p.tooLarge {
		r.fr.Skipped++
		r.fail(fmt.Errorf("message %s: listed as %d bytes, over the limit of %d (Options.MaxMessageSize; raise it to store the message): not downloaded: %w",
			it.id, it.size, r.s.o.MaxMessageSize, ErrTooLarge))
	}
	r.markReused(p.reused)
	if len(p.fetch) > 0 {
		if err := r.transfer(ctx, p.fetch); err != nil {
			return err
		}
	}
	dirty := len(p.fetch) > 0 || r.reident != nil
	changed, err := r.applyFlags(ctx, p.flags)
	if err != nil {
		r.fail(err)
	}
	dirty = dirty || changed
	if len(p.goneDst) > 0 && r.s.o.MirrorDeletes {
		if err := r.mirrorDeletes(ctx, p.goneDst); err != nil {
			return err
		}
	}
	if len(p.gone) > 0 {
		r.st.remove(p.gone)
		dirty = true
	}
	if r.recordCheckpoint(p) || dirty {
		if err := r.st.finish(ctx, r.s.o.State); err != nil {
			return fmt.Errorf("commit sync state: %w", err)
		}
	}
	// Retention, only for messages recorded in saved state.
	if len(p.deletes) > 0 && len(r.errs) == 0 {
		return r.retention(ctx, p)
	}
	return nil
}

// keepOnEmpty handles a source that lists no messages while the state
// knows some: not a mass deletion (a server reset, a wrong account), so
// the state is kept as it was and the report says so.
func (r *folderRun) keepOnEmpty(ctx context.Context) error {
	st := r.st
	if r.reident != nil {
		st.Mode, st.UIDValidity = r.prevMode, r.prevValidity
		st.replaceAll(r.reident)
	}
	r.note("source lists no messages while %d are recorded as stored; not treated as deletions (nothing deleted locally, state kept)", st.live())
	if st.clearCheckpoint() || r.reident != nil {
		if err := st.save(ctx, r.s.o.State); err != nil {
			return fmt.Errorf("commit sync state: %w", err)
		}
	}
	return nil
}

// markReused gives each message that reuses the ID of a stored one a new
// generation, so it is stored under a new key.
func (r *folderRun) markReused(reused []item) {
	now := r.s.o.Now().Unix()
	for _, it := range reused {
		r.st.update(it.key, func(m *stateMsg) {
			was := "was deleted by retention"
			if !m.Deleted {
				was = "names a stored message"
			}
			r.note("source ID %q %s and is reused by a new message (size %d, was %d); storing it as new", it.key, was, it.size, m.listedSize())
			m.renew(now)
		})
	}
}

// recordCheckpoint records the source's counters after a complete,
// error-free pass (and forgets them after one with errors), and reports
// whether the record changed.
func (r *folderRun) recordCheckpoint(p *plan) bool {
	st := r.st
	if len(r.errs) > 0 || r.incomplete {
		return st.clearCheckpoint()
	}
	var prefix listPrefix
	switch {
	case p.prefix != nil:
		prefix = *p.prefix
	case r.mode == modeList && p.full && len(p.dup) == 0:
		prefix = listingPrefix(p.items, r.caps.Has(mailaccess.CapFlags))
	}
	changed := st.setCheckpoint(checkpoint{UIDNext: p.status.UIDNext, ModSeq: p.status.HighestModSeq, Count: p.status.Messages, Prefix: prefix})
	if st.Open {
		// Every message this pass stored is recorded: the next one need
		// not ask the destination for keys above them.
		st.Open, changed = false, true
	}
	return changed
}

// applyFlags carries the planned flag changes over and records them. The
// destination's changes go in one batch ([driver.ReplaceFlags]), with the
// recorded flags as the hint that lets a Maildir rename each file at once.
func (r *folderRun) applyFlags(ctx context.Context, updates []flagUpdate) (bool, error) {
	s := r.s
	changed := false
	var errs []error
	done := func(u flagUpdate) {
		r.st.setFlags(u.key, flagStrings(u.flags))
		r.fr.Updated++
		changed = true
	}
	var down []flagUpdate
	var changes []driver.FlagChange
	sets := make([][]mailaccess.Flag, 0, 2*len(updates))
	for _, u := range updates {
		if !u.toSource {
			sets = append(sets, u.flags, toFlags(u.was))
		}
	}
	if err := r.learnKept(ctx, sets...); err != nil {
		return false, err
	}
	for _, u := range updates {
		if _, ok := r.st.get(u.key); !ok {
			continue
		}
		if !u.toSource {
			if u.both {
				r.note("flags of %s changed on both sides; the source's win", u.key)
			}
			if !r.dstCaps.Has(mailaccess.CapFlags) {
				done(u)
				continue
			}
			down = append(down, u)
			changes = append(changes, driver.FlagChange{ID: u.id, Flags: r.dstFlags(u.flags), Was: r.dstFlags(toFlags(u.was))})
			continue
		}
		if err := s.src.SetFlags(ctx, r.folder, []mailaccess.ID{u.id}, mailaccess.ReplaceFlags, u.flags...); err != nil {
			if !errors.Is(err, mailaccess.ErrNotFound) {
				errs = append(errs, err)
			}
			continue
		}
		done(u)
	}
	if len(changes) > 0 {
		failed := driver.ReplaceFlags(ctx, s.dst, r.dest, changes)
		for i, u := range down {
			if err := errAt(failed, i); err != nil && !errors.Is(err, mailaccess.ErrNotFound) {
				errs = append(errs, err)
				continue
			}
			done(u)
		}
	}
	return changed, errors.Join(errs...)
}

// errAt is errs[i], or nil when errs is nil.
func errAt(errs []error, i int) error {
	if i < len(errs) {
		return errs[i]
	}
	return nil
}

// mirrorDeletes deletes from the destination the messages gone from the
// source.
func (r *folderRun) mirrorDeletes(ctx context.Context, ids []mailaccess.ID) error {
	if !r.dstCaps.Has(mailaccess.CapDelete) {
		r.note("%d messages were deleted on the source; the destination cannot delete, so they are kept", len(ids))
		return nil
	}
	err := r.s.dst.Delete(ctx, r.dest, ids...)
	if err != nil && !errors.Is(err, mailaccess.ErrNotFound) {
		return fmt.Errorf("mirror deletions: %w", err)
	}
	if err := driver.Flush(ctx, r.s.dst); err != nil {
		return fmt.Errorf("mirror deletions: %w", err)
	}
	r.fr.Deleted += len(ids)
	return nil
}

// retention deletes from the source the planned candidates that are
// recorded as stored and proven to be the messages stored ([prove]).
// Tombstones are saved before the deletion is sent, so a rerun never
// fetches them again. A candidate shown to be another message under a
// reused ID is stored as new instead, after the deletions.
//
// The deletions go in chunks, each proven, deleted and committed
// (POP3: QUIT applies the DELEs) on its own; see shrinkDeleteChunk.
func (r *folderRun) retention(ctx context.Context, p *plan) error {
	s, st := r.s, r.st
	var stored []deletion
	now := s.o.Now()
	for _, d := range p.deletes {
		m, ok := st.get(d.key)
		if ok && !m.Pending && m.Deleted == (d.reason == deleteAgain) && (d.reason == deleteAgain || r.oldEnough(&m, now)) {
			stored = append(stored, d)
		}
	}
	var reused []item
	for len(stored) > 0 {
		n := len(stored)
		if c := s.deleteChunk; c > 0 {
			n = min(n, c)
		}
		more, err := r.deleteChunk(ctx, stored[:n], p.listed)
		if err != nil {
			if errors.Is(err, mailaccess.ErrTemporary) {
				s.shrinkDeleteChunk(n)
			}
			return fmt.Errorf("retention %s: %w", s.o.Retention, err)
		}
		reused = append(reused, more...)
		stored = stored[n:]
	}
	if len(reused) == 0 {
		return nil
	}
	r.markReused(reused)
	st.clearCheckpoint()
	return r.transfer(ctx, reused)
}

// Deletions in chunks. Proving N messages and deleting them takes about
// 2N+3 commands in one POP3 session (a TOP for each, a DELE for each,
// QUIT to apply them), and a server that ends sessions after a few
// commands (an autologout, a per-session limit) discards the marks of a
// session it ends: deleting everything at once would then never finish.
// So when a session ends under a chunk of deletions (an error matching
// ErrTemporary), the chunk size shrinks (to a quarter, at most 64 the
// first time, at least 1) for the rest of the Sync's life, and the next
// pass deletes in chunks of that size, each committed before the next
// begins: every new session makes progress. A server without such a
// limit never sees more than one chunk.
const maxFirstDeleteChunk = 64

// shrinkDeleteChunk makes the chunks smaller after a session ended under
// one of n deletions.
func (s *syncer) shrinkDeleteChunk(n int) {
	c := max(n/4, 1)
	if s.deleteChunk == 0 {
		c = min(c, maxFirstDeleteChunk)
	}
	if s.deleteChunk == 0 || c < s.deleteChunk {
		s.deleteChunk = c
	}
}

// deleteChunk proves the candidates, saves their tombstones, deletes the
// proven ones from the source and commits the deletion (each step to the
// source only while the state store does not fence this sync off). It
// returns the candidates shown to be other messages under reused IDs.
func (r *folderRun) deleteChunk(ctx context.Context, cands []deletion, listed listing) ([]item, error) {
	s, st := r.s, r.st
	proven, reused, err := r.prove(ctx, cands, listed)
	if err != nil {
		return nil, err
	}
	var ids []mailaccess.ID
	for _, d := range proven {
		st.update(d.key, func(m *stateMsg) { m.Deleted = true })
		ids = append(ids, d.id)
	}
	if len(ids) == 0 {
		return reused, nil
	}
	st.clearCheckpoint() // the source's counters change: verify next time
	if err := st.save(ctx, s.o.State); err != nil {
		return nil, fmt.Errorf("commit sync state before deleting from the source: %w", err)
	}
	if err := s.fence(ctx, "delete from the source"); err != nil {
		return nil, err
	}
	if err := s.src.Delete(ctx, r.folder, ids...); err != nil {
		return nil, err
	}
	if err := s.fence(ctx, "commit of deletions"); err != nil {
		return nil, err
	}
	if err := mailaccess.Commit(ctx, s.src); err != nil {
		return nil, fmt.Errorf("commit deletions: %w", err)
	}
	r.fr.SourceDeleted += len(ids)
	return reused, nil
}
