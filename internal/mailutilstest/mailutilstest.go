// Package mailutilstest runs GNU Mailutils' imap4d and pop3d, real IMAP
// and POP3 servers, for tests.
//
// The Debian packages (mailutils-imap4d, mailutils-pop3d) conflict with
// Dovecot's, so they are not installed but unpacked, with the libraries
// they need, into testdata/mailutils beside this file (.ci/run does it
// with .ci/unpack-debs); $MAILUTILS_ROOT names another unpacked tree.
// Both servers run in inetd mode, one process per connection with the
// connection as standard input and output, chrooted into a private root
// built by package debroot: system authentication from the root's own
// passwd and shadow files (every user's password is [Password]), mail in
// a Maildir in the user's home. Each Server listens on four loopback
// ports: IMAP and POP3 with STARTTLS/STLS offered, and IMAPS and POP3S
// (implicit TLS), all presenting the certificate of package testcert.
package mailutilstest

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailaccess/go-mailaccess/internal/debroot"
	"github.com/mailaccess/go-mailaccess/internal/testcert"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Password is the password of every user.
const Password = debroot.Password

// Paths of the programs in the unpacked tree and the root.
const (
	imap4dPath = "/usr/sbin/imap4d"
	pop3dPath  = "/usr/sbin/pop3d"
	confPath   = "/etc/mailutils-test.conf"
)

// PackageRoot returns the directory the packages are unpacked into:
// $MAILUTILS_ROOT, or testdata/mailutils beside this source file.
func PackageRoot() string {
	if r := os.Getenv("MAILUTILS_ROOT"); r != "" {
		return r
	}
	return debroot.Testdata("mailutils")
}

// Available reports whether the servers can run here and, if not, why.
func Available() (bool, string) {
	return debroot.Check(PackageRoot(),
		".ci/unpack-debs "+PackageRoot()+" mailutils-imap4d mailutils-pop3d; .ci/run does it",
		imap4dPath[1:], pop3dPath[1:])
}

// Server is a running pair of Mailutils servers.
type Server struct {
	// Addresses, "127.0.0.1:port".
	IMAPAddr, IMAPSAddr, POP3Addr, POP3SAddr string

	root *debroot.Root
}

// Start starts a Server for a test and stops it in tb's Cleanup. When the
// servers are not available the test is skipped, except under CI
// (CI=true), where that is a fatal error. On failure the servers' error
// output is logged.
func Start(tb testing.TB) *Server {
	tb.Helper()
	ok, why := Available()
	debroot.SkipUnlessAvailable(tb, "mailutilstest", ok, why)
	s, err := newServer(tb.TempDir())
	if err != nil {
		tb.Fatalf("mailutilstest: %v", err)
	}
	tb.Cleanup(s.root.Close)
	s.root.LogOnFailure(tb)
	return s
}

// config is the servers' configuration: no syslog (errors go to standard
// error, which the harness keeps), no TCP wrappers, users from the root's
// passwd and shadow files, each user's mail in ~/Maildir, and no
// mandatory locking (its lock directory, /var/lock/subsys/mail, would
// have to exist).
const config = `logging {
  syslog false;
};
tcp-wrappers {
  enable false;
};
auth {
  authentication system;
  authorization system;
};
mailbox {
  mailbox-pattern "maildir:///home/${user}/Maildir";
  mailbox-type maildir;
};
namespace personal {
  prefix "" {
    directory "/home/${user}/Maildir";
    delimiter "/";
    mailbox-type maildir;
  };
};
mandatory-locking {
  enable false;
};
tls-file-checks {
  key-file none;
  cert-file none;
  ca-file none;
};
tls {
  ssl-certificate-file "/etc/mailutils-test/cert.pem";
  ssl-key-file "/etc/mailutils-test/key.pem";
};
`

