package imap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// chunkConn is a net.Conn whose Read hands out at most chunk bytes of r
// at a time (only Read and Close are used by the guard's unit tests).
type chunkConn struct {
	net.Conn
	r         io.Reader
	chunk     int
	deadlines []time.Time
	reads     int
}

func (c *chunkConn) Read(p []byte) (int, error) {
	c.reads++
	if len(p) > c.chunk {
		p = p[:c.chunk]
	}
	return c.r.Read(p)
}

func (c *chunkConn) Close() error { return nil }

func (c *chunkConn) SetReadDeadline(t time.Time) error {
	c.deadlines = append(c.deadlines, t)
	return nil
}

// runGuard feeds in through a guard, reading with buffers of size rd from
// a connection handing out chunk bytes at a time, and returns what go-imap
// would read and the error that ended the stream (nil at EOF).
func runGuard(in string, chunk, rd int, lim limits) (string, error) {
	g := newGuard(&chunkConn{r: strings.NewReader(in), chunk: chunk}, nil, nil, lim, "imap.example.test")
	var out bytes.Buffer
	p := make([]byte, rd)
	for {
		n, err := g.Read(p)
		out.Write(p[:n])
		if err == io.EOF {
			return out.String(), nil
		}
		if err != nil {
			return out.String(), err
		}
	}
}

var defaultLimits = limits{maxLine: DefaultMaxLine, maxLiteral: DefaultMaxLiteral, verifySize: true}

// forChunkings runs f with several ways of cutting the stream, so that
// every state of the guard meets a buffer boundary.
func forChunkings(t *testing.T, f func(t *testing.T, chunk, rd int)) {
	for _, chunk := range []int{1, 2, 3, 7, 64, 1 << 16} {
		for _, rd := range []int{1, 5, 4096} {
			t.Run(fmt.Sprintf("chunk%d-read%d", chunk, rd), func(t *testing.T) { f(t, chunk, rd) })
		}
	}
}

