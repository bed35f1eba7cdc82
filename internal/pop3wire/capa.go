package pop3wire

import (
	"context"
	"strings"
)

// Capabilities is the parsed answer to CAPA (RFC 2449).
type Capabilities struct {
	// Top: TOP is supported.
	Top bool
	// UIDL: UIDL is supported.
	UIDL bool
	// Pipelining: the server accepts several commands in flight; batch
	// methods (RetrAll, TopAll, DeleteAll) then keep a window of commands
	// outstanding.
	Pipelining bool
	// STLS: STLS (RFC 2595) is available.
	STLS bool
	// User: USER/PASS login is available.
	User bool
	// RespCodes: the server sends RFC 2449 response codes.
	RespCodes bool
	// AuthRespCode: the server sends the [AUTH] response code (RFC 3206).
	AuthRespCode bool
	// UTF8: the UTF8 command of RFC 6856 is available (see Client.UTF8).
	UTF8 bool
	// UTF8User: the UTF8 capability has the USER argument: after UTF8,
	// USER, PASS and APOP accept UTF-8 user names and passwords.
	UTF8User bool
	// SASL lists the SASL mechanisms offered for AUTH (upper case).
	SASL []string
	// Implementation is the server's IMPLEMENTATION argument, if any.
	Implementation string
	// Expire is the EXPIRE argument (e.g. "NEVER", "30", "60 USER").
	Expire string
	// LoginDelay is the LOGIN-DELAY argument (e.g. "900", "900 USER").
	LoginDelay string
	// Raw holds every capability line as sent (sanitised), including ones
	// not parsed above.
	Raw []string
}

// Has reports whether a capability named name (case-insensitive) was
// listed.
func (c Capabilities) Has(name string) bool {
	for _, l := range c.Raw {
		tag, _, _ := strings.Cut(l, " ")
		if strings.EqualFold(tag, name) {
			return true
		}
	}
	return false
}

// HasSASL reports whether the SASL mechanism mech (case-insensitive) was
// listed.
func (c Capabilities) HasSASL(mech string) bool {
	for _, m := range c.SASL {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// maxCapaLines bounds the number of capability lines kept.
const maxCapaLines = 256

// maxCapaListing bounds the lines of a CAPA answer read: beyond it the
// server is not listing capabilities but flooding.
const maxCapaListing = 1024

// parseCapaLine adds one CAPA line to c.
func (c *Capabilities) parseCapaLine(line []byte) {
	if len(c.Raw) >= maxCapaLines {
		return
	}
	s := sanitize(line)
	c.Raw = append(c.Raw, s)
	tag, arg, _ := strings.Cut(strings.TrimSpace(s), " ")
	arg = strings.TrimSpace(arg)
	switch strings.ToUpper(tag) {
	case "TOP":
		c.Top = true
	case "UIDL":
		c.UIDL = true
	case "PIPELINING":
		c.Pipelining = true
	case "STLS":
		c.STLS = true
	case "USER":
		c.User = true
	case "RESP-CODES":
		c.RespCodes = true
	case "AUTH-RESP-CODE":
		c.AuthRespCode = true
	case "UTF8":
		c.UTF8 = true
		for _, a := range strings.Fields(arg) {
			if strings.EqualFold(a, "USER") {
				c.UTF8User = true
			}
		}
	case "SASL":
		for _, m := range strings.Fields(arg) {
			if len(c.SASL) < 64 {
				c.SASL = append(c.SASL, strings.ToUpper(m))
			}
		}
	case "IMPLEMENTATION":
		c.Implementation = arg
	case "EXPIRE":
		c.Expire = arg
	case "LOGIN-DELAY":
		c.LoginDelay = arg
	}
}

// Capa sends CAPA and returns (and remembers, see Capabilities) the parsed
// capabilities. Capabilities may differ before and after authentication and
// after STLS; call Capa again at each stage. A server without CAPA answers
// -ERR (an *Error).
func (c *Client) Capa(ctx context.Context) (Capabilities, error) {
	var caps Capabilities
	err := c.multi(ctx, "CAPA", maxCapaListing, func(l []byte) error {
		caps.parseCapaLine(l)
		return nil
	})
	if err != nil {
		return Capabilities{}, err
	}
	c.caps = caps
	return caps, nil
}

// UTF8 sends UTF8 (RFC 6856), which switches the session to UTF-8 mode: the
// server then sends messages with UTF-8 headers as they are (a server may
// otherwise downgrade or replace them for a legacy client) and, with the
// USER argument of the capability, accepts UTF-8 user names and passwords.
// RFC 6856 allows it before authentication; some servers accept it after.
// A server without it answers -ERR (an *Error).
func (c *Client) UTF8(ctx context.Context) error {
	_, err := c.simple(ctx, "UTF8")
	return err
}
