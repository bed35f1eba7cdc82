// Package debroot runs real mail servers from Debian packages that are
// unpacked, not installed, for tests.
//
// Several servers the tests try the drivers against (GNU Mailutils,
// Courier, popa3d) conflict with the Dovecot packages the rest of the
// suite needs, so .ci/run fetches them with apt-get download and unpacks
// them with dpkg -x (together with the libraries they need that the
// machine lacks) into a git-ignored testdata directory of the harness
// package that runs them. A harness then builds a private root directory
// in a temporary directory: the unpacked tree, every shared library its
// programs need (found with ldd, from the tree first, then the host), its
// own passwd, shadow and group files, a /dev/null device (and no other
// device), and the server's configuration; and
// runs the server chrooted there, so that compiled-in paths (/etc/...,
// /run/...) resolve inside the root and nothing outside the temporary
// directory is touched. This needs root.
//
// Two ways to run a server: [Root.Inetd] starts a loopback listener and
// runs a program per connection with the connection as its standard input
// and output, as inetd does; [Root.Daemon] runs a program that listens
// itself (or a helper daemon such as an authentication service) until the
// Root is closed.
package debroot

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Password is the password of every mail user a Root has.
const Password = "interop-secret"

// passwordHash is Password hashed with SHA-512 crypt ("openssl passwd -6
// -salt mailaccesstest interop-secret"), for the shadow file.
const passwordHash = "$6$mailaccesstest$Z3XUnfG85U.5Am85hXF90FlHJvutTm1gOsmYJVpkz9/folKwxjjyCnOinDyDjaSRK1WT4JJ5UkiJ2FSSXpoyu0"

// FirstUID is the numeric ID of the first mail user a Root adds; the next
// ones follow. The IDs need not exist on the host.
const FirstUID = 64200

// Testdata returns the directory named name in the testdata directory
// beside the source file of the caller (a harness package), where .ci/run
// unpacks that harness's packages.
func Testdata(name string) string {
	_, file, _, ok := runtime.Caller(1)
	if !ok {
		return filepath.Join("testdata", name)
	}
	return filepath.Join(filepath.Dir(file), "testdata", name)
}

// Check reports whether the unpacked tree pkg holds every one of files
// (paths inside the tree) and programs can run here; if not, why. hint
// says how to get the tree (the .ci/run step).
func Check(pkg, hint string, files ...string) (bool, string) {
	if runtime.GOOS != "linux" {
		return false, "debroot runs unpacked Debian packages, which needs Linux"
	}
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(pkg, f)); err != nil {
			return false, filepath.Join(pkg, f) + " not found (" + hint + ")"
		}
	}
	if os.Geteuid() != 0 {
		return false, "running an unpacked server needs root (chroot, chown, and the server switches users)"
	}
	if _, err := exec.LookPath("ldd"); err != nil {
		return false, "ldd not found"
	}
	return true, ""
}

// SkipUnlessAvailable skips tb when ok is false, except under CI (CI=true),
// where that is a fatal error: CI unpacks every package.
func SkipUnlessAvailable(tb testing.TB, name string, ok bool, why string) {
	tb.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s unavailable under CI: %s", name, why)
	}
	tb.Skipf("%s: %s", name, why)
}

// User is a mail user of a Root.
type User struct {
	Name     string
	UID, GID int
	// Home is the home directory inside the root ("/home/NAME").
	Home string
}

// Root is a private root directory that servers run chrooted in.
type Root struct {
	// Dir is the root directory on the host.
	Dir string

	mu      sync.Mutex
	seq     int // names handed out by AddMaildirUser
	users   []User
	extra   passwdLines
	closers []func()
	closed  bool
	procs   map[*os.Process]bool
	wg      sync.WaitGroup
	logMu   sync.Mutex
	logBuf  bytes.Buffer
}

// passwdLines are system accounts a server needs besides the mail users.
type passwdLines struct{ passwd, shadow, group []string }

