package pop3test

import (
	"bufio"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	msgDots  = "Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n"
	msgPlain = "Subject: plain\r\nFrom: a@example.org\r\n\r\nline 1\r\nline 2\r\nline 3\r\n"
)

func TestTransactionRetrTopUIDLAndQuitAppliesDeletes(t *testing.T) {
	const third = "Subject: third\r\n\r\nx\r\n"
	mb := newMemBox(msgDots, msgPlain, third)
	s := Start(t, mb, nil)
	c := dialRaw(t, s)
	c.login(DefaultUser, DefaultPassword)

	assert.Equal(t, fmt.Sprintf("+OK 3 %d", len(msgDots)+len(msgPlain)+len(third)), c.cmd("STAT"))
	require.Equal(t, "+OK scan listing follows", c.cmd("LIST"))
	assert.Equal(t, fmt.Sprintf("1 %d\r\n2 %d\r\n3 %d\r\n", len(msgDots), len(msgPlain), len(third)), string(c.multi()))
	assert.Equal(t, fmt.Sprintf("+OK 2 %d", len(msgPlain)), c.cmd("LIST 2"))
	require.True(t, strings.HasPrefix(c.cmd("UIDL"), "+OK"))
	assert.Equal(t, "1 m1\r\n2 m2\r\n3 m3\r\n", string(c.multi()))

	require.True(t, strings.HasPrefix(c.cmd("RETR 1"), "+OK"))
	assert.Equal(t, msgDots, string(c.multi()), "dot-stuffed on the wire, exact after unstuffing")

	require.True(t, strings.HasPrefix(c.cmd("TOP 2 0"), "+OK"))
	assert.Equal(t, "Subject: plain\r\nFrom: a@example.org\r\n\r\n", string(c.multi()))
	require.True(t, strings.HasPrefix(c.cmd("TOP 2 2"), "+OK"))
	assert.Equal(t, "Subject: plain\r\nFrom: a@example.org\r\n\r\nline 1\r\nline 2\r\n", string(c.multi()))

	require.True(t, strings.HasPrefix(c.cmd("DELE 1"), "+OK"))
	assert.True(t, strings.HasPrefix(c.cmd("RETR 1"), "-ERR"), "deleted message is gone for the session")
	assert.Equal(t, fmt.Sprintf("+OK 2 %d", len(msgPlain)+len(third)), c.cmd("STAT"))
	assert.True(t, mb.has("m1"), "DELE alone must not touch the backing mailbox")
	require.True(t, strings.HasPrefix(c.cmd("RSET"), "+OK"))
	require.True(t, strings.HasPrefix(c.cmd("DELE 3"), "+OK"))
	require.True(t, strings.HasPrefix(c.cmd("QUIT"), "+OK"))

	assert.True(t, mb.has("m1"), "RSET undid the first mark")
	assert.False(t, mb.has("m3"), "QUIT applied the mark")
	assert.Equal(t, 1, s.Commits())
	assert.Equal(t, []string{"USER user", "PASS REDACTED", "STAT", "LIST", "LIST 2", "UIDL", "RETR 1",
		"TOP 2 0", "TOP 2 2", "DELE 1", "RETR 1", "STAT", "RSET", "DELE 3", "QUIT"}, s.Commands())
}

func TestDroppedConnectionAppliesNothing(t *testing.T) {
	mb := newMemBox(msgPlain, msgDots)
	s := Start(t, mb, nil)
	c := dialRaw(t, s)
	c.login(DefaultUser, DefaultPassword)
	require.True(t, strings.HasPrefix(c.cmd("DELE 1"), "+OK"))
	require.True(t, strings.HasPrefix(c.cmd("DELE 2"), "+OK"))
	c.conn.Close()

	// The lock is released once the session ends; a new login proves it
	// and sees both messages.
	require.NoError(t, s.WaitIdle(testCtx(t)))
	c2 := dialRaw(t, s)
	c2.line()
	c2.cmd("USER user")
	assert.True(t, strings.HasPrefix(c2.cmd("PASS pass"), "+OK user has 2 messages"))
	assert.Equal(t, 2, mb.count())
	assert.Equal(t, 0, s.Commits())
}

