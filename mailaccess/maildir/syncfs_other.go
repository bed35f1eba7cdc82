//go:build !linux

package maildir

import (
	"errors"
	"os"
)

// syncFS has no portable equivalent outside Linux; the store fsyncs each
// file instead.
func syncFS(*os.File) error { return errors.ErrUnsupported }
