package mailmime_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	. "github.com/mailaccess/go-mailaccess/mailaccess/mailmime"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

func sample(t *testing.T, name string) mailtest.Sample {
	t.Helper()
	for _, s := range mailtest.EdgeCases() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no sample %s", name)
	return mailtest.Sample{}
}

// summary flattens a part tree for comparisons.
func summary(p *mailaccess.PartInfo) []string {
	var out []string
	for q := range p.All() {
		out = append(out, strings.Join([]string{mailaccess.PathString(q.Path), q.Type, q.Charset, q.Encoding,
			q.Disposition, q.Filename}, " ")+" "+itoa(q.Size))
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// nestedMsg returns a message whose multiparts nest depth levels deep.
func nestedMsg(depth int) string {
	var b strings.Builder
	b.WriteString("Subject: deep\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n")
	for i := 1; i < depth; i++ {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/plain\r\n\r\ndeep text\r\n", depth-1)
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.String()
}

func TestParseStructureNested(t *testing.T) {
	s := sample(t, "nested-multipart")
	root, err := ParseStructure(bytes.NewReader(s.Raw), nil)
	require.NoError(t, err)
	assert.Equal(t, []string{
		" multipart/mixed  7bit   0",
		"1 multipart/alternative  7bit   0",
		"1.1 text/plain us-ascii 7bit   " + itoa(int64(len(s.Parts["1.1"]))),
		"1.2 text/html us-ascii 7bit   " + itoa(int64(len(s.Parts["1.2"]))),
		"2 application/octet-stream  base64 attachment bytes.bin " + itoa(int64(len(s.Parts["2"]))),
		"3 message/rfc822  7bit   " + itoa(int64(len("From: inner@example.com\r\nSubject: inner\r\n\r\n"+s.Parts["3.1"]))),
	}, summary(root))
	assert.Equal(t, "outer", root.Params["boundary"])
	assert.Equal(t, []int{1, 1}, root.Text().Path)
	assert.Equal(t, []int{1, 2}, root.HTML().Path)
	var att []string
	for _, a := range root.Attachments() {
		att = append(att, mailaccess.PathString(a.Path))
	}
	assert.Equal(t, []string{"2", "3"}, att)
	assert.Equal(t, "bytes.bin", root.Find([]int{2}).RawFilename)
	assert.Nil(t, root.Find([]int{9}))

	// Read a byte at a time: the same tree.
	again, err := ParseStructure(iotest.OneByteReader(bytes.NewReader(s.Raw)), nil)
	require.NoError(t, err)
	assert.Equal(t, root, again)
}

func TestParseStructureSinglePart(t *testing.T) {
	raw := "Subject: one\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9\r\n"
	root, err := ParseStructure(strings.NewReader(raw), nil)
	require.NoError(t, err)
	assert.Equal(t, []int{1}, root.Path, "a single-part message's body is part 1")
	assert.Equal(t, "iso-8859-1", root.Charset)
	assert.Equal(t, "quoted-printable", root.Encoding)
	assert.EqualValues(t, len("Caf=E9\r\n"), root.Size)
	assert.Same(t, root, root.Text())

	root, err = ParseStructure(strings.NewReader("Subject: bare\r\n\r\nno content type\r\n"), nil)
	require.NoError(t, err)
	assert.Equal(t, "text/plain", root.Type, "MIME default")
	assert.Equal(t, "us-ascii", root.Charset)
	assert.Equal(t, "7bit", root.Encoding)
}

// Broken MIME is described as far as it goes, never an error.
func TestParseStructureBroken(t *testing.T) {
	truncated := "Subject: cut\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>cut he"
	root, err := ParseStructure(strings.NewReader(truncated), nil)
	require.NoError(t, err)
	require.NotEmpty(t, root.Parts)
	assert.Equal(t, "text/plain", root.Parts[0].Type)

	noBoundary := "Subject: nb\r\nContent-Type: multipart/mixed\r\n\r\nwhatever\r\n"
	root, err = ParseStructure(strings.NewReader(noBoundary), nil)
	require.NoError(t, err)
	assert.NotEmpty(t, root.Problem)
	assert.True(t, root.IsAttachment(), "read as one part, like Walk does")

	root, err = ParseStructure(strings.NewReader(nestedMsg(DefaultMaxDepth+5)), nil)
	require.NoError(t, err)
	deepest := 0
	for q := range root.All() {
		deepest = max(deepest, len(q.Path))
	}
	assert.Equal(t, DefaultMaxDepth, deepest)

	_, err = ParseStructure(iotest.ErrReader(errors.New("disk gone")), nil)
	assert.ErrorContains(t, err, "disk gone")
	_, err = ParseStructure(io.MultiReader(strings.NewReader(truncated[:80]), iotest.ErrReader(errors.New("link down"))), nil)
	assert.ErrorContains(t, err, "link down", "a read failure is not mistaken for broken MIME")
}

func TestFindAndReadPart(t *testing.T) {
	s := sample(t, "nested-multipart")
	for path, want := range s.Parts {
		var p []int
		for _, f := range strings.Split(path, ".") {
			p = append(p, int(f[0]-'0'))
		}
		info, body, err := FindPart(bytes.NewReader(s.Raw), p, nil)
		require.NoError(t, err, path)
		got, err := io.ReadAll(body)
		require.NoError(t, err)
		assert.Equal(t, want, string(got), "raw body of part %s", path)
		assert.Equal(t, p, info.Path)
	}
	r, err := ReadPart(bytes.NewReader(s.Raw), []int{2}, nil, nil)
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	want, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(s.Parts["2"]))
	assert.Equal(t, want, got, "part 2 decoded from base64")

	_, _, err = FindPart(bytes.NewReader(s.Raw), []int{4}, nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)
	_, _, err = FindPart(bytes.NewReader(s.Raw), []int{2, 1}, nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)
	_, _, err = FindPart(bytes.NewReader(s.Raw), nil, nil)
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
	_, _, err = FindPart(bytes.NewReader(s.Raw), []int{0}, nil)
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)

	single := "Subject: s\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n"
	r, err = ReadPart(strings.NewReader(single), []int{1}, nil, nil)
	require.NoError(t, err)
	got, _ = io.ReadAll(r)
	assert.Equal(t, "hello", string(got))
	_, err = ReadPart(strings.NewReader(single), []int{2}, nil, nil)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)
}