// TestGuardNormalises: the deviations of real servers that go-imap rejects
// are rewritten to what they mean, line by line, while standard responses,
// quoted strings and message bodies pass byte for byte.
func TestGuardNormalises(t *testing.T) {
	body := "* [ALERT] not a response  )\r\n\r\n \r\nRFC822.SIZE 1e3\r\n"
	cases := []struct{ name, in, want string }{
		{"standard lines unchanged",
			"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n* 3 EXISTS\r\n* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 12)\r\nT1 OK done\r\n",
			"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n* 3 EXISTS\r\n* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 12)\r\nT1 OK done\r\n"},
		{"response code without status", "* [ALERT] Mailbox nearly full\r\n", "* OK [ALERT] Mailbox nearly full\r\n"},
		{"response code alone on a line (Exchange 2013)", "[COPYUID 124 10 233]\r\n", "* OK [COPYUID 124 10 233]\r\n"},
		{"blank lines and leading spaces dropped", "\r\n\n  \r\n  * OK x\r\nT1 OK y\r\n", "* OK x\r\nT1 OK y\r\n"},
		{"space before closing paren (qq.com)", "* 1 FETCH (UID 19436 )\r\n", "* 1 FETCH (UID 19436)\r\n"},
		{"trailing space (Exchange STATUS)", "* STATUS INBOX (MESSAGES 1) \r\n", "* STATUS INBOX (MESSAGES 1)\r\n"},
		{"runs of spaces and tabs", "* 1 FETCH (UID 5  FLAGS\t(\\Seen  \\Draft ))\r\n", "* 1 FETCH (UID 5 FLAGS (\\Seen \\Draft))\r\n"},
		{"size in exponent form (mail.ru)", "* 1 FETCH (UID 5 RFC822.SIZE 9.3736e+06)\r\n", "* 1 FETCH (UID 5 RFC822.SIZE 9373600)\r\n"},
		{"exponent form of an integer with zeros", "* 1 FETCH (RFC822.SIZE 1.500E1 UID 2)\r\n", "* 1 FETCH (RFC822.SIZE 15 UID 2)\r\n"},
		{"exponent form that is no integer left alone", "* 1 FETCH (RFC822.SIZE 1.55e1)\r\n", "* 1 FETCH (RFC822.SIZE 1.55e1)\r\n"},
		{"exponent-looking keyword left alone", "* 1 FETCH (FLAGS (1E3))\r\n", "* 1 FETCH (FLAGS (1E3))\r\n"},
		{"text glued to a response code (Office 365)",
			"T1 OK [Error=\"Microsoft.Exchange.Data.Storage.WrongServerException:Cross Server access\" Proxy=X.OUTLOOK.COM:1993:SSL] AUTHENTICATE completed.\r\n",
			"T1 OK [Error= \"Microsoft.Exchange.Data.Storage.WrongServerException:Cross Server access\" Proxy=X.OUTLOOK.COM:1993:SSL] AUTHENTICATE completed.\r\n"},
		{"response code never closed", "* OK [ALERT Mailbox full\r\n", "* OK [ALERT Mailbox full]\r\n"},
		{"no space after a response code", "* OK [UNSEEN 1]First unseen\r\n", "* OK [UNSEEN 1] First unseen\r\n"},
		{"bare CR in status text", "* OK a\rb\r\n", "* OK a b\r\n"},
		{"status without text", "* OK [HIGHESTMODSEQ 7]\r\n", "* OK [HIGHESTMODSEQ 7]\r\n"},
		{"continuation requests", "+ idling\r\n+\r\n", "+ idling\r\n+\r\n"},
		{"quoted strings untouched",
			"* 1 FETCH (INTERNALDATE \"17-Jul-1996  02:44:25 -0700\" UID 1)\r\n* LIST () \"/\" \"a \\\" ) b\"\r\n",
			"* 1 FETCH (INTERNALDATE \"17-Jul-1996  02:44:25 -0700\" UID 1)\r\n* LIST () \"/\" \"a \\\" ) b\"\r\n"},
		{"body literal untouched",
			fmt.Sprintf("* 1 FETCH (UID 1 BODY[] {%d}\r\n%s)\r\nT1 OK done\r\n", len(body), body),
			fmt.Sprintf("* 1 FETCH (UID 1 BODY[] {%d}\r\n%s)\r\nT1 OK done\r\n", len(body), body)},
		{"RFC822 items are BODY sections",
			"* 1 FETCH (UID 1 RFC822 {5}\r\nhello RFC822.HEADER {2}\r\nhi rfc822.text {0}\r\n)\r\n",
			"* 1 FETCH (UID 1 BODY[] {5}\r\nhello BODY[HEADER] {2}\r\nhi BODY[TEXT] {0}\r\n)\r\n"},
		{"literal8 and sections with spaces",
			"* 1 FETCH (BINARY[1] ~{3}\r\nabc BODY[HEADER.FIELDS (FROM TO)]<0> {4}\r\nab\r\n)\r\n",
			"* 1 FETCH (BINARY[1] ~{3}\r\nabc BODY[HEADER.FIELDS (FROM TO)]<0> {4}\r\nab\r\n)\r\n"},
		{"non-body literal within the limit", "* LIST () \"/\" {5}\r\nINBOX\r\n", "* LIST () \"/\" {5}\r\nINBOX\r\n"},
		{"space after a literal marker", "* LIST () \"/\" {5} \r\nINBOX\r\n", "* LIST () \"/\" {5}\r\nINBOX\r\n"},
		{"ESEARCH without correlator (go-imap needs two spaces)", "* ESEARCH UID ALL 1:3\r\n* ESEARCH (TAG \"T1\") UID COUNT 3\r\n",
			"* ESEARCH  UID ALL 1:3\r\n* ESEARCH (TAG \"T1\") UID COUNT 3\r\n"},
		{"Gmail keywords no atom can hold (FLAGS)", "* FLAGS (\\Answered \\Seen OIB-Seen-[Gmail]/Trash $Junk OIB-Seen-[Gmail]/Spam)\r\n",
			"* FLAGS (\\Answered \\Seen $Junk)\r\n"},
		{"Gmail keywords no atom can hold (PERMANENTFLAGS)", "* OK [PERMANENTFLAGS (\\Answered OIB-Seen-[Gmail]/Trash \\*)] Flags permitted.\r\n",
			"* OK [PERMANENTFLAGS (\\Answered \\*)] Flags permitted.\r\n"},
		{"Gmail keywords no atom can hold (FETCH)", "* 1 FETCH (UID 5 FLAGS (OIB-Seen-[Gmail]/Trash \\Seen) RFC822.SIZE 5)\r\n* 2 FETCH (FLAGS (OIB-[x]))\r\n",
			"* 1 FETCH (UID 5 FLAGS (\\Seen) RFC822.SIZE 5)\r\n* 2 FETCH (FLAGS ())\r\n"},
		{"keywords with brackets elsewhere untouched", "* LIST (\\HasNoChildren) \"/\" [Gmail]/Trash\r\n* 1 FETCH (BODY[HEADER.FIELDS (X-[A])] {0}\r\n)\r\n",
			"* LIST (\\HasNoChildren) \"/\" [Gmail]/Trash\r\n* 1 FETCH (BODY[HEADER.FIELDS (X-[A])] {0}\r\n)\r\n"},
		{"literal marker in status text is text", "* OK see {5}\r\nT1 OK x\r\n", "* OK see {5}\r\nT1 OK x\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forChunkings(t, func(t *testing.T, chunk, rd int) {
				got, err := runGuard(tc.in, chunk, rd, defaultLimits)
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
			})
		})
	}
}

