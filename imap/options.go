package imap

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// driverOptions are the settings Config.Options may hold for this driver
// (URL query "opt.NAME=VALUE"), with how to apply each.
var driverOptions = map[string]func(l *limits, v string) error{
	OptMaxLine: func(l *limits, v string) error {
		n, err := parseByteSize(OptMaxLine, v)
		l.maxLine = n
		return err
	},
	OptMaxLiteral: func(l *limits, v string) error {
		n, err := parseByteSize(OptMaxLiteral, v)
		l.maxLiteral = n
		return err
	},
	OptSizeCheck: func(l *limits, v string) error {
		b, err := parseSizeCheck(v)
		l.verifySize = b
		return err
	},
}

// Names of the driver's options (Config.Options keys; "opt.NAME" in a
// URL). See the package documentation for what each bounds.
const (
	OptMaxLine    = "max-line"
	OptMaxLiteral = "max-literal"
)

// optionNames lists the keys of driverOptions, sorted, for the driver's
// registration (any other opt.NAME is refused).
func optionNames() []string {
	names := make([]string, 0, len(driverOptions))
	for name := range driverOptions {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// parseOptions reads the driver's options from Config.Options; an unknown
// option or a bad value is an error wrapping [mailaccess.ErrInvalid].
func parseOptions(opts map[string]string) (limits, error) {
	l := limits{maxLine: DefaultMaxLine, maxLiteral: DefaultMaxLiteral, verifySize: true}
	for k, v := range opts {
		apply, ok := driverOptions[k]
		if !ok {
			var known []string
			for _, name := range optionNames() {
				known = append(known, "opt."+name)
			}
			return l, fmt.Errorf("unknown option opt.%s for IMAP (known: %s): %w", k, strings.Join(known, ", "), mailaccess.ErrInvalid)
		}
		if err := apply(&l, v); err != nil {
			return l, err
		}
	}
	return l, nil
}

// parseByteSize reads a positive byte count: "65536", "64KiB", "4MiB" or
// "1GiB".
func parseByteSize(name, v string) (int64, error) {
	s, mult := strings.TrimSpace(v), int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("option opt.%s=%q: want a positive byte count such as 1048576, 64KiB or 4MiB: %w", name, v, mailaccess.ErrInvalid)
	}
	return n * mult, nil
}
