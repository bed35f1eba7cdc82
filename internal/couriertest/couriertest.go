// Package couriertest runs Courier-IMAP's imapd and Courier's pop3d, real
// IMAP and POP3 servers, for tests.
//
// The Debian packages (courier-imap, courier-pop, with courier-base,
// courier-authlib and gamin) conflict with Dovecot's, so they are not
// installed but unpacked, with the libraries they need, into
// testdata/courier beside this file (.ci/run does it with
// .ci/unpack-debs); $COURIER_ROOT names another unpacked tree. They run
// chrooted in a private root built by package debroot, with the packaged
// configuration files (/etc/courier/imapd, imapd-ssl, pop3d, pop3d-ssl)
// read for their settings, as Courier's start scripts do, and as few
// moving parts as Courier allows:
//
//   - one process per connection, inetd style, as couriertcpd would run
//     it: the login program (imaplogin, courierpop3login) with the
//     connection as standard input and output, which checks the password
//     and runs the server (imapd, courierpop3d) as the user;
//   - the password check through authlib's authdaemond (started once per
//     Server) and its PAM module, with PAM's pam_unix (copied from the
//     host) reading the root's own passwd and shadow files: every user's
//     password is [Password];
//   - mail in a Maildir in the user's home, ~/Maildir, stored with LF
//     line ends as an MTA delivers it (see [Stored] and [Wire]);
//   - gamin's gam_server, which imapd starts to watch the Maildir, as
//     installed Courier does (without it imapd greets every login with
//     an ALERT). It outlives its session by half a minute on its own;
//     Close ends it.
//
// One setting differs from the packaged ones: IDLE polls the Maildir
// every second (IMAP_IDLE_TIMEOUT=1; packaged, 60), so that new mail
// shows within a test. As packaged, imapd keeps every folder but INBOX
// under its personal namespace "INBOX." and refuses other names.
//
// Each Server listens on four loopback ports: IMAP and POP3 with
// STARTTLS/STLS offered, and IMAPS and POP3S (implicit TLS, Courier's
// couriertls in front of the login program, as imapd-ssl and pop3d-ssl
// run it), all presenting the certificate of package testcert.
package couriertest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
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
	imapLogin   = "/usr/lib/courier/courier/imaplogin"
	imapd       = "/usr/bin/imapd"
	pop3Login   = "/usr/lib/courier/courier/courierpop3login"
	pop3d       = "/usr/lib/courier/courier/courierpop3d"
	authdaemond = "/usr/lib/courier/courier-authlib/authdaemond"
	authPAM     = "/usr/lib/courier-authlib/libauthpam.so.0"
	courierTLS  = "/usr/bin/couriertls"
	gamServer   = "/usr/libexec/gam_server"

	authSocket = "/run/courier/authdaemon/socket"
	certPath   = "/etc/courier/test.pem"
)

// courierID is the numeric ID of the "courier" system account couriertls
// drops to, as the packaged imapd-ssl runs it.
const courierID = 64100

// PackageRoot returns the directory the packages are unpacked into:
// $COURIER_ROOT, or testdata/courier beside this source file.
func PackageRoot() string {
	if r := os.Getenv("COURIER_ROOT"); r != "" {
		return r
	}
	return debroot.Testdata("courier")
}

// unpackHint says how to get the tree.
func unpackHint() string {
	return ".ci/unpack-debs " + PackageRoot() + " courier-imap courier-pop courier-base courier-authlib gamin; .ci/run does it"
}

// pamModules finds the host's PAM modules the root needs (pam_unix checks
// the password against the root's shadow file; pam_permit opens the
// session), or says why not.
func pamModules() ([]string, string) {
	var out []string
	for _, m := range []string{"pam_unix.so", "pam_permit.so"} {
		var found string
		for _, pattern := range []string{"/lib/*/security/", "/usr/lib/*/security/", "/lib/security/", "/usr/lib/security/", "/lib64/security/"} {
			if ms, _ := filepath.Glob(pattern + m); len(ms) > 0 {
				found = ms[0]
				break
			}
		}
		if found == "" {
			return nil, "the host's PAM module " + m + " not found (Debian's libpam-modules)"
		}
		out = append(out, found)
	}
	return out, ""
}

