package mailmime

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// nested returns a message whose multiparts nest depth levels deep, with
// one text part at the bottom.
func nested(depth int) string {
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

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A multipart nested deeper than Limits.MaxDepth is not descended into:
// it is read as one opaque part, with the problem named.
func TestWalkStopsDescendingAtMaxDepth(t *testing.T) {
	var deepest int
	var problems []string
	var kinds []PartKind
	_, err := Walk(strings.NewReader(nested(DefaultMaxDepth+10)), func(p *Part) error {
		deepest = max(deepest, len(p.Path))
		kinds = append(kinds, p.Kind)
		if p.Problem != "" {
			problems = append(problems, p.Problem)
		}
		return nil
	})
	require.NoError(t, err)
	assert.LessOrEqual(t, deepest, DefaultMaxDepth, "no part deeper than the limit")
	require.Len(t, kinds, 1, "the part at the limit is one opaque leaf")
	assert.Equal(t, PartAttachment, kinds[0])
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], "MaxDepth")

	c, err := ReadContent(strings.NewReader(nested(DefaultMaxDepth+10)), nil)
	require.NoError(t, err)
	assert.NotEmpty(t, c.Problems, "ReadContent lists the depth problem")

	// Below the limit the bottom part is reached as usual.
	c, err = ReadContent(strings.NewReader(nested(10)), nil)
	require.NoError(t, err)
	assert.Equal(t, "deep text", strings.TrimSpace(c.Text))
	assert.Empty(t, c.Problems)
}

// 8,000 nested multiparts once took 30 s and 300 MB: with the depth limit
// reading them costs little more than reading the bytes.
func TestWalkDeepNestingMemoryBounded(t *testing.T) {
	raw := nested(8000)
	var parts int
	n := allocated(func() {
		_, err := Walk(strings.NewReader(raw), func(p *Part) error {
			parts++
			_, err := io.Copy(io.Discard, p.Body)
			return err
		})
		require.NoError(t, err)
	})
	assert.Equal(t, 1, parts)
	assert.Less(t, n, uint64(16<<20), "allocated %d bytes for a %d-byte message", n, len(raw))
}

// A part's header is bounded like the message's: a 24 MiB part header is
// an error naming the limit, read in memory bounded by the limit, not by
// the header's size.
func TestWalkPartHeaderBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("Subject: big part header\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n")
	b.WriteString("--b\r\nContent-Type: text/plain\r\n")
	for b.Len() < 24<<20 {
		b.WriteString("X-Pad: " + strings.Repeat("p", 90) + "\r\n")
	}
	b.WriteString("\r\nbody\r\n--b--\r\n")
	raw := b.String()
	var err error
	n := allocated(func() {
		_, err = Walk(strings.NewReader(raw), func(p *Part) error { return nil })
	})
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrLimit), "error %v", err)
	assert.Contains(t, err.Error(), "MaxHeaderBytes")
	assert.Less(t, n, uint64(8*mailaccess.MaxHeaderBytes), "allocated %d bytes", n)

	c, err := ReadContent(strings.NewReader(raw), nil)
	require.NoError(t, err, "ReadContent reports it as a problem: the top header was read")
	assert.NotEmpty(t, c.Problems)

	// The limit is configurable.
	_, err = WalkLimits(strings.NewReader(raw), &Limits{MaxHeaderBytes: 32 << 20}, func(p *Part) error { return nil })
	assert.NoError(t, err)
}

