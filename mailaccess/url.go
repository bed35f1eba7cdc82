package mailaccess

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/internal/registry"
)

// ParseURL parses a mailbox URL into a Config and validates it
// ([Config.Validate]):
//
//	imaps://user@imap.example.com:993/INBOX
//	imap://user@host/Archive?tls=insecure-plaintext
//	pop3s://user@pop.example.com
//	maildir:///home/me/Mail
//	mem://test/INBOX
//
// What the host and path mean is the scheme's: the server and the default
// folder for imap:// and pop3://, the root directory for maildir://, the
// store name and the folder for mem://. The scheme's driver must be
// imported (its blank import registers it).
//
// A password in the URL (user:pass@) is accepted but discouraged: prefer
// Config.Password from the environment. A user name or password holding
// '/', '?', '#' or '@' must be percent-encoded (%2F, %3F, %23, %40); an
// '@' after the host of a network URL (in the folder or a parameter) must
// be written %40 as well, since it would make "user:pass/x@host" and
// "host/x@y" indistinguishable. Such a URL is an error, and no error ever
// repeats the user name or password.
//
// Query parameters: tls, auth, ca_file, folder, dial_timeout,
// command_timeout, max_conns, require (capability names joined by "|" or
// ","), and opt.NAME for the driver's options. Unknown parameters, and
// driver options the scheme's driver does not know, are errors.
func ParseURL(raw string) (Config, error) {
	c, err := parseURL(raw)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// parseURL is ParseURL without the validation, for OpenURL, whose Open
// validates.
func parseURL(raw string) (Config, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("mailaccess: parse URL: %s: %w", fmt.Sprintf(format, args...), ErrInvalid)
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	scheme = strings.ToLower(scheme)
	if !ok || scheme == "" {
		return Config{}, fail("no scheme (want e.g. imaps://user@host)")
	}
	if !validScheme(scheme) {
		return Config{}, fail("scheme %q is not letters and digits", scheme)
	}
	sc, err := lookup(scheme)
	if err != nil {
		return Config{}, err
	}
	form := sc.Form()
	c := Config{Scheme: scheme}

	// Split off the user information before url.Parse sees the URL, so
	// that neither its errors nor ours can echo a password.
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		end := strings.IndexAny(after, "/?#")
		if end < 0 {
			end = len(after)
		}
		authority := after[:end]
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			user, pass, hasPass := strings.Cut(authority[:at], ":")
			if c.User, err = url.PathUnescape(user); err != nil {
				return Config{}, fail("the user name has a malformed %%-escape (write %% as %%25)")
			}
			if hasPass {
				p, err := url.PathUnescape(pass)
				if err != nil {
					return Config{}, fail("the password has a malformed %%-escape (write %% as %%25)")
				}
				c.Password = Secret(p)
			}
			rest = "//" + authority[at+1:] + after[end:]
		} else if form == registry.Network && strings.Contains(after[end:], "@") {
			return Config{}, fail("ambiguous %s:// URL: an '@' after the host: a user name or password holding '/', '?', '#' or '@' must be percent-encoded (%%2F, %%3F, %%23, %%40), and so must an '@' in the folder or a parameter (%%40)", scheme)
		}
	}
	u, err := url.Parse(scheme + ":" + rest)
	if err != nil {
		// url.Error repeats the URL; its cause no longer holds the user
		// information, which was taken out above.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Config{}, fail("%v", err)
	}
	switch form {
	case registry.Store:
		c.Path = u.Host
		c.Folder = strings.TrimPrefix(u.Path, "/")
	case registry.Path:
		if u.Opaque != "" {
			c.Path = u.Opaque
		} else {
			c.Path = u.Host + u.Path
		}
		if strings.HasPrefix(c.Path, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				c.Path = home + c.Path[1:]
			}
		}
	default:
		c.Host = u.Hostname()
		if p := u.Port(); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return Config{}, fail("bad port %q (want 1 to 65535)", p)
			}
			c.Port = n
		}
		c.Folder = strings.TrimPrefix(u.Path, "/")
	}
	for key, vals := range u.Query() {
		v := ""
		if len(vals) > 0 {
			v = vals[len(vals)-1]
		}
		if err := c.setParam(key, v); err != nil {
			return Config{}, fail("%v", err)
		}
	}
	return c, nil
}

// setParam sets the field a URL query parameter names.
func (c *Config) setParam(key, v string) error {
	switch key {
	case "tls":
		c.TLS = TLSMode(v)
	case "auth":
		c.Auth = v
	case "ca_file":
		c.CAFile = v
	case "folder":
		c.Folder = v
	case "max_conns":
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("max_conns %q is not a number", v)
		}
		c.MaxConns = n
	case "dial_timeout", "command_timeout":
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s: %v", key, err)
		}
		if key == "dial_timeout" {
			c.DialTimeout = Duration(d)
		} else {
			c.CommandTimeout = Duration(d)
		}
	case "require":
		caps, err := ParseCapability(v)
		if err != nil {
			return err
		}
		c.Require = caps
	default:
		name, ok := strings.CutPrefix(key, "opt.")
		if !ok || name == "" {
			return fmt.Errorf("unknown parameter %q (known: tls, auth, ca_file, folder, dial_timeout, command_timeout, max_conns, require, opt.NAME)", key)
		}
		if c.Options == nil {
			c.Options = map[string]string{}
		}
		c.Options[name] = v
	}
	return nil
}
