package mailsync

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bounds on the engine's functions (issue 11: the engine readable in one
// sitting): no non-test function longer than maxFuncLines lines or more
// complex than maxComplexity (cyclomatic, counted as gocyclo counts it).
const (
	maxFuncLines  = 100
	maxComplexity = 30
)

// TestEngineFunctionsStayReadable fails when a non-test function of the
// package grows past the bounds: split it into steps instead.
func TestEngineFunctionsStayReadable(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			checked++
			lines := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
			if lines > maxFuncLines {
				t.Errorf("%s: %s is %d lines long, more than %d: split it", fset.Position(fn.Pos()), fn.Name.Name, lines, maxFuncLines)
			}
			if c := complexity(fn); c > maxComplexity {
				t.Errorf("%s: %s has cyclomatic complexity %d, more than %d: split it", fset.Position(fn.Pos()), fn.Name.Name, c, maxComplexity)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d functions found: is the test running in the package directory?", checked)
	}
}

// complexity is 1 plus the branch points of fn: if, for, range, each
// non-default case and select clause, && and ||.
func complexity(fn *ast.FuncDecl) int {
	c := 1
	ast.Inspect(fn, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt:
			c++
		case *ast.CaseClause:
			if n.List != nil {
				c++
			}
		case *ast.CommClause:
			if n.Comm != nil {
				c++
			}
		case *ast.BinaryExpr:
			if n.Op == token.LAND || n.Op == token.LOR {
				c++
			}
		}
		return true
	})
	return c
}

// TestComplexityCounts checks the counter on a function of known
// complexity.
func TestComplexityCounts(t *testing.T) {
	const src = `package p
func f(a, b bool, x int, ch chan int) {
	if a && b { return }
	for i := 0; i < x; i++ {}
	for range x {}
	switch x { case 1, 2: ; case 3: ; default: }
	select { case <-ch: ; default: }
	_ = a || b
}`
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 1 + if + && + for + range + 2 cases + 1 comm case + ||
	if got := complexity(f.Decls[0].(*ast.FuncDecl)); got != 9 {
		t.Fatalf("complexity = %d, want 9", got)
	}
}