func TestPipelinedCommandsAnsweredInOrder(t *testing.T) {
	mb := newMemBox(msgDots, msgPlain)
	s := Start(t, mb, nil)
	c := dialRaw(t, s)
	require.True(t, strings.HasPrefix(c.line(), "+OK"))
	// One write carrying the whole session.
	c.send("CAPA", "USER user", "PASS pass", "STAT", "RETR 2", "RETR 1", "DELE 1", "NOOP", "BOGUS", "QUIT")
	require.True(t, strings.HasPrefix(c.line(), "+OK"))
	capa := string(c.multi())
	assert.Contains(t, capa, "PIPELINING\r\n")
	assert.True(t, strings.HasPrefix(c.line(), "+OK"))
	assert.True(t, strings.HasPrefix(c.line(), "+OK user has 2"))
	assert.Equal(t, fmt.Sprintf("+OK 2 %d", len(msgDots)+len(msgPlain)), c.line())
	require.True(t, strings.HasPrefix(c.line(), "+OK"))
	assert.Equal(t, msgPlain, string(c.multi()))
	require.True(t, strings.HasPrefix(c.line(), "+OK"))
	assert.Equal(t, msgDots, string(c.multi()))
	assert.True(t, strings.HasPrefix(c.line(), "+OK message 1 deleted"))
	assert.Equal(t, "+OK", c.line())
	assert.True(t, strings.HasPrefix(c.line(), "-ERR"))
	assert.True(t, strings.HasPrefix(c.line(), "+OK pop3test signing off (1 messages deleted)"))
	assert.False(t, mb.has("m1"))
}

func TestSecondSessionGetsInUse(t *testing.T) {
	s := Start(t, newMemBox(msgPlain), nil)
	a := dialRaw(t, s)
	a.login("user", "pass")
	b := dialRaw(t, s)
	b.line()
	b.cmd("USER user")
	assert.Regexp(t, `^-ERR \[IN-USE\] `, b.cmd("PASS pass"))
	assert.True(t, strings.HasPrefix(a.cmd("QUIT"), "+OK"))
	c := dialRaw(t, s)
	c.login("user", "pass") // released by QUIT
}

func TestWrongPasswordIsAuthError(t *testing.T) {
	s := Start(t, newMemBox(), &Options{Users: map[string]string{"alice": "s3cret"}})
	c := dialRaw(t, s)
	c.line()
	c.cmd("USER alice")
	assert.Equal(t, "-ERR [AUTH] invalid user name or password", c.cmd("PASS wrong"))
	c.cmd("USER alice")
	assert.True(t, strings.HasPrefix(c.cmd("PASS s3cret"), "+OK"))
	assert.NotContains(t, strings.Join(s.Commands(), "\n"), "s3cret")
	assert.NotContains(t, strings.Join(s.Commands(), "\n"), "wrong")
}

func TestSTLSAndRequireTLS(t *testing.T) {
	s := Start(t, newMemBox(msgPlain), &Options{RequireTLS: true})
	c := dialRaw(t, s)
	c.line()
	require.True(t, strings.HasPrefix(c.cmd("CAPA"), "+OK"))
	assert.Contains(t, string(c.multi()), "STLS\r\n")
	assert.True(t, strings.HasPrefix(c.cmd("USER user"), "-ERR"), "USER before STLS is refused")
	require.True(t, strings.HasPrefix(c.cmd("STLS"), "+OK"))
	cfg := s.TLSConfig()
	cfg.ServerName = "localhost"
	tc := tls.Client(c.conn, cfg)
	require.NoError(t, tc.Handshake(), "certificate verifies with CertPool")
	c.conn, c.br = tc, bufio.NewReader(tc)
	require.True(t, strings.HasPrefix(c.cmd("CAPA"), "+OK"))
	assert.NotContains(t, string(c.multi()), "STLS", "STLS is not offered once TLS is on")
	assert.True(t, strings.HasPrefix(c.cmd("USER user"), "+OK"))
	assert.True(t, strings.HasPrefix(c.cmd("PASS pass"), "+OK"))
}

