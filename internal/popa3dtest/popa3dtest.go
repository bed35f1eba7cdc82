// Package popa3dtest runs popa3d, a real POP3 server, for tests.
//
// popa3d (Debian package popa3d, by Solar Designer) is a small mbox POP3
// server. It matters to this module because it derives a message's UIDL
// from its header, so two messages with the same leading header lines get
// the same UIDL: a real server with duplicate UIDLs in one listing.
//
// The package conflicts with dovecot-pop3d, so it is not installed but
// unpacked (apt-get download popa3d; dpkg -x) into testdata/popa3d beside
// this file; .ci/run does that. The environment variable POPA3D_ROOT names
// another unpacked tree.
//
// popa3d is an inetd-style server: it speaks POP3 on its standard input and
// output, authenticates with PAM (pam_unix, so /etc/passwd and
// /etc/shadow), refuses root, drops privileges to the user and serves the
// mbox /var/mail/USER. A Server therefore builds a private root directory
// holding popa3d, the shared libraries it and pam_unix need (found with
// ldd), its own passwd, shadow and group files with one mail user and the
// popa3d system user, a PAM configuration and the mbox; accepts
// connections on a loopback port; and runs popa3d chrooted into that
// directory for each one, with the connection as standard input and
// output. Nothing outside the temporary directory is touched. This needs
// root (chroot, chown, and popa3d's own setuid).
package popa3dtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// User and Password are the credentials of the mail user of every Server.
const (
	User     = "mailuser"
	Password = "popa3d-secret"
)

// passwordHash is Password hashed with SHA-512 crypt ("openssl passwd -6
// -salt mailaccesstest popa3d-secret"), for the server's shadow file.
const passwordHash = "$6$mailaccesstest$lkIDTz8wT6frEQPgJJ7vWCb5DAxaslceP1CBa87ChA7moATmtgzl5FCJygbFcq0M/r8BlLDNKUlg2yRsuU9oU0"

// Numeric IDs inside the private root; they need not exist on the host.
const (
	mailUID   = 64101
	popa3dUID = 64102
)

// binaryInPackage is the path of popa3d in the unpacked package and in the
// private root.
const binaryInPackage = "/usr/sbin/popa3d"

// PackageRoot returns the directory the popa3d package is unpacked into:
// $POPA3D_ROOT, or testdata/popa3d beside this source file.
func PackageRoot() string {
	if r := os.Getenv("POPA3D_ROOT"); r != "" {
		return r
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("testdata", "popa3d")
	}
	return filepath.Join(filepath.Dir(file), "testdata", "popa3d")
}

// Available reports whether popa3d can be run here and, if not, why.
func Available() (bool, string) {
	if !canChroot {
		return false, "popa3dtest needs a Unix system (chroot)"
	}
	bin := filepath.Join(PackageRoot(), binaryInPackage)
	if _, err := os.Stat(bin); err != nil {
		return false, bin + " not found (unpack the Debian package: apt-get download popa3d && dpkg -x popa3d_*.deb " + PackageRoot() + "; .ci/run does it)"
	}
	if os.Geteuid() != 0 {
		return false, "popa3dtest must run as root (chroot, and popa3d switches users)"
	}
	if _, err := exec.LookPath("ldd"); err != nil {
		return false, "ldd not found"
	}
	return true, ""
}

// Server is a running popa3d behind a loopback listener.
type Server struct {
	// Addr is the listening address, "127.0.0.1:port".
	Addr string
	// Root is the private root directory popa3d runs in.
	Root string

	ln net.Listener
	wg sync.WaitGroup

	mu       sync.Mutex
	procs    map[*os.Process]bool
	sessions int
	closed   bool
}

// Start starts a Server for a test and stops it in tb's Cleanup. When
// popa3d is not available the test is skipped, except under CI (CI=true),
// where that is a fatal error.
func Start(tb testing.TB) *Server {
	tb.Helper()
	if ok, why := Available(); !ok {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("popa3dtest: popa3d unavailable under CI: %s", why)
		}
		tb.Skipf("popa3dtest: %s", why)
	}
	s, err := newServer(tb.TempDir())
	if err != nil {
		tb.Fatalf("popa3dtest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

func newServer(dir string) (*Server, error) {
	root := filepath.Join(dir, "root")
	if err := buildRoot(root); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: ln.Addr().String(), Root: root, ln: ln, procs: map[*os.Process]bool{}}
	if err := s.SetMessages(); err != nil {
		ln.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Host returns "127.0.0.1".
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.Addr); return h }

// Port returns the listening port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Sessions returns how many connections were accepted.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Close stops the listener, kills running sessions and waits for them.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for p := range s.procs {
		_ = p.Kill()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			s.session(conn)
		}()
	}
}