// Build makes a private root directory in dir from the unpacked tree pkg:
// the tree's files (without documentation), and the shared libraries that
// programs (paths inside the tree: the servers, and modules they load with
// dlopen, which ldd cannot see) need and the tree does not hold, copied
// from the host. hostFiles are more host files to copy, with what they
// need (modules of installed packages, such as PAM or SASL modules).
func Build(dir, pkg string, programs []string, hostFiles ...string) (*Root, error) {
	root := filepath.Join(dir, "root")
	r := &Root{Dir: root, procs: map[*os.Process]bool{}}
	for _, d := range []string{"etc", "dev", "tmp", "home", "run", "var/tmp", "var/run"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		return nil, err
	}
	if err := makeDevNull(root); err != nil {
		return nil, err
	}
	var elfs []string
	err := filepath.WalkDir(pkg, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(pkg, p)
		if rel == "." {
			return os.Chmod(root, 0o755)
		}
		if d.IsDir() && (rel == "usr/share/doc" || rel == "usr/share/man" || rel == "usr/share/locale" || rel == "usr/share/info") {
			return filepath.SkipDir
		}
		dst := filepath.Join(root, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			_ = os.Remove(dst)
			return os.Symlink(target, dst)
		case d.IsDir():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return os.MkdirAll(dst, info.Mode().Perm()|0o755)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return copyFile(p, dst, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("debroot: copying %s: %w", pkg, err)
	}
	for _, p := range programs {
		if !isELF(filepath.Join(root, p)) {
			return nil, fmt.Errorf("debroot: %s is not an executable or shared library in %s", p, pkg)
		}
		elfs = append(elfs, filepath.Join(root, p))
	}
	// The loader searches the root's library directories before the
	// host's, so what the tree ships wins, as it would when installed.
	var libDirs []string
	for _, d := range []string{"lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu", "lib", "usr/lib"} {
		if st, err := os.Stat(filepath.Join(root, d)); err == nil && st.IsDir() {
			libDirs = append(libDirs, filepath.Join(root, d))
		}
	}
	for _, l := range hostFiles {
		if err := r.copyHost(l); err != nil {
			return nil, err
		}
		elfs = append(elfs, filepath.Join(root, l))
	}
	seen := map[string]bool{}
	for len(elfs) > 0 {
		f := elfs[0]
		elfs = elfs[1:]
		libs, missing, err := sharedLibs(f, libDirs)
		if err != nil {
			return nil, err
		}
		if len(missing) > 0 {
			rel, _ := filepath.Rel(root, f)
			return nil, fmt.Errorf("debroot: /%s needs %s, found neither in %s nor on this machine (unpack the package that has it beside the server's: .ci/run does)",
				rel, strings.Join(missing, ", "), pkg)
		}
		for _, l := range libs {
			if strings.HasPrefix(l, root+string(filepath.Separator)) || seen[l] {
				continue
			}
			seen[l] = true
			if err := r.copyHost(l); err != nil {
				return nil, err
			}
			elfs = append(elfs, filepath.Join(root, l))
		}
	}
	files := map[string]string{
		"etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files\nservices: files\n",
		"etc/hosts":         "127.0.0.1 localhost\n::1 localhost\n",
		"etc/services":      "imap2 143/tcp imap\npop3 110/tcp pop-3\nimaps 993/tcp\npop3s 995/tcp\n",
	}
	for name, content := range files {
		if err := r.WriteFile(name, content, 0o644); err != nil {
			return nil, err
		}
	}
	if err := r.writeAccounts(); err != nil {
		return nil, err
	}
	return r, nil
}

// copyHost copies the host file abs (and, when abs is reached through a
// link such as /lib -> /usr/lib, its resolved path too) into the root.
func (r *Root) copyHost(abs string) error {
	paths := []string{abs}
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		paths = append(paths, real)
	}
	for _, p := range paths {
		dst := filepath.Join(r.Dir, p)
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if err := copyFile(abs, dst, 0o755); err != nil {
			return fmt.Errorf("debroot: %w", err)
		}
	}
	return nil
}

func isELF(p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Type == elf.ET_EXEC || f.Type == elf.ET_DYN
}

// sharedLibs lists the shared libraries (and the loader) bin needs, as ldd
// resolves them with libDirs searched first, and the ones it cannot find.
func sharedLibs(bin string, libDirs []string) (libs, missing []string, err error) {
	cmd := exec.Command("ldd", bin)
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+strings.Join(libDirs, ":"))
	out, err := cmd.Output()
	if err != nil {
		// ldd fails on a static or foreign binary: nothing to copy.
		return nil, nil, nil
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "not found") {
			missing = append(missing, strings.TrimSpace(strings.Split(line, "=>")[0]))
			continue
		}
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				libs = append(libs, f)
			}
		}
	}
	return libs, missing, nil
}