func TestImplicitTLS(t *testing.T) {
	s := Start(t, newMemBox(msgDots), &Options{ImplicitTLS: true})
	c := dialRaw(t, s) // handshakes with CertPool
	c.login("user", "pass")
	require.True(t, strings.HasPrefix(c.cmd("RETR 1"), "+OK"))
	assert.Equal(t, msgDots, string(c.multi()))
	assert.Equal(t, "pop3s", s.Config("user", "pass").Scheme)
}

func TestImplicitTLSRejectsUnknownCA(t *testing.T) {
	s := Start(t, newMemBox(), &Options{ImplicitTLS: true})
	conn, err := tls.Dial("tcp", s.Addr, &tls.Config{ServerName: "127.0.0.1"})
	if err == nil {
		conn.Close()
	}
	require.Error(t, err, "the self-signed certificate is not in the system roots")
}

func TestAPOP(t *testing.T) {
	s := Start(t, newMemBox(msgPlain), &Options{User: "bob", Password: "tanstaaf"})
	c := dialRaw(t, s)
	greet := c.line()
	ts := regexp.MustCompile(`<[^>]+>`).FindString(greet)
	require.NotEmpty(t, ts, "greeting carries an APOP timestamp")
	sum := md5.Sum([]byte(ts + "tanstaaf"))
	assert.True(t, strings.HasPrefix(c.cmd("APOP bob "+strings.Repeat("0", 32)), "-ERR [AUTH]"))
	assert.True(t, strings.HasPrefix(c.cmd("APOP bob "+hex.EncodeToString(sum[:])), "+OK bob has 1"))
	assert.Contains(t, s.Commands(), "APOP bob REDACTED")
}

func TestSASLMechanisms(t *testing.T) {
	opts := &Options{User: "alice", Password: "pw", Tokens: map[string]string{"alice": "tok"}}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name  string
		steps []string // client lines, alternating with server "+ " lines
		ok    bool
	}{
		{"plain-ir", []string{"AUTH PLAIN " + b64("\x00alice\x00pw")}, true},
		{"plain-bad", []string{"AUTH PLAIN " + b64("\x00alice\x00nope")}, false},
		{"plain-challenge", []string{"AUTH PLAIN", b64("\x00alice\x00pw")}, true},
		{"login", []string{"AUTH LOGIN", b64("alice"), b64("pw")}, true},
		{"xoauth2", []string{"AUTH XOAUTH2 " + b64("user=alice\x01auth=Bearer tok\x01\x01")}, true},
		{"xoauth2-bad", []string{"AUTH XOAUTH2 " + b64("user=alice\x01auth=Bearer old\x01\x01"), ""}, false},
		{"oauthbearer", []string{"AUTH OAUTHBEARER " + b64("n,a=alice,\x01host=x\x01auth=Bearer tok\x01\x01")}, true},
		{"cancel", []string{"AUTH LOGIN", "*"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Start(t, newMemBox(msgPlain), opts)
			c := dialRaw(t, s)
			c.line()
			var last string
			for i, step := range tc.steps {
				last = c.cmd(step)
				if i < len(tc.steps)-1 {
					require.True(t, strings.HasPrefix(last, "+ "), "continuation expected, got %q", last)
				}
			}
			if tc.ok {
				assert.True(t, strings.HasPrefix(last, "+OK alice has 1"), last)
			} else {
				assert.True(t, strings.HasPrefix(last, "-ERR"), last)
			}
			for _, cmd := range s.Commands() {
				assert.NotContains(t, cmd, "pw")
				assert.NotContains(t, cmd, "tok")
			}
		})
	}
}