// TestGuardLimits: a response longer than opt.max-line outside literals,
// or non-body literals over opt.max-literal, fail with an error naming the
// server, the limit, its value and the option; the guard has passed on no
// more than the limit. Message bodies are not held to opt.max-literal.
func TestGuardLimits(t *testing.T) {
	lim := limits{maxLine: 1000, maxLiteral: 100}
	long := strings.Repeat("a", 5000)
	cases := []struct {
		name, in string
		want     []string // in the error
	}{
		{"endless status line", "* OK " + long, []string{"opt.max-line=1000", `"* OK aaaa`}},
		{"endless data line", "* SEARCH " + strings.Repeat("1 ", 3000), []string{"opt.max-line=1000"}},
		{"quoted string across lines", "* LIST () \"/\" \"" + strings.Repeat("abc\r\n", 1000), []string{"opt.max-line=1000"}},
		{"endless blank lines", strings.Repeat("\r\n", 1000), []string{"opt.max-line=1000", "blank lines"}},
		{"literal of 2^40 bytes", "* LIST () \"/\" {1099511627776}\r\n" + long, []string{"1099511627776-byte literal", "opt.max-literal=100"}},
		{"literal of 25 digits", "* LIST () \"/\" {1000000000000000000000000}\r\n" + long, []string{"25 digits", "opt.max-literal=100"}},
		{"literals adding up", "* LIST (\\X) {60}\r\n" + strings.Repeat("x", 60) + " {60}\r\n" + strings.Repeat("x", 60) + "\r\n", []string{"60-byte literal after 60 bytes", "opt.max-literal=100"}},
		{"body literal of 20 digits", "* 1 FETCH (UID 1 BODY[] {10000000000000000000}\r\n" + long, []string{"20 digits"}},
		{"literal in ENVELOPE", "* 1 FETCH (ENVELOPE ({200}\r\n" + long, []string{"200-byte literal", "opt.max-literal=100"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runGuard(tc.in, 64, 4096, lim)
			require.Error(t, err)
			assert.ErrorIs(t, err, mailaccess.ErrProtocol)
			for _, w := range append(tc.want, "imap.example.test") {
				assert.Contains(t, err.Error(), w)
			}
			assert.LessOrEqual(t, len(got), 1200, "the guard passed on more than the limit")
		})
	}
	t.Run("bodies are not literals of the limit", func(t *testing.T) {
		body := strings.Repeat("b", 5000)
		in := fmt.Sprintf("* 1 FETCH (UID 1 BODY[] {5000}\r\n%s BODY[HEADER] {5000}\r\n%s)\r\n", body, body)
		got, err := runGuard(in, 64, 4096, lim)
		require.NoError(t, err)
		assert.Equal(t, in, got)
	})
	t.Run("a line up to the limit passes", func(t *testing.T) {
		in := "* OK " + strings.Repeat("a", 990) + "\r\n"
		got, err := runGuard(in, 64, 4096, lim)
		require.NoError(t, err)
		assert.Equal(t, in, got)
	})
}