func TestDecodePartCharsetAndErrors(t *testing.T) {
	p := &mailaccess.PartInfo{Type: "text/plain", Charset: "iso-8859-1", Encoding: "quoted-printable"}
	r, err := DecodePart(p, strings.NewReader("Gr=FC=DFe"), &mailaccess.PartOptions{UTF8: true})
	require.NoError(t, err)
	got, _ := io.ReadAll(r)
	assert.Equal(t, "Grüße", string(got))
	r, err = DecodePart(p, strings.NewReader("Gr=FC=DFe"), nil)
	require.NoError(t, err)
	got, _ = io.ReadAll(r)
	assert.Equal(t, "Gr\xfc\xdfe", string(got), "without UTF8 the charset's bytes")

	_, err = DecodePart(&mailaccess.PartInfo{Type: "application/x", Encoding: "x-uuencode"}, strings.NewReader("x"), nil)
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	assert.ErrorContains(t, err, "x-uuencode")
	_, err = DecodePart(&mailaccess.PartInfo{Type: "text/plain", Charset: "x-no-such", Encoding: "7bit"}, strings.NewReader("x"), &mailaccess.PartOptions{UTF8: true})
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	assert.ErrorContains(t, err, "x-no-such")
}

// Walk and the part tree agree on what is an attachment, for every sample.
func TestStructureAgreesWithWalk(t *testing.T) {
	for _, s := range mailtest.EdgeCases() {
		root, err := ParseStructure(bytes.NewReader(s.Raw), nil)
		require.NoError(t, err, s.Name)
		var walked, tree []string
		_, err = Walk(bytes.NewReader(s.Raw), func(p *Part) error {
			walked = append(walked, mailaccess.PathString(p.Path)+" "+p.Kind.String())
			return nil
		})
		require.NoError(t, err, s.Name)
		for q := range root.All() {
			switch {
			case len(q.Parts) > 0 || (q.IsMultipart() && q.Problem == ""):
			case q.IsAttachment():
				tree = append(tree, mailaccess.PathString(q.Path)+" attachment")
			case q.Type == "text/html":
				tree = append(tree, mailaccess.PathString(q.Path)+" html")
			default:
				tree = append(tree, mailaccess.PathString(q.Path)+" text")
			}
		}
		assert.Equal(t, walked, tree, s.Name)
	}
}

// Every attachment of a tree, however broken the message, can be opened
// by its path: a broken multipart root is not offered as one.
func TestAttachmentsCanBeOpened(t *testing.T) {
	for _, raw := range []string{
		"Subject: no parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\nno delimiter at all\r\n",
		"Subject: no boundary\r\nContent-Type: multipart/mixed\r\n\r\nwhatever\r\n",
		"Subject: inner broken\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
			"--b\r\nContent-Type: multipart/related; boundary=r\r\n\r\nno inner delimiter\r\n--b--\r\n",
		nestedMsg(DefaultMaxDepth + 3),
	} {
		root, err := ParseStructure(strings.NewReader(raw), nil)
		require.NoError(t, err)
		for _, a := range root.Attachments() {
			r, err := ReadPart(strings.NewReader(raw), a.Path, nil, nil)
			require.NoError(t, err, "attachment %v of %q", a.Path, raw[:30])
			_, err = io.ReadAll(r)
			require.NoError(t, err)
		}
	}
}
