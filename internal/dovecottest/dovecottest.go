// Package dovecottest runs private Dovecot IMAP/POP3 servers for tests and
// for the benchmark tool.
//
// Each Server is fully independent: it has its own temporary directory
// (configuration, base_dir, state_dir, logs, certificate and mail homes),
// its own loopback ports for IMAP, IMAPS, POP3 and POP3S, and its own
// users, so tests in several packages may run servers at the same time.
// The TLS certificate is a fresh self-signed ECDSA certificate valid for
// "localhost" and 127.0.0.1; CertPool and TLSConfig verify it.
//
// Users are added with AddUser and authenticate with plaintext passwords
// (PLAIN and LOGIN mechanisms, plaintext allowed on non-TLS ports; failed
// logins are answered without Dovecot's default 2 second delay). All
// users map to one system account (MailUser), created with useradd if it
// does not exist. Mail is seeded by writing maildir files directly, so
// message bytes are stored exactly as given; Dovecot then serves them
// with bare LF turned into CRLF (see corpus.Normalize).
//
// Dovecot must be installed at /usr/sbin/dovecot (Debian: dovecot-imapd
// and dovecot-pop3d) and the process must run as root.
package dovecottest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailaccess/go-mailaccess/internal/testcert"
)

// Binary is the path of the Dovecot executable.
const Binary = "/usr/sbin/dovecot"

// MailUser is the system account that owns every test user's mail. It is
// created (useradd -r) on first use if missing.
const MailUser = "mailaccesstest"

// dirPrefix starts the name of every server directory in the temp dir;
// Start uses it to find servers left behind by killed test binaries.
const dirPrefix = "mailaccess-dovecot-"

// Options adjusts a Server. The zero value (or nil) is fine.
type Options struct {
	// ExtraConfig is appended verbatim to the generated dovecot.conf, one
	// setting per element (later settings override earlier ones).
	ExtraConfig []string
	// StartTimeout bounds how long Start waits for the server to answer;
	// zero means 20 seconds.
	StartTimeout time.Duration
}

// Server is a running private Dovecot. Its exported fields must not be
// modified.
type Server struct {
	// IMAPAddr is the plaintext IMAP address (STARTTLS available).
	IMAPAddr string
	// IMAPSAddr is the implicit-TLS IMAP address.
	IMAPSAddr string
	// POP3Addr is the plaintext POP3 address (STLS available).
	POP3Addr string
	// POP3SAddr is the implicit-TLS POP3 address.
	POP3SAddr string
	// Dir is the server's private directory, removed by Close.
	Dir string
	// ConfigPath is the dovecot.conf the server runs from.
	ConfigPath string
	// LogPath is Dovecot's log file (inside Dir).
	LogPath string

	cert    *x509.Certificate
	pool    *x509.CertPool
	uid     int
	gid     int
	homeDir string

	mu     sync.Mutex
	users  map[string]bool
	seq    int
	closed bool
}

// Available reports whether Dovecot can be used here and, if not, why.
func Available() (bool, string) {
	if _, err := os.Stat(Binary); err != nil {
		return false, Binary + " not found (install dovecot-imapd and dovecot-pop3d)"
	}
	if os.Geteuid() != 0 {
		return false, "dovecottest must run as root (it creates a system user and runs dovecot as root)"
	}
	return true, ""
}

// Start starts a Server for a test and stops it in tb's Cleanup. When
// Dovecot is not available the test is skipped, except under CI
// (CI=true), where that is a fatal error. Any start failure is fatal.
// On failure of the test, the tail of Dovecot's log is logged.
func Start(tb testing.TB, opts *Options) *Server {
	tb.Helper()
	if ok, why := Available(); !ok {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("dovecottest: Dovecot unavailable under CI: %s", why)
		}
		tb.Skipf("dovecottest: Dovecot unavailable: %s", why)
	}
	s, err := NewServer(opts)
	if err != nil {
		tb.Fatalf("dovecottest: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("dovecottest: tail of %s:\n%s", s.LogPath, s.logTail(4096))
		}
		if err := s.Close(); err != nil {
			tb.Errorf("dovecottest: close: %v", err)
		}
	})
	return s
}

// NewServer starts a Server for a program that is not a test. The
// caller must call Close.
func NewServer(opts *Options) (*Server, error) {
	if ok, why := Available(); !ok {
		return nil, errors.New(why)
	}
	if opts == nil {
		opts = &Options{}
	}
	reapStale()
	uid, gid, err := ensureUser(MailUser)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(opts, uid, gid)
		if err == nil {
			return s, nil
		}
		lastErr = err
		// A port picked as free may have been taken by a concurrent
		// test before Dovecot bound it; try again with new ports.
		if !strings.Contains(err.Error(), "in use") {
			break
		}
	}
	return nil, lastErr
}