// session runs popa3d for one connection, inetd style.
func (s *Server) session(conn net.Conn) {
	f, err := conn.(*net.TCPConn).File()
	if err != nil {
		return
	}
	defer f.Close()
	conn.Close() // popa3d holds the duplicate
	cmd := exec.Command(binaryInPackage)
	cmd.Stdin, cmd.Stdout = f, f
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	cmd.SysProcAttr = chrooted(s.Root)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return
	}
	s.sessions++
	s.procs[cmd.Process] = true
	s.mu.Unlock()
	_ = cmd.Wait()
	s.mu.Lock()
	delete(s.procs, cmd.Process)
	s.mu.Unlock()
}

// mboxPath is the mail user's mbox on the host.
func (s *Server) mboxPath() string { return filepath.Join(s.Root, "var", "mail", User) }

// SetMessages replaces the mail user's mbox with msgs, in order. Each
// message is stored with LF line ends (popa3d sends CRLF); see Wire. A
// message with a line starting "From " is refused: mbox would split it.
func (s *Server) SetMessages(msgs ...[]byte) error {
	var b bytes.Buffer
	for i, m := range msgs {
		lf := bytes.ReplaceAll(m, []byte("\r\n"), []byte("\n"))
		if bytes.HasPrefix(lf, []byte("From ")) || bytes.Contains(lf, []byte("\nFrom ")) {
			return fmt.Errorf("message %d has a line starting with \"From \", which mbox cannot store as is", i)
		}
		if len(lf) > 0 && lf[len(lf)-1] != '\n' {
			return fmt.Errorf("message %d does not end with a line end", i)
		}
		fmt.Fprintf(&b, "From sender@example.org Mon Jan  1 00:00:%02d 2024\n", i%60)
		b.Write(lf)
		b.WriteByte('\n') // mbox separator line
	}
	p := s.mboxPath()
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		return err
	}
	return os.Chown(p, mailUID, mailUID)
}

// Messages returns the messages now in the mbox, as Wire would send them
// (CRLF line ends), in order.
func (s *Server) Messages() ([][]byte, error) {
	data, err := os.ReadFile(s.mboxPath())
	if err != nil {
		return nil, err
	}
	var out [][]byte
	var cur []byte
	started := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	flush := func() {
		if started {
			cur = bytes.TrimSuffix(cur, []byte("\n")) // the separator line
			out = append(out, Wire(cur))
		}
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "From ") {
			flush()
			cur, started = nil, true
			continue
		}
		cur = append(cur, line...)
		cur = append(cur, '\n')
	}
	flush()
	return out, sc.Err()
}

// Wire returns msg as popa3d sends it: LF line ends become CRLF.
func Wire(msg []byte) []byte {
	lf := bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n"))
}

// buildRoot creates the private root directory popa3d runs in.
func buildRoot(root string) error {
	for _, d := range []string{"etc/pam.d", "var/mail", "var/lib/popa3d", "usr/sbin", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	bin := filepath.Join(PackageRoot(), binaryInPackage)
	if err := copyFile(bin, filepath.Join(root, binaryInPackage), 0o755); err != nil {
		return err
	}
	libs, err := sharedLibs(bin)
	if err != nil {
		return err
	}
	pamUnix := ""
	for _, l := range libs {
		if filepath.Base(l) == "libpam.so.0" {
			pamUnix = filepath.Join(filepath.Dir(l), "security", "pam_unix.so")
		}
	}
	if pamUnix == "" {
		return errors.New("popa3d is not linked with libpam")
	}
	more, err := sharedLibs(pamUnix)
	if err != nil {
		return fmt.Errorf("pam_unix: %w", err)
	}
	for _, l := range append(append(libs, more...), pamUnix) {
		// Under the library's path as linked and as resolved on the host
		// (/lib may be a link to /usr/lib), so every lookup finds it.
		paths := []string{l}
		if real, err := filepath.EvalSymlinks(l); err == nil && real != l {
			paths = append(paths, real)
		}
		for _, p := range paths {
			if err := copyFile(l, filepath.Join(root, p), 0o755); err != nil {
				return err
			}
		}
	}
	files := map[string]string{
		"etc/passwd": fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\npopa3d:x:%d:%d:popa3d:/var/lib/popa3d:/usr/sbin/nologin\n%s:x:%d:%d:mail user:/var/mail:/bin/sh\n",
			popa3dUID, popa3dUID, User, mailUID, mailUID),
		"etc/shadow":        fmt.Sprintf("root:*:19000:0:99999:7:::\npopa3d:*:19000:0:99999:7:::\n%s:%s:19000:0:99999:7:::\n", User, passwordHash),
		"etc/group":         fmt.Sprintf("root:x:0:\npopa3d:x:%d:\n%s:x:%d:\n", popa3dUID, User, mailUID),
		"etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\n",
		"etc/pam.d/popa3d":  "auth required pam_unix.so\naccount required pam_unix.so\n",
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if name == "etc/shadow" {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), mode); err != nil {
			return err
		}
	}
	// popa3d writes the mbox as the mail user; a temp dir may be 0700.
	for _, d := range []string{root, filepath.Join(root, "var"), filepath.Join(root, "var", "mail")} {
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// sharedLibs lists the shared libraries (and the loader) bin needs, as ldd
// resolves them.
func sharedLibs(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				libs = append(libs, f)
			}
		}
	}
	return libs, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
