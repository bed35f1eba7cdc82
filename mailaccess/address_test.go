package mailaccess

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Address.String promises "Name <addr>" or "addr": a display form that a
// program can print, with the name quoted only where a header would need
// it, and never RFC 2047-encoded (which net/mail's Address.String does).
func TestAddressStringMatchesItsDoc(t *testing.T) {
	cases := []struct {
		a    Address
		want string
	}{
		{Address{Addr: "bob@example.com"}, "bob@example.com"},
		{Address{Name: "Alice", Addr: "alice@example.com"}, "Alice <alice@example.com>"},
		{Address{Name: "Alice Smith", Addr: "alice@example.com"}, "Alice Smith <alice@example.com>"},
		{Address{Name: "Jörg Müller", Addr: "joerg@example.com"}, "Jörg Müller <joerg@example.com>"},
		{Address{Name: "O'Neil", Addr: "o@example.com"}, "O'Neil <o@example.com>"},
		{Address{Name: "Doe, John", Addr: "john@example.com"}, `"Doe, John" <john@example.com>`},
		{Address{Name: `say "hi"`, Addr: "hi@example.com"}, `"say \"hi\"" <hi@example.com>`},
		{Address{Name: `back\slash`, Addr: "b@example.com"}, `"back\\slash" <b@example.com>`},
		{Address{Name: "x@y", Addr: "x@example.com"}, `"x@y" <x@example.com>`},
		{Address{Name: " padded ", Addr: "p@example.com"}, `" padded " <p@example.com>`},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.a.String(), "%#v", c.a)
	}
}

// What String prints parses back to the same address.
func TestAddressStringRoundTrips(t *testing.T) {
	for _, a := range []Address{
		{Name: "Jörg Müller", Addr: "joerg@example.com"},
		{Name: "Doe, John", Addr: "john@example.com"},
		{Name: `say "hi"`, Addr: "hi@example.com"},
		{Name: "Alice", Addr: "alice@example.com"},
		{Addr: "bob@example.com"},
	} {
		got := HeaderFromFields("From", a.String()).From()
		if assert.Len(t, got, 1, "%q", a.String()) {
			assert.Equal(t, a, got[0], "%q", a.String())
		}
	}
}
