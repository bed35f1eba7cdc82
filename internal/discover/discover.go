// Package discover implements the one rule by which mailaccess finds an
// optional interface of a Mailbox: on the value itself, else through its As
// method. Package mailaccess (Commit and the folder helpers) and package
// driver (Find and the other helpers) both use it, so the rule cannot
// drift between them; its documentation for users is in package driver.
package discover

// Aser is the part of a Mailbox the rule needs.
type Aser interface {
	As(target any) bool
}

// Find returns v as a T if v implements T, else the value v.As sets in a T
// if it reports true and sets a non-nil one.
func Find[T any](v Aser) (T, bool) {
	var zero T
	if v == nil {
		return zero, false
	}
	if t, ok := v.(T); ok {
		return t, true
	}
	var t T
	if v.As(&t) && any(t) != nil {
		return t, true
	}
	return zero, false
}
