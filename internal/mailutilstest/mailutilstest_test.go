package mailutilstest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// dialLines connects to addr and returns a function that sends a command
// (unless empty) and reads one line.
func dialLines(t *testing.T, addr string) func(cmd string) string {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
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

func TestServersLogInAndServeTheMaildir(t *testing.T) {
	s := Start(t)
	user, err := s.AddUser("smoke", [][]byte{[]byte("Subject: one\r\n\r\nbody\r\n")})
	require.NoError(t, err)

	pop := dialLines(t, s.POP3Addr)
	require.True(t, strings.HasPrefix(pop(""), "+OK"))
	require.True(t, strings.HasPrefix(pop("USER "+user), "+OK"))
	l := pop("PASS " + Password)
	require.True(t, strings.HasPrefix(l, "+OK"), "%s\n%s", l, s.Log())
	require.Equal(t, "+OK 1 22", pop("LIST 1"), "the size with CRLF line ends\n%s", s.Log())
	require.True(t, strings.HasPrefix(pop("QUIT"), "+OK"))

	imap := dialLines(t, s.IMAPAddr)
	require.True(t, strings.HasPrefix(imap(""), "* OK"))
	l = imap("a LOGIN " + user + " " + Password)
	for strings.HasPrefix(l, "* ") {
		l = imap("")
	}
	require.True(t, strings.HasPrefix(l, "a OK"), "%s\n%s", l, s.Log())
	l = imap("b SELECT INBOX")
	var lines []string
	for strings.HasPrefix(l, "* ") {
		lines = append(lines, l)
		l = imap("")
	}
	require.True(t, strings.HasPrefix(l, "b OK"), "%s %v\n%s", l, lines, s.Log())
	require.Contains(t, lines, "* 1 EXISTS")
}
