package driver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Config is how a driver holds its [mailaccess.Config]: sealed in a
// function value, so that no formatting of the driver's values can show
// the credentials, with the defaults a driver needs resolved by its
// methods.
//
// fmt and log/slog cannot call the methods of a value held in an
// unexported field: a mailaccess.Config kept there, or a pointer to one,
// is printed field by field, password included (fmt.Printf("%s", mb)
// dereferences even a nested pointer). A function value is only ever
// printed as an address. Keep a Config in an unexported field:
//
//	type Mailbox struct {
//		cfg driver.Config
//		...
//	}
//
//	m := &Mailbox{cfg: driver.NewConfig(cfg)}
//	conn, err := dial(ctx, m.cfg.Addr(), m.cfg.DialTimeoutOrDefault())
//	err = login(ctx, conn, m.cfg.Get().User, string(m.cfg.Get().Password))
//
// Printed directly, a Config shows the redacted [mailaccess.Config.String].
type Config struct {
	get func() mailaccess.Config
}

// NewConfig returns a Config holding a copy of cfg.
func NewConfig(cfg mailaccess.Config) Config {
	return Config{get: func() mailaccess.Config { return cfg }}
}

// Get returns a copy of the Config held (the zero Config for the zero
// value).
func (c Config) Get() mailaccess.Config {
	if c.get == nil {
		return mailaccess.Config{}
	}
	return c.get()
}

// String returns the redacted form of the Config held.
func (c Config) String() string { return c.Get().String() }

// GoString returns the redacted form of the Config held.
func (c Config) GoString() string { return c.Get().GoString() }

// LogValue makes slog print the redacted form of the Config held.
func (c Config) LogValue() slog.Value { return c.Get().LogValue() }

// Protocol returns the protocol family of the scheme as its driver
// registered it ("imap" for imap and imaps), else the scheme.
func (c Config) Protocol() string {
	scheme := c.Get().Scheme
	if s, ok := lookup(scheme); ok {
		return s.Protocol
	}
	return scheme
}

// IsNetwork reports whether the scheme was registered as a network scheme
// (FormNetwork: it talks to a server at Host).
func (c Config) IsNetwork() bool {
	s, ok := lookup(c.Get().Scheme)
	return ok && s.Form == FormNetwork
}

// PortOrDefault returns Port, or the scheme's default port when it is 0.
func (c Config) PortOrDefault() int {
	cfg := c.Get()
	if cfg.Port != 0 {
		return cfg.Port
	}
	if s, ok := lookup(cfg.Scheme); ok {
		return s.DefaultPort
	}
	return 0
}

// Addr returns "host:port", with the scheme's default port when Port is 0.
func (c Config) Addr() string {
	return net.JoinHostPort(c.Get().Host, strconv.Itoa(c.PortOrDefault()))
}

// EffectiveTLS resolves TLSDefault: implicit TLS for schemes registered
// with ImplicitTLS (imaps, pop3s), STARTTLS otherwise.
func (c Config) EffectiveTLS() mailaccess.TLSMode {
	cfg := c.Get()
	if cfg.TLS != mailaccess.TLSDefault {
		return cfg.TLS
	}
	if s, ok := lookup(cfg.Scheme); ok && s.ImplicitTLS {
		return mailaccess.TLSImplicit
	}
	return mailaccess.TLSStartTLS
}

// DefaultFolder returns Folder, or INBOX when it is empty.
func (c Config) DefaultFolder() string {
	if f := c.Get().Folder; f != "" {
		return f
	}
	return mailaccess.Inbox
}

// Log returns Logger, or a logger that discards everything.
func (c Config) Log() *slog.Logger {
	if l := c.Get().Logger; l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// Default timeouts, used when the Config leaves them at zero.
const (
	DefaultDialTimeout    = 30 * time.Second
	DefaultCommandTimeout = 2 * time.Minute
)

// DialTimeoutOrDefault returns DialTimeout, or [DefaultDialTimeout].
func (c Config) DialTimeoutOrDefault() time.Duration {
	if d := c.Get().DialTimeout; d > 0 {
		return time.Duration(d)
	}
	return DefaultDialTimeout
}

// CommandTimeoutOrDefault returns CommandTimeout, or
// [DefaultCommandTimeout].
func (c Config) CommandTimeoutOrDefault() time.Duration {
	if d := c.Get().CommandTimeout; d > 0 {
		return time.Duration(d)
	}
	return DefaultCommandTimeout
}

// TLSClientConfig returns the *tls.Config a driver should use: a clone of
// TLSConfig (or a new one) with ServerName set to Host, TLS 1.2 at least,
// and CAFile's certificates added to the trusted roots.
func (c Config) TLSClientConfig() (*tls.Config, error) {
	cfg := c.Get()
	var tc *tls.Config
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
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
			return nil, fmt.Errorf("mailaccess: ca_file %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// CheckCredentials reports an error wrapping [mailaccess.ErrInvalid] when
// a network Config lacks what a login needs: a user name, and a password
// or a token (Config.Token). A network driver calls it before
// connecting, so that an unset environment variable never reaches the
// server as an empty password: servers count failed logins, delay the
// next ones more and more, and may lock the account. Local schemes need
// no credentials and pass.
func (c Config) CheckCredentials() error {
	if !c.IsNetwork() {
		return nil
	}
	cfg := c.Get()
	switch {
	case cfg.User == "":
		return fmt.Errorf("no user name: set Config.User (the user@ of the URL) before connecting: %w", mailaccess.ErrInvalid)
	case cfg.Password == "" && cfg.Token == nil:
		return fmt.Errorf("no password for user %q: set Config.Password (from the environment or a secret store; was the variable empty?) or Config.Token before connecting: %w", cfg.User, mailaccess.ErrInvalid)
	}
	return nil
}
