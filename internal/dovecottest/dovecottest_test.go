package dovecottest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// conn is a minimal line-oriented protocol client for the smoke tests.
type conn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string, tlsCfg *tls.Config) *conn {
	t.Helper()
	var c net.Conn
	var err error
	d := &net.Dialer{Timeout: 5 * time.Second}
	if tlsCfg != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, tlsCfg)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	t.Cleanup(func() { c.Close() })
	return &conn{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *conn) line() string {
	c.t.Helper()
	l, err := c.br.ReadString('\n')
	require.NoError(c.t, err)
	require.True(c.t, strings.HasSuffix(l, "\r\n"), "line %q lacks CRLF", l)
	return strings.TrimSuffix(l, "\r\n")
}

func (c *conn) send(s string) {
	c.t.Helper()
	_, err := io.WriteString(c.c, s+"\r\n")
	require.NoError(c.t, err)
}

// startTLS upgrades the connection, verifying the certificate.
func (c *conn) startTLS(cfg *tls.Config) {
	c.t.Helper()
	require.Zero(c.t, c.br.Buffered())
	tc := tls.Client(c.c, cfg)
	require.NoError(c.t, tc.Handshake())
	c.c, c.br = tc, bufio.NewReader(tc)
}

// imap sends a tagged command and returns the untagged lines; the
// tagged response must be OK.
func (c *conn) imap(tag, cmd string) []string {
	c.t.Helper()
	c.send(tag + " " + cmd)
	var untagged []string
	for {
		l := c.line()
		if strings.HasPrefix(l, tag+" ") {
			require.True(c.t, strings.HasPrefix(l, tag+" OK"), "%s %s: %s", tag, cmd, l)
			return untagged
		}
		untagged = append(untagged, l)
	}
}

// pop3 sends a command and returns the +OK line.
func (c *conn) pop3(cmd string) string {
	c.t.Helper()
	c.send(cmd)
	l := c.line()
	require.True(c.t, strings.HasPrefix(l, "+OK"), "%s: %s", cmd, l)
	return l
}

// pop3Multi reads a dot-terminated multi-line response, undoing dot
// stuffing, and returns the payload with CRLF line endings.
func (c *conn) pop3Multi() []byte {
	c.t.Helper()
	var out []byte
	for {
		l, err := c.br.ReadBytes('\n')
		require.NoError(c.t, err)
		if string(l) == ".\r\n" {
			return out
		}
		if l[0] == '.' {
			l = l[1:]
		}
		out = append(out, l...)
	}
}

func edgeRaw() [][]byte {
	var msgs [][]byte
	for _, m := range corpus.EdgeCases() {
		msgs = append(msgs, m.Raw)
	}
	return msgs
}

func uniqueUser(t *testing.T) string {
	return fmt.Sprintf("u%d-%s", time.Now().UnixNano()%1e6, strings.NewReplacer("/", "-", "#", "-").Replace(t.Name()))
}

func TestSmokeAllPorts(t *testing.T) {
	s := Start(t, nil)
	msgs := edgeRaw()[:4]
	user := uniqueUser(t)
	require.NoError(t, s.AddUser(user, "secret pw", msgs))
	want := strconv.Itoa(len(msgs))

	imapSession := func(t *testing.T, c *conn, starttls bool) {
		require.True(t, strings.HasPrefix(c.line(), "* OK"))
		if starttls {
			c.imap("a0", "STARTTLS")
			c.startTLS(s.TLSConfig())
		}
		c.imap("a1", `LOGIN "`+user+`" "secret pw"`)
		caps := strings.Join(c.imap("a2", "CAPABILITY"), " ")
		assert.Contains(t, caps, "IDLE")
		assert.Contains(t, caps, "CONDSTORE")
		sel := c.imap("a3", "SELECT INBOX")
		assert.Contains(t, sel, "* "+want+" EXISTS")
		c.imap("a4", "LOGOUT")
	}
	pop3Session := func(t *testing.T, c *conn, stls bool) {
		require.True(t, strings.HasPrefix(c.line(), "+OK"))
		if stls {
			c.pop3("STLS")
			c.startTLS(s.TLSConfig())
		}
		c.pop3("USER " + user)
		c.pop3("PASS secret pw")
		stat := c.pop3("STAT")
		assert.Regexp(t, `^\+OK `+want+` \d+$`, stat)
		c.pop3("QUIT")
	}
	t.Run("imap-starttls", func(t *testing.T) { imapSession(t, dial(t, s.IMAPAddr, nil), true) })
	t.Run("imaps", func(t *testing.T) { imapSession(t, dial(t, s.IMAPSAddr, s.TLSConfig()), false) })
	t.Run("pop3-stls", func(t *testing.T) { pop3Session(t, dial(t, s.POP3Addr, nil), true) })
	t.Run("pop3s", func(t *testing.T) { pop3Session(t, dial(t, s.POP3SAddr, s.TLSConfig()), false) })

	t.Run("untrusted-cert-rejected", func(t *testing.T) {
		_, err := tls.Dial("tcp", s.IMAPSAddr, &tls.Config{ServerName: "localhost"})
		require.Error(t, err)
	})
	t.Run("wrong-password", func(t *testing.T) {
		c := dial(t, s.POP3SAddr, s.TLSConfig())
		c.line()
		c.pop3("USER " + user)
		c.send("PASS wrong")
		assert.True(t, strings.HasPrefix(c.line(), "-ERR"))
	})
}

