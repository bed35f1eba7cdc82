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

// Config is how a driver holds its [mailaccess.Config]: behind a pointer,
// so that no formatting of the driver's values can show the credentials,
// with the defaults a driver needs resolved by its methods.
//
// fmt and log/slog cannot call the methods of a value held in an
// unexported field, so a mailaccess.Config kept there would be printed
// field by field, password included, by fmt.Printf("%v", mailbox). A
// pointer inside an unexported field is printed as an address instead,
// and a Config printed directly uses the redacting String, GoString and
// LogValue of mailaccess.Config. Keep it in an unexported field:
//
//	type Mailbox struct {
//		cfg driver.Config
//		...
//	}
//
//	m := &Mailbox{cfg: driver.NewConfig(cfg)}
//	conn, err := dial(ctx, m.cfg.Addr(), m.cfg.DialTimeoutOrDefault())
//
// The embedded *mailaccess.Config gives direct access to every field
// (m.cfg.User, m.cfg.Password...).
type Config struct {
	*mailaccess.Config
}

// NewConfig returns a Config holding a copy of cfg.
func NewConfig(cfg mailaccess.Config) Config {
	return Config{Config: &cfg}
}

// Protocol returns the protocol family of the scheme as its driver
// registered it ("imap" for imap and imaps), else the scheme.
func (c Config) Protocol() string {
	if s, ok := lookup(c.Scheme); ok {
		return s.Protocol
	}
	return c.Scheme
}

// IsNetwork reports whether the scheme was registered as a network scheme
// (FormNetwork: it talks to a server at Host).
func (c Config) IsNetwork() bool {
	s, ok := lookup(c.Scheme)
	return ok && s.Form == FormNetwork
}

// PortOrDefault returns Port, or the scheme's default port when it is 0.
func (c Config) PortOrDefault() int {
	if c.Port != 0 {
		return c.Port
	}
	if s, ok := lookup(c.Scheme); ok {
		return s.DefaultPort
	}
	return 0
}

// Addr returns "host:port", with the scheme's default port when Port is 0.
func (c Config) Addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.PortOrDefault()))
}

// EffectiveTLS resolves TLSDefault: implicit TLS for schemes registered
// with ImplicitTLS (imaps, pop3s), STARTTLS otherwise.
func (c Config) EffectiveTLS() mailaccess.TLSMode {
	if c.TLS != mailaccess.TLSDefault {
		return c.TLS
	}
	if s, ok := lookup(c.Scheme); ok && s.ImplicitTLS {
		return mailaccess.TLSImplicit
	}
	return mailaccess.TLSStartTLS
}

// DefaultFolder returns Folder, or INBOX when it is empty.
func (c Config) DefaultFolder() string {
	if c.Folder == "" {
		return mailaccess.Inbox
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

// Default timeouts, used when the Config leaves them at zero.
const (
	DefaultDialTimeout    = 30 * time.Second
	DefaultCommandTimeout = 2 * time.Minute
)

// DialTimeoutOrDefault returns DialTimeout, or [DefaultDialTimeout].
func (c Config) DialTimeoutOrDefault() time.Duration {
	if c.DialTimeout > 0 {
		return time.Duration(c.DialTimeout)
	}
	return DefaultDialTimeout
}

// CommandTimeoutOrDefault returns CommandTimeout, or
// [DefaultCommandTimeout].
func (c Config) CommandTimeoutOrDefault() time.Duration {
	if c.CommandTimeout > 0 {
		return time.Duration(c.CommandTimeout)
	}
	return DefaultCommandTimeout
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