// Available reports whether the servers can run here and, if not, why.
func Available() (bool, string) {
	ok, why := debroot.Check(PackageRoot(), unpackHint(),
		imapLogin[1:], imapd[1:], pop3Login[1:], pop3d[1:], authdaemond[1:], authPAM[1:], courierTLS[1:], gamServer[1:],
		"etc/courier/imapd", "etc/courier/imapd-ssl", "etc/courier/pop3d", "etc/courier/pop3d-ssl")
	if !ok {
		return false, why
	}
	if _, why := pamModules(); why != "" {
		return false, why
	}
	return true, ""
}

// Server is a running pair of Courier servers.
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
	debroot.SkipUnlessAvailable(tb, "couriertest", ok, why)
	s, err := newServer(tb.TempDir())
	if err != nil {
		tb.Fatalf("couriertest: %v", err)
	}
	tb.Cleanup(s.root.Close)
	s.root.LogOnFailure(tb)
	return s
}

// authdaemonrc configures authdaemond: the PAM module only, one process
// (a test server's load is small).
const authdaemonrc = `authmodulelist="authpam"
daemons=1
authdaemonvar=/run/courier/authdaemon
DEBUG_LOGIN=0
DEFAULTOPTIONS=""
LOGGEROPTS=""
`

// pamService is the PAM configuration of the imap and pop3 services: the
// password from the root's shadow file, nothing else.
const pamService = `auth required pam_unix.so
account required pam_unix.so
password required pam_unix.so
session required pam_permit.so
`

