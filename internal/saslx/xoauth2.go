// Package saslx provides SASL client mechanisms that
// github.com/emersion/go-sasl does not ship, for use by the POP3 and IMAP
// protocol layers of go-mailaccess.
//
// XOAUTH2 (Google and Microsoft's pre-standard OAuth 2.0 mechanism) is
// implemented here by NewXOAUTH2Client. For the standard OAUTHBEARER
// mechanism (RFC 7628) callers use sasl.NewOAuthBearerClient from
// github.com/emersion/go-sasl directly: it is present in the go-sasl version
// required by go-imap v2.0.0-beta.8 (v0.0.0-20241020182733-b788ff22d5a6).
// Note that its Next method returns a *sasl.OAuthBearerError instead of a
// dummy response, so a protocol layer will cancel the exchange ("*") and the
// server then answers with its failure; the JSON status is available from
// the error returned by Next.
//
// Secrets (tokens) never appear in the error strings produced here.
package saslx

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/emersion/go-sasl"
)

// XOAUTH2 is the SASL mechanism name of the XOAUTH2 mechanism.
const XOAUTH2 = "XOAUTH2"

// maxJSONText bounds the server-controlled text copied into an XOAUTH2Error.
const maxJSONText = 256

// XOAUTH2Error is the failure a server reported in an XOAUTH2 error
// challenge. The server sends a base64-encoded JSON object such as
// {"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"};
// its fields are parsed tolerantly (numbers or strings, unknown fields
// ignored). Raw holds the (bounded, sanitised) challenge when it was not
// valid JSON.
type XOAUTH2Error struct {
	// Status is the HTTP-like status, e.g. "400" or "401".
	Status string
	// Schemes is the list of auth schemes the server accepts, e.g. "Bearer".
	Schemes string
	// Scope is the OAuth scope the server requires.
	Scope string
	// Raw is the sanitised challenge text if it could not be parsed as JSON.
	Raw string
}

// Error implements error. It includes only server-provided fields, never the
// token.
func (e *XOAUTH2Error) Error() string {
	var b strings.Builder
	b.WriteString("xoauth2: server rejected token")
	if e.Status != "" {
		b.WriteString(" (status ")
		b.WriteString(e.Status)
		b.WriteString(")")
	}
	if e.Schemes != "" {
		b.WriteString(" schemes=")
		b.WriteString(e.Schemes)
	}
	if e.Scope != "" {
		b.WriteString(" scope=")
		b.WriteString(e.Scope)
	}
	if e.Raw != "" {
		b.WriteString(": ")
		b.WriteString(e.Raw)
	}
	return b.String()
}

// XOAUTH2Client is the sasl.Client returned by NewXOAUTH2Client. Besides the
// sasl.Client methods it exposes the error the server reported in its
// challenge, if any, via ServerError.
type XOAUTH2Client struct {
	user  string
	token string

	mu     sync.Mutex
	srvErr *XOAUTH2Error
}

var _ sasl.Client = (*XOAUTH2Client)(nil)

// NewXOAUTH2Client returns a SASL client for the XOAUTH2 mechanism. The
// initial response is "user=<user>\x01auth=Bearer <token>\x01\x01". If the
// server answers with a (non-empty) challenge, that challenge is its JSON
// error: the client responds with an empty response, as Gmail and Office 365
// expect, after which the server sends its final failure; the parsed JSON is
// available from ServerError (on the returned *XOAUTH2Client).
func NewXOAUTH2Client(user, token string) sasl.Client {
	return &XOAUTH2Client{user: user, token: token}
}

// Start implements sasl.Client.
func (c *XOAUTH2Client) Start() (mech string, ir []byte, err error) {
	c.mu.Lock()
	c.srvErr = nil
	c.mu.Unlock()
	return XOAUTH2, []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

// Next implements sasl.Client. A non-empty challenge is recorded as the
// server's error and answered with an empty response; an empty challenge is
// answered with an empty response too.
func (c *XOAUTH2Client) Next(challenge []byte) (response []byte, err error) {
	if len(challenge) > 0 {
		e := ParseXOAUTH2Error(challenge)
		c.mu.Lock()
		c.srvErr = e
		c.mu.Unlock()
	}
	return []byte{}, nil
}

// ServerError returns the error the server reported in its challenge during
// the last exchange, or nil if it sent none. Protocol layers join it with
// their own failure so callers can report the server's JSON status.
func (c *XOAUTH2Client) ServerError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srvErr == nil {
		return nil
	}
	return c.srvErr
}

// ParseXOAUTH2Error parses a (base64-decoded) XOAUTH2 error challenge. It
// never fails: unparsable input is kept, sanitised and bounded, in Raw.
func ParseXOAUTH2Error(challenge []byte) *XOAUTH2Error {
	var m map[string]any
	if err := json.Unmarshal(challenge, &m); err != nil {
		return &XOAUTH2Error{Raw: sanitize(string(challenge))}
	}
	return &XOAUTH2Error{
		Status:  sanitize(field(m, "status")),
		Schemes: sanitize(field(m, "schemes")),
		Scope:   sanitize(field(m, "scope")),
	}
}

func field(m map[string]any, key string) string {
	v, ok := m[key]
	if !ok {
		return ""
	}
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return fmt.Sprintf("%g", t)
	case bool:
		return fmt.Sprint(t)
	default:
		return ""
	}
}

// sanitize bounds s and replaces control characters and invalid UTF-8.
func sanitize(s string) string {
	if len(s) > maxJSONText {
		s = s[:maxJSONText]
	}
	s = strings.ToValidUTF8(s, "?")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
