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
