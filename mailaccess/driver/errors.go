package driver

import (
	"errors"
	"fmt"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Errors builds a driver's errors: every error a driver returns from a
// Mailbox method goes through Op, so that it is an [*mailaccess.OpError]
// naming the operation, the protocol and the folder, and matches the
// sentinels of package mailaccess with errors.Is. A driver keeps one
// Errors value and gives it only its own classification of causes:
//
//	var errs = driver.Errors{Protocol: "pop3", Classify: classify}
//
//	func classify(err error) error {
//		if isInUse(err) {
//			return fmt.Errorf("%w: %w", mailaccess.ErrLocked, err)
//		}
//		return err
//	}
type Errors struct {
	// Protocol names the driver in errors ("imap", "pop3", "maildir").
	Protocol string
	// Classify, if set, returns the cause wrapped so that it also matches
	// the mailaccess sentinel it means (ErrNotFound, ErrLocked,
	// ErrTemporary, ErrProtocol...), or the cause itself. It sees every
	// cause Op wraps.
	Classify func(error) error
}

// Op returns err as the error of operation op on folder ("" when the
// operation has none): nil stays nil; an [*mailaccess.UnsupportedError],
// or an error that already holds an OpError of this protocol, is returned
// as it is (so wrapping twice is harmless); anything else is classified
// and wrapped in a new OpError.
func (e Errors) Op(op, folder string, err error) error {
	if err == nil {
		return nil
	}
	var oe *mailaccess.OpError
	if errors.As(err, &oe) && oe.Protocol == e.Protocol {
		return err
	}
	var ue *mailaccess.UnsupportedError
	if errors.As(err, &ue) {
		return err
	}
	if e.Classify != nil {
		err = e.Classify(err)
	}
	return &mailaccess.OpError{Op: op, Protocol: e.Protocol, Folder: folder, Err: err}
}

// Unsupported returns the error of op refused for lack of a capability,
// with an optional reason ("server does not offer UIDL").
func (e Errors) Unsupported(op string, missing mailaccess.Capability, reason string) error {
	return &mailaccess.UnsupportedError{Op: op, Protocol: e.Protocol, Missing: missing, Reason: reason}
}

// Unsupported returns an [*mailaccess.UnsupportedError] for op on
// protocol, missing the given capability.
func Unsupported(protocol, op string, missing mailaccess.Capability) error {
	return &mailaccess.UnsupportedError{Op: op, Protocol: protocol, Missing: missing}
}

// Permanent reports whether err is one that retrying cannot cure: refused
// credentials or TLS, an invalid argument, a missing folder or
// capability, a closed Mailbox. [PollWatch] and the IMAP driver's watch
// end on such an error instead of reconnecting.
func Permanent(err error) bool {
	for _, e := range []error{mailaccess.ErrAuth, mailaccess.ErrNotFound, mailaccess.ErrInvalid, mailaccess.ErrInsecure,
		mailaccess.ErrStartTLSUnavailable, mailaccess.ErrClosed, errors.ErrUnsupported} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// DeletesDiscarded returns the cause a Close reports when it dropped n
// pending deferred deletions (Delete without Commit): it matches
// [mailaccess.ErrDeletesDiscarded], counts them, and says what to do.
// Every driver with [mailaccess.CapDeferredDelete] wraps it in its
// OpError for "close".
func DeletesDiscarded(n int) error {
	what := "deletions"
	if n == 1 {
		what = "deletion"
	}
	return fmt.Errorf("%d pending %s dropped by Close without Commit, the messages are still there (call mailaccess.Commit before Close to apply deletions, or mailaccess.Rollback to drop them on purpose): %w",
		n, what, mailaccess.ErrDeletesDiscarded)
}