// WriteFile writes a file at name, a path inside the root.
func (r *Root) WriteFile(name, content string, mode os.FileMode) error {
	p := filepath.Join(r.Dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".debroot-tmp"
	if err := os.WriteFile(tmp, []byte(content), mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// Path returns the host path of name, a path inside the root.
func (r *Root) Path(name string) string { return filepath.Join(r.Dir, name) }

// AddSystemAccount adds a system account (and its group, with the same
// ID) that a server runs as, e.g. "courier" or "cyrus".
func (r *Root) AddSystemAccount(name string, id int, home string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.extra.passwd = append(r.extra.passwd, fmt.Sprintf("%s:x:%d:%d:%s:%s:/usr/sbin/nologin", name, id, id, name, home))
	r.extra.shadow = append(r.extra.shadow, name+":*:19000:0:99999:7:::")
	r.extra.group = append(r.extra.group, fmt.Sprintf("%s:x:%d:", name, id))
	return r.writeAccountsLocked()
}

// AddUser adds a mail user with password [Password] and an empty home
// directory /home/NAME owned by the user. Names may use lowercase letters,
// digits and "-_".
func (r *Root) AddUser(name string) (User, error) {
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return User{}, fmt.Errorf("debroot: invalid user name %q", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.users {
		if u.Name == name {
			return User{}, fmt.Errorf("debroot: user %q already exists", name)
		}
	}
	id := FirstUID + len(r.users)
	u := User{Name: name, UID: id, GID: id, Home: "/home/" + name}
	home := r.Path(u.Home)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return User{}, err
	}
	if err := os.Chown(home, u.UID, u.GID); err != nil {
		return User{}, err
	}
	r.users = append(r.users, u)
	if err := r.writeAccountsLocked(); err != nil {
		return User{}, err
	}
	return u, nil
}

// LookupUser returns the user named name.
func (r *Root) LookupUser(name string) (User, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

func (r *Root) writeAccounts() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writeAccountsLocked()
}

func (r *Root) writeAccountsLocked() error {
	passwd := []string{"root:x:0:0:root:/root:/bin/sh", "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin"}
	shadow := []string{"root:*:19000:0:99999:7:::", "nobody:*:19000:0:99999:7:::"}
	group := []string{"root:x:0:", "mail:x:8:", "nogroup:x:65534:"}
	passwd = append(passwd, r.extra.passwd...)
	shadow = append(shadow, r.extra.shadow...)
	group = append(group, r.extra.group...)
	for _, u := range r.users {
		passwd = append(passwd, fmt.Sprintf("%s:x:%d:%d:mail user:%s:/bin/sh", u.Name, u.UID, u.GID, u.Home))
		shadow = append(shadow, fmt.Sprintf("%s:%s:19000:0:99999:7:::", u.Name, passwordHash))
		group = append(group, fmt.Sprintf("%s:x:%d:", u.Name, u.GID))
	}
	for name, lines := range map[string][]string{"etc/passwd": passwd, "etc/shadow": shadow, "etc/group": group} {
		mode := os.FileMode(0o644)
		if name == "etc/shadow" {
			mode = 0o640
		}
		if err := r.WriteFile(name, strings.Join(lines, "\n")+"\n", mode); err != nil {
			return err
		}
	}
	return nil
}

// AddMaildirUser creates a user with a fresh name starting with prefix
// (lowercase letters and digits; a number is appended) and password
// [Password], whose ~/Maildir holds msgs in order, written as a Unix MTA
// delivers them ([UnixStored]). It returns the name.
func (r *Root) AddMaildirUser(prefix string, msgs [][]byte) (string, error) {
	r.mu.Lock()
	r.seq++
	name := prefix + strconv.Itoa(r.seq)
	r.mu.Unlock()
	u, err := r.AddUser(name)
	if err != nil {
		return "", err
	}
	if err := r.WriteMaildir(u, u.Home+"/Maildir", unixStoredAll(msgs)); err != nil {
		return "", err
	}
	return name, nil
}

// DeliverMaildir delivers msgs to the ~/Maildir of user name as a Unix MTA
// would ([UnixStored]); safe while the user is logged in.
func (r *Root) DeliverMaildir(name string, msgs [][]byte) error {
	u, ok := r.LookupUser(name)
	if !ok {
		return fmt.Errorf("debroot: no user %q", name)
	}
	return r.WriteMaildir(u, u.Home+"/Maildir", unixStoredAll(msgs))
}

// UnixStored returns msg as a Unix MTA writes it into a Maildir: CRLF
// line ends become LF.
func UnixStored(msg []byte) []byte {
	return bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
}

func unixStoredAll(msgs [][]byte) [][]byte {
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i] = UnixStored(m)
	}
	return out
}

// WriteMaildir creates the Maildir dir (a path inside the root, such as
// "/home/alice/Maildir") owned by u if it does not exist, and writes msgs
// into its new/ directory in order (the file names sort in delivery
// order), each written in tmp/ and renamed, as an MTA delivers.
func (r *Root) WriteMaildir(u User, dir string, msgs [][]byte) error {
	base := r.Path(dir)
	for _, d := range []string{base, filepath.Join(base, "cur"), filepath.Join(base, "new"), filepath.Join(base, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		if err := os.Chown(d, u.UID, u.GID); err != nil {
			return err
		}
	}
	for _, m := range msgs {
		r.mu.Lock()
		seq := deliverySeq
		deliverySeq++
		r.mu.Unlock()
		// Names sort in delivery order: GNU Mailutils gives the folder a
		// new UIDVALIDITY when a new file sorts before the ones it has
		// numbered (as "M10" sorts before "M9").
		name := fmt.Sprintf("%010d.M%012dP%d.debroot", time.Now().Unix(), seq, os.Getpid())
		tmp := filepath.Join(base, "tmp", name)
		if err := os.WriteFile(tmp, m, 0o600); err != nil {
			return err
		}
		if err := os.Chown(tmp, u.UID, u.GID); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(base, "new", name)); err != nil {
			return err
		}
	}
	return nil
}

// deliverySeq orders the file names WriteMaildir makes, across Roots.
var deliverySeq int64

// Command describes a program run in the root.
type Command struct {
	// Path and Args are the program (a path inside the root) and its
	// arguments.
	Path string
	Args []string
	// Env is the environment; nil means PATH only.
	Env []string
	// Dir is the working directory inside the root; "" means "/".
	Dir string
}

func (r *Root) cmd(c Command) *exec.Cmd {
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, c.Env...)
	cmd.Dir = c.Dir
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	cmd.SysProcAttr = chrooted(r.Dir)
	return cmd
}