// TestGuardOneResponsePerRead: a Read never returns bytes of two
// responses, so the response go-imap fails on is the one the guard quotes.
func TestGuardOneResponsePerRead(t *testing.T) {
	in := "* 1 EXISTS\r\n* 2 EXISTS\r\n* FROB x\r\nT1 OK y\r\n"
	g := newGuard(&chunkConn{r: strings.NewReader(in), chunk: 1 << 16}, nil, nil, defaultLimits, "h")
	p := make([]byte, 4096)
	var reads []string
	for {
		n, err := g.Read(p)
		if err != nil {
			break
		}
		reads = append(reads, string(p[:n]))
		if strings.HasPrefix(string(p[:n]), "* FROB") {
			assert.Equal(t, `"* FROB x"`, g.cur())
		}
	}
	assert.Equal(t, []string{"* 1 EXISTS\r\n", "* 2 EXISTS\r\n", "* FROB x\r\n", "T1 OK y\r\n"}, reads)
}

// TestGuardReadBoundPerRead: go-imap's constant read bounds (30 s for a
// response, 5 min for a whole message body) apply to each read instead, so
// a large body on a slow link is not cut off while a stalled server still
// is.
func TestGuardReadBoundPerRead(t *testing.T) {
	body := strings.Repeat("x", 100)
	c := &chunkConn{r: strings.NewReader(fmt.Sprintf("* 1 FETCH (BODY[] {%d}\r\n%s)\r\n", len(body), body)), chunk: 10}
	g := newGuard(c, nil, nil, defaultLimits, "h")
	p := make([]byte, 10)
	n, err := g.Read(p) // the response line, no bound set yet
	require.NoError(t, err)
	require.Positive(t, n)
	for g.o < len(g.out) {
		_, err = g.Read(p)
		require.NoError(t, err)
	}
	require.Empty(t, c.deadlines)

	set := time.Now().Add(5 * time.Minute)
	require.NoError(t, g.SetReadDeadline(set)) // as go-imap does for a literal
	before := c.reads
	for g.lit > 0 {
		_, err := g.Read(p)
		require.NoError(t, err)
	}
	require.Greater(t, c.reads, before+5)
	require.Len(t, c.deadlines, 1+c.reads-before, "the bound is restarted before every read")
	for i := 1; i < len(c.deadlines); i++ {
		assert.False(t, c.deadlines[i].Before(c.deadlines[i-1]), "each read gets a fresh 5 minutes")
		assert.WithinDuration(t, set, c.deadlines[i], time.Minute)
	}

	require.NoError(t, g.SetReadDeadline(time.Time{})) // idle: no bound
	_, err = g.Read(p)
	require.NoError(t, err)
	assert.True(t, c.deadlines[len(c.deadlines)-1].IsZero(), "no bound is re-armed once go-imap clears it")
}

func TestExponentInt(t *testing.T) {
	for in, want := range map[string]uint64{"9.3736e+06": 9373600, "1E3": 1000, "12e0": 12, "1.500E1": 15, "0e5": 0, "5e-0": 5, "120e-1": 12} {
		got, ok := exponentInt([]byte(in))
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"1.55e1", "1e99", "e5", "1e", "abc", "1.2.3e4", "1e-1", "99999999999999999999e0"} {
		_, ok := exponentInt([]byte(in))
		assert.False(t, ok, in)
	}
}

func TestParseOptions(t *testing.T) {
	l, err := parseOptions(map[string]string{"max-line": "64KiB", "max-literal": "2048"})
	require.NoError(t, err)
	assert.Equal(t, limits{maxLine: 64 << 10, maxLiteral: 2048, verifySize: true}, l)
	l, err = parseOptions(nil)
	require.NoError(t, err)
	assert.Equal(t, defaultLimits, l)
	for opts, want := range map[string]map[string]string{
		"opt.max-line=\"-1\"":     {"max-line": "-1"},
		"opt.max-literal=\"big\"": {"max-literal": "big"},
		"unknown option opt.frob": {"frob": "1"},
	} {
		_, err := parseOptions(want)
		require.ErrorIs(t, err, mailaccess.ErrInvalid)
		assert.Contains(t, err.Error(), opts)
	}
	_, err = parseOptions(map[string]string{"frob": "1"})
	assert.Contains(t, err.Error(), "opt.max-line, opt.max-literal, opt.size-check")
}