func TestSwitchesWithholdExtensions(t *testing.T) {
	s := Start(t, newMemBox(msgPlain), &Options{NoUIDL: true, NoTOP: true, NoPipelining: true, NoSTLS: true})
	c := dialRaw(t, s)
	c.line()
	require.True(t, strings.HasPrefix(c.cmd("CAPA"), "+OK"))
	capa := string(c.multi())
	for _, ext := range []string{"UIDL", "TOP", "PIPELINING", "STLS"} {
		assert.NotContains(t, capa, ext+"\r\n")
	}
	assert.True(t, strings.HasPrefix(c.cmd("STLS"), "-ERR"))
	c.cmd("USER user")
	c.cmd("PASS pass")
	assert.True(t, strings.HasPrefix(c.cmd("UIDL"), "-ERR"))
	assert.True(t, strings.HasPrefix(c.cmd("TOP 1 0"), "-ERR"))

	s2 := Start(t, newMemBox(), &Options{NoCAPA: true, NoAPOP: true})
	c2 := dialRaw(t, s2)
	assert.NotContains(t, c2.line(), "<", "no APOP timestamp")
	assert.True(t, strings.HasPrefix(c2.cmd("CAPA"), "-ERR"))
}

func TestLoginErrorAndErrorFault(t *testing.T) {
	s := Start(t, newMemBox(), &Options{LoginError: "[SYS/TEMP] try later"})
	c := dialRaw(t, s)
	c.line()
	c.cmd("USER user")
	assert.Equal(t, "-ERR [SYS/TEMP] try later", c.cmd("PASS pass"))

	s2 := Start(t, newMemBox(msgPlain), &Options{Faults: []Fault{{Command: "LIST", Action: FaultError, Text: "[SYS/TEMP] busy", Times: 1}}})
	c2 := dialRaw(t, s2)
	c2.login("user", "pass")
	assert.Equal(t, "-ERR [SYS/TEMP] busy", c2.cmd("LIST"))
	assert.Equal(t, fmt.Sprintf("+OK 1 %d", len(msgPlain)), c2.cmd("LIST 1"), "Times: 1 fires once")
}

func TestFaultDropMidRetr(t *testing.T) {
	body := "Subject: big\r\n\r\n" + strings.Repeat("0123456789\r\n", 1000)
	s := Start(t, newMemBox(body), &Options{Faults: []Fault{{Command: "RETR", Action: FaultDrop, After: 100}}})
	c := dialRaw(t, s)
	c.login("user", "pass")
	require.True(t, strings.HasPrefix(c.cmd("RETR 1"), "+OK"))
	rest, err := io.ReadAll(c.br)
	require.NoError(t, err, "the server closed the connection")
	assert.Equal(t, body[:100], string(rest), "exactly After bytes, then EOF, no terminator")
}

func TestFaultGarbageEndlessLineAndBody(t *testing.T) {
	s := Start(t, newMemBox(msgPlain), &Options{Users: map[string]string{"user": "pass", "u2": "pass"}, Faults: []Fault{
		{Command: "NOOP", Action: FaultGarbage},
		{Command: "STAT", Action: FaultEndlessLine},
		{Command: "RETR", Action: FaultEndlessBody},
	}})
	c := dialRaw(t, s)
	c.login("user", "pass")
	g := c.cmd("NOOP")
	assert.False(t, strings.HasPrefix(g, "+OK") || strings.HasPrefix(g, "-ERR"), g)

	c.send("STAT")
	buf := make([]byte, 1<<20)
	n, err := io.ReadFull(c.br, buf)
	require.NoError(t, err)
	assert.Equal(t, "+OK xxxx", string(buf[:8]))
	assert.NotContains(t, string(buf[:n]), "\n", "1 MiB and still no end of line")

	c2 := dialRaw(t, s)
	c2.login("u2", "pass")
	require.True(t, strings.HasPrefix(c2.cmd("RETR 1"), "+OK"))
	n, err = io.ReadFull(c2.br, buf)
	require.NoError(t, err)
	assert.NotContains(t, string(buf[:n]), "\r\n.\r\n", "1 MiB and no terminator")
}