// Run runs c in the root to completion (a set-up step) and returns its
// combined output.
func (r *Root) Run(c Command) ([]byte, error) {
	cmd := r.cmd(c)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("debroot: %s %s: %w: %s", c.Path, strings.Join(c.Args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// Daemon starts c in the root in the background; Close kills it (and its
// process group). Its standard output and error go to the Root's log.
func (r *Root) Daemon(c Command) error {
	cmd := r.cmd(c)
	cmd.Stdout, cmd.Stderr = r.logWriter(), r.logWriter()
	setGroup(cmd)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("debroot: root closed")
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("debroot: starting %s: %w", c.Path, err)
	}
	r.procs[cmd.Process] = true
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		_ = cmd.Wait()
		r.mu.Lock()
		delete(r.procs, cmd.Process)
		r.mu.Unlock()
	}()
	return nil
}

// Listener is a loopback listener whose connections each run a program in
// the root, inetd style.
type Listener struct {
	// Addr is the listening address, "127.0.0.1:port".
	Addr string

	r        *Root
	ln       net.Listener
	c        func(remote string) Command
	mu       sync.Mutex
	sessions int
}

// Inetd starts a loopback listener that runs the command c returns for
// each connection (given the client's address), chrooted, with the
// connection as its standard input and output. Its standard error goes to
// the Root's log.
func (r *Root) Inetd(c func(remote string) Command) (*Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &Listener{Addr: ln.Addr().String(), r: r, ln: ln, c: c}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		ln.Close()
		return nil, errors.New("debroot: root closed")
	}
	r.closers = append(r.closers, func() { ln.Close() })
	r.wg.Add(1)
	r.mu.Unlock()
	go l.serve()
	return l, nil
}

// Port returns the listening port.
func (l *Listener) Port() int {
	_, p, _ := net.SplitHostPort(l.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Sessions returns how many connections were accepted.
func (l *Listener) Sessions() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sessions
}

func (l *Listener) serve() {
	defer l.r.wg.Done()
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		l.sessions++
		l.mu.Unlock()
		l.r.wg.Add(1)
		go func() {
			defer l.r.wg.Done()
			l.session(conn)
		}()
	}
}

