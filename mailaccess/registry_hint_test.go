package mailaccess

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A program that opens maildir:// or mem:// without the blank import of
// the package that registers it is told which import to add, not only
// the imap example.
func TestNoDriverNamesThePackageToImport(t *testing.T) {
	for scheme, pkg := range map[string]string{
		"maildir": "github.com/mailaccess/go-mailaccess/mailaccess/maildir",
		"mem":     "github.com/mailaccess/go-mailaccess/mailaccess/mailtest",
		"pop3s":   "github.com/mailaccess/go-mailaccess/pop3",
		"imaps":   "github.com/mailaccess/go-mailaccess/imap",
	} {
		err := noDriver(scheme)
		assert.ErrorIs(t, err, ErrInvalid)
		assert.ErrorContains(t, err, `no driver for scheme "`+scheme+`"`)
		assert.ErrorContains(t, err, `import _ "`+pkg+`"`, scheme)
	}
	err := noDriver("nosuch")
	assert.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "blank import", "a scheme of another module gets the general hint")
	assert.NotContains(t, err.Error(), "mailaccess/maildir")
}
