package pop3wire

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stuff dot-stuffs data as a server would and appends the terminator. Data
// not ending in LF gets a CRLF first (as a server must end the last line);
// the returned want is what an unstuffing reader must yield.
func stuff(data []byte) (wire, want []byte) {
	want = data
	if len(want) > 0 && want[len(want)-1] != '\n' {
		want = append(append([]byte{}, want...), '\r', '\n')
	}
	var b bytes.Buffer
	atStart := true
	for _, c := range want {
		if atStart && c == '.' {
			b.WriteByte('.')
		}
		b.WriteByte(c)
		atStart = c == '\n'
	}
	b.WriteString(".\r\n")
	return b.Bytes(), want
}

// srv is the server side of a scripted fake POP3 session.
type srv struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader

	mu    sync.Mutex
	reads []string // raw chunks as read (to observe batching)
}

// readLine reads one command line from the client (without CRLF).
func (s *srv) readLine() (string, bool) {
	l, err := s.br.ReadString('\n')
	if err != nil {
		return "", false
	}
	return strings.TrimRight(l, "\r\n"), true
}

func (s *srv) expect(want string) bool {
	got, ok := s.readLine()
	if !ok {
		s.t.Errorf("server: connection ended, expected %q", want)
		return false
	}
	if got != want {
		s.t.Errorf("server: got command %q, want %q", got, want)
		return false
	}
	return true
}

func (s *srv) send(lines ...string) {
	for _, l := range lines {
		if _, err := s.conn.Write([]byte(l + "\r\n")); err != nil {
			return
		}
	}
}

func (s *srv) sendRaw(b []byte) { _, _ = s.conn.Write(b) }

// recordingConn records the chunks each Read returns.
type recordingConn struct {
	net.Conn
	s *srv
}

func (r recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if n > 0 {
		r.s.mu.Lock()
		r.s.reads = append(r.s.reads, string(p[:n]))
		r.s.mu.Unlock()
	}
	return n, err
}

// serve starts a loopback listener whose single connection runs script and
// returns the client-side connection. The test waits for the script.
func serve(t testing.TB, script func(s *srv)) (net.Conn, *srv) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &srv{t: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		defer conn.Close()
		s.conn = conn
		s.br = bufio.NewReader(recordingConn{conn, s})
		script(s)
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() {
		conn.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("fake server did not finish")
		}
	})
	return conn, s
}

// connect runs script (after sending a greeting) and returns a Client.
func connect(t *testing.T, script func(s *srv)) (*Client, *srv) {
	t.Helper()
	conn, s := serve(t, func(s *srv) {
		s.send("+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>")
		script(s)
	})
	c, err := NewClient(testCtx(t), conn, &Options{Timeout: 10 * time.Second})
	require.NoError(t, err)
	return c, s
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connectOpts is connect with client options.
func connectOpts(t *testing.T, opts *Options, script func(s *srv)) (*Client, *srv) {
	t.Helper()
	conn, s := serve(t, func(s *srv) {
		s.send("+OK POP3 ready")
		script(s)
	})
	c, err := NewClient(testCtx(t), conn, opts)
	require.NoError(t, err)
	return c, s
}
