package mailaccess

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// TLSMode says how a network driver protects the connection.
type TLSMode string

// TLS modes. The default depends on the scheme: implicit TLS for imaps://
// and pop3s://, STARTTLS (STLS) for imap:// and pop3://.
const (
	// TLSDefault picks implicit TLS or STARTTLS from the scheme.
	TLSDefault TLSMode = ""
	// TLSImplicit starts TLS at connect (ports 993, 995).
	TLSImplicit TLSMode = "implicit"
	// TLSStartTLS connects in plaintext and upgrades with STARTTLS/STLS
	// before authenticating. A server that does not offer it is an error
	// ([ErrStartTLSUnavailable]); there is no silent fallback.
	TLSStartTLS TLSMode = "starttls"
	// TLSInsecurePlaintext never uses TLS and allows credentials in clear.
	// It is the explicit opt-in for test servers on loopback; never use it
	// over a network.
	TLSInsecurePlaintext TLSMode = "insecure-plaintext"
)

// Secret is a string that never prints: String, GoString, %v, %s, %q and
// JSON marshalling all show "REDACTED" (or "" when empty). Convert with
// string(s) to use the value.
type Secret string

const redacted = "REDACTED"

// String returns "REDACTED" if s is set, "" otherwise.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is used by %#v; it redacts too.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format makes every fmt verb print the redacted form.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(s.String()))
		return
	}
	fmt.Fprint(f, s.String())
}

