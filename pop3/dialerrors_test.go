package pop3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/testcert"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// Each test here dials a server whose answer is a configuration mistake
// and checks that the error says what to do, with no internal package
// name and no doubled prefix in it.

func opOf(t *testing.T, err error) string {
	t.Helper()
	var oe *mailaccess.OpError
	require.ErrorAs(t, err, &oe)
	return oe.Op
}

// checkClean asserts the shape every dial error must have.
func checkClean(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	assert.NotContains(t, msg, "pop3wire", "internal package name in %q", msg)
	assert.NotContains(t, msg, "tls: tls:", "doubled prefix in %q", msg)
	assert.Equal(t, 1, strings.Count(msg, "pop3: "), "one protocol prefix in %q", msg)
}

// acceptAndHold accepts connections on host and keeps them open, sending
// greeting (if not "") after an optional TLS handshake.
func acceptAndHold(t *testing.T, host, greeting string, tlsCfg *tls.Config) (string, int) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if tlsCfg != nil {
					tc := tls.Server(c, tlsCfg)
					if tc.Handshake() != nil {
						return
					}
					c = tc
				}
				if greeting != "" {
					io.WriteString(c, greeting+"\r\n")
				}
				io.Copy(io.Discard, c)
			}()
		}
	}()
	h, p, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(p)
	return h, port
}

func TestDialErrorUnknownAuthorityHintsCAFile(t *testing.T) {
	cert, err := testcert.Get()
	require.NoError(t, err)
	for _, implicit := range []bool{false, true} {
		_, srv := fixture(t, &pop3test.Options{ImplicitTLS: implicit}, testMsgs...)
		cfg := srv.Config("user", "pass")
		cfg.TLSConfig = nil // the system's authorities do not know the test certificate
		_, err := Dial(context.Background(), cfg)
		require.Error(t, err)
		var ua x509.UnknownAuthorityError
		assert.ErrorAs(t, err, &ua, "the cause is kept")
		assert.Contains(t, err.Error(), "if the server uses a private CA, trust it with ca_file=PATH (Config.CAFile)")
		checkClean(t, err)

		ca := filepath.Join(t.TempDir(), "ca.pem")
		require.NoError(t, os.WriteFile(ca, cert.CertPEM, 0o600))
		cfg.CAFile = ca
		mb := dial(t, cfg)
		assert.Len(t, list(t, mb, nil), len(testMsgs), "the remedy the hint names works")
	}
}

func TestDialErrorHostnameMismatchNamesTheCertificatesNames(t *testing.T) {
	cert, err := testcert.Get()
	require.NoError(t, err)
	host, port := acceptAndHold(t, "127.0.0.2", "+OK", cert.ServerConfig())
	_, err = Dial(context.Background(), mailaccess.Config{Scheme: "pop3s", Host: host, Port: port, User: "u", Password: "p", TLSConfig: cert.ClientConfig()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the certificate is for localhost, 127.0.0.1, ::1, not 127.0.0.2: connect with a name it holds")
	assert.Equal(t, "dial", opOf(t, err))
	checkClean(t, err)
}

func TestDialErrorImplicitTLSOnPlaintextPort(t *testing.T) {
	host, port := acceptAndHold(t, "127.0.0.1", "+OK plaintext POP3 here", nil)
	_, err := Dial(context.Background(), mailaccess.Config{Scheme: "pop3s", Host: host, Port: port, User: "u", Password: "p"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the server answered in plaintext: this port does not speak implicit TLS; use pop3:// (STARTTLS) for it, or port 995 for pop3s://")
	checkClean(t, err)
}

func TestDialErrorNoGreetingHintsImplicitTLS(t *testing.T) {
	host, port := acceptAndHold(t, "127.0.0.1", "", nil)
	cfg := mailaccess.Config{Scheme: "pop3", Host: host, Port: port, User: "u", Password: "p", DialTimeout: mailaccess.Duration(200 * time.Millisecond)}
	_, err := Dial(context.Background(), cfg)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "no greeting from "+net.JoinHostPort(host, strconv.Itoa(port))+" within")
	assert.Contains(t, err.Error(), "the port may expect implicit TLS (use pop3s://, port 995)")
	assert.Equal(t, "dial", opOf(t, err))
	checkClean(t, err)
}

func TestDialErrorSTLSUnavailableNamesTheRemedy(t *testing.T) {
	_, srv := fixture(t, &pop3test.Options{NoSTLS: true})
	_, err := Dial(context.Background(), srv.Config("user", "pass"))
	require.ErrorIs(t, err, mailaccess.ErrStartTLSUnavailable)
	assert.Contains(t, err.Error(), "pop3s:// on port 995")
	assert.Contains(t, err.Error(), "on a trusted network only, tls=insecure-plaintext")
	checkClean(t, err)
}

func TestDialErrorRefusedLogin(t *testing.T) {
	_, srv := fixture(t, &pop3test.Options{SASL: []string{}})
	_, err := Dial(context.Background(), srv.Config("user", "wrong"))
	require.ErrorIs(t, err, mailaccess.ErrAuth)
	assert.Equal(t, "login", opOf(t, err))
	assert.Contains(t, err.Error(), "PASS <redacted>: -ERR")
	checkClean(t, err)
}

func TestDialErrorEmptyCredentialsRefusedBeforeConnecting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // connection refused from now on
	for _, tc := range []struct {
		name, user, pass, want string
	}{
		{"no password", "u", "", `no password for user "u": set Config.Password`},
		{"no user", "", "p", "no user name: set Config.User"},
	} {
		cfg := mailaccess.Config{Scheme: "pop3s", Host: "127.0.0.1", Port: port, User: tc.user, Password: mailaccess.Secret(tc.pass)}
		_, err := Dial(context.Background(), cfg)
		require.ErrorIs(t, err, mailaccess.ErrInvalid, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
		var ne *net.OpError
		assert.False(t, errors.As(err, &ne), "%s: refused before any connection attempt: %v", tc.name, err)
		checkClean(t, err)
	}
}

// POP3 has one folder: a URL naming another is refused before connecting.
func TestURLWithOtherFolderRefused(t *testing.T) {
	for _, u := range []string{"pop3s://me@pop.example.com/Archive", "pop3://me@pop.example.com/Sent?tls=implicit"} {
		_, err := mailaccess.ParseURL(u)
		require.ErrorIs(t, err, mailaccess.ErrInvalid, u)
		assert.Contains(t, err.Error(), "POP3 has only INBOX (drop the folder from the URL, or use imap:// or imaps:// for other folders)")
	}
	for _, u := range []string{"pop3s://me@pop.example.com", "pop3s://me@pop.example.com/INBOX", "pop3s://me@pop.example.com/inbox"} {
		_, err := mailaccess.ParseURL(u)
		assert.NoError(t, err, u)
	}
	_, err := Dial(context.Background(), mailaccess.Config{Scheme: "pop3s", Host: "127.0.0.1", User: "u", Password: "p", Folder: "Junk"})
	assert.ErrorIs(t, err, mailaccess.ErrInvalid, "Dial validates too")
}
