package corpus

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalize(t *testing.T) {
	assert.Equal(t, "a\r\nb\r\n", string(Normalize([]byte("a\nb\n"))))
	assert.Equal(t, "a\r\nb\r\n", string(Normalize([]byte("a\r\nb\n"))))
	assert.Equal(t, "\r\n\r\n", string(Normalize([]byte("\n\n"))))
	assert.Equal(t, "a\rb\r\n", string(Normalize([]byte("a\rb\r\n"))))
	assert.Empty(t, Normalize(nil))
	in := []byte("x\ny")
	_ = Normalize(in)
	assert.Equal(t, "x\ny", string(in), "input must not be modified")
}

func TestEdgeCasesDeterministicAndUnique(t *testing.T) {
	a, b := EdgeCases(), EdgeCases()
	require.Equal(t, a, b)
	seen := map[string]bool{}
	for _, m := range a {
		assert.False(t, seen[m.Name], "duplicate name %s", m.Name)
		seen[m.Name] = true
		assert.True(t, strings.HasPrefix(m.Name, "edge-"), m.Name)
	}
	a[0].Raw[0] = 'X'
	assert.NotEqual(t, a[0].Raw[0], EdgeCases()[0].Raw[0], "EdgeCases must return fresh slices")
	for _, n := range []string{"edge-dot-lines", "edge-dot-lone", "edge-long-8k", "edge-long-64k",
		"edge-utf8-headers", "edge-ew-iso-8859-1", "edge-ew-windows-1252", "edge-ew-iso-2022-jp",
		"edge-ew-gb2312", "edge-no-date-msgid", "edge-bad-date", "edge-dup-msgid-1", "edge-dup-msgid-2",
		"edge-empty-body", "edge-nested-multipart", "edge-rfc822-attached", "edge-folded-headers",
		"edge-qp-latin1", "edge-bare-lf"} {
		assert.True(t, seen[n], "missing %s", n)
	}
}

func edge(t *testing.T, name string) Message {
	t.Helper()
	for _, m := range EdgeCases() {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no edge case %s", name)
	return Message{}
}

// hasBareLF reports whether b holds an LF not preceded by CR.
func hasBareLF(b []byte) bool {
	return !bytes.Equal(Normalize(b), b)
}

func TestEdgeCasesParse(t *testing.T) {
	for _, m := range EdgeCases() {
		t.Run(m.Name, func(t *testing.T) {
			if m.Name != "edge-bare-lf" {
				assert.False(t, hasBareLF(m.Raw), "bare LF in CRLF message")
				assert.True(t, bytes.HasSuffix(m.Raw, []byte("\r\n")))
			}
			msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
			require.NoError(t, err)
			body, err := io.ReadAll(msg.Body)
			require.NoError(t, err)
			subj, err := testDecoder(t).DecodeHeader(msg.Header.Get("Subject"))
			require.NoError(t, err)
			assert.Equal(t, m.Subject, subj)
			switch m.Name {
			case "edge-no-date-msgid":
				assert.Empty(t, msg.Header.Get("Date"))
				assert.Empty(t, msg.Header.Get("Message-ID"))
			case "edge-bad-date":
				_, err := msg.Header.Date()
				assert.Error(t, err)
			case "edge-empty-body":
				assert.Empty(t, body)
			case "edge-long-8k", "edge-long-64k":
				assert.Greater(t, len(body), 9000)
			default:
				_, err := msg.Header.Date()
				assert.NoError(t, err)
				_, err = msg.Header.AddressList("From")
				assert.NoError(t, err)
			}
		})
	}
	m1, _ := mail.ReadMessage(bytes.NewReader(edge(t, "edge-dup-msgid-1").Raw))
	m2, _ := mail.ReadMessage(bytes.NewReader(edge(t, "edge-dup-msgid-2").Raw))
	assert.Equal(t, m1.Header.Get("Message-ID"), m2.Header.Get("Message-ID"))
}

// testDecoder decodes encoded words in the charsets EdgeCases uses, from
// tables of just the characters involved (the standard library only knows
// UTF-8, US-ASCII and ISO-8859-1).
func testDecoder(t *testing.T) *mime.WordDecoder {
	latin1 := func(b []byte) string {
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	}
	return &mime.WordDecoder{CharsetReader: func(charset string, in io.Reader) (io.Reader, error) {
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, err
		}
		switch strings.ToLower(charset) {
		case "windows-1252":
			cp := map[byte]rune{0x80: '€', 0x85: '…', 0x93: '“', 0x94: '”', 0x96: '–'}
			var sb strings.Builder
			for _, c := range b {
				if r, ok := cp[c]; ok {
					sb.WriteRune(r)
				} else {
					sb.WriteRune(rune(c))
				}
			}
			return strings.NewReader(sb.String()), nil
		case "iso-2022-jp":
			// JIS X 0208 rows/cells of the characters used.
			jis := map[string]rune{"F|": '日', "K\\": '本', "8l": '語', "$N": 'の', "%F": 'テ', "%9": 'ス', "%H": 'ト'}
			s := string(b)
			require.True(t, strings.HasPrefix(s, "\x1b$B") && strings.HasSuffix(s, "\x1b(B"))
			s = s[3 : len(s)-3]
			var sb strings.Builder
			for i := 0; i < len(s); i += 2 {
				r, ok := jis[s[i:i+2]]
				require.True(t, ok, "unknown JIS pair %q", s[i:i+2])
				sb.WriteRune(r)
			}
			return strings.NewReader(sb.String()), nil
		case "gb2312":
			gb := map[string]rune{"\xd6\xd0": '中', "\xce\xc4": '文', "\xd3\xca": '邮', "\xbc\xfe": '件', "\xb2\xe2": '测', "\xca\xd4": '试'}
			var sb strings.Builder
			for i := 0; i+1 < len(b); i += 2 {
				r, ok := gb[string(b[i:i+2])]
				require.True(t, ok)
				sb.WriteRune(r)
			}
			return strings.NewReader(sb.String()), nil
		}
		return strings.NewReader(latin1(b)), nil
	}}
}

