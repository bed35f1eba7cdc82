package mailaccess

import (
	"context"
	"fmt"

	"github.com/mailaccess/go-mailaccess/internal/registry"
)

// scheme is what a driver registers for a URL scheme (through
// driver.Register): how its URLs read, its defaults and its own checks,
// and how to open it.
type scheme interface {
	// Protocol names the protocol family in errors ("imap" for imaps).
	Protocol() string
	// Form says what the URL's authority and path hold.
	Form() registry.Form
	// DefaultPort is the port of a network scheme (0 otherwise).
	DefaultPort() int
	// ImplicitTLS reports whether TLSDefault means implicit TLS.
	ImplicitTLS() bool
	// Check validates what only the driver knows (auth mechanisms, driver
	// options); the generic fields are checked already.
	Check(cfg Config) error
	// Open opens a Mailbox for a validated Config.
	Open(ctx context.Context, cfg Config) (Mailbox, error)
}

// lookup returns the driver registered for name.
func lookup(name string) (scheme, error) {
	if sc, ok := registry.Get(name).(scheme); ok {
		return sc, nil
	}
	return nil, noDriver(name)
}

// driverPackages names the package that registers each scheme of this
// module, for the hint of noDriver only: a scheme missing here (one of
// another module) gets the general hint, so adding a driver needs no
// entry.
var driverPackages = map[string]string{
	"imap":    "github.com/mailaccess/go-mailaccess/imap",
	"imaps":   "github.com/mailaccess/go-mailaccess/imap",
	"pop3":    "github.com/mailaccess/go-mailaccess/pop3",
	"pop3s":   "github.com/mailaccess/go-mailaccess/pop3",
	"maildir": "github.com/mailaccess/go-mailaccess/mailaccess/maildir",
	"mem":     "github.com/mailaccess/go-mailaccess/mailaccess/mailtest",
}

// noDriver is the error for a scheme no imported package registered; it
// says which import registers it.
func noDriver(name string) error {
	if pkg, ok := driverPackages[name]; ok {
		return fmt.Errorf("mailaccess: no driver for scheme %q (registered: %v): import _ %q to register it: %w", name, Schemes(), pkg, ErrInvalid)
	}
	return fmt.Errorf("mailaccess: no driver for scheme %q (registered: %v; a driver registers its schemes when its package is imported: did you forget a blank import, such as _ \"github.com/mailaccess/go-mailaccess/imap\" for imap://?): %w", name, Schemes(), ErrInvalid)
}

// Schemes returns the registered URL schemes, sorted. A driver's package
// registers its schemes when it is imported.
func Schemes() []string { return registry.Names() }

// Open validates cfg ([Config.Validate]), opens a Mailbox with the driver
// registered for cfg.Scheme, and checks that it has cfg.Require and every
// capability in require. If one is missing the Mailbox is closed and the
// error is an [*UnsupportedError] naming what is missing, so a program
// learns at start that, say, its POP3 server has no UIDL.
func Open(ctx context.Context, cfg Config, require ...Capability) (Mailbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sc, err := lookup(cfg.Scheme)
	if err != nil {
		return nil, err
	}
	mb, err := sc.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	want := cfg.Require
	for _, r := range require {
		want |= r
	}
	if missing := mb.Capabilities().Missing(want); missing != 0 {
		mb.Close()
		return nil, &UnsupportedError{Op: "open", Protocol: sc.Protocol(), Missing: missing,
			Reason: "required by the caller; the mailbox has " + mb.Capabilities().String()}
	}
	return mb, nil
}

// OpenURL parses rawURL as [ParseURL] does and opens it with [Open]. Supply
// secrets through [Open] with a Config rather than in the URL.
func OpenURL(ctx context.Context, rawURL string, require ...Capability) (Mailbox, error) {
	cfg, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return Open(ctx, cfg, require...)
}