// TestPOP3RetrMatchesCorpus fetches every edge case over POP3 and
// compares it with corpus.Normalize(raw) byte for byte.
func TestPOP3RetrMatchesCorpus(t *testing.T) {
	s := Start(t, nil)
	edges := corpus.EdgeCases()
	user := uniqueUser(t)
	require.NoError(t, s.AddUser(user, "pw", edgeRaw()))

	c := dial(t, s.POP3SAddr, s.TLSConfig())
	c.line()
	c.pop3("USER " + user)
	c.pop3("PASS pw")
	assert.Regexp(t, fmt.Sprintf(`^\+OK %d \d+$`, len(edges)), c.pop3("STAT"))

	c.pop3("LIST")
	sizes := map[int]int{}
	for _, l := range strings.Split(strings.TrimSuffix(string(c.pop3Multi()), "\r\n"), "\r\n") {
		var n, size int
		_, err := fmt.Sscanf(l, "%d %d", &n, &size)
		require.NoError(t, err)
		sizes[n] = size
	}
	c.pop3("UIDL")
	// pop3_uidl_format %08Xu%08Xv: Dovecot's %X is lowercase hex, so a
	// UIDL is the IMAP UID then UIDVALIDITY, 8 lowercase hex digits each.
	uidl := regexp.MustCompile(`^(\d+) ([0-9a-f]{8})([0-9a-f]{8})$`)
	uids := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(string(c.pop3Multi()), "\r\n"), "\r\n") {
		m := uidl.FindStringSubmatch(l)
		require.NotNil(t, m, "UIDL line %q", l)
		uids[m[2]+m[3]] = true
		n, _ := strconv.Atoi(m[1])
		assert.Equal(t, fmt.Sprintf("%08x", n), m[2], "first-login UIDs follow delivery order")
	}
	assert.Len(t, uids, len(edges))

	for i, e := range edges {
		c.pop3("RETR " + strconv.Itoa(i+1))
		got := c.pop3Multi()
		want := corpus.Normalize(e.Raw)
		assert.Equal(t, string(want), string(got), e.Name)
		assert.Equal(t, len(want), sizes[i+1], "LIST size of %s", e.Name)
	}
	c.pop3("QUIT")
}

// TestIMAPFetchMatchesCorpus fetches every edge case with BODY.PEEK[]
// and RFC822.SIZE.
func TestIMAPFetchMatchesCorpus(t *testing.T) {
	s := Start(t, nil)
	edges := corpus.EdgeCases()
	user := uniqueUser(t)
	require.NoError(t, s.AddUser(user, "pw", edgeRaw()))

	c := dial(t, s.IMAPSAddr, s.TLSConfig())
	c.line()
	c.imap("a1", "LOGIN "+user+" pw")
	c.imap("a2", "SELECT INBOX")
	lit := regexp.MustCompile(`^\* (\d+) FETCH \(RFC822\.SIZE (\d+) BODY\[\] \{(\d+)\}$`)
	for i, e := range edges {
		c.send(fmt.Sprintf("f%d FETCH %d (RFC822.SIZE BODY.PEEK[])", i, i+1))
		m := lit.FindStringSubmatch(c.line())
		require.NotNil(t, m, e.Name)
		n, _ := strconv.Atoi(m[3])
		body := make([]byte, n)
		_, err := io.ReadFull(c.br, body)
		require.NoError(t, err)
		assert.Equal(t, ")", c.line())
		assert.True(t, strings.HasPrefix(c.line(), fmt.Sprintf("f%d OK", i)))
		want := corpus.Normalize(e.Raw)
		assert.Equal(t, string(want), string(body), e.Name)
		assert.Equal(t, strconv.Itoa(len(want)), m[2], "RFC822.SIZE of %s", e.Name)
	}
	c.imap("a3", "LOGOUT")
}

