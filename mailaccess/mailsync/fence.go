package mailsync

import (
	"context"
	"errors"
	"fmt"
)

// StateFencer is an optional extension of a [StateStore] whose state is
// shared by several workers, each allowed to act only while it holds a
// lease (the fleet's SQL store keeps a lease with a fencing token): Fence
// reports whether this process may still act on the source, and returns
// an error saying why not otherwise (the lease expired or was taken
// over).
//
// The engine calls Fence right before every deletion it sends to the
// source and right before every [mailaccess.Commit] of deferred deletions
// (POP3's QUIT, which applies them); an error stops the deletion, sends
// nothing, and ends the run with that error, without the retries of
// [Retry] (deferred deletions not committed are discarded when the source
// is closed). A stale worker
// therefore cannot delete mail even in the moment between its last state
// commit and its delete. A StateStore without Fence never fences.
type StateFencer interface {
	StateStore
	// Fence returns nil if this process may still act on the source.
	Fence(ctx context.Context) error
}

// fence asks the state store, if it is a [StateFencer], whether the run
// may still act on the source; what names the action for the error.
func (s *syncer) fence(ctx context.Context, what string) error {
	f, ok := s.o.State.(StateFencer)
	if !ok {
		return nil
	}
	if err := f.Fence(ctx); err != nil {
		return &fenceError{fmt.Errorf("%s refused: the state store fenced this sync off the source: %w", what, err)}
	}
	return nil
}

// fenceError is a refusal of the fence: final, a pass is not retried
// after it (whatever it wraps: a lost lease matches mailaccess.ErrLocked).
type fenceError struct{ err error }

func (e *fenceError) Error() string { return e.err.Error() }
func (e *fenceError) Unwrap() error { return e.err }

// isFenced reports whether err holds a refusal of the fence.
func isFenced(err error) bool {
	var fe *fenceError
	return errors.As(err, &fe)
}