func start(opts *Options, uid, gid int) (s *Server, err error) {
	dir, err := os.MkdirTemp(tempRoot(), dirPrefix)
	if err != nil {
		return nil, err
	}
	s = &Server{
		Dir:        dir,
		ConfigPath: filepath.Join(dir, "dovecot.conf"),
		LogPath:    filepath.Join(dir, "dovecot.log"),
		uid:        uid,
		gid:        gid,
		homeDir:    filepath.Join(dir, "home"),
		users:      map[string]bool{},
	}
	defer func() {
		if err != nil {
			if tail := s.logTail(2048); tail != "" {
				err = fmt.Errorf("%w\ndovecot log:\n%s", err, tail)
			}
			_ = s.Close()
		}
	}()
	// Dovecot's unprivileged processes and the mail user must reach the
	// homes, the passwd file and the sockets.
	if err := os.Chmod(dir, 0o755); err != nil {
		return s, err
	}
	for _, d := range []string{"run", "state", "home"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return s, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return s, err
	}
	if err := os.Mkdir(filepath.Join(dir, "passwd.d"), 0o755); err != nil {
		return s, err
	}
	if err := s.makeCert(); err != nil {
		return s, fmt.Errorf("certificate: %w", err)
	}
	ports, err := freePorts(4)
	if err != nil {
		return s, err
	}
	host := "127.0.0.1:"
	s.IMAPAddr, s.IMAPSAddr = host+strconv.Itoa(ports[0]), host+strconv.Itoa(ports[1])
	s.POP3Addr, s.POP3SAddr = host+strconv.Itoa(ports[2]), host+strconv.Itoa(ports[3])
	if err := os.WriteFile(s.ConfigPath, []byte(s.config(ports, opts.ExtraConfig)), 0o644); err != nil {
		return s, err
	}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return s, err
	}
	cmd := exec.Command(Binary, "-c", s.ConfigPath)
	// The daemon keeps these descriptors: never hand it a pipe.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, out, out
	runErr := cmd.Run()
	out.Close()
	if runErr != nil {
		msg, _ := os.ReadFile(filepath.Join(dir, "stdout.log"))
		return s, fmt.Errorf("dovecot -c %s: %v: %s", s.ConfigPath, runErr, bytes.TrimSpace(msg))
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	for _, a := range []string{s.IMAPAddr, s.POP3Addr} {
		if err := waitGreeting(a, timeout); err != nil {
			return s, err
		}
	}
	return s, nil
}

// tempRoot returns a directory for server dirs whose paths stay short:
// Dovecot's UNIX sockets live in base_dir and socket paths are limited to
// about 100 bytes.
func tempRoot() string {
	if d := os.TempDir(); len(d) <= 40 {
		return d
	}
	return "/tmp"
}

func (s *Server) config(ports []int, extra []string) string {
	loginUser, internalUser := "dovenull", "dovecot"
	if _, err := user.Lookup(loginUser); err != nil {
		loginUser = MailUser
	}
	if _, err := user.Lookup(internalUser); err != nil {
		internalUser = MailUser
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# Generated by dovecottest for a private test server.")
	p("base_dir = %s", filepath.Join(s.Dir, "run"))
	p("state_dir = %s", filepath.Join(s.Dir, "state"))
	p("log_path = %s", s.LogPath)
	p("info_log_path = %s", s.LogPath)
	p("protocols = imap pop3")
	p("listen = 127.0.0.1")
	p("ssl = yes")
	p("ssl_cert = <%s", filepath.Join(s.Dir, "cert.pem"))
	p("ssl_key = <%s", filepath.Join(s.Dir, "key.pem"))
	p("ssl_min_protocol = TLSv1.2")
	p("disable_plaintext_auth = no")
	p("auth_mechanisms = plain login")
	// Failed logins answer at once instead of after Dovecot's usual 2s.
	p("auth_failure_delay = 0")
	p("first_valid_uid = 1")
	p("mail_location = maildir:~/Maildir")
	p("pop3_uidl_format = %%08Xu%%08Xv")
	p("mail_max_userip_connections = 100")
	p("default_login_user = %s", loginUser)
	p("default_internal_user = %s", internalUser)
	p("passdb {")
	p("  driver = passwd-file")
	// One passwd file per user: Dovecot re-stats a shared passwd-file at
	// most once a second, so a user added within a second of another
	// login was not found ("[AUTH] Authentication failed"). A per-user
	// path (%u) is opened fresh on that user's first lookup.
	p("  args = scheme=PLAIN %s/%%u", filepath.Join(s.Dir, "passwd.d"))
	p("}")
	p("userdb {")
	p("  driver = static")
	p("  args = uid=%d gid=%d home=%s/%%u", s.uid, s.gid, s.homeDir)
	p("}")
	p("service imap-login {")
	p("  inet_listener imap {\n    port = %d\n  }", ports[0])
	p("  inet_listener imaps {\n    port = %d\n    ssl = yes\n  }", ports[1])
	p("}")
	p("service pop3-login {")
	p("  inet_listener pop3 {\n    port = %d\n  }", ports[2])
	p("  inet_listener pop3s {\n    port = %d\n    ssl = yes\n  }", ports[3])
	p("}")
	for _, l := range extra {
		p("%s", l)
	}
	return b.String()
}

// makeCert writes the test certificate (internal/testcert: self-signed,
// for localhost, 127.0.0.1 and ::1) to Dir/cert.pem and Dir/key.pem.
func (s *Server) makeCert() error {
	c, err := testcert.Get()
	if err != nil {
		return err
	}
	s.cert, s.pool = c.Leaf, c.Pool()
	if err := os.WriteFile(filepath.Join(s.Dir, "cert.pem"), c.CertPEM, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Dir, "key.pem"), c.KeyPEM, 0o600)
}

