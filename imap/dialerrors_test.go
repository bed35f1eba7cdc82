package imap

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

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/internal/testcert"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Each test here dials a server whose answer is a configuration mistake
// and checks that the error says what to do.

// opOf returns the Op of err's OpError.
func opOf(t *testing.T, err error) string {
	t.Helper()
	var oe *mailaccess.OpError
	require.ErrorAs(t, err, &oe)
	return oe.Op
}

// acceptAndHold listens on host, accepts connections and keeps them open
// without a word (or with greeting, if not ""), until the test ends.
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
	srv := imaptest.Start(t, &imaptest.Options{TLSConfig: cert.ServerConfig()}, imaptest.User{Name: "u", Password: "p"})
	cfg := srv.Config("u", "p")
	cfg.TLS = mailaccess.TLSDefault // STARTTLS, verified against the system's authorities
	_, err = Dial(context.Background(), cfg)
	require.Error(t, err)
	var ua x509.UnknownAuthorityError
	assert.ErrorAs(t, err, &ua, "the cause is kept")
	assert.Contains(t, err.Error(), "if the server uses a private CA, trust it with ca_file=PATH (Config.CAFile)")
	assert.Contains(t, err.Error(), "TLS handshake with "+net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	assert.NotContains(t, err.Error(), "tls: tls:")
	assert.Equal(t, "starttls", opOf(t, err))

	// The remedy the hint names works.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, cert.CertPEM, 0o600))
	cfg.CAFile = ca
	mb, err := Dial(context.Background(), cfg)
	require.NoError(t, err, "ca_file makes the certificate trusted")
	mb.Close()
}

func TestDialErrorHostnameMismatchNamesTheCertificatesNames(t *testing.T) {
	cert, err := testcert.Get()
	require.NoError(t, err)
	host, port := acceptAndHold(t, "127.0.0.2", "* OK", cert.ServerConfig())
	_, err = Dial(context.Background(), mailaccess.Config{Scheme: "imaps", Host: host, Port: port, User: "u", Password: "p", TLSConfig: cert.ClientConfig()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the certificate is for localhost, 127.0.0.1, ::1, not 127.0.0.2: connect with a name it holds")
	assert.NotContains(t, err.Error(), "tls: tls:")
	assert.Equal(t, "dial", opOf(t, err))
}

func TestDialErrorImplicitTLSOnPlaintextPort(t *testing.T) {
	host, port := acceptAndHold(t, "127.0.0.1", "* OK plaintext IMAP here", nil)
	_, err := Dial(context.Background(), mailaccess.Config{Scheme: "imaps", Host: host, Port: port, User: "u", Password: "p"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the server answered in plaintext: this port does not speak implicit TLS; use imap:// (STARTTLS) for it, or port 993 for imaps://")
}

func TestDialErrorNoGreetingHintsImplicitTLS(t *testing.T) {
	// A port that expects implicit TLS waits for the client's handshake:
	// a client that waits for a greeting hears nothing.
	host, port := acceptAndHold(t, "127.0.0.1", "", nil)
	cfg := mailaccess.Config{Scheme: "imap", Host: host, Port: port, User: "u", Password: "p", DialTimeout: mailaccess.Duration(200 * time.Millisecond)}
	_, err := Dial(context.Background(), cfg)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "no greeting from "+net.JoinHostPort(host, strconv.Itoa(port))+" within")
	assert.Contains(t, err.Error(), "the port may expect implicit TLS (use imaps://, port 993)")
	assert.Equal(t, "dial", opOf(t, err))

	// On an implicit TLS connection the hint would be wrong: none.
	cert, err := testcert.Get()
	require.NoError(t, err)
	host, port = acceptAndHold(t, "127.0.0.1", "", cert.ServerConfig())
	cfg = mailaccess.Config{Scheme: "imaps", Host: host, Port: port, User: "u", Password: "p", TLSConfig: cert.ClientConfig(), DialTimeout: mailaccess.Duration(200 * time.Millisecond)}
	_, err = Dial(context.Background(), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no greeting from")
	assert.NotContains(t, err.Error(), "implicit TLS")
}

func TestDialErrorStartTLSUnavailableNamesTheRemedy(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p"})
	cfg := srv.Config("u", "p")
	cfg.TLS = mailaccess.TLSDefault
	_, err := Dial(context.Background(), cfg)
	require.ErrorIs(t, err, mailaccess.ErrStartTLSUnavailable)
	assert.Contains(t, err.Error(), "use implicit TLS if the server has it: imaps:// on port 993")
	assert.Contains(t, err.Error(), "on a trusted network only, tls=insecure-plaintext")
}

func TestDialErrorRefusedLoginIsOpLogin(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "right"})
	_, err := Dial(context.Background(), srv.Config("u", "wrong"))
	require.ErrorIs(t, err, mailaccess.ErrAuth)
	assert.Equal(t, "login", opOf(t, err), "a refused login is not a dial failure")
	assert.NotContains(t, err.Error(), "dial")
}

// An empty user or password is refused before anything is dialled:
// nothing listens at the address, so a connection attempt would fail
// differently.
func TestDialErrorEmptyCredentialsRefusedBeforeConnecting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close() // connection refused from now on
	for _, tc := range []struct {
		name, user, pass, want string
	}{
		{"no password", "u", "", `no password for user "u": set Config.Password`},
		{"no user", "", "p", "no user name: set Config.User"},
	} {
		cfg := mailaccess.Config{Scheme: "imaps", Host: "127.0.0.1", Port: addr.Port, User: tc.user, Password: mailaccess.Secret(tc.pass)}
		_, err := Dial(context.Background(), cfg)
		require.ErrorIs(t, err, mailaccess.ErrInvalid, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
		var ne *net.OpError
		assert.False(t, errors.As(err, &ne), "%s: refused before any connection attempt: %v", tc.name, err)
		_, err = mailaccess.Open(context.Background(), cfg)
		assert.ErrorIs(t, err, mailaccess.ErrInvalid, "through mailaccess.Open too")
	}
	// A token needs no password.
	cfg := mailaccess.Config{Scheme: "imaps", Host: "127.0.0.1", Port: addr.Port, User: "u",
		Token: func(context.Context) (string, error) { return "t", nil }}
	_, err = Dial(context.Background(), cfg)
	var ne *net.OpError
	assert.True(t, errors.As(err, &ne), "with a token the driver connects: %v", err)
}

// A folder in the URL that the server does not have fails at Open, not
// at the first call.
func TestOpenFailsForMissingURLFolder(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p", Messages: [][]byte{msg("a", "b")}})
	cfg := srv.Config("u", "p")
	cfg.Folder = "Archvie"
	_, err := mailaccess.Open(context.Background(), cfg)
	require.ErrorIs(t, err, mailaccess.ErrNotFound)
	var oe *mailaccess.OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "open", oe.Op)
	assert.Equal(t, "Archvie", oe.Folder)
	assert.Contains(t, err.Error(), "the folder of the URL (Config.Folder) does not exist")
	assert.Equal(t, 1, strings.Count(err.Error(), "imap: "), "one protocol prefix: %s", err)

	cfg.Folder = "INBOX"
	mb, err := mailaccess.Open(context.Background(), cfg)
	require.NoError(t, err)
	require.NoError(t, mailaccess.CreateFolder(context.Background(), mb, "Archive"))
	require.NoError(t, mb.Close())
	cfg.Folder = "Archive"
	mb, err = mailaccess.Open(context.Background(), cfg)
	require.NoError(t, err, "an existing folder opens")
	require.NoError(t, mb.Close())
}