// TestEncodedWordBytes checks the hand-crafted encoded words against the
// charset tables for the characters they use.
func TestEncodedWordBytes(t *testing.T) {
	dec := testDecoder(t)
	for _, n := range []string{"edge-ew-iso-8859-1", "edge-ew-windows-1252", "edge-ew-iso-2022-jp", "edge-ew-gb2312"} {
		m := edge(t, n)
		msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
		require.NoError(t, err)
		got, err := dec.DecodeHeader(msg.Header.Get("Subject"))
		require.NoError(t, err, n)
		assert.Equal(t, m.Subject, got, n)
	}
}

func TestEdgeCaseContents(t *testing.T) {
	dots := string(edge(t, "edge-dot-lines").Raw)
	for _, l := range []string{"\r\n.x\r\n", "\r\n..y\r\n", "\r\n.\r\n"} {
		assert.Contains(t, dots, l)
	}
	assert.True(t, strings.HasSuffix(string(edge(t, "edge-dot-lone").Raw), "\r\n.\r\n"))
	for name, n := range map[string]int{"edge-long-8k": 8 * 1024, "edge-long-64k": 64 * 1024} {
		longest := 0
		for _, l := range bytes.Split(edge(t, name).Raw, []byte("\r\n")) {
			longest = max(longest, len(l))
		}
		assert.Greater(t, longest, n, name)
	}
	u := edge(t, "edge-utf8-headers")
	assert.Contains(t, string(u.Raw), "Subject: "+u.Subject+"\r\n")
	assert.Contains(t, string(u.Raw), "From: Jürgen Müller <")
	lf := edge(t, "edge-bare-lf").Raw
	assert.NotContains(t, string(lf), "\r")
	assert.False(t, hasBareLF(Normalize(lf)))
}

func TestGenerateDeterministic(t *testing.T) {
	var a, b []Message
	for m := range Generate(42, 60) {
		a = append(a, m)
	}
	for m := range Generate(42, 60) {
		b = append(b, m)
	}
	require.Len(t, a, 60)
	require.Equal(t, a, b)
	assert.Equal(t, a[7], DefaultMix.At(42, 7))
	assert.Equal(t, "gen-000007", a[7].Name)

	other := DefaultMix.At(43, 7)
	assert.NotEqual(t, a[7].Raw, other.Raw)

	// Stopping early works.
	n := 0
	for range Generate(42, 1000) {
		n++
		if n == 3 {
			break
		}
	}
	assert.Equal(t, 3, n)
}

func TestGenerateMixAndSizes(t *testing.T) {
	const n = 200
	counts := map[Kind]int{}
	ids := map[string]bool{}
	for i := 0; i < n; i++ {
		k := DefaultMix.KindAt(7, i)
		counts[k]++
		m := DefaultMix.At(7, i)
		lo, hi := k.Bounds()
		assert.GreaterOrEqual(t, len(m.Raw), lo, "%s %s", m.Name, k)
		assert.LessOrEqual(t, len(m.Raw), hi, "%s %s", m.Name, k)
		assert.False(t, hasBareLF(m.Raw), m.Name)

		msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
		require.NoError(t, err, m.Name)
		assert.Equal(t, m.Subject, msg.Header.Get("Subject"))
		_, err = msg.Header.Date()
		assert.NoError(t, err)
		_, err = msg.Header.AddressList("From")
		assert.NoError(t, err)
		id := msg.Header.Get("Message-ID")
		assert.False(t, ids[id], "duplicate Message-ID %s", id)
		ids[id] = true
		for _, l := range bytes.Split(m.Raw, []byte("\r\n")) {
			require.LessOrEqual(t, len(l), 998, m.Name)
		}
	}
	// Blocks of 20 hold exactly 15/4/1.
	assert.Equal(t, map[Kind]int{KindPlain: 150, KindHTML: 40, KindAttachment: 10}, counts)

	custom := Mix{HTML: 1}
	for i := range 5 {
		assert.Equal(t, KindHTML, custom.KindAt(1, i))
	}
}

func TestLargeExactSizeAndDeterministic(t *testing.T) {
	for _, size := range []int64{0, 100, LargeSize(0), LargeSize(0) + 1, 4096, 1<<20 + 13} {
		n, err := io.Copy(io.Discard, Large(5, size))
		require.NoError(t, err)
		assert.Equal(t, LargeSize(size), n, "size %d", size)
	}
	a, err := io.ReadAll(Large(9, 300_000))
	require.NoError(t, err)
	b, err := io.ReadAll(Large(9, 300_000))
	require.NoError(t, err)
	assert.Equal(t, a, b)
	c, err := io.ReadAll(Large(10, 300_000))
	require.NoError(t, err)
	assert.NotEqual(t, a, c)
	assert.Len(t, c, 300_000)
	assert.False(t, hasBareLF(a))

	msg, err := mail.ReadMessage(bytes.NewReader(a))
	require.NoError(t, err)
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	assert.Contains(t, string(a), "\r\n--"+params["boundary"]+"--\r\n")
}

func TestLargeBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 64 MiB")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const size = 64 << 20 // enough to show allocation does not grow with size
	r := Large(1, size)
	buf := make([]byte, 32*1024)
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(k)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	runtime.ReadMemStats(&after)
	assert.Equal(t, int64(size), n)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "Large must stream in constant memory")
}
