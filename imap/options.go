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
	"max_line": func(l *limits, v string) error {
		n, err := parseByteSize("max_line", v)
		l.maxLine = n
		return err
	},
	"max_literal": func(l *limits, v string) error {
		n, err := parseByteSize("max_literal", v)
		l.maxLiteral = n
		return err
	},
}

// parseOptions reads the driver's options from Config.Options; an unknown
// option or a bad value is an error wrapping [mailaccess.ErrInvalid].
func parseOptions(opts map[string]string) (limits, error) {
	l := limits{maxLine: DefaultMaxLine, maxLiteral: DefaultMaxLiteral}
	for k, v := range opts {
		apply, ok := driverOptions[k]
		if !ok {
			known := make([]string, 0, len(driverOptions))
			for name := range driverOptions {
				known = append(known, "opt."+name)
			}
			slices.Sort(known)
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
