package pop3wire

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/emersion/go-sasl"
)

// maxSASLRounds bounds the challenge/response exchange of AUTH.
const maxSASLRounds = 16

// maxCommandLength is the RFC 2449 limit on a command line (without CRLF).
const maxCommandLength = 255

// apopTimestamp extracts the "<...>" timestamp of an APOP-capable greeting.
func apopTimestamp(greeting []byte) string {
	i := bytes.IndexByte(greeting, '<')
	if i < 0 {
		return ""
	}
	j := bytes.IndexByte(greeting[i:], '>')
	if j < 0 {
		return ""
	}
	ts := greeting[i : i+j+1]
	if len(ts) < 3 || len(ts) > 512 {
		return ""
	}
	for _, b := range ts {
		if b <= ' ' || b >= 0x7f {
			return ""
		}
	}
	return string(ts)
}

// APOPTimestamp returns the timestamp ("<...>") from the greeting, or "" if
// the server does not offer APOP.
func (c *Client) APOPTimestamp() string { return c.timestamp }

// User sends USER name.
func (c *Client) User(ctx context.Context, name string) error {
	if err := validArg("user name", name); err != nil {
		return err
	}
	_, err := c.simple(ctx, "USER "+name)
	return err
}

// Pass sends PASS password. The password never appears in errors or traces.
func (c *Client) Pass(ctx context.Context, password string) error {
	if err := validArg("password", password); err != nil {
		return err
	}
	_, err := c.simple(ctx, "PASS "+password)
	return err
}

// Login authenticates with USER and PASS. Both arguments are validated
// before anything is sent.
func (c *Client) Login(ctx context.Context, user, password string) error {
	if err := validArg("user name", user); err != nil {
		return err
	}
	if err := validArg("password", password); err != nil {
		return err
	}
	if err := c.User(ctx, user); err != nil {
		return err
	}
	return c.Pass(ctx, password)
}

// APOP authenticates with APOP user digest, digest being the MD5 of the
// greeting's timestamp followed by secret (RFC 1939 section 7). It returns
// an error wrapping ErrNotSupported if the greeting carried no timestamp.
func (c *Client) APOP(ctx context.Context, user, secret string) error {
	if err := validArg("user name", user); err != nil {
		return err
	}
	if err := validArg("secret", secret); err != nil {
		return err
	}
	if user == "" {
		return fmt.Errorf("%w: empty user name", ErrInvalidArgument)
	}
	if c.timestamp == "" {
		return fmt.Errorf("%w: greeting has no APOP timestamp", ErrNotSupported)
	}
	_, err := c.simple(ctx, "APOP "+user+" "+apopDigest(c.timestamp, secret))
	return err
}

func apopDigest(timestamp, secret string) string {
	sum := md5.Sum([]byte(timestamp + secret))
	return hex.EncodeToString(sum[:])
}

// serverErrorer is implemented by SASL clients (such as saslx's XOAUTH2
// client) that remember an error the server sent in a challenge.
type serverErrorer interface {
	ServerError() error
}

// Auth authenticates with SASL (RFC 5034): AUTH mech [initial-response],
// then "+ challenge" continuation lines answered with base64 responses.
// An initial response is sent on the AUTH line ("=" when empty) unless the
// line would exceed 255 octets, in which case it is sent after the server's
// first (empty) challenge. If the SASL client fails, the exchange is
// cancelled with "*". On failure the error is an *Error (Command
// "AUTH <mech>"), joined with the SASL client's own error or the error the
// server sent in a challenge (e.g. saslx.XOAUTH2Error) when there is one.
func (c *Client) Auth(ctx context.Context, client sasl.Client) error {
	mech, ir, err := client.Start()
	if err != nil {
		return fmt.Errorf("SASL start: %w", err)
	}
	if err := validArg("SASL mechanism", mech); err != nil {
		return err
	}
	if mech == "" || bytes.ContainsAny([]byte(mech), " ") {
		return fmt.Errorf("%w: SASL mechanism %q", ErrInvalidArgument, mech)
	}
	if err := c.begin(ctx); err != nil {
		return err
	}
	err = c.authLocked(client, mech, ir)
	if e2 := c.end(); e2 != nil {
		return e2
	}
	return err
}