func TestGreetingFaultAndSkip(t *testing.T) {
	s := Start(t, newMemBox(), &Options{Faults: []Fault{{Command: GreetingCommand, Action: FaultError, Text: "[SYS/TEMP] go away", Skip: 1, Times: 1}}})
	assert.True(t, strings.HasPrefix(dialRaw(t, s).line(), "+OK"), "first greeting skipped")
	assert.Equal(t, "-ERR [SYS/TEMP] go away", dialRaw(t, s).line())
	assert.True(t, strings.HasPrefix(dialRaw(t, s).line(), "+OK"), "fired once")
}

func TestLyingSizes(t *testing.T) {
	s := Start(t, newMemBox(msgPlain), &Options{SizeDelta: -10})
	c := dialRaw(t, s)
	c.login("user", "pass")
	assert.Equal(t, fmt.Sprintf("+OK 1 %d", len(msgPlain)-10), c.cmd("LIST 1"))
	require.True(t, strings.HasPrefix(c.cmd("RETR 1"), "+OK"))
	assert.Equal(t, msgPlain, string(c.multi()))
}

func TestBareLFAndMissingFinalNewline(t *testing.T) {
	// Bytes go out as stored (a bare LF stays a bare LF and still starts a
	// line for dot-stuffing); a message without a final line end gets CRLF
	// before the terminator, as the protocol needs.
	s := Start(t, newMemBox("Subject: lf\n\n.dot\nno final newline"), nil)
	c := dialRaw(t, s)
	c.login("user", "pass")
	require.True(t, strings.HasPrefix(c.cmd("RETR 1"), "+OK"))
	assert.Equal(t, "Subject: lf\n\n.dot\nno final newline\r\n", string(c.multi()))
}

func TestLatencyDelaysResponses(t *testing.T) {
	// Behaviour, not timing: the answer does not arrive within a deadline
	// far shorter than the latency, and does arrive later.
	s := Start(t, newMemBox(), &Options{Latency: 300 * time.Millisecond})
	c := dialRaw(t, s)
	c.line()
	c.send("CAPA")
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.br.ReadByte()
	require.Error(t, err)
	c2 := dialRaw(t, s)
	assert.True(t, strings.HasPrefix(c2.line(), "+OK"))
}

// A fault with Arg fires only for that argument, in every session, and
// only those commands count for Skip.
func TestFaultArgMatchesOneMessage(t *testing.T) {
	s := Start(t, newMemBox(msgPlain, msgPlain, msgPlain), &Options{Users: map[string]string{"user": "pass", "u2": "pass"},
		Faults: []Fault{{Command: "LIST", Arg: "2", Action: FaultError, Text: "[SYS/TEMP] not this one", Skip: 1}}})
	for _, user := range []string{"user", "u2"} {
		c := dialRaw(t, s)
		c.login(user, "pass")
		assert.True(t, strings.HasPrefix(c.cmd("LIST 1"), "+OK"), "another argument is not matched")
		assert.True(t, strings.HasPrefix(c.cmd("LIST 3"), "+OK"))
		got := c.cmd("LIST 2")
		if user == "user" {
			assert.True(t, strings.HasPrefix(got, "+OK"), "the first LIST 2 is skipped: %s", got)
			assert.Equal(t, "-ERR [SYS/TEMP] not this one", c.cmd("LIST 2"))
		} else {
			assert.Equal(t, "-ERR [SYS/TEMP] not this one", got, "and it fires in a later session too")
		}
		c.cmd("QUIT")
	}
}
