package driver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// The errors of connecting whose usual cause is a mistake in the
// configuration get a hint that says what to do. A network driver passes
// the errors of its TLS handshake through [Config.TLSError] and a
// timeout while waiting for the server's greeting through
// [Config.GreetingTimeout].

// TLSError returns err, an error of the TLS handshake with the server of
// c, with what to do in its text, and still matching err:
//   - a certificate signed by an authority the system does not trust:
//     trust a private CA with ca_file=PATH (Config.CAFile);
//   - a certificate for another name: connect with a name it holds;
//   - an expired certificate: the server's to renew (or the clock);
//   - a server that answers in plaintext: the port is not an implicit
//     TLS port; use the scheme with STARTTLS (imap://, pop3://) or the
//     implicit TLS port.
//
// Its text starts "TLS handshake with host:port", once, whatever err
// says.
func (c Config) TLSError(err error) error {
	if err == nil {
		return nil
	}
	hint := c.tlsHint(err)
	if hint != "" {
		hint = " (" + hint + ")"
	}
	return fmt.Errorf("TLS handshake with %s failed%s: %w", c.Addr(), hint, err)
}

func (c Config) tlsHint(err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknown):
		if c.Get().CAFile != "" {
			return "the certificate is not signed by the system's authorities nor by ca_file " + c.Get().CAFile + ": check that ca_file holds the CA that signed the server's certificate"
		}
		return "the certificate is not signed by an authority this system trusts: if the server uses a private CA, trust it with ca_file=PATH (Config.CAFile)"
	case errors.As(err, &hostname):
		names := hostname.Certificate.DNSNames
		for _, ip := range hostname.Certificate.IPAddresses {
			names = append(names, ip.String())
		}
		if len(names) > 0 {
			return fmt.Sprintf("the certificate is for %s, not %s: connect with a name it holds", truncateList(names, 5), hostname.Host)
		}
		return "the certificate is for another host name: connect with the name it holds"
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return "the certificate has expired or is not yet valid: the server's certificate must be renewed (or this machine's clock is wrong)"
		}
		return "the certificate is not valid for this use: check the server's certificate"
	case errors.As(err, &record):
		return "the server answered in plaintext: " + c.plaintextRemedy()
	}
	return ""
}

// plaintextRemedy says what to use when an implicit TLS connection meets
// a plaintext port.
func (c Config) plaintextRemedy() string {
	p := c.Protocol()
	plain, tlsPort := p, 0
	switch p {
	case "imap":
		tlsPort = 993
	case "pop3":
		tlsPort = 995
	}
	s := "this port does not speak implicit TLS; use " + plain + ":// (STARTTLS) for it"
	if tlsPort != 0 {
		s += ", or port " + strconv.Itoa(tlsPort) + " for " + plain + "s://"
	}
	return s
}

func truncateList(s []string, n int) string {
	if len(s) > n {
		return strings.Join(s[:n], ", ") + ", ..."
	}
	return strings.Join(s, ", ")
}

// GreetingTimeout returns the error for a server of c that sent no
// greeting within waited, with a hint: when the connection was plaintext
// (STARTTLS or no TLS), the likely cause is a port that expects implicit
// TLS and waits for the client to start it, so the hint names the
// implicit TLS scheme. err is the timeout's cause and still matches.
func (c Config) GreetingTimeout(waited time.Duration, err error) error {
	msg := fmt.Sprintf("no greeting from %s within %v", c.Addr(), waited.Round(time.Millisecond))
	if c.EffectiveTLS() != mailaccess.TLSImplicit {
		p := c.Protocol()
		msg += fmt.Sprintf(": the port may expect implicit TLS (use %ss://", p)
		switch p {
		case "imap":
			msg += ", port 993"
		case "pop3":
			msg += ", port 995"
		}
		msg += ")"
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// IsTimeout reports whether err is a timeout (a deadline, a context
// deadline, a net.Error that timed out).
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
