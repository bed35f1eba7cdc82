//go:build !unix && !windows

package maildir

import (
	"errors"
	"time"
)

// setFileTimes is not available here: a staged file keeps the time it was
// written.
func setFileTimes(File, time.Time) error { return errors.ErrUnsupported }
