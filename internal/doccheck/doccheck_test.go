package doccheck

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The documents checked, relative to the module root.
var documents = []string{"README.md", "CONTRIBUTING.md"}

// packages are the packages a block may use by name without importing
// them: name → import path.
var packages = map[string]string{
	"context":     "context",
	"errors":      "errors",
	"fmt":         "fmt",
	"io":          "io",
	"os":          "os",
	"time":        "time",
	"testing":     "testing",
	"mailaccess":  "github.com/mailaccess/go-mailaccess/mailaccess",
	"driver":      "github.com/mailaccess/go-mailaccess/mailaccess/driver",
	"maildir":     "github.com/mailaccess/go-mailaccess/mailaccess/maildir",
	"mailmime":    "github.com/mailaccess/go-mailaccess/mailaccess/mailmime",
	"mailsync":    "github.com/mailaccess/go-mailaccess/mailaccess/mailsync",
	"mailtest":    "github.com/mailaccess/go-mailaccess/mailaccess/mailtest",
	"conformance": "github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance",
	"imap":        "github.com/mailaccess/go-mailaccess/imap",
	"imaptest":    "github.com/mailaccess/go-mailaccess/imap/imaptest",
	"pop3":        "github.com/mailaccess/go-mailaccess/pop3",
	"pop3test":    "github.com/mailaccess/go-mailaccess/pop3/pop3test",
}

// prelude declares what the fragments take from the program around them.
const prelude = `package doccheck

var (
	ctx         context.Context
	mb, src     mailaccess.Mailbox
	cfg         mailaccess.Config
	rawBytes    []byte
	myapp       interface{ Process(context.Context, mailaccess.Mailbox) error }
	openMyStore func(t testing.TB, msgs [][]byte) mailaccess.Mailbox
	// golang.org/x/oauth2, which the module does not depend on.
	oauthConfig interface {
		TokenSource(context.Context, *oauth2Token) interface{ Token() (*oauth2Token, error) }
	}
	token *oauth2Token
)

type oauth2Token struct{ AccessToken string }
`

// block is one fenced Go code block of a document.
type block struct {
	doc  string
	line int // of the block's first line of code
	code string
}

func goBlocks(t *testing.T, root, doc string) []block {
	f, err := os.Open(filepath.Join(root, doc))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []block
	var cur *block
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && trimmed == "```go":
			cur = &block{doc: doc, line: n + 1}
			indent := line[:strings.Index(line, "`")]
			cur.code = indent // remembered to strip it below
		case cur != nil && trimmed == "```":
			indent := cur.code[:strings.IndexFunc(cur.code+"x", func(r rune) bool { return r != ' ' && r != '\t' })]
			var b strings.Builder
			for _, l := range strings.Split(cur.code[len(indent):], "\n") {
				b.WriteString(strings.TrimPrefix(l, indent) + "\n")
			}
			cur.code = b.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.code += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: unterminated code block", doc, cur.line-1)
	}
	return blocks
}

var (
	elidedLine = regexp.MustCompile(`(?m)^(\s*)\.\.\.(\s*//.*)?$`)
	elidedBody = regexp.MustCompile(`\{\s*\.\.\.\s*\}`)
	importDecl = regexp.MustCompile(`(?ms)^import (\(.*?^\)|"[^"]*")[^\n]*\n`)
	topLevel   = regexp.MustCompile(`(?m)^(func|type) `)
	usedName   = regexp.MustCompile(`\b([a-z][a-z0-9]*)\.`)
)