func newServer(dir string) (*Server, error) {
	hostFiles, why := pamModules()
	if why != "" {
		return nil, fmt.Errorf("%s", why)
	}
	programs := []string{imapLogin, imapd, pop3Login, pop3d, authdaemond, authPAM, courierTLS, gamServer}
	root, err := debroot.Build(dir, PackageRoot(), programs, hostFiles...)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			root.Close()
		}
	}()
	if err := root.AddSystemAccount("courier", courierID, "/var/lib/courier"); err != nil {
		return nil, err
	}
	cert, err := testcert.Get()
	if err != nil {
		return nil, err
	}
	// couriertls reads one file holding the key and the certificate.
	if err := root.WriteFile(certPath, string(cert.KeyPEM)+string(cert.CertPEM), 0o600); err != nil {
		return nil, err
	}
	if err := os.Chown(root.Path(certPath), courierID, courierID); err != nil {
		return nil, err
	}
	for name, content := range map[string]string{
		"/etc/courier/authdaemonrc": authdaemonrc,
		"/etc/pam.d/imap":           pamService,
		"/etc/pam.d/pop3":           pamService,
	} {
		if err := root.WriteFile(name, content, 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(root.Path(filepath.Dir(authSocket)), 0o750); err != nil {
		return nil, err
	}
	if err := root.Daemon(debroot.Command{Path: authdaemond}); err != nil {
		return nil, err
	}
	if err := root.WaitFile(authSocket, 10*time.Second); err != nil {
		return nil, err
	}

	imapEnv, err := settings(root, "/etc/courier/imapd", "/etc/courier/imapd-ssl")
	if err != nil {
		return nil, err
	}
	popEnv, err := settings(root, "/etc/courier/pop3d", "/etc/courier/pop3d-ssl")
	if err != nil {
		return nil, err
	}
	// IDLE polls the Maildir every IMAP_IDLE_TIMEOUT seconds (the
	// packaged IDLE mode; IMAP_ENHANCEDIDLE stays off): every second
	// rather than the packaged 60, so that new mail shows within a test.
	// (Enhanced IDLE, through gamin, reported no new mail here.)
	imapEnv["IMAP_IDLE_TIMEOUT"] = "1"
	tlsSettings := map[string]string{
		"TLS_CERTFILE":   certPath,
		"TLS_DHPARAMS":   "", // GnuTLS uses ECDHE without it
		"TLS_TRUSTCERTS": "", // no client certificates
		"TLS_CACHEFILE":  "", // no session cache file
		"TLS_VERIFYPEER": "NONE",
	}

	s := &Server{root: root}
	for _, l := range []struct {
		login, server string
		env           map[string]string
		over          map[string]string
		implicitTLS   bool
		port          int
		greeting      string
		addr          *string
	}{
		// As the packaged start scripts run them: imapd offers STARTTLS
		// (IMAP_STARTTLS is imapd-ssl's IMAPDSTARTTLS), imapd-ssl puts
		// couriertls in front and sets IMAP_TLS; pop3d offers STLS
		// (pop3d-ssl's POP3_STARTTLS), pop3d-ssl sets POP3_TLS and turns
		// STLS off.
		{imapLogin, imapd, imapEnv, map[string]string{"IMAP_STARTTLS": imapEnv["IMAPDSTARTTLS"]}, false, 143, "* OK", &s.IMAPAddr},
		{imapLogin, imapd, imapEnv, map[string]string{"IMAP_TLS": "1"}, true, 993, "", &s.IMAPSAddr},
		{pop3Login, pop3d, popEnv, nil, false, 110, "+OK", &s.POP3Addr},
		{pop3Login, pop3d, popEnv, map[string]string{"POP3_TLS": "1", "POP3_STARTTLS": "NO", "POP3_TLS_REQUIRED": "0"}, true, 995, "", &s.POP3SAddr},
	} {
		env := map[string]string{}
		for _, m := range []map[string]string{l.env, tlsSettings, l.over} {
			for k, v := range m {
				env[k] = v
			}
		}
		args := []string{l.login, l.server, env["MAILDIRPATH"]}
		path := l.login
		if l.implicitTLS {
			path = courierTLS
			args = append([]string{"-server", "-tcpd", "-user=courier"}, args...)
		} else {
			args = args[1:]
		}
		port := l.port
		ln, err := root.Inetd(func(remote string) debroot.Command {
			return debroot.Command{Path: path, Args: args, Env: sessionEnv(env, remote, port)}
		})
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

// sessionEnv is the environment of one session: the settings, and what
// couriertcpd tells the login program about the connection.
func sessionEnv(settings map[string]string, remote string, localPort int) []string {
	ip, port, _ := net.SplitHostPort(remote)
	env := []string{
		"TCPREMOTEIP=" + ip,
		"TCPREMOTEPORT=" + port,
		"TCPLOCALIP=127.0.0.1",
		"TCPLOCALPORT=" + strconv.Itoa(localPort),
		"PROTO=TCP",
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if settings[k] != "" {
			env = append(env, k+"="+settings[k])
		}
	}
	return env
}

// settings reads the packaged configuration files (paths inside the
// root), which are shell variable assignments the start scripts source:
// NAME=value or NAME="value", with $NAME and ${NAME} expanded from the
// assignments before.
func settings(root *debroot.Root, files ...string) (map[string]string, error) {
	vars := map[string]string{"prefix": "/usr", "exec_prefix": "/usr", "sbindir": "/usr/sbin", "bindir": "/usr/bin"}
	for _, f := range files {
		b, err := os.ReadFile(root.Path(f))
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			name, value, ok := strings.Cut(line, "=")
			if !ok || strings.Trim(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != "" {
				return nil, fmt.Errorf("%s:%d: not an assignment: %q", f, n, line)
			}
			switch {
			case strings.HasPrefix(value, `"`) && strings.HasSuffix(value, `"`) && len(value) >= 2:
				value = value[1 : len(value)-1]
			case strings.HasPrefix(value, `'`) && strings.HasSuffix(value, `'`) && len(value) >= 2:
				vars[name] = value[1 : len(value)-1]
				continue
			}
			vars[name] = os.Expand(value, func(k string) string { return vars[k] })
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	for _, k := range []string{"prefix", "exec_prefix", "sbindir", "bindir"} {
		delete(vars, k)
	}
	return vars, nil
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
// Courier expects to find it: CRLF line ends become LF. (Courier sends
// every LF of the file as CRLF and counts sizes so: a file stored with
// CRLF line ends would be sent with CR CR LF.)
func Stored(msg []byte) []byte {
	return debroot.UnixStored(msg)
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
