package imap

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailmime"
)

// A BODYSTRUCTURE quirk: the message it applies to (marked by a
// Content-Type parameter x-quirk=name, which the proxy looks for) and the
// broken description a server of that kind sends instead of the real one.
type bsQuirk struct {
	name, seen string
	raw        string // the message, without the x-quirk marker
	broken     string
}

// bsQuirks are BODYSTRUCTURE forms real servers send (as reported to
// MailKit, JavaMail and ruby net-imap), each standing in for a message
// whose real structure the driver must recover by reading it.
var bsQuirks = []bsQuirk{
	{
		name: "gmail-nested-same-boundary",
		seen: "Gmail, a nested multipart that reuses its parent's boundary: type without subtype",
		raw: "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
			"--x\r\nContent-Type: multipart/alternative; boundary=y\r\n\r\n--y\r\nContent-Type: text/plain\r\n\r\nalt\r\n--y--\r\n--x--\r\n",
		broken: `(("TEXT" "PLAIN" ("CHARSET" "UTF-8") NIL NIL "7BIT" 5 1 NIL NIL NIL)("ALTERNATIVE" ("BOUNDARY" "x") NIL NIL) "MIXED" ("BOUNDARY" "x") NIL NIL)`,
	},
	{
		name:   "exchange-disposition-string",
		seen:   "Exchange, a disposition sent as a bare string",
		raw:    "Content-Type: text/plain; charset=us-ascii\r\nContent-Disposition: inline\r\n\r\nhello\r\n",
		broken: `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1 NIL "inline" NIL NIL)`,
	},
	{
		name:   "exchange-disposition-nil-nil",
		seen:   "Exchange, a disposition (NIL NIL)",
		raw:    "Content-Type: text/plain; charset=us-ascii\r\n\r\nhello\r\n",
		broken: `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1 NIL (NIL NIL) NIL NIL)`,
	},
	{
		name: "exchange-multipart-description",
		seen: "Exchange, a Content-Description where a multipart's disposition belongs",
		raw: "Content-Type: multipart/mixed; boundary=b\r\nContent-Description: all of it\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n",
		broken: `(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 5 1 NIL NIL NIL) "MIXED" ("BOUNDARY" "b") "all of it" NIL NIL NIL)`,
	},
	{
		name: "domino-attached-message-empty-body",
		seen: "Domino, an attached message with an all-NIL envelope and an empty body ()",
		raw: "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n" +
			"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: original\r\n\r\nbody\r\n--b--\r\n",
		broken: `(("text" "plain" ("charset" "UTF-8") NIL NIL "7BIT" 6 1 NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7BIT" 28 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) () 0 NIL NIL NIL) "report" ("report-type" "delivery-status" "boundary" "b") NIL NIL)`,
	},
	{
		name:   "nil-parameter-value",
		seen:   "a NIL parameter value (MailKit #124)",
		raw:    "Content-Type: text/plain\r\n\r\nhello\r\n",
		broken: `("TEXT" "PLAIN" ("CHARSET" NIL) NIL NIL "7BIT" 7 1 NIL NIL NIL NIL)`,
	},
	{
		name: "gmx-multipart-as-single-part",
		seen: "GMX, a multipart described as a single part (parses, makes no sense)",
		raw: "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--r--\r\n" +
			"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>second</p>\r\n--b--\r\n",
		broken: `(("MULTIPART" "RELATED" ("BOUNDARY" "r") NIL NIL "7BIT" 60)("TEXT" "HTML" ("CHARSET" "UTF8") NIL NIL "7BIT" 13 1 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "b") NIL NIL NIL)`,
	},
	{
		name: "gmail-base64-message-without-envelope",
		seen: "Gmail, a base64 message/rfc822 part sent as a basic part (no envelope)",
		raw: "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfwd\r\n" +
			"--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=x.eml\r\n\r\nU3ViamVjdDogeA0KDQp4DQo=\r\n--b--\r\n",
		broken: `(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 3 1 NIL NIL NIL)("MESSAGE" "RFC822" NIL NIL NIL "BASE64" 26 NIL ("ATTACHMENT" ("FILENAME" "x.eml")) NIL NIL) "MIXED" ("BOUNDARY" "b") NIL NIL NIL)`,
	},
	{
		name:   "subtype-only",
		seen:   "a server that sends only the subtype of Content-Type: X-ZIP (MailKit #371)",
		raw:    "Content-Type: application/x-zip; name=a.zip\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n",
		broken: `("X-ZIP" ("NAME" "a.zip") NIL NIL "BASE64" 10 NIL NIL NIL NIL)`,
	},
	{
		name:   "empty-list",
		seen:   "an empty body structure ()",
		raw:    "Content-Type: text/plain\r\n\r\nhello\r\n",
		broken: `()`,
	},
}

