package debroot

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// inRoot lists the live processes whose root directory is root.
func inRoot(t *testing.T, root string) []int {
	t.Helper()
	want, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if r, err := os.Readlink(filepath.Join("/proc", e.Name(), "root")); err == nil && r == want {
			out = append(out, pid)
		}
	}
	return out
}

// A daemon that leaves its process group with setsid (as Courier's
// gam_server does) is not among the processes Close knows: Close still
// ends it, as it ends every process running in the root.
func TestCloseKillsProcessesThatLeftTheGroup(t *testing.T) {
	pkg := shellTree(t)
	for _, prog := range []string{"setsid", "sleep"} {
		p, err := exec.LookPath(prog)
		if err != nil {
			t.Skipf("no %s: %v", prog, err)
		}
		if p, err = filepath.EvalSymlinks(p); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(p, filepath.Join(pkg, "usr/bin", prog), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ok, why := Check(pkg, "the test copies the host's shell, setsid and sleep", "usr/bin/sh")
	SkipUnlessAvailable(t, "debroot", ok, why)
	r, err := Build(t.TempDir(), pkg, []string{"/usr/bin/sh", "/usr/bin/setsid", "/usr/bin/sleep"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Run returns once the shell exits; the sleep it started goes on in
	// a session of its own.
	if _, err := r.Run(Command{Path: "/usr/bin/sh", Args: []string{"-c",
		"/usr/bin/setsid /usr/bin/sleep 300 </dev/null >/dev/null 2>&1 &"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(inRoot(t, r.Dir)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the setsid'd sleep never ran in the root")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.Close()
	deadline = time.Now().Add(10 * time.Second)
	for {
		left := inRoot(t, r.Dir)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v still run in the root after Close", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
