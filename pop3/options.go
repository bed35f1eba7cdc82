package pop3

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mailaccess/go-mailaccess/internal/pop3wire"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Driver options (Config.Options, "opt.NAME=VALUE" in a URL). See the
// package documentation.
const (
	// OptSizeCheck selects how a message body is checked against the size
	// the server listed for it: SizeCheckStrict (the default),
	// SizeCheckAtLeast or SizeCheckOff.
	OptSizeCheck = "size-check"
	// OptMaxListing is the most lines a LIST or UIDL listing may have (so
	// the largest maildrop that can be listed); default
	// pop3wire.DefaultMaxListing (250,000).
	OptMaxListing = "max-listing"
)

// Values of OptSizeCheck.
const (
	// SizeCheckStrict refuses a body whose length is not the listed size,
	// allowing only the two ways real servers count: line ends as CRLF
	// (RFC 1939) or as one octet, and the CRLF a server adds to end a
	// message whose last line had none.
	SizeCheckStrict = "strict"
	// SizeCheckAtLeast also accepts a body longer than listed, for
	// servers that list estimated sizes (Microsoft Exchange unless its
	// EnableExactRFC822Size setting is on); a shorter body is still
	// refused, since that is how a truncated message looks.
	SizeCheckAtLeast = "at-least"
	// SizeCheckOff checks nothing but an empty body for a message listed
	// as non-empty, which is always refused.
	SizeCheckOff = "off"
)

// options are the parsed driver options.
type options struct {
	sizeCheck  string
	maxListing int
}

// parseOptions reads cfg.Options; an unknown name or a bad value is an
// error wrapping mailaccess.ErrInvalid that names it.
func parseOptions(cfg mailaccess.Config) (options, error) {
	o := options{sizeCheck: SizeCheckStrict, maxListing: pop3wire.DefaultMaxListing}
	names := make([]string, 0, len(cfg.Options))
	for k := range cfg.Options {
		names = append(names, k)
	}
	slices.Sort(names) // report the same error every time
	for _, k := range names {
		v := cfg.Options[k]
		switch k {
		case OptSizeCheck:
			switch strings.ToLower(v) {
			case "", SizeCheckStrict:
				o.sizeCheck = SizeCheckStrict
			case SizeCheckAtLeast, SizeCheckOff:
				o.sizeCheck = strings.ToLower(v)
			default:
				return o, fmt.Errorf("opt.%s=%q: want %s, %s or %s: %w", k, v, SizeCheckStrict, SizeCheckAtLeast, SizeCheckOff, mailaccess.ErrInvalid)
			}
		case OptMaxListing:
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return o, fmt.Errorf("opt.%s=%q: want a positive number of messages: %w", k, v, mailaccess.ErrInvalid)
			}
			o.maxListing = n
		default:
			return o, fmt.Errorf("unknown POP3 option opt.%s (known: opt.%s, opt.%s): %w", k, OptSizeCheck, OptMaxListing, mailaccess.ErrInvalid)
		}
	}
	return o, nil
}