// Certificate returns the server's self-signed certificate.
func (s *Server) Certificate() *x509.Certificate { return s.cert }

// CertPool returns a pool holding only the server's certificate.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// TLSConfig returns a new client configuration that verifies the server's
// certificate for ServerName "localhost".
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// freePorts returns n distinct loopback TCP ports that were free a moment
// ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitGreeting dials addr until it answers with a greeting line.
func waitGreeting(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			line, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if rerr == nil && (strings.HasPrefix(line, "* OK") || strings.HasPrefix(line, "+OK")) {
				return nil
			}
			lastErr = fmt.Errorf("greeting %q: %v", line, rerr)
		} else {
			lastErr = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("dovecot did not answer on %s within %v: %v", addr, timeout, lastErr)
}

// userMu serialises useradd within this process; concurrent processes
// are tolerated by re-checking after a failure.
var userMu sync.Mutex

// ensureUser returns the uid and gid of the system user name, creating it
// with useradd -r if needed.
func ensureUser(name string) (uid, gid int, err error) {
	userMu.Lock()
	defer userMu.Unlock()
	u, err := user.Lookup(name)
	// Another process (a test binary of another package) may be running
	// useradd at the same moment: useradd then fails with "already
	// exists" or cannot lock /etc/passwd. Retry and re-check.
	for attempt := 0; err != nil && attempt < 10; attempt++ {
		out, aerr := exec.Command("useradd", "-r", "-M", "-U", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", name).CombinedOutput()
		if u, err = user.Lookup(name); err == nil {
			break
		}
		err = fmt.Errorf("creating system user %s: %v: %s", name, aerr, bytes.TrimSpace(out))
		time.Sleep(time.Duration(100+attempt*100) * time.Millisecond)
	}
	if err != nil {
		return 0, 0, err
	}
	uid, err = strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, err
	}
	gid, err = strconv.Atoi(u.Gid)
	return uid, gid, err
}