func newServer(dir string) (*Server, error) {
	root, err := debroot.Build(dir, PackageRoot(), []string{imap4dPath, pop3dPath})
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			root.Close()
		}
	}()
	cert, err := testcert.Get()
	if err != nil {
		return nil, err
	}
	if err := root.CopyTLS("/etc/mailutils-test/cert.pem", cert.CertPEM, "/etc/mailutils-test/key.pem", cert.KeyPEM); err != nil {
		return nil, err
	}
	if err := root.WriteFile(confPath, config, 0o644); err != nil {
		return nil, err
	}
	s := &Server{root: root}
	listen := func(prog, mode string) (*debroot.Listener, error) {
		return root.Inetd(func(string) debroot.Command {
			return debroot.Command{Path: prog, Args: []string{"--inetd", "--config-file=" + confPath, "--set=tls-mode=" + mode}}
		})
	}
	for _, l := range []struct {
		prog, mode, greeting string
		addr                 *string
	}{
		{imap4dPath, "ondemand", "* OK", &s.IMAPAddr},
		{imap4dPath, "connection", "", &s.IMAPSAddr},
		{pop3dPath, "ondemand", "+OK", &s.POP3Addr},
		{pop3dPath, "connection", "", &s.POP3SAddr},
	} {
		ln, err := listen(l.prog, l.mode)
		if err != nil {
			return nil, err
		}
		*l.addr = ln.Addr
		if l.greeting != "" {
			if err := debroot.WaitGreeting(ln.Addr, l.greeting, 10*time.Second); err != nil {
				return nil, fmt.Errorf("%w; log:\n%s", err, root.Log())
			}
		}
	}
	ok = true
	return s, nil
}

// Close stops the servers.
func (s *Server) Close() { s.root.Close() }

// Log returns what the servers wrote to standard error.
func (s *Server) Log() string { return s.root.Log() }

// AddUser creates a user with a fresh name starting with prefix (lowercase
// letters and digits) and password Password, whose INBOX holds msgs in
// order, stored as an MTA delivers them (see Stored). It returns the name.
func (s *Server) AddUser(prefix string, msgs [][]byte) (string, error) {
	return s.root.AddMaildirUser(prefix, msgs)
}

// AddMessages delivers msgs to the INBOX of user name, as an MTA would
// (see Stored; safe while the user is logged in).
func (s *Server) AddMessages(name string, msgs [][]byte) error {
	return s.root.DeliverMaildir(name, msgs)
}

// Stored returns msg as a Unix MTA writes it into a Maildir and as
// Mailutils expects to find it: CRLF line ends become LF. (Mailutils reads
// a Maildir file with CRLF line ends wrongly: measured with 3.15, pop3d
// finds no end of its header, and when it adds its X-UIDL field it
// rewrites the file as that field alone, destroying the message.)
func Stored(msg []byte) []byte {
	return debroot.UnixStored(msg)
}

// WithXUIDL returns msg as pop3d leaves it after the first session that
// listed it: with an X-UIDL header field (here derived from msg's digest)
// as the last line of its header. pop3d adds that field to a message it
// lists for the first time, after computing the size it lists (so that
// session's LIST size is short by the field), and stores the message with
// it at QUIT; a message seeded with the field is served as it is, the
// field's value being its UIDL. Tests that compare bytes across sessions
// seed messages this way.
func WithXUIDL(msg []byte) []byte {
	sum := sha256.Sum256(msg)
	field := "X-UIDL: " + hex.EncodeToString(sum[:12])
	for i := 0; i < len(msg); {
		j := bytes.IndexByte(msg[i:], '\n')
		if j < 0 {
			break
		}
		line := msg[i : i+j+1]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			out := append([]byte{}, msg[:i]...)
			out = append(out, field...)
			out = append(out, line...) // the same line end
			return append(out, msg[i:]...)
		}
		i += j + 1
	}
	return msg
}

// Wire returns what the servers send for a message seeded as msg: Stored
// with every LF made CRLF.
func Wire(msg []byte) []byte {
	return bytes.ReplaceAll(Stored(msg), []byte("\n"), []byte("\r\n"))
}

// MaildirPath returns the host path of user name's Maildir.
func (s *Server) MaildirPath(name string) string {
	return s.root.Path("/home/" + name + "/Maildir")
}

// TLSConfig returns a client configuration that verifies the servers'
// certificate.
func (s *Server) TLSConfig() *tls.Config {
	c, err := testcert.Get()
	if err != nil {
		panic(err) // Start made it already
	}
	return c.ClientConfig()
}

// Config returns a mailaccess configuration for user on scheme ("imap",
// "imaps", "pop3" or "pop3s"), verifying the certificate.
func (s *Server) Config(scheme, user string) mailaccess.Config {
	addr := map[string]string{"imap": s.IMAPAddr, "imaps": s.IMAPSAddr, "pop3": s.POP3Addr, "pop3s": s.POP3SAddr}[scheme]
	host, port, _ := strings.Cut(addr, ":")
	p, _ := strconv.Atoi(port)
	return mailaccess.Config{Scheme: scheme, Host: host, Port: p, User: user, Password: Password, TLSConfig: s.TLSConfig()}
}
