// Package registry holds the URL schemes that drivers register. Package
// driver fills it (driver.Register); package mailaccess reads it (Open,
// ParseURL, Config.Validate) through an interface of its own that the
// values stored here implement. Keeping the table here, rather than behind
// an exported function of package mailaccess, keeps registration out of
// the index a program reads.
package registry

import (
	"slices"
	"sync"
)

// Form says what the authority and path of a scheme's URLs hold.
type Form int

// URL forms.
const (
	// Network: [user[:password]@]host[:port][/folder]; the server's
	// address, credentials and default folder.
	Network Form = iota
	// Path: a file-system path (scheme:///abs/path, scheme:rel/path,
	// scheme://~/path).
	Path
	// Store: a store name and a folder (scheme://name/folder).
	Store
)

var (
	mu      sync.RWMutex
	schemes = map[string]any{}
)

// Put records v for scheme and reports false if the scheme is taken.
func Put(scheme string, v any) bool {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := schemes[scheme]; dup {
		return false
	}
	schemes[scheme] = v
	return true
}

// Get returns what was recorded for scheme, or nil.
func Get(scheme string) any {
	mu.RLock()
	defer mu.RUnlock()
	return schemes[scheme]
}

// Names returns the registered schemes, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	s := make([]string, 0, len(schemes))
	for k := range schemes {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}