// Attachment names are made safe to use as a file name; the name as sent
// stays available.
func TestFilenamesSanitised(t *testing.T) {
	cases := []struct{ raw, want string }{
		{"report.pdf", "report.pdf"},
		{".", "_"},
		{"..", "_"},
		{"...", "_"},
		{"../../etc/passwd", "passwd"},
		{`..\..\windows\system.ini`, "system.ini"},
		{"dir/", "_"},
		{"evil\x00.exe.txt", "evil_.exe.txt"},
		{"line\r\nbreak.txt", "line__break.txt"},
		{`a:b*c?"d"<e>|f.txt`, "a_b_c__d__e__f.txt"},
		{"CON", "_CON"},
		{"nul.txt", "_nul.txt"},
		{"  spaced.txt  ", "spaced.txt"},
		{"trailing.", "trailing"},
		{"Grüße.txt", "Grüße.txt"},
		{strings.Repeat("a", 300) + ".pdf", strings.Repeat("a", 251) + ".pdf"},
	}
	for _, c := range cases {
		got := SafeFilename(c.raw)
		assert.Equal(t, c.want, got, "SafeFilename(%q)", c.raw)
		assert.LessOrEqual(t, len(got), 255)
	}
	assert.Equal(t, "", SafeFilename(""), "no name stays no name")

	raw := "Subject: names\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"../../.ssh/authorized_keys\"\r\n\r\nx\r\n" +
		"--b\r\nContent-Type: application/octet-stream; name=\"..\"\r\n\r\ny\r\n" +
		"--b--\r\n"
	c, err := ReadContent(strings.NewReader(raw), nil)
	require.NoError(t, err)
	require.Len(t, c.Attachments, 2)
	assert.Equal(t, "authorized_keys", c.Attachments[0].Filename)
	assert.Equal(t, "../../.ssh/authorized_keys", c.Attachments[0].RawFilename)
	assert.Equal(t, "_", c.Attachments[1].Filename)
	assert.Equal(t, "..", c.Attachments[1].RawFilename)
}

// Inside OnAttachment the decoded size is not known yet: it is -1 there,
// not a misleading 0, and known in Content.Attachments afterwards.
func TestAttachmentSizeInsideCallback(t *testing.T) {
	var inside []int64
	c, err := ReadContent(strings.NewReader(string(edge(t, "edge-nested-multipart").Raw)), &ContentOptions{
		OnAttachment: func(a Attachment, r io.Reader) error {
			inside = append(inside, a.Size)
			return nil
		},
	})
	require.NoError(t, err)
	assert.Equal(t, []int64{SizeUnknown}, inside)
	require.Len(t, c.Attachments, 1)
	assert.EqualValues(t, 300, c.Attachments[0].Size)
}

// The part-header guard follows lines across reads of any size, and lets
// headers under the limit through untouched.
func TestPartHeaderGuardAcrossReads(t *testing.T) {
	var b strings.Builder
	b.WriteString("Subject: g\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\npreamble\r\n")
	b.WriteString("--b  \r\nContent-Type: text/plain\r\n")
	for b.Len() < 900<<10 {
		b.WriteString("X-Pad: " + strings.Repeat("p", 90) + "\r\n")
	}
	b.WriteString("\r\nfirst\r\n--b\r\nContent-Type: text/plain\r\n\r\n--bx is not a delimiter\r\n--b--\r\nepilogue\r\n")
	raw := b.String()
	var texts []string
	read := func(r io.Reader) {
		texts = nil
		_, err := WalkLimits(r, &Limits{MaxHeaderBytes: 1 << 20}, func(p *Part) error {
			body, err := io.ReadAll(p.Body)
			texts = append(texts, string(body))
			return err
		})
		require.NoError(t, err)
	}
	read(strings.NewReader(raw))
	assert.Equal(t, []string{"first", "--bx is not a delimiter"}, texts)
	read(iotest.OneByteReader(strings.NewReader(raw)))
	assert.Equal(t, []string{"first", "--bx is not a delimiter"}, texts)
	_, err := WalkLimits(iotest.OneByteReader(strings.NewReader(raw)), &Limits{MaxHeaderBytes: 800 << 10}, func(p *Part) error { return nil })
	assert.ErrorIs(t, err, ErrLimit)
}

// More parts than Limits.MaxParts end the walk with an error naming the
// limit.
func TestWalkMaxParts(t *testing.T) {
	var b strings.Builder
	b.WriteString("Subject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	for i := 0; i < 50; i++ {
		b.WriteString("--b\r\n\r\nx\r\n")
	}
	b.WriteString("--b--\r\n")
	n := 0
	_, err := WalkLimits(strings.NewReader(b.String()), &Limits{MaxParts: 20}, func(p *Part) error { n++; return nil })
	assert.ErrorIs(t, err, ErrLimit)
	assert.Contains(t, err.Error(), "MaxParts")
	assert.Equal(t, 19, n, "the multipart counts as a part")
	n = 0
	_, err = Walk(strings.NewReader(b.String()), func(p *Part) error { n++; return nil })
	assert.NoError(t, err)
	assert.Equal(t, 50, n)
}
