package debroot

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// shellTree makes an unpacked tree holding the host's shell as
// /usr/bin/sh: a program to run in a Root (Build copies the libraries it
// needs from the host).
func shellTree(t *testing.T) string {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skipf("no shell: %v", err)
	}
	sh, err = filepath.EvalSymlinks(sh)
	if err != nil {
		t.Fatal(err)
	}
	pkg := t.TempDir()
	if err := os.MkdirAll(filepath.Join(pkg, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(sh, filepath.Join(pkg, "usr/bin/sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	return pkg
}

// A server in the root finds /dev/null there, a character device it can
// open, read (nothing: the shell's builtins, as the root holds no other
// program) and write to (Courier's daemons redirect to it, and
// failed without it): writing does not leave a regular file behind.
func TestDevNullInRoot(t *testing.T) {
	pkg := shellTree(t)
	ok, why := Check(pkg, "the test copies the host's shell", "usr/bin/sh")
	SkipUnlessAvailable(t, "debroot", ok, why)
	r, err := Build(t.TempDir(), pkg, []string{"/usr/bin/sh"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, err := r.Run(Command{Path: "/usr/bin/sh", Args: []string{"-c",
		`test -c /dev/null || { echo "not a character device"; exit 1; }; ` +
			`echo discarded > /dev/null || exit 1; ` +
			`exec 3<>/dev/null || exit 1; ` +
			`if IFS= read -r x </dev/null; then echo "read a line"; else echo "read ${#x}"; fi`}})
	if err != nil {
		t.Fatalf("%v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "read 0" {
		t.Fatalf("reading /dev/null in the root: %q, want %q", got, "read 0")
	}
	fi, err := os.Lstat(r.Path("/dev/null"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeCharDevice == 0 || fi.Mode().Perm() != 0o666 {
		t.Fatalf("/dev/null in the root is %v, want a character device with mode 0666", fi.Mode())
	}
}

// AddMaildirUser gives each user a fresh name and a ~/Maildir holding the
// messages in order as a Unix MTA stores them (LF line ends), owned by
// the user; DeliverMaildir adds more, and refuses a user that does not
// exist.
func TestMaildirUsers(t *testing.T) {
	pkg := shellTree(t)
	ok, why := Check(pkg, "the test copies the host's shell", "usr/bin/sh")
	SkipUnlessAvailable(t, "debroot", ok, why)
	r, err := Build(t.TempDir(), pkg, []string{"/usr/bin/sh"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a, err := r.AddMaildirUser("u", [][]byte{[]byte("Subject: 1\r\n\r\none\r\n"), []byte("Subject: 2\r\n\r\ntwo\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.AddMaildirUser("u", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a == b || !strings.HasPrefix(a, "u") || !strings.HasPrefix(b, "u") {
		t.Fatalf("names %q and %q: want two fresh names starting with u", a, b)
	}
	if err := r.DeliverMaildir(a, [][]byte{[]byte("Subject: 3\r\n\r\nthree\r\n")}); err != nil {
		t.Fatal(err)
	}
	if err := r.DeliverMaildir("nobody-here", nil); err == nil || !strings.Contains(err.Error(), "nobody-here") {
		t.Fatalf("DeliverMaildir to a missing user: %v, want an error naming it", err)
	}
	u, _ := r.LookupUser(a)
	names, err := filepath.Glob(r.Path(u.Home + "/Maildir/new/*"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range names { // the names sort in delivery order
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	want := []string{"Subject: 1\n\none\n", "Subject: 2\n\ntwo\n", "Subject: 3\n\nthree\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("stored %q, want %q", got, want)
	}
}