func (l *Listener) session(conn net.Conn) {
	defer conn.Close()
	f, err := conn.(*net.TCPConn).File()
	if err != nil {
		return
	}
	defer f.Close()
	conn.Close() // the server holds the duplicate
	cmd := l.r.cmd(l.c(conn.RemoteAddr().String()))
	cmd.Stdin, cmd.Stdout = f, f
	cmd.Stderr = l.r.logWriter()
	l.r.mu.Lock()
	if l.r.closed {
		l.r.mu.Unlock()
		return
	}
	if err := cmd.Start(); err != nil {
		l.r.mu.Unlock()
		fmt.Fprintf(l.r.logWriter(), "debroot: starting %s: %v\n", cmd.Path, err)
		return
	}
	l.r.procs[cmd.Process] = true
	l.r.mu.Unlock()
	f.Close()
	_ = cmd.Wait()
	l.r.mu.Lock()
	delete(l.r.procs, cmd.Process)
	l.r.mu.Unlock()
}

// Close stops the listeners, kills every process (those started, with
// their process groups, and any other process running in the root, such
// as a daemon that left its group with setsid) and waits for them.
func (r *Root) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	for _, c := range r.closers {
		c()
	}
	for p := range r.procs {
		killGroup(p)
	}
	r.mu.Unlock()
	killEscaped(r.Dir)
	r.wg.Wait()
}

// logWriter returns a writer into the Root's log (the output of daemons
// and the standard error of sessions).
func (r *Root) logWriter() io.Writer { return logWriter{r} }

type logWriter struct{ r *Root }

func (w logWriter) Write(p []byte) (int, error) {
	w.r.logMu.Lock()
	defer w.r.logMu.Unlock()
	if w.r.logBuf.Len() < 1<<20 {
		w.r.logBuf.Write(p)
	}
	return len(p), nil
}

// Log returns what the Root's programs wrote to their standard error (and
// daemons to their output), at most the first MiB, plus the files named
// (paths inside the root: a server's own log files).
func (r *Root) Log(files ...string) string {
	r.logMu.Lock()
	s := r.logBuf.String()
	r.logMu.Unlock()
	for _, f := range files {
		if b, err := os.ReadFile(r.Path(f)); err == nil {
			s += "\n--- " + f + " ---\n" + string(b)
		}
	}
	return s
}

// LogOnFailure logs the tail of Log(files...) when tb fails, at cleanup.
func (r *Root) LogOnFailure(tb testing.TB, files ...string) {
	tb.Cleanup(func() {
		if tb.Failed() {
			s := r.Log(files...)
			lines := strings.Split(s, "\n")
			if len(lines) > 60 {
				lines = lines[len(lines)-60:]
			}
			tb.Logf("server log (tail):\n%s", strings.Join(lines, "\n"))
		}
	})
}

// WaitFile waits up to timeout for name (a path inside the root, such as
// a daemon's socket) to exist.
func (r *Root) WaitFile(name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(r.Path(name)); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("debroot: %s did not appear within %v; log:\n%s", name, timeout, r.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitGreeting dials addr until a line starting with prefix is read, or
// timeout passes.
func WaitGreeting(addr, prefix string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
			line, err := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if err == nil && strings.HasPrefix(line, prefix) {
				return nil
			}
			last = fmt.Errorf("greeting %q (%v)", line, err)
		} else {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("debroot: no greeting from %s within %v: %v", addr, timeout, last)
}

// CopyTLS writes certPEM and keyPEM into the root at the paths given
// (readable by root only for the key).
func (r *Root) CopyTLS(certPath string, certPEM []byte, keyPath string, keyPEM []byte) error {
	if err := r.WriteFile(certPath, string(certPEM), 0o644); err != nil {
		return err
	}
	return r.WriteFile(keyPath, string(keyPEM), 0o600)
}

// Chown changes the owner of name (a path inside the root) and,
// recursively, of what it holds.
func (r *Root) Chown(name string, uid, gid int) error {
	return filepath.WalkDir(r.Path(name), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
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
	_ = os.Remove(dst)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// Users returns the mail users added so far, in order.
func (r *Root) Users() []User {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.users)
}
