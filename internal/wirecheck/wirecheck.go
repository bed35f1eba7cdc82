// Package wirecheck validates strings before drivers put them on the wire.
package wirecheck

import (
	"fmt"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Check returns an error wrapping mailaccess.ErrInvalid if s contains CR,
// LF or NUL, which would let a value inject protocol commands. what names
// the value in the error (the value itself is not quoted: it may be secret).
func Check(what, s string) error {
	if strings.ContainsAny(s, "\r\n\x00") {
		return fmt.Errorf("%s contains CR, LF or NUL: %w", what, mailaccess.ErrInvalid)
	}
	return nil
}