// source makes a Go file of b: its imports, the packages it names, and
// its code at package level or in a function of its own. Lines keep their
// numbers (line directives map them back to the document).
func source(b block, index int) string {
	code := elidedBody.ReplaceAllString(b.code, "{ /* ... */ }")
	code = elidedLine.ReplaceAllString(code, "$1// ...$2")
	var imports []string
	own := map[string]bool{}
	code = importDecl.ReplaceAllStringFunc(code, func(decl string) string {
		for _, spec := range regexp.MustCompile(`(?m)^\s*(_\s+)?"([^"]+)"|^import "([^"]+)"`).FindAllStringSubmatch(decl, -1) {
			path := spec[2] + spec[3]
			name := path[strings.LastIndex(path, "/")+1:]
			if spec[1] != "" {
				imports = append(imports, fmt.Sprintf("_ %q", path))
				continue
			}
			own[name] = true
			imports = append(imports, fmt.Sprintf("%q", path))
		}
		return strings.Repeat("\n", strings.Count(decl, "\n")) // keep line numbers
	})
	names := map[string]bool{"context": true, "mailaccess": true, "testing": true} // the prelude's
	for _, m := range usedName.FindAllStringSubmatch(code, -1) {
		names[m[1]] = true
	}
	for name := range names {
		if path, ok := packages[name]; ok && !own[name] {
			imports = append(imports, fmt.Sprintf("%s %q", name, path))
		}
	}
	sort.Strings(imports)
	var src strings.Builder
	src.WriteString("package doccheck\n\nimport (\n")
	for _, imp := range imports {
		src.WriteString("\t" + imp + "\n")
	}
	src.WriteString(")\n\n")
	if topLevel.MatchString(code) {
		fmt.Fprintf(&src, "//line %s:%d\n%s", b.doc, b.line, code)
	} else {
		fmt.Fprintf(&src, "func block%d() error {\n\t{\n//line %s:%d\n%s\n\t}\n\treturn nil\n}\n", index, b.doc, b.line, code)
	}
	return src.String()
}

// exportData builds the packages the blocks may use and returns where the
// go command put their export data.
func exportData(t *testing.T, root string) map[string]string {
	// go test puts its own GOROOT/bin first in the test's PATH.
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the packages the blocks use: %v", err)
	}
	args := []string{"list", "-export", "-deps", "-json=ImportPath,Export"}
	for _, path := range packages {
		args = append(args, path)
	}
	cmd := exec.Command(gocmd, args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v\n%s", err, stderr.String())
	}
	files := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct{ ImportPath, Export string }
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		files[p.ImportPath] = p.Export
	}
	return files
}

// unusedOnly reports a type error that a fragment may have: a variable or
// an import it leaves unused.
func unusedOnly(err types.Error) bool {
	return err.Soft && (strings.Contains(err.Msg, "declared and not used") || strings.Contains(err.Msg, "imported and not used"))
}

func TestDocumentCodeCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module's packages with the go command")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files := exportData(t, root)
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := files[path]
		if !ok || file == "" {
			return nil, fmt.Errorf("no export data for %q: add it to the packages of this test", path)
		}
		return os.Open(file)
	})
	pre, err := parser.ParseFile(fset, "prelude.go", addImports(prelude), 0)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, doc := range documents {
		for i, b := range goBlocks(t, root, doc) {
			src := source(b, i)
			f, err := parser.ParseFile(fset, fmt.Sprintf("%s-block%d.go", doc, i), src, parser.ParseComments)
			if err != nil {
				t.Errorf("%v\n(the block as checked:)\n%s", err, src)
				continue
			}
			var errs []string
			conf := types.Config{Importer: imp, Error: func(err error) {
				if te, ok := err.(types.Error); ok && unusedOnly(te) {
					return
				}
				errs = append(errs, err.Error())
			}}
			conf.Check("doccheck", fset, []*ast.File{pre, f}, nil)
			for _, e := range errs {
				t.Error(e)
			}
			checked++
		}
	}
	if checked < 7 {
		t.Errorf("checked %d blocks: the documents have at least 7 Go blocks; is the fence still written ```go?", checked)
	}
}

// addImports gives the prelude its imports.
func addImports(src string) string {
	return strings.Replace(src, "package doccheck\n", "package doccheck\n\nimport (\n\t\"context\"\n\t\"testing\"\n\n\t\"github.com/mailaccess/go-mailaccess/mailaccess\"\n)\n", 1)
}