// marked returns q's message with its marker and a subject.
func (q bsQuirk) marked() []byte {
	ct, rest, _ := strings.Cut(q.raw, "\r\n")
	return []byte("From: q@example.com\r\nSubject: " + q.name + "\r\nMIME-Version: 1.0\r\n" + ct + "; x-quirk=" + q.name + "\r\n" + rest)
}

// quirkProxy sits between the driver and an in-process server and
// replaces the BODYSTRUCTURE of marked messages with the quirk's.
type quirkProxy struct {
	ln       net.Listener
	upstream string
	replaced atomic.Int64
}

func startQuirkProxy(t *testing.T, upstream string) *quirkProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &quirkProxy{ln: ln, upstream: upstream}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *quirkProxy) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		io.Copy(server, client)
		server.Close()
	}()
	br := bufio.NewReader(server)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			line = p.rewrite(line)
			if _, werr := client.Write(line); werr != nil {
				return
			}
			// A literal follows a line ending in {n}: pass it untouched.
			if n, ok := literalLen(line); ok {
				if _, err := io.CopyN(client, br, n); err != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func literalLen(line []byte) (int64, bool) {
	s := strings.TrimRight(string(line), "\r\n")
	if !strings.HasSuffix(s, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(s, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(s[i+1:len(s)-1], "+"), 10, 64)
	return n, err == nil
}

func (p *quirkProxy) rewrite(line []byte) []byte {
	const key = "BODYSTRUCTURE "
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return line
	}
	start := i + len(key)
	end := balanced(line, start)
	if end < 0 {
		return line
	}
	expr := string(line[start:end])
	for _, q := range bsQuirks {
		if strings.Contains(strings.ToLower(expr), `"x-quirk" "`+q.name+`"`) {
			p.replaced.Add(1)
			return append(append(append([]byte{}, line[:start]...), q.broken...), line[end:]...)
		}
	}
	return line
}

// balanced returns the end of the parenthesised expression starting at
// line[start], minding quoted strings, or -1.
func balanced(line []byte, start int) int {
	depth, quoted := 0, false
	for i := start; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// without returns p's tree with every Problem cleared, for comparing the
// structure recovered by reading with the one parsed locally.
func withoutProblems(p *mailaccess.PartInfo) *mailaccess.PartInfo {
	for q := range p.All() {
		q.Problem = ""
	}
	return p
}

// Servers that send broken BODYSTRUCTUREs never fail a listing: Fetch with
// Structure yields every message, those with a broken description
// described by reading them (the same tree mailmime parses from the
// message, with the problem named), and Structure does the same alone.
func TestBrokenBodyStructures(t *testing.T) {
	var raws [][]byte
	for i, q := range bsQuirks {
		raws = append(raws, []byte(fmt.Sprintf("From: a@example.com\r\nSubject: fine %d\r\n\r\nplain message %d\r\n", i, i)))
		raws = append(raws, q.marked())
	}
	srv := imaptest.Start(t, nil, imaptest.User{Name: "user", Password: "pass", Messages: raws})
	proxy := startQuirkProxy(t, srv.Addr)
	cfg := srv.Config("user", "pass")
	host, port, _ := net.SplitHostPort(proxy.ln.Addr().String())
	cfg.Host = host
	cfg.Port, _ = strconv.Atoi(port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mb, err := Dial(ctx, cfg)
	require.NoError(t, err)
	defer mb.Close()
	ids, _ := listIDs(t, mb, "INBOX")
	require.Len(t, ids, len(raws))

	check := func(t *testing.T, i int, st *mailaccess.PartInfo) {
		want, err := mailmime.ParseStructure(bytes.NewReader(raws[i]), nil)
		require.NoError(t, err)
		if i%2 == 0 {
			assert.Empty(t, st.Problem, "message %d has a fine BODYSTRUCTURE", i)
			return
		}
		q := bsQuirks[i/2]
		assert.NotEmpty(t, st.Problem, "%s (%s): the problem is named", q.name, q.seen)
		t.Logf("%s: %s", q.name, st.Problem)
		assert.Equal(t, withoutProblems(want), withoutProblems(st), "%s (%s): the structure read from the message", q.name, q.seen)
	}

	n := 0
	for msg, err := range mb.Fetch(ctx, "INBOX", ids, &mailaccess.FetchOptions{Structure: true, Headers: true}) {
		require.NoError(t, err, "a broken BODYSTRUCTURE must not fail the listing")
		require.NotNil(t, msg.Structure())
		check(t, n, msg.Structure())
		n++
	}
	assert.Equal(t, len(raws), n, "every message is yielded")
	assert.Positive(t, proxy.replaced.Load(), "the proxy sent the broken forms")

	for i, id := range ids {
		st, err := mb.Structure(ctx, "INBOX", id)
		require.NoError(t, err, "Structure of message %d", i)
		check(t, i, st)
	}
	_, err = mb.Status(ctx, "INBOX")
	assert.NoError(t, err, "the Mailbox is usable afterwards")
}
