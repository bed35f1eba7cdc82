package popa3dtest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServerSpeaksPOP3FromItsMbox(t *testing.T) {
	s := Start(t)
	msgs := [][]byte{
		[]byte("Subject: one\n\nbody\n.dot\n"),
		[]byte("Subject: two\r\n\r\nCRLF stored as LF\r\n"),
	}
	require.NoError(t, s.SetMessages(msgs...))
	got, err := s.Messages()
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "Subject: one\r\n\r\nbody\r\n.dot\r\n", string(got[0]))
	assert.Equal(t, string(Wire(msgs[1])), string(got[1]))

	conn, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	br := bufio.NewReader(conn)
	line := func() string {
		l, err := br.ReadString('\n')
		require.NoError(t, err)
		return strings.TrimRight(l, "\r\n")
	}
	cmd := func(c string) string {
		fmt.Fprintf(conn, "%s\r\n", c)
		return line()
	}
	require.True(t, strings.HasPrefix(line(), "+OK"))
	require.True(t, strings.HasPrefix(cmd("USER "+User), "+OK"))
	require.True(t, strings.HasPrefix(cmd("PASS "+Password), "+OK"), "PAM in the private root accepts the password")
	assert.Equal(t, fmt.Sprintf("+OK 1 %d", len(got[0])), cmd("LIST 1"))
	require.True(t, strings.HasPrefix(cmd("RETR 1"), "+OK"))
	var body strings.Builder
	for {
		l := line()
		if l == "." {
			break
		}
		body.WriteString(strings.TrimPrefix(l, ".") + "\r\n")
	}
	assert.Equal(t, string(got[0]), body.String())
	require.True(t, strings.HasPrefix(cmd("DELE 2"), "+OK"))
	require.True(t, strings.HasPrefix(cmd("QUIT"), "+OK"))
	left, err := s.Messages()
	require.NoError(t, err)
	assert.Equal(t, got[:1], left, "QUIT applied the DELE to the mbox")
	assert.Equal(t, 1, s.Sessions())
}

func TestWrongPasswordRefused(t *testing.T) {
	s := Start(t)
	conn, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	br := bufio.NewReader(conn)
	_, _ = br.ReadString('\n')
	fmt.Fprintf(conn, "USER %s\r\nPASS wrong\r\n", User)
	_, _ = br.ReadString('\n')
	l, _ := br.ReadString('\n')
	assert.True(t, strings.HasPrefix(l, "-ERR"), l)
}

func TestSetMessagesRefusesWhatMboxCannotHold(t *testing.T) {
	s := Start(t)
	assert.Error(t, s.SetMessages([]byte("Subject: x\n\nFrom here on\n")))
	assert.Error(t, s.SetMessages([]byte("Subject: x\n\nno final line end")))
}