func (c *Client) authLocked(client sasl.Client, mech string, ir []byte) error {
	cmd := "AUTH " + mech
	line := cmd
	pendingIR := ir
	if ir != nil {
		enc := "="
		if len(ir) > 0 {
			enc = base64.StdEncoding.EncodeToString(ir)
		}
		if len(line)+1+len(enc) <= maxCommandLength {
			line += " " + enc
			pendingIR = nil
		}
	}
	c.armTotal()
	if err := c.sendCmd(line); err != nil {
		return err
	}
	var clientErr error
	for round := 0; ; round++ {
		if round > 0 {
			c.armTotal()
		}
		st, err := c.readStatus(cmd)
		if err != nil {
			return err
		}
		switch st.kind {
		case statusOK:
			return nil
		case statusErr:
			perr := c.statusError(cmd, st)
			if clientErr != nil {
				return fmt.Errorf("%w (sasl: %w)", perr, clientErr)
			}
			if se, ok := client.(serverErrorer); ok {
				if serr := se.ServerError(); serr != nil {
					return fmt.Errorf("%w (sasl: %w)", perr, serr)
				}
			}
			return perr
		}
		// Continuation.
		if clientErr != nil || round >= maxSASLRounds {
			return c.fail(fmt.Errorf("%w: server continued AUTH after cancellation or too many rounds", ErrProtocol))
		}
		var resp []byte
		if pendingIR != nil {
			resp, pendingIR = pendingIR, nil
		} else {
			challenge, derr := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(st.text)))
			if derr != nil {
				clientErr = fmt.Errorf("%w: challenge is not base64", ErrProtocol)
			} else {
				resp, clientErr = client.Next(challenge)
			}
		}
		if clientErr != nil {
			if err := c.sendCmd("*"); err != nil {
				return err
			}
			continue
		}
		c.tracef("C: <redacted SASL response>")
		if _, err := c.bw.WriteString(base64.StdEncoding.EncodeToString(resp) + "\r\n"); err != nil {
			return err
		}
		if err := c.bw.Flush(); err != nil {
			return err
		}
	}
}

// StartTLS sends STLS and upgrades the connection to TLS (RFC 2595) using
// config (a ServerName must be set unless InsecureSkipVerify). Remembered
// capabilities are cleared: call Capa again. Data the server sent after its
// +OK but before the handshake is a protocol violation (a plaintext
// injection attempt) and breaks the connection.
func (c *Client) StartTLS(ctx context.Context, config *tls.Config) error {
	if c.isTLS {
		return fmt.Errorf("%w: connection already uses TLS", ErrInvalidArgument)
	}
	if config == nil {
		return fmt.Errorf("%w: nil TLS config", ErrInvalidArgument)
	}
	if err := c.begin(ctx); err != nil {
		return err
	}
	err := c.startTLSLocked(ctx, config)
	if e2 := c.end(); e2 != nil {
		return e2
	}
	return err
}

func (c *Client) startTLSLocked(ctx context.Context, config *tls.Config) error {
	if _, err := c.simpleLocked("STLS"); err != nil {
		return err
	}
	if c.br.Buffered() > 0 {
		return c.fail(fmt.Errorf("%w: data received after STLS +OK before TLS handshake", ErrProtocol))
	}
	// The handshake uses the raw connection; apply the same deadline rules.
	if err := c.conn.SetDeadline(c.readDeadline()); err != nil {
		return c.ioError(err, true)
	}
	tc := tls.Client(c.conn, config)
	if err := tc.HandshakeContext(ctx); err != nil {
		return c.fail(err)
	}
	// Re-arm cancellation for the new connection (it shares the socket, but
	// deadlines must be set through the TLS conn from now on).
	c.conn = tc
	c.isTLS = true
	c.caps = Capabilities{}
	c.br.Reset(connReader{c})
	c.bw.Reset(connWriter{c})
	return nil
}