// masterPID returns the pid in base_dir/master.pid, or 0.
func masterPID(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "run", "master.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// alive reports whether pid is a running process. A zombie counts as
// dead: the daemonized master is reparented to PID 1, which may reap it
// only seconds later.
func alive(pid int) bool {
	if pid <= 0 || !signalProcess(pid, 0) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !os.IsNotExist(err)
	}
	// The state follows the parenthesised command name.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}

// stopDir stops the Dovecot whose private directory is dir: it sends
// SIGTERM to the master's process group (the daemon is a session leader,
// so this reaches every Dovecot process of this server and no other) and
// waits for the master to exit, using SIGKILL after 10 seconds.
func stopDir(dir string) error {
	pid := masterPID(dir)
	if !alive(pid) {
		return nil
	}
	_ = signalGroup(pid, false)
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = signalGroup(pid, true)
			time.Sleep(100 * time.Millisecond)
			if alive(pid) {
				return fmt.Errorf("dovecot master %d does not exit", pid)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// reapStale stops and removes servers whose owning process is gone (a
// test binary killed by a timeout never runs its cleanups).
func reapStale() {
	dirs, _ := filepath.Glob(filepath.Join(tempRoot(), dirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		owner, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || owner == os.Getpid() || alive(owner) {
			continue
		}
		if stopDir(d) == nil {
			_ = os.RemoveAll(d)
		}
	}
}

// Close stops the server, waits for its master process to exit and
// removes Dir. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := stopDir(s.Dir)
	if rerr := os.RemoveAll(s.Dir); err == nil {
		err = rerr
	}
	return err
}

// logTail returns up to the last n bytes of Dovecot's log.
func (s *Server) logTail(n int) string {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Log returns Dovecot's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

// AddUser creates user name with password and a maildir holding msgs in
// its INBOX (files in Maildir/new, in the order given: Dovecot assigns
// UIDs and POP3 message numbers in that order). Names may use letters,
// digits and ".-_@+"; the password may not contain ':' or a line break.
// Like a default Dovecot, the server lowercases login names
// (auth_username_format = %Lu), so name is stored lowercased and logins
// are case-insensitive. Adding an existing user is an error.
func (s *Server) AddUser(name, password string, msgs [][]byte) error {
	name = strings.ToLower(name)
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@+") != "" || strings.HasPrefix(name, ".") {
		return fmt.Errorf("dovecottest: invalid user name %q", name)
	}
	if strings.ContainsAny(password, ":\r\n") {
		return fmt.Errorf("dovecottest: password for %q contains ':' or a line break", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("dovecottest: server closed")
	}
	if s.users[name] {
		return fmt.Errorf("dovecottest: user %q already exists", name)
	}
	home := filepath.Join(s.homeDir, name)
	for _, d := range []string{home, filepath.Join(home, "Maildir"), filepath.Join(home, "Maildir", "cur"),
		filepath.Join(home, "Maildir", "new"), filepath.Join(home, "Maildir", "tmp")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return err
		}
		if err := os.Chown(d, s.uid, s.gid); err != nil {
			return err
		}
	}
	if err := s.deliver(name, msgs); err != nil {
		return err
	}
	// Write the user's passwd file atomically (a copy renamed into place).
	passwd := filepath.Join(s.Dir, "passwd.d", name)
	tmp := passwd + ".tmp"
	if err := os.WriteFile(tmp, []byte(name+":{PLAIN}"+password+"::::::\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, passwd); err != nil {
		return err
	}
	s.users[name] = true
	return nil
}

// AddMessages delivers more messages to the INBOX of an existing user,
// the maildir way (written in tmp/, renamed into new/), so it is safe
// while the user is logged in; Dovecot sees them on its next sync.
func (s *Server) AddMessages(name string, msgs [][]byte) error {
	name = strings.ToLower(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.users[name] {
		return fmt.Errorf("dovecottest: no user %q", name)
	}
	return s.deliver(name, msgs)
}

// AddMessageReader delivers one message read from r to the INBOX of an
// existing user, streaming it to disk (for messages too large to hold in
// memory, such as corpus.Large). Like AddMessages it is safe while the
// user is logged in.
func (s *Server) AddMessageReader(name string, r io.Reader) error {
	name = strings.ToLower(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.users[name] {
		return fmt.Errorf("dovecottest: no user %q", name)
	}
	return s.deliverOne(name, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// MaildirPath returns the path of user name's Maildir.
func (s *Server) MaildirPath(name string) string {
	return filepath.Join(s.homeDir, strings.ToLower(name), "Maildir")
}

// deliver writes msgs into name's Maildir/new. s.mu must be held. File
// names start with an increasing 10-digit counter so that their order is
// the delivery order.
func (s *Server) deliver(name string, msgs [][]byte) error {
	for _, m := range msgs {
		if err := s.deliverOne(name, func(w io.Writer) error {
			_, err := w.Write(m)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// deliverOne writes one message with write into tmp/ and renames it into
// new/. s.mu must be held. The name carries the message's size and its
// size with CRLF line ends (",S=…,W=…"), as in the maildirs Dovecot
// itself delivers to, so Dovecot answers RFC822.SIZE and LIST without
// reading every file, as it does on a real server.
func (s *Server) deliverOne(name string, write func(io.Writer) error) error {
	md := s.MaildirPath(name)
	s.seq++
	base := fmt.Sprintf("%010d.M%dP%d.dovecottest", 1_000_000_000+s.seq, s.seq, os.Getpid())
	tmp := filepath.Join(md, "tmp", base)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	cw := &sizeWriter{w: f}
	err = write(cw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chown(tmp, s.uid, s.gid)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(md, "new", fmt.Sprintf("%s,S=%d,W=%d", base, cw.n, cw.n+cw.bareLF)))
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// sizeWriter counts the bytes written and the LFs not preceded by CR
// (each becomes CRLF in Dovecot's virtual size).
type sizeWriter struct {
	w      io.Writer
	n      int64
	bareLF int64
	lastCR bool
}

func (c *sizeWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	for i, b := range p[:n] {
		if b == '\n' && !(i == 0 && c.lastCR || i > 0 && p[i-1] == '\r') {
			c.bareLF++
		}
	}
	if n > 0 {
		c.lastCR = p[n-1] == '\r'
	}
	c.n += int64(n)
	return n, err
}