var _ = errors.New

// loopConn hands out the same stream again and again.
type loopConn struct {
	net.Conn
	data []byte
	off  int
}

func (c *loopConn) Read(p []byte) (int, error) {
	n := copy(p, c.data[c.off:])
	c.off = (c.off + n) % len(c.data)
	return n, nil
}

// BenchmarkGuard measures the guard's cost: response text (a List batch of
// FETCH responses) is scanned byte by byte; message bodies are copied
// through. Reads are 4 KiB, as go-imap's buffer asks for text, and 32 KiB
// for bodies, as io.Copy asks.
func BenchmarkGuard(b *testing.B) {
	var list bytes.Buffer
	for i := 1; i <= 500; i++ {
		fmt.Fprintf(&list, "* %d FETCH (UID %d MODSEQ (%d) FLAGS (\\Seen $Forwarded) INTERNALDATE \"29-Nov-2026 21:53:46 +0000\" RFC822.SIZE %d)\r\n", i, i+1000, i*7, 1000+i)
	}
	fmt.Fprintf(&list, "T9 OK Fetch completed (0.001 + 0.000 secs).\r\n")
	body := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	var bodies bytes.Buffer
	fmt.Fprintf(&bodies, "* 1 FETCH (UID 1 BODY[] {%d}\r\n", len(body))
	bodies.Write(body)
	bodies.WriteString(")\r\nT9 OK done\r\n")
	for _, bc := range []struct {
		name string
		data []byte
		rd   int
	}{{"list-responses", list.Bytes(), 4096}, {"bodies", bodies.Bytes(), 32 << 10}} {
		b.Run(bc.name, func(b *testing.B) {
			g := newGuard(&loopConn{data: bc.data}, nil, nil, defaultLimits, "h")
			p := make([]byte, bc.rd)
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			for b.Loop() {
				for n := 0; n < len(bc.data); {
					k, err := g.Read(p)
					if err != nil {
						b.Fatal(err)
					}
					n += k
				}
			}
		})
	}
}

// FuzzGuard: whatever the server sends, the guard does not panic, does not
// blow up the stream, and passes a message body through byte for byte.
func FuzzGuard(f *testing.F) {
	for _, s := range []string{
		"* OK ready\r\n", "* [ALERT] x\r\n", "[COPYUID 1 2 3]\r\n", "* 1 FETCH (UID 1 RFC822.SIZE 1e3 )\r\n",
		"* LIST () \"/\" {3}\r\nabc\r\n", "T1 OK [Error=\"x\" y] z\r\n", "* 1 FETCH (BODY[] {2}\r\nab)\r\n",
		"* ESEARCH UID ALL 1:3\r\n", "+ go\r\n", "\r\n\r\n", "* 1 FETCH (BINARY[1] ~{1}\r\nx)\r\n", "* OK [A\r\n",
		"* 1 FETCH (FLAGS (\\Seen\t\\Draft) \"a\r\nb\" {x}\r\n",
	} {
		f.Add([]byte(s), []byte("* BYE body\r\n"))
	}
	f.Fuzz(func(t *testing.T, stream, body []byte) {
		lim := limits{maxLine: 4096, maxLiteral: 1024}
		out, err := runGuard(string(stream), 7, 4096, lim)
		if len(out) > 2*len(stream)+64 {
			t.Fatalf("%d bytes out of %d in", len(out), len(stream))
		}
		_ = err
		in := fmt.Sprintf("* 1 FETCH (UID 1 BODY[] {%d}\r\n%s)\r\nT1 OK done\r\n", len(body), body)
		out, err = runGuard(in, 5, 4096, lim)
		if err != nil || out != in {
			t.Fatalf("body not passed through: %v\n%q\n%q", err, in, out)
		}
	})
}
