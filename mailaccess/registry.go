package mailaccess

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Opener opens a Mailbox for a Config; drivers register one per scheme.
// The Config has been validated and its Scheme is the registered one.
type Opener func(ctx context.Context, cfg Config) (Mailbox, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Opener{}
)

// Register makes a driver available for a URL scheme. Drivers call it from
// init, so that a blank import is all a program needs:
//
//	import _ "github.com/mailaccess/go-mailaccess/imap"
//
// Like database/sql.Register it panics if open is nil or the scheme is
// already registered: both are programming errors found at start-up.
func Register(scheme string, open Opener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if open == nil {
		panic("mailaccess: Register opener is nil for scheme " + scheme)
	}
	if _, dup := registry[scheme]; dup {
		panic("mailaccess: Register called twice for scheme " + scheme)
	}
	registry[scheme] = open
}

// Schemes returns the registered schemes, sorted.
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s := make([]string, 0, len(registry))
	for k := range registry {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// Open validates cfg, opens a Mailbox with the driver registered for
// cfg.Scheme, and checks that it has cfg.Require and every capability in
// require. If one is missing the Mailbox is closed and the error is an
// [*UnsupportedError] naming what is missing, so a program learns at start
// that, say, its POP3 server has no UIDL.
func Open(ctx context.Context, cfg Config, require ...Capability) (Mailbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	registryMu.RLock()
	open := registry[cfg.Scheme]
	registryMu.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("mailaccess: no driver for scheme %q (registered: %v; did you forget a blank import such as _ \"github.com/mailaccess/go-mailaccess/imap\"?): %w", cfg.Scheme, Schemes(), ErrInvalid)
	}
	mb, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	want := cfg.Require
	for _, r := range require {
		want |= r
	}
	if missing := mb.Capabilities().Missing(want); missing != 0 {
		mb.Close()
		return nil, &UnsupportedError{Op: "open", Protocol: cfg.Protocol(), Missing: missing,
			Reason: "required by the caller; the mailbox has " + mb.Capabilities().String()}
	}
	return mb, nil
}

// OpenURL parses rawURL with [ParseURL] and opens it with [Open]. Supply
// secrets through [Open] with a Config rather than in the URL.
func OpenURL(ctx context.Context, rawURL string, require ...Capability) (Mailbox, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return Open(ctx, cfg, require...)
}
