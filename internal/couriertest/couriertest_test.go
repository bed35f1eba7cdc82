package couriertest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lines wraps a connection: a function that sends a command (unless
// empty) and reads one line.
func lines(t *testing.T, conn net.Conn) func(cmd string) string {
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	br := bufio.NewReader(conn)
	return func(cmd string) string {
		if cmd != "" {
			fmt.Fprintf(conn, "%s\r\n", cmd)
		}
		l, err := br.ReadString('\n')
		require.NoError(t, err)
		return strings.TrimRight(l, "\r\n")
	}
}

func dial(t *testing.T, addr string, implicitTLS bool, s *Server) net.Conn {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	if implicitTLS {
		cfg := s.TLSConfig()
		cfg.ServerName = "localhost"
		tc := tls.Client(conn, cfg)
		require.NoError(t, tc.Handshake(), "TLS handshake\n%s", s.Log())
		return tc
	}
	return conn
}

// untilTagged reads lines until the tagged one, returning it and the
// untagged ones before.
func untilTagged(read func(string) string, cmd, tag string) (string, []string) {
	var before []string
	l := read(cmd)
	for strings.HasPrefix(l, "* ") {
		before = append(before, l)
		l = read("")
	}
	return l, before
}

// The servers greet, log a user in with Password (authdaemond, PAM) and
// serve the Maildir seeded, on the plain ports and the implicit-TLS ones:
// POP3 lists the size with CRLF line ends, IMAP finds the message.
func TestServersLogInAndServeTheMaildir(t *testing.T) {
	s := Start(t)
	user, err := s.AddUser("smoke", [][]byte{[]byte("Subject: one\r\n\r\nbody\r\n")})
	require.NoError(t, err)

	for _, tc := range []struct {
		addr        string
		implicitTLS bool
	}{{s.POP3Addr, false}, {s.POP3SAddr, true}} {
		pop := lines(t, dial(t, tc.addr, tc.implicitTLS, s))
		require.True(t, strings.HasPrefix(pop(""), "+OK"))
		require.True(t, strings.HasPrefix(pop("USER "+user), "+OK"))
		l := pop("PASS " + Password)
		require.True(t, strings.HasPrefix(l, "+OK"), "%s\n%s", l, s.Log())
		require.Equal(t, "+OK 1 22", pop("LIST 1"), "the size with CRLF line ends\n%s", s.Log())
		require.True(t, strings.HasPrefix(pop("QUIT"), "+OK"))
	}

	for _, tc := range []struct {
		addr        string
		implicitTLS bool
	}{{s.IMAPAddr, false}, {s.IMAPSAddr, true}} {
		imap := lines(t, dial(t, tc.addr, tc.implicitTLS, s))
		require.True(t, strings.HasPrefix(imap(""), "* OK"))
		l, _ := untilTagged(imap, "a LOGIN "+user+" "+Password, "a")
		require.True(t, strings.HasPrefix(l, "a OK"), "%s\n%s", l, s.Log())
		l, untagged := untilTagged(imap, "b SELECT INBOX", "b")
		require.True(t, strings.HasPrefix(l, "b OK"), "%s %v\n%s", l, untagged, s.Log())
		require.Contains(t, untagged, "* 1 EXISTS")
		for _, u := range untagged {
			require.NotContains(t, u, "ALERT", "imapd reports a problem: %v\n%s", untagged, s.Log())
		}
	}
}
