package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A program that uses the library, the fake (mem://) and the embedded test
// servers links neither package testing nor testify: the conformance
// suite lives in a package of its own, and the test servers take a small
// interface of their own instead of testing.TB.
func TestQuickstartLinksNoTestingCode(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no go command to list the dependencies: %v", err)
		}
		t.Skipf("no go command to list the dependencies: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "testing" || strings.HasPrefix(dep, "testing/") || strings.HasPrefix(dep, "github.com/stretchr/testify") {
			t.Errorf("the quickstart links %s", dep)
		}
	}
}