func TestAddMessagesAndUsersIndependent(t *testing.T) {
	s := Start(t, nil)
	require.NoError(t, s.AddUser("alice", "a", nil))
	require.NoError(t, s.AddUser("bob", "b", edgeRaw()[:2]))
	require.Error(t, s.AddUser("alice", "x", nil))
	require.Error(t, s.AddUser("../evil", "x", nil))
	require.Error(t, s.AddMessages("nobody", nil))

	stat := func(user, pw string) string {
		c := dial(t, s.POP3Addr, nil)
		c.line()
		c.pop3("USER " + user)
		c.pop3("PASS " + pw)
		st := c.pop3("STAT")
		c.pop3("QUIT")
		return st
	}
	assert.Equal(t, "+OK 0 0", stat("alice", "a"))
	assert.Regexp(t, `^\+OK 2 `, stat("bob", "b"))

	// Deliver while bob is logged in over IMAP; NOOP sees the new mail.
	c := dial(t, s.IMAPAddr, nil)
	c.line()
	c.imap("a1", "LOGIN bob b")
	assert.Contains(t, c.imap("a2", "SELECT INBOX"), "* 2 EXISTS")
	require.NoError(t, s.AddMessages("bob", edgeRaw()[2:5]))
	assert.Contains(t, c.imap("a3", "NOOP"), "* 5 EXISTS")
	c.imap("a4", "LOGOUT")
	assert.Equal(t, "+OK 0 0", stat("alice", "a"))
}

func TestParallelServersAndClose(t *testing.T) {
	servers := make([]*Server, 3)
	errs := make(chan error, len(servers))
	for i := range servers {
		go func() {
			s, err := NewServer(nil)
			servers[i] = s
			errs <- err
		}()
	}
	for range servers {
		require.NoError(t, <-errs)
	}
	addrs := map[string]bool{}
	for _, s := range servers {
		for _, a := range []string{s.IMAPAddr, s.IMAPSAddr, s.POP3Addr, s.POP3SAddr} {
			assert.False(t, addrs[a], "address %s shared", a)
			addrs[a] = true
		}
	}
	for _, s := range servers {
		pid := masterPID(s.Dir)
		require.True(t, alive(pid))
		require.NoError(t, s.Close())
		assert.False(t, alive(pid), "master still running after Close")
		_, err := os.Stat(s.Dir)
		assert.True(t, os.IsNotExist(err))
		_, err = net.DialTimeout("tcp", s.IMAPAddr, time.Second)
		assert.Error(t, err)
		require.NoError(t, s.Close(), "second Close")
	}
}

func TestExtraConfigAndLargeMessage(t *testing.T) {
	s := Start(t, &Options{ExtraConfig: []string{"login_greeting = dovecottest ready"}})
	require.NoError(t, s.AddUser("big", "pw", nil))
	const size = 5 << 20
	require.NoError(t, s.AddMessageReader("BIG", corpus.Large(3, size)))
	require.Error(t, s.AddMessageReader("nobody", strings.NewReader("x")))

	c := dial(t, s.POP3Addr, nil)
	assert.Equal(t, "+OK dovecottest ready", c.line())
	c.pop3("USER big")
	c.pop3("PASS pw")
	assert.Equal(t, fmt.Sprintf("+OK 1 %d", size), c.pop3("STAT"))
	c.pop3("RETR 1")
	got := c.pop3Multi()
	want, err := io.ReadAll(corpus.Large(3, size))
	require.NoError(t, err)
	assert.True(t, string(want) == string(got), "large message differs")
	c.pop3("QUIT")
}

func TestReapStale(t *testing.T) {
	s, err := NewServer(nil)
	require.NoError(t, err)
	defer s.Close()
	// Pretend the owner was a test binary that died without cleanup.
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	require.NoError(t, os.WriteFile(filepath.Join(s.Dir, "owner.pid"), []byte(strconv.Itoa(dead.Process.Pid)), 0o644))
	pid := masterPID(s.Dir)
	require.True(t, alive(pid))
	reapStale()
	assert.False(t, alive(pid))
	_, err = os.Stat(s.Dir)
	assert.True(t, os.IsNotExist(err))
}

// A user added right after another user's login can log in at once.
// Dovecot re-reads a shared passwd-file at most once a second, which made
// every other fresh user fail with "[AUTH] Authentication failed"; the
// harness keeps one passwd file per user.
func TestUserAddedRightAfterLoginCanLogIn(t *testing.T) {
	s := Start(t, nil)
	login := func(user, pw string) string {
		c := dial(t, s.POP3Addr, nil)
		c.line()
		c.pop3("USER " + user)
		r := c.pop3("PASS " + pw)
		c.pop3("QUIT")
		return r
	}
	for i := range 6 {
		user := fmt.Sprintf("burst%d", i)
		require.NoError(t, s.AddUser(user, "pw", nil))
		assert.Regexp(t, `^\+OK`, login(user, "pw"), user)
	}
}
