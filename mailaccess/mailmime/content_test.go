package mailmime

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func edge(t *testing.T, name string) corpus.Message {
	t.Helper()
	for _, m := range corpus.EdgeCases() {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("corpus has no %s", name)
	return corpus.Message{}
}

func TestReadContentNestedMultipart(t *testing.T) {
	var saved bytes.Buffer
	c, err := ReadContent(bytes.NewReader(edge(t, "edge-nested-multipart").Raw), &ContentOptions{
		OnAttachment: func(a Attachment, r io.Reader) error {
			_, err := io.Copy(&saved, r)
			return err
		},
	})
	require.NoError(t, err)
	assert.Equal(t, "Nested multipart with attachment", c.Header.Subject())
	assert.Equal(t, "Hello in plain text.", strings.TrimSpace(c.Text))
	assert.Contains(t, c.HTML, "<b>HTML</b>")
	require.Len(t, c.Attachments, 1)
	a := c.Attachments[0]
	assert.Equal(t, "data.bin", a.Filename)
	assert.Equal(t, "application/octet-stream", a.ContentType)
	assert.Equal(t, []int{2}, a.Path)
	assert.EqualValues(t, 300, a.Size)
	want := make([]byte, 300)
	for i := range want {
		want[i] = byte(i * 7)
	}
	assert.Equal(t, want, saved.Bytes(), "attachment bytes are base64-decoded")
	assert.Empty(t, c.Problems)
}

func TestReadContentDecodesCharsetAndQP(t *testing.T) {
	c, err := ReadContent(bytes.NewReader(edge(t, "edge-qp-latin1").Raw), nil)
	require.NoError(t, err)
	assert.Contains(t, c.Text, "Café crème brûlée, à la française: très bien.")
	assert.Contains(t, c.Text, "right here, and continues.")
	assert.Contains(t, c.Text, "Equals sign: =, trailing space protected: ")
}

func TestReadContentAttachedMessageIsNotDescended(t *testing.T) {
	c, err := ReadContent(bytes.NewReader(edge(t, "edge-rfc822-attached").Raw), nil)
	require.NoError(t, err)
	assert.Equal(t, "See the attached message.", strings.TrimSpace(c.Text))
	require.Len(t, c.Attachments, 1)
	assert.Equal(t, "message/rfc822", c.Attachments[0].ContentType)
	assert.Equal(t, "original.eml", c.Attachments[0].Filename)
}

func TestReadContentToleratesUnknownCharset(t *testing.T) {
	raw := "Subject: odd\r\nContent-Type: text/plain; charset=x-unknown-42\r\n\r\nplain bytes\r\n"
	c, err := ReadContent(strings.NewReader(raw), nil)
	require.NoError(t, err)
	assert.Contains(t, c.Text, "plain bytes")
	require.NotEmpty(t, c.Problems)
	assert.Contains(t, c.Problems[0], "charset")
}

func TestReadContentTruncatesText(t *testing.T) {
	raw := "Subject: long\r\n\r\n" + strings.Repeat("x", 1000)
	c, err := ReadContent(strings.NewReader(raw), &ContentOptions{MaxText: 100})
	require.NoError(t, err)
	assert.Len(t, c.Text, 100)
	assert.True(t, c.Truncated)
}

func TestReadContentEmptyAndBareLF(t *testing.T) {
	c, err := ReadContent(bytes.NewReader(edge(t, "edge-empty-body").Raw), nil)
	require.NoError(t, err)
	assert.Equal(t, "", c.Text)

	c, err = ReadContent(bytes.NewReader(edge(t, "edge-bare-lf").Raw), nil)
	require.NoError(t, err)
	assert.Equal(t, "Bare LF line endings", c.Header.Subject())
	assert.Contains(t, c.Text, ".dot line")
}

func TestWalkStopsEarly(t *testing.T) {
	var kinds []PartKind
	_, err := Walk(bytes.NewReader(edge(t, "edge-nested-multipart").Raw), func(p *Part) error {
		kinds = append(kinds, p.Kind)
		if p.Kind == PartHTML {
			return ErrSkipRest
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []PartKind{PartText, PartHTML}, kinds)

	boom := errors.New("boom")
	_, err = Walk(bytes.NewReader(edge(t, "edge-nested-multipart").Raw), func(p *Part) error { return boom })
	assert.ErrorIs(t, err, boom)
}

func TestWalkPartPaths(t *testing.T) {
	var paths [][]int
	_, err := Walk(bytes.NewReader(edge(t, "edge-nested-multipart").Raw), func(p *Part) error {
		paths = append(paths, p.Path)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, [][]int{{1, 1}, {1, 2}, {2}}, paths)
}

// A large attachment streams through ReadContent without being held: the
// attachment callback sees every byte, and the content keeps only the size.
func TestReadContentStreamsLargeAttachment(t *testing.T) {
	const size = 20 << 20
	h := sha256.New()
	src := corpus.Large(7, size)
	c, err := ReadContent(src, &ContentOptions{OnAttachment: func(a Attachment, r io.Reader) error {
		_, err := io.Copy(h, r)
		return err
	}})
	require.NoError(t, err)
	require.NotEmpty(t, c.Attachments)
	var total int64
	for _, a := range c.Attachments {
		total += a.Size
	}
	assert.Greater(t, total, int64(size/2), "most of the message is attachment bytes")
	// The callback saw exactly the bytes that were counted.
	again := sha256.New()
	c2, err := ReadContent(corpus.Large(7, size), &ContentOptions{OnAttachment: func(a Attachment, r io.Reader) error {
		_, err := io.Copy(again, r)
		return err
	}})
	require.NoError(t, err)
	assert.Equal(t, c.Attachments, c2.Attachments)
	assert.Equal(t, h.Sum(nil), again.Sum(nil), "the stream is deterministic and complete")
}