// MarshalJSON writes "REDACTED" (or "" when empty): a Config written out
// never holds the secret. Unmarshalling reads the real value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText redacts like MarshalJSON.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue redacts in log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Duration is a time.Duration that reads and writes JSON as a string such
// as "30s" (a number is taken as seconds).
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1m30s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err2 := json.Unmarshal(b, &secs); err2 != nil {
			return fmt.Errorf("duration: want a string like \"30s\" or seconds, got %s", truncate(string(b), 40))
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// TokenFunc returns an OAuth2 access token. It is called before each
// authentication, and again after the server refuses a token, so it should
// refresh an expired one (an oauth2.TokenSource fits in three lines).
type TokenFunc func(ctx context.Context) (string, error)

// Config says which mailbox to open and how. It is the same for every
// protocol: swapping POP3 for IMAP is changing Scheme (or the URL). Build it
// in code, from JSON, or from a URL with [ParseURL].
//
// Secrets do not leak: Password is a [Secret], Token is never marshalled,
// and String, %v, %#v and JSON output redact them.
type Config struct {
	// Scheme selects the driver: "imap", "imaps", "pop3", "pop3s",
	// "maildir", "mem" or any registered with [Register].
	Scheme string `json:"scheme"`
	// Host and Port of the server; Port 0 means the scheme's default
	// (143, 993, 110, 995).
	Host string `json:"host,omitempty"`
	Port int    `json:"port,omitempty"`
	// User is the login name.
	User string `json:"user,omitempty"`
	// Password for LOGIN / USER+PASS / SASL PLAIN.
	Password Secret `json:"password,omitempty"`
	// Token, if set, supplies an OAuth2 access token and selects XOAUTH2
	// (or Auth). It takes precedence over Password.
	Token TokenFunc `json:"-"`
	// Auth forces an authentication mechanism: "plain", "login",
	// "xoauth2", "oauthbearer", "apop" or "user" (POP3 USER/PASS). Empty
	// picks the best the server offers.
	Auth string `json:"auth,omitempty"`
	// TLS is the transport security mode; see [TLSMode].
	TLS TLSMode `json:"tls,omitempty"`
	// TLSConfig, if set, is cloned for the connection (its ServerName
	// defaults to Host). Certificates are verified unless the caller's
	// TLSConfig says otherwise.
	TLSConfig *tls.Config `json:"-"`
	// CAFile names a PEM file of extra certificate authorities to trust
	// besides the system's.
	CAFile string `json:"ca_file,omitempty"`
	// Path is the root directory for maildir:// and the store name for
	// mem://.
	Path string `json:"path,omitempty"`
	// Folder is the default folder (the URL path for imap:// and pop3://);
	// empty means INBOX.
	Folder string `json:"folder,omitempty"`
	// DialTimeout bounds connecting, TLS and login (default 30s);
	// CommandTimeout bounds each command's wait for the server (default
	// 2m), on top of any context deadline.
	DialTimeout    Duration `json:"dial_timeout,omitempty"`
	CommandTimeout Duration `json:"command_timeout,omitempty"`
	// MaxConns is the most connections a driver may open at once (IMAP
	// pool); 0 means the driver's default.
	MaxConns int `json:"max_conns,omitempty"`
	// Require lists capabilities the Mailbox must have; [Open] fails early
	// with an [*UnsupportedError] otherwise.
	Require Capability `json:"require,omitempty"`
	// Logger receives driver logs; nil means silent.
	Logger *slog.Logger `json:"-"`
	// Trace, if set, receives the protocol exchange with credentials
	// redacted (message bodies are summarised).
	Trace io.Writer `json:"-"`
	// Options holds driver-specific settings (see each driver's doc),
	// written in URLs as query parameters "opt.NAME=VALUE".
	Options map[string]string `json:"options,omitempty"`
}

// DefaultPort returns the well-known port of a scheme, or 0.
func DefaultPort(scheme string) int {
	switch scheme {
	case "imap":
		return 143
	case "imaps":
		return 993
	case "pop3":
		return 110
	case "pop3s":
		return 995
	}
	return 0
}

// Protocol returns the protocol family of the scheme: "imap" for imap and
// imaps, "pop3" for pop3 and pop3s, else the scheme itself.
func (c Config) Protocol() string {
	switch c.Scheme {
	case "imap", "imaps":
		return "imap"
	case "pop3", "pop3s":
		return "pop3"
	}
	return c.Scheme
}

// IsNetwork reports whether the scheme talks to a server (has Host).
func (c Config) IsNetwork() bool {
	return DefaultPort(c.Scheme) != 0 || (c.Host != "" && c.Scheme != "mem" && c.Scheme != "maildir")
}

// Addr returns "host:port" with the default port filled in.
func (c Config) Addr() string {
	port := c.Port
	if port == 0 {
		port = DefaultPort(c.Scheme)
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

// EffectiveTLS resolves TLSDefault from the scheme.
func (c Config) EffectiveTLS() TLSMode {
	if c.TLS != TLSDefault {
		return c.TLS
	}
	switch c.Scheme {
	case "imaps", "pop3s":
		return TLSImplicit
	}
	return TLSStartTLS
}

// DefaultFolder returns Folder, or INBOX when it is empty.
func (c Config) DefaultFolder() string {
	if c.Folder == "" {
		return Inbox
	}
	return c.Folder
}

// Log returns Logger, or a logger that discards everything.
func (c Config) Log() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// DialTimeoutOrDefault returns DialTimeout, or 30s when unset.
func (c Config) DialTimeoutOrDefault() time.Duration {
	if c.DialTimeout > 0 {
		return time.Duration(c.DialTimeout)
	}
	return 30 * time.Second
}

// CommandTimeoutOrDefault returns CommandTimeout, or 2m when unset.
func (c Config) CommandTimeoutOrDefault() time.Duration {
	if c.CommandTimeout > 0 {
		return time.Duration(c.CommandTimeout)
	}
	return 2 * time.Minute
}

// TLSClientConfig returns the *tls.Config a driver should use: a clone of
// TLSConfig (or a new one) with ServerName set to Host, TLS 1.2 at least,
// and CAFile's certificates added to the trusted roots.
func (c Config) TLSClientConfig() (*tls.Config, error) {
	var tc *tls.Config
	if c.TLSConfig != nil {
		tc = c.TLSConfig.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		tc.ServerName = c.Host
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mailaccess: read ca_file: %w", err)
		}
		pool := tc.RootCAs
		if pool == nil {
			if pool, err = x509.SystemCertPool(); err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mailaccess: ca_file %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// Validate checks the configuration without connecting: a known scheme
// form, a host for network schemes, a port in range, a TLS mode that fits
// the scheme, and no CR, LF or NUL in anything that goes on the wire. Its
// errors wrap [ErrInvalid] and never contain the password.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("mailaccess: invalid config: %s: %w", fmt.Sprintf(format, args...), ErrInvalid)
	}
	if c.Scheme == "" {
		return bad("no scheme")
	}
	for _, r := range c.Scheme {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return bad("scheme %q is not lower-case letters and digits", c.Scheme)
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		return bad("port %d out of range", c.Port)
	}
	for name, v := range map[string]string{"host": c.Host, "user": c.User, "folder": c.Folder, "auth": c.Auth, "path": c.Path} {
		if strings.ContainsAny(v, "\r\n\x00") {
			return bad("%s contains CR, LF or NUL", name)
		}
	}
	if strings.ContainsAny(string(c.Password), "\r\n\x00") {
		return bad("password contains CR, LF or NUL")
	}
	switch c.TLS {
	case TLSDefault, TLSImplicit, TLSStartTLS, TLSInsecurePlaintext:
	default:
		return bad("tls mode %q (want implicit, starttls or insecure-plaintext)", string(c.TLS))
	}
	switch c.Scheme {
	case "imap", "imaps", "pop3", "pop3s":
		if c.Host == "" {
			return bad("%s:// needs a host", c.Scheme)
		}
		if (c.Scheme == "imaps" || c.Scheme == "pop3s") && c.TLS != TLSDefault && c.TLS != TLSImplicit {
			return bad("%s:// uses implicit TLS; tls=%s contradicts it", c.Scheme, c.TLS)
		}
	case "maildir":
		if c.Path == "" {
			return bad("maildir:// needs a path")
		}
	}
	switch strings.ToLower(c.Auth) {
	case "", "plain", "login", "xoauth2", "oauthbearer", "apop", "user":
	default:
		return bad("auth %q (want plain, login, xoauth2, oauthbearer, apop or user)", c.Auth)
	}
	if c.MaxConns < 0 {
		return bad("max_conns %d is negative", c.MaxConns)
	}
	if c.Require&^AllCapabilities != 0 {
		return bad("require has unknown capability bits")
	}
	return nil
}

// ParseURL parses a mailbox URL into a Config:
//
//	imaps://user@imap.example.com:993/INBOX
//	imap://user@host/Archive?tls=insecure-plaintext
//	pop3s://user@pop.example.com
//	maildir:///home/me/Mail
//	mem://test/INBOX
//
// The path of imap://, pop3:// and mem:// URLs is the default folder; the
// host of mem:// names the in-memory store. A password in
// the URL (user:pass@) is accepted but discouraged: prefer Config.Password
// from the environment. Query parameters: tls, auth, ca_file, dial_timeout,
// command_timeout, max_conns, require (capability names joined by "|" or
// ","), and opt.NAME for driver options. Unknown parameters are errors.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error includes the URL, which may hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Config{}, fmt.Errorf("mailaccess: parse URL: %v: %w", err, ErrInvalid)
	}
	c := Config{Scheme: strings.ToLower(u.Scheme)}
	if c.Scheme == "" {
		return Config{}, fmt.Errorf("mailaccess: parse URL: no scheme (want e.g. imaps://user@host): %w", ErrInvalid)
	}
	if u.User != nil {
		c.User = u.User.Username()
		if p, ok := u.User.Password(); ok {
			c.Password = Secret(p)
		}
	}
	switch c.Scheme {
	case "mem":
		c.Path = u.Host
		c.Folder = strings.TrimPrefix(u.Path, "/")
	case "maildir":
		switch {
		case u.Opaque != "":
			c.Path = u.Opaque
		default:
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
				return Config{}, fmt.Errorf("mailaccess: parse URL: bad port %q: %w", p, ErrInvalid)
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
				return Config{}, fmt.Errorf("mailaccess: parse URL: max_conns %q: %w", v, ErrInvalid)
			}
			c.MaxConns = n
		case "dial_timeout", "command_timeout":
			d, err := time.ParseDuration(v)
			if err != nil {
				return Config{}, fmt.Errorf("mailaccess: parse URL: %s: %v: %w", key, err, ErrInvalid)
			}
			if key == "dial_timeout" {
				c.DialTimeout = Duration(d)
			} else {
				c.CommandTimeout = Duration(d)
			}
		case "require":
			caps, err := ParseCapability(v)
			if err != nil {
				return Config{}, fmt.Errorf("%w: %w", err, ErrInvalid)
			}
			c.Require = caps
		default:
			name, ok := strings.CutPrefix(key, "opt.")
			if !ok || name == "" {
				return Config{}, fmt.Errorf("mailaccess: parse URL: unknown parameter %q: %w", key, ErrInvalid)
			}
			if c.Options == nil {
				c.Options = map[string]string{}
			}
			c.Options[name] = v
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// URL returns the configuration as a URL without the password, the inverse
// of [ParseURL] for everything a URL can hold.
func (c Config) URL() string {
	u := url.URL{Scheme: c.Scheme}
	if c.User != "" {
		u.User = url.User(c.User)
	}
	switch c.Scheme {
	case "maildir":
		if strings.HasPrefix(c.Path, "/") {
			u.Path = c.Path
		} else {
			u.Host = c.Path
		}
	case "mem":
		u.Host = c.Path
		if c.Folder != "" {
			u.Path = "/" + c.Folder
		}
	default:
		u.Host = c.Host
		if c.Port != 0 {
			u.Host = net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
		}
		if c.Folder != "" {
			u.Path = "/" + c.Folder
		}
	}
	q := url.Values{}
	if c.TLS != "" {
		q.Set("tls", string(c.TLS))
	}
	if c.Auth != "" {
		q.Set("auth", c.Auth)
	}
	if c.CAFile != "" {
		q.Set("ca_file", c.CAFile)
	}
	if c.MaxConns != 0 {
		q.Set("max_conns", strconv.Itoa(c.MaxConns))
	}
	if c.DialTimeout != 0 {
		q.Set("dial_timeout", time.Duration(c.DialTimeout).String())
	}
	if c.CommandTimeout != 0 {
		q.Set("command_timeout", time.Duration(c.CommandTimeout).String())
	}
	if c.Require != 0 {
		q.Set("require", c.Require.String())
	}
	for k, v := range c.Options {
		q.Set("opt."+k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// String returns the URL form and whether credentials are set, never the
// credentials themselves.
func (c Config) String() string {
	s := c.URL()
	switch {
	case c.Token != nil:
		s += " (token)"
	case c.Password != "":
		s += " (password " + redacted + ")"
	}
	return s
}

// GoString is used by %#v; it redacts like String.
func (c Config) GoString() string { return "mailaccess.Config(" + strconv.Quote(c.String()) + ")" }

// LogValue makes slog print the redacted String form.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
