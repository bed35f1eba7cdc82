package mailaccess

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/internal/registry"
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
	// "maildir", "mem" or any other a driver registers (see [Schemes]).
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

// Validate checks the configuration without connecting: a scheme some
// driver registered, a host for network schemes and a path for local ones,
// a port in range, a TLS mode that fits the scheme, no CR, LF or NUL in
// anything that goes on the wire, and what the scheme's driver checks
// itself (the auth mechanisms and driver options it knows). Its errors
// wrap [ErrInvalid] and never contain the password. [Open] and the
// drivers' own constructors call it once; a program may call it to check
// a configuration early.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("mailaccess: invalid config: %s: %w", fmt.Sprintf(format, args...), ErrInvalid)
	}
	if c.Scheme == "" {
		return bad("no scheme")
	}
	if !validScheme(c.Scheme) {
		return bad("scheme %q is not lower-case letters and digits", c.Scheme)
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
	if c.MaxConns < 0 {
		return bad("max_conns %d is negative", c.MaxConns)
	}
	if c.Require&^AllCapabilities != 0 {
		return bad("require has unknown capability bits")
	}
	sc, err := lookup(c.Scheme)
	if err != nil {
		return err
	}
	switch sc.Form() {
	case registry.Network:
		if c.Host == "" {
			return bad("%s:// needs a host", c.Scheme)
		}
		if sc.ImplicitTLS() && c.TLS != TLSDefault && c.TLS != TLSImplicit {
			return bad("%s:// uses implicit TLS; tls=%s contradicts it", c.Scheme, c.TLS)
		}
	case registry.Path:
		if c.Path == "" {
			return bad("%s:// needs a path", c.Scheme)
		}
	}
	if err := sc.Check(c); err != nil {
		if !errors.Is(err, ErrInvalid) {
			err = fmt.Errorf("%w: %w", err, ErrInvalid)
		}
		return fmt.Errorf("mailaccess: invalid config: %s: %w", c.Scheme, err)
	}
	return nil
}

func validScheme(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return false
		}
	}
	return s != ""
}

// URL returns the configuration as a URL without the password, the inverse
// of [ParseURL] for everything a URL can hold.
func (c Config) URL() string {
	u := url.URL{Scheme: c.Scheme}
	if c.User != "" {
		u.User = url.User(c.User)
	}
	form := registry.Network
	if sc, err := lookup(c.Scheme); err == nil {
		form = sc.Form()
	}
	switch form {
	case registry.Path:
		if strings.HasPrefix(c.Path, "/") {
			u.Path = c.Path
		} else {
			u.Host = c.Path
		}
	case registry.Store:
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
