package driver

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mailaccess/go-mailaccess/internal/registry"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Form says what the authority and path of a scheme's URLs hold, and so
// which Config fields [mailaccess.ParseURL] fills from them.
type Form int

// URL forms.
const (
	// FormNetwork: scheme://[user[:password]@]host[:port][/folder]. Fills
	// User, Password, Host, Port and Folder; Host is required.
	FormNetwork Form = iota
	// FormPath: scheme:///absolute/path, scheme:relative/path or
	// scheme://~/path. Fills Path (with "~/" expanded); Path is
	// required.
	FormPath
	// FormStore: scheme://name[/folder]. Fills Path with the name and
	// Folder.
	FormStore
)

// Scheme is what a driver registers for one URL scheme: everything the
// core needs to parse, validate and open that scheme's configurations
// without knowing the protocol.
type Scheme struct {
	// Name is the URL scheme, in lower case ("imaps").
	Name string
	// Protocol names the protocol family in errors and in the default
	// sync account ("imap" for both imap and imaps); empty means Name.
	Protocol string
	// Form says what the scheme's URLs hold.
	Form Form
	// DefaultPort is used when Config.Port is 0 (network schemes).
	DefaultPort int
	// ImplicitTLS means TLSDefault is implicit TLS (imaps, pop3s), and
	// that an explicit other TLS mode is an error; otherwise TLSDefault
	// means STARTTLS (see [Config.EffectiveTLS]).
	ImplicitTLS bool
	// Auth lists the values of Config.Auth the driver accepts, in lower
	// case ("plain", "login", ...). Empty Auth is always accepted; with no
	// list, any other value is refused.
	Auth []string
	// Options lists the driver options (Config.Options, "opt.NAME" in
	// URLs) the driver knows. Any other is refused, so a misspelt option
	// is an error rather than a silent default.
	Options []string
	// Validate, if set, checks what is left: the values of the options,
	// combinations the driver refuses. It is called after the generic
	// checks of [mailaccess.Config.Validate] and the Auth and Options
	// lists above. Its errors should name the field and what to do, and
	// never contain the password.
	Validate func(cfg mailaccess.Config) error
	// Open opens a Mailbox for cfg. [mailaccess.Open] calls it with a
	// Config that passed [mailaccess.Config.Validate], so Open must not
	// validate again.
	Open func(ctx context.Context, cfg mailaccess.Config) (mailaccess.Mailbox, error)
}

// Register makes a driver available for a URL scheme. Drivers call it from
// init, so that a blank import is all a program needs:
//
//	import _ "github.com/mailaccess/go-mailaccess/imap"
//
// Like database/sql.Register it panics if the scheme is already
// registered, its name is not a valid scheme, or Open is nil: all are
// programming errors found at start-up.
func Register(s Scheme) {
	if s.Open == nil {
		panic("driver: Register: Open is nil for scheme " + s.Name)
	}
	if s.Name == "" || strings.ToLower(s.Name) != s.Name || strings.ContainsAny(s.Name, ":/?#@ ") {
		panic(fmt.Sprintf("driver: Register: invalid scheme name %q (want lower-case letters and digits)", s.Name))
	}
	if s.Form < FormNetwork || s.Form > FormStore {
		panic(fmt.Sprintf("driver: Register: scheme %s has an unknown Form %d", s.Name, s.Form))
	}
	if s.Protocol == "" {
		s.Protocol = s.Name
	}
	if !registry.Put(s.Name, entry{s}) {
		panic("driver: Register called twice for scheme " + s.Name)
	}
}

// entry is what package mailaccess reads from the registry (through an
// interface of its own). Its methods are exported only to satisfy that
// interface; the type is not.
type entry struct{ s Scheme }

func (e entry) Protocol() string    { return e.s.Protocol }
func (e entry) DefaultPort() int    { return e.s.DefaultPort }
func (e entry) ImplicitTLS() bool   { return e.s.ImplicitTLS }
func (e entry) Form() registry.Form { return registry.Form(e.s.Form) }

func (e entry) Open(ctx context.Context, cfg mailaccess.Config) (mailaccess.Mailbox, error) {
	return e.s.Open(ctx, cfg)
}

func (e entry) Check(cfg mailaccess.Config) error {
	if cfg.Auth != "" && !slices.Contains(e.s.Auth, strings.ToLower(cfg.Auth)) {
		if len(e.s.Auth) == 0 {
			return fmt.Errorf("auth %q: %s:// takes no authentication mechanism: %w", cfg.Auth, e.s.Name, mailaccess.ErrInvalid)
		}
		return fmt.Errorf("auth %q (want %s): %w", cfg.Auth, strings.Join(e.s.Auth, ", "), mailaccess.ErrInvalid)
	}
	for name := range cfg.Options {
		if !slices.Contains(e.s.Options, name) {
			known := "none"
			if len(e.s.Options) > 0 {
				known = strings.Join(e.s.Options, ", ")
			}
			return fmt.Errorf("unknown option %q (the %s driver knows: %s): %w", "opt."+name, e.s.Name, known, mailaccess.ErrInvalid)
		}
	}
	if e.s.Validate != nil {
		return e.s.Validate(cfg)
	}
	return nil
}

// lookup returns the Scheme registered for name.
func lookup(name string) (Scheme, bool) {
	e, ok := registry.Get(name).(entry)
	return e.s, ok
}
