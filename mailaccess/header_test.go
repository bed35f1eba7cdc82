package mailaccess

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
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

func TestHeaderDecodesEveryEdgeCaseSubject(t *testing.T) {
	for _, m := range corpus.EdgeCases() {
		t.Run(m.Name, func(t *testing.T) {
			h, err := ParseHeader(bytes.NewReader(m.Raw))
			require.NoError(t, err)
			assert.Equal(t, m.Subject, h.Subject())
		})
	}
}

func TestHeaderAccessors(t *testing.T) {
	h, err := ParseHeader(bytes.NewReader(edge(t, "edge-folded-headers").Raw))
	require.NoError(t, err)
	assert.Equal(t, []Address{
		{Name: "Test User", Addr: "test@example.com"},
		{Name: "Second User", Addr: "second@example.com"},
		{Name: "Third User", Addr: "third@example.com"},
	}, h.To())
	assert.Equal(t, []Address{{Name: "Edge Sender", Addr: "edge@example.org"}}, h.From())
	assert.Equal(t, "edge-folded-headers@corpus.example.org", h.MessageID())
	d, err := h.Date()
	require.NoError(t, err)
	assert.Equal(t, 2023, d.Year())
	n := 0
	for k := range h.Fields() {
		if strings.EqualFold(k, "Received") {
			n++
		}
	}
	assert.Equal(t, 1, n)

	utf, err := ParseHeader(bytes.NewReader(edge(t, "edge-utf8-headers").Raw))
	require.NoError(t, err)
	require.Len(t, utf.From(), 1)
	assert.Contains(t, utf.From()[0].Name, "ü", "raw UTF-8 display names survive")
}

func TestHeaderToleratesBrokenMail(t *testing.T) {
	h, err := ParseHeader(bytes.NewReader(edge(t, "edge-no-date-msgid").Raw))
	require.NoError(t, err)
	_, err = h.Date()
	assert.ErrorContains(t, err, "no Date")
	assert.Equal(t, "", h.MessageID())

	h, err = ParseHeader(bytes.NewReader(edge(t, "edge-bad-date").Raw))
	require.NoError(t, err)
	_, err = h.Date()
	assert.ErrorContains(t, err, "bad Date")

	// Unknown charset in an encoded word: the raw text is kept.
	h = HeaderFromFields("Subject", "=?x-klingon?Q?Qapla=27?=", "From", `"Broken <no-at-sign>, real@example.com`)
	assert.Equal(t, "=?x-klingon?Q?Qapla=27?=", h.Subject())
	from := h.From()
	require.NotEmpty(t, from)
	assert.Equal(t, "real@example.com", from[len(from)-1].Addr)
}

func TestParseHeaderBoundsMemory(t *testing.T) {
	huge := io.MultiReader(strings.NewReader("X-Big: "), &repeatReader{b: 'a', n: 10 * MaxHeaderBytes})
	_, err := ParseHeader(huge)
	assert.Error(t, err)
}

type repeatReader struct {
	b byte
	n int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = r.b
	}
	r.n -= int64(len(p))
	return len(p), nil
}
