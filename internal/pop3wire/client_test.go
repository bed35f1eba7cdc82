package pop3wire

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/mailaccess/go-mailaccess/internal/saslx"
	"github.com/mailaccess/go-mailaccess/internal/testcert"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGreetingAndLogin(t *testing.T) {
	var trace bytes.Buffer
	conn, _ := serve(t, func(s *srv) {
		s.send("+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>")
		s.expect("USER bob")
		s.send("+OK")
		s.expect("PASS hunter2")
		s.send("+OK maildrop locked and ready")
		s.expect("STAT")
		s.send("+OK 2 320")
		s.expect("QUIT")
		s.send("+OK bye")
	})
	ctx := testCtx(t)
	c, err := NewClient(ctx, conn, &Options{Trace: &trace})
	require.NoError(t, err)
	assert.Equal(t, "POP3 ready <1896.697170952@dbc.mtview.ca.us>", c.Greeting())
	assert.Equal(t, "<1896.697170952@dbc.mtview.ca.us>", c.APOPTimestamp())
	require.NoError(t, c.Login(ctx, "bob", "hunter2"))
	n, size, err := c.Stat(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, int64(320), size)
	require.NoError(t, c.Quit(ctx))
	assert.ErrorIs(t, c.Noop(ctx), ErrBroken)
	assert.NotContains(t, trace.String(), "hunter2")
	assert.Contains(t, trace.String(), "C: PASS <redacted>")
	assert.Contains(t, trace.String(), "C: USER bob")
}

func TestGarbageGreeting(t *testing.T) {
	for _, g := range []string{"HELLO THERE", "-ERR [SYS/TEMP] go away", "+ ", "\x00\x01\x02"} {
		conn, _ := serve(t, func(s *srv) { s.send(g) })
		_, err := NewClient(testCtx(t), conn, nil)
		require.Error(t, err, "%q", g)
	}
	conn, _ := serve(t, func(s *srv) { s.send("-ERR [SYS/TEMP] go away") })
	_, err := NewClient(testCtx(t), conn, nil)
	assert.True(t, IsTemporary(err), "%v", err)
}

func TestEndlessStatusLine(t *testing.T) {
	conn, _ := serve(t, func(s *srv) {
		chunk := bytes.Repeat([]byte("A"), 4096)
		for i := 0; i < 1024; i++ { // 4 MiB, or until the client gives up
			if _, err := s.conn.Write(chunk); err != nil {
				return
			}
		}
	})
	_, err := NewClient(testCtx(t), conn, nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrLineTooLong)
}

func TestArgumentsWithCRLFNULRejected(t *testing.T) {
	c, s := connect(t, func(s *srv) {
		s.expect("NOOP")
		s.send("+OK")
	})
	ctx := testCtx(t)
	for _, bad := range []string{"bob\r\nDELE 1", "bob\n", "bo\rb", "b\x00b"} {
		assert.ErrorIs(t, c.User(ctx, bad), ErrInvalidArgument)
		assert.ErrorIs(t, c.Pass(ctx, bad), ErrInvalidArgument)
		assert.ErrorIs(t, c.Login(ctx, "ok", bad), ErrInvalidArgument)
		assert.ErrorIs(t, c.Login(ctx, bad, "ok"), ErrInvalidArgument)
		assert.ErrorIs(t, c.APOP(ctx, bad, "x"), ErrInvalidArgument)
		assert.ErrorIs(t, c.APOP(ctx, "bob", bad), ErrInvalidArgument)
		assert.ErrorIs(t, c.Auth(ctx, badMech{bad}), ErrInvalidArgument)
	}
	require.NoError(t, c.Noop(ctx))
	// Only the NOOP reached the wire.
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.NotContains(t, strings.Join(s.reads, ""), "USER")
}

type badMech struct{ mech string }

func (b badMech) Start() (string, []byte, error) { return b.mech, nil, nil }
func (b badMech) Next([]byte) ([]byte, error)    { return nil, nil }

func TestErrorsAndRespCodes(t *testing.T) {
	c, _ := connect(t, func(s *srv) {
		s.expect("USER bob")
		s.send("+OK")
		s.expect("PASS s3cret")
		s.send("-ERR [IN-USE] Mailbox is \x01locked")
		s.expect("USER bob")
		s.send("+OK")
		s.expect("PASS s3cret")
		s.send("-ERR [AUTH] Authentication failed.")
		s.expect("USER bob")
		s.send("+OK")
		s.expect("PASS s3cret")
		s.send("-ERR [LOGIN-DELAY] wait 900s")
		s.expect("NOOP")
		s.send("+OK")
	})
	ctx := testCtx(t)
	err := c.Login(ctx, "bob", "s3cret")
	var pe *Error
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, "IN-USE", pe.Code)
	assert.Equal(t, "PASS <redacted>", pe.Command)
	assert.True(t, IsMailboxLocked(err))
	assert.False(t, IsAuthFailure(err))
	assert.NotContains(t, err.Error(), "s3cret")

	err = c.Login(ctx, "bob", "s3cret")
	assert.True(t, IsAuthFailure(err))
	err = c.Login(ctx, "bob", "s3cret")
	assert.True(t, IsTemporary(err))
	require.NoError(t, c.Noop(ctx)) // -ERR does not break the connection
}

func TestListAndUIDL(t *testing.T) {
	c, _ := connect(t, func(s *srv) {
		s.expect("LIST")
		s.send("+OK 2 messages", "1 120", "2 200 extra", ".")
		s.expect("UIDL")
		s.send("+OK", "1 whqtswO00WBw418f9t5JxYwZ", "2 QhdPYR:00WBw1Ph7x7", ".")
		s.expect("LIST 2")
		s.send("+OK 2 200")
		s.expect("UIDL 1")
		s.send("+OK 1 abc")
		s.expect("LIST")
		s.send("+OK", "1 120", "2 twohundred", "-3 1", "3 1", ".")
		s.expect("UIDL")
		s.send("+OK", "1 "+strings.Repeat("u", 71), ".")
		s.expect("UIDL")
		s.send("+OK", "garbage", ".")
		s.expect("NOOP")
		s.send("+OK")
	})
	ctx := testCtx(t)
	l, err := c.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, []MessageSize{{1, 120}, {2, 200}}, l)
	u, err := c.UIDL(ctx)
	require.NoError(t, err)
	assert.Equal(t, []MessageUID{{1, "whqtswO00WBw418f9t5JxYwZ"}, {2, "QhdPYR:00WBw1Ph7x7"}}, u)
	one, err := c.ListOne(ctx, 2)
	require.NoError(t, err)
	assert.Equal(t, MessageSize{2, 200}, one)
	uo, err := c.UIDLOne(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, MessageUID{1, "abc"}, uo)

	_, err = c.List(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"2 twohundred"`)
	_, err = c.UIDL(ctx)
	require.Error(t, err)
	_, err = c.UIDL(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "garbage")
	require.NoError(t, c.Noop(ctx)) // still in sync
}

func TestCapa(t *testing.T) {
	c, _ := connect(t, func(s *srv) {
		s.expect("CAPA")
		s.send("+OK", "TOP", "UIDL", "PIPELINING", "STLS", "USER", "RESP-CODES", "AUTH-RESP-CODE",
			"SASL PLAIN xoauth2", "IMPLEMENTATION Dovecot", "EXPIRE 30 USER", "LOGIN-DELAY 900", "X-FOO bar", ".")
	})
	caps, err := c.Capa(testCtx(t))
	require.NoError(t, err)
	assert.True(t, caps.Top && caps.UIDL && caps.Pipelining && caps.STLS && caps.User && caps.RespCodes && caps.AuthRespCode)
	assert.Equal(t, []string{"PLAIN", "XOAUTH2"}, caps.SASL)
	assert.True(t, caps.HasSASL("xoauth2"))
	assert.Equal(t, "Dovecot", caps.Implementation)
	assert.Equal(t, "30 USER", caps.Expire)
	assert.Equal(t, "900", caps.LoginDelay)
	assert.True(t, caps.Has("x-foo"))
	assert.Equal(t, caps, c.Capabilities())
}

func TestRetrStreamAndClose(t *testing.T) {
	msg := "Subject: hi\r\n\r\n.leading dot\r\n.\r\nbare\nLF\r\n" + strings.Repeat("z", 100<<10) + "\r\n"
	wire, _ := stuff([]byte(msg))
	c, _ := connect(t, func(s *srv) {
		s.expect("RETR 1")
		s.send("+OK 10 octets") // lying size
		s.sendRaw(wire)
		s.expect("RETR 2")
		s.send("+OK")
		s.sendRaw(wire)
		s.expect("TOP 1 0")
		s.send("+OK")
		s.sendRaw([]byte("Subject: hi\r\n\r\n.\r\n"))
		s.expect("RETR 9")
		s.send("-ERR no such message")
		s.expect("NOOP")
		s.send("+OK")
	})
	ctx := testCtx(t)
	body, err := c.Retr(ctx, 1)
	require.NoError(t, err)
	assert.ErrorIs(t, c.Noop(ctx), ErrBusy)
	got, err := io.ReadAll(body)
	require.NoError(t, err)
	assert.Equal(t, msg, string(got))
	require.NoError(t, body.Close())

	// Partial read then Close drains.
	body, err = c.Retr(ctx, 2)
	require.NoError(t, err)
	buf := make([]byte, 5)
	_, err = io.ReadFull(body, buf)
	require.NoError(t, err)
	require.NoError(t, body.Close())

	body, err = c.Top(ctx, 1, 0)
	require.NoError(t, err)
	got, err = io.ReadAll(body)
	require.NoError(t, err)
	assert.Equal(t, "Subject: hi\r\n\r\n", string(got))
	require.NoError(t, body.Close())

	_, err = c.Retr(ctx, 9)
	var pe *Error
	require.True(t, errors.As(err, &pe))
	require.NoError(t, c.Noop(ctx))
}

func TestServerClosesMidRetr(t *testing.T) {
	c, _ := connect(t, func(s *srv) {
		s.expect("RETR 1")
		s.send("+OK")
		s.sendRaw([]byte("Subject: x\r\n\r\npartial body"))
	})
	ctx := testCtx(t)
	body, err := c.Retr(ctx, 1)
	require.NoError(t, err)
	_, err = io.ReadAll(body)
	require.Error(t, err)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.ErrorIs(t, body.Close(), ErrBroken)
	assert.ErrorIs(t, c.Noop(ctx), ErrBroken)
}

func TestServerStopsAnswering(t *testing.T) {
	release := make(chan struct{})
	c, _ := connect(t, func(s *srv) {
		s.expect("NOOP")
		<-release
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := c.Noop(ctx) // the server never answers: only the deadline ends it
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, c.Noop(testCtx(t)), ErrBroken)
}

func TestCancelDuringBody(t *testing.T) {
	release := make(chan struct{})
	c, _ := connect(t, func(s *srv) {
		s.expect("RETR 1")
		s.send("+OK", "Subject: x", "")
		<-release
	})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	body, err := c.Retr(ctx, 1)
	require.NoError(t, err)
	_, err = io.ReadFull(body, make([]byte, len("Subject: x\r\n\r\n")))
	require.NoError(t, err)
	// The server sends no more: the cancel ends the read, whether it
	// comes before the read waits or while it does.
	go cancel()
	_, err = io.ReadAll(body)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, body.Close(), ErrBroken)
	assert.ErrorIs(t, c.Noop(testCtx(t)), ErrBroken)
}

func TestPerCommandTimeout(t *testing.T) {
	release := make(chan struct{})
	conn, _ := serve(t, func(s *srv) {
		s.send("+OK hi")
		s.expect("NOOP")
		<-release
	})
	defer close(release)
	c, err := NewClient(testCtx(t), conn, &Options{Timeout: 100 * time.Millisecond})
	require.NoError(t, err)
	err = c.Noop(context.Background())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrBroken)
	assert.ErrorIs(t, err, ErrTimeout)
	var ne net.Error
	assert.True(t, errors.As(err, &ne) && ne.Timeout(), "%v", err)
}

func TestAPOP(t *testing.T) {
	c, _ := connect(t, func(s *srv) {
		// RFC 1939 example: timestamp + "tanstaaf".
		s.expect("APOP mrose c4c9334bac560ecc979e58001b3e22fb")
		s.send("+OK maildrop has 1 message (369 octets)")
	})
	require.NoError(t, c.APOP(testCtx(t), "mrose", "tanstaaf"))

	conn, _ := serve(t, func(s *srv) { s.send("+OK no timestamp") })
	c2, err := NewClient(testCtx(t), conn, nil)
	require.NoError(t, err)
	assert.ErrorIs(t, c2.APOP(testCtx(t), "mrose", "x"), ErrNotSupported)
}

func TestSASLPlain(t *testing.T) {
	c, _ := connect(t, func(s *srv) {
		s.expect("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00bob\x00pw")))
		s.send("+OK logged in")
		// Long initial response goes after an empty challenge (RFC 5034).
		long := strings.Repeat("p", 300)
		s.expect("AUTH PLAIN")
		s.send("+ ")
		s.expect(base64.StdEncoding.EncodeToString([]byte("\x00bob\x00" + long)))
		s.send("-ERR [AUTH] nope")
	})
	ctx := testCtx(t)
	require.NoError(t, c.Auth(ctx, sasl.NewPlainClient("", "bob", "pw")))
	err := c.Auth(ctx, sasl.NewPlainClient("", "bob", strings.Repeat("p", 300)))
	assert.True(t, IsAuthFailure(err))
	assert.NotContains(t, err.Error(), "ppp")
}

func TestSASLXOAUTH2ErrorChallenge(t *testing.T) {
	const token = "ya29.SECRET"
	var trace bytes.Buffer
	conn, _ := serve(t, func(s *srv) {
		s.send("+OK ready")
		s.expect("AUTH XOAUTH2 " + base64.StdEncoding.EncodeToString([]byte("user=bob@example.com\x01auth=Bearer "+token+"\x01\x01")))
		s.send("+ " + base64.StdEncoding.EncodeToString([]byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`)))
		s.expect("")
		s.send("-ERR [AUTH] Invalid credentials")
		s.expect("AUTH XOAUTH2 " + base64.StdEncoding.EncodeToString([]byte("user=bob@example.com\x01auth=Bearer "+token+"\x01\x01")))
		s.send("+ not base64!!")
		s.expect("*")
		s.send("-ERR cancelled")
	})
	c, err := NewClient(testCtx(t), conn, &Options{Trace: &trace})
	require.NoError(t, err)
	err = c.Auth(testCtx(t), saslx.NewXOAUTH2Client("bob@example.com", token))
	require.Error(t, err)
	var xe *saslx.XOAUTH2Error
	require.True(t, errors.As(err, &xe), "%v", err)
	assert.Equal(t, "401", xe.Status)
	assert.True(t, IsAuthFailure(err))
	assert.NotContains(t, err.Error(), token)

	err = c.Auth(testCtx(t), saslx.NewXOAUTH2Client("bob@example.com", token))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrProtocol)
	assert.NotContains(t, trace.String(), token)
	assert.NotContains(t, trace.String(), base64.StdEncoding.EncodeToString([]byte("user=bob@example.com\x01auth=Bearer "+token)))
}

func selfSigned(t *testing.T) tls.Certificate {
	c, err := testcert.Get()
	require.NoError(t, err)
	return c.TLS
}

func TestSTLS(t *testing.T) {
	cert := selfSigned(t)
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	c, _ := connect(t, func(s *srv) {
		s.expect("STLS")
		s.send("+OK begin TLS")
		tc := tls.Server(s.conn, &tls.Config{Certificates: []tls.Certificate{cert}})
		if err := tc.Handshake(); err != nil {
			t.Errorf("server handshake: %v", err)
			return
		}
		s.conn = tc
		s.br.Reset(tc)
		s.expect("CAPA")
		s.send("+OK", "USER", ".")
		s.expect("NOOP")
		s.send("+OK")
	})
	ctx := testCtx(t)
	require.NoError(t, c.StartTLS(ctx, &tls.Config{RootCAs: pool, ServerName: "localhost"}))
	assert.True(t, c.IsTLS())
	caps, err := c.Capa(ctx)
	require.NoError(t, err)
	assert.True(t, caps.User)
	require.NoError(t, c.Noop(ctx))
}

// TestSTLSInjectionRejected: plaintext the server sent after its STLS
// answer (in the same write, so it is read with it) would be taken as
// sent inside TLS (the CVE-2011-0411 class): the client refuses it before
// the handshake.
func TestSTLSInjectionRejected(t *testing.T) {
	c, _ := connect(t, func(s *srv) {
		s.expect("STLS")
		s.sendRaw([]byte("+OK begin TLS\r\n+OK injected\r\n"))
		s.readLine() // until the client goes
	})
	err := c.StartTLS(testCtx(t), &tls.Config{ServerName: "localhost"})
	require.ErrorIs(t, err, ErrProtocol)
	assert.Contains(t, err.Error(), "data received after STLS +OK before TLS handshake")
}

func TestDialImplicitTLS(t *testing.T) {
	cert := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = conn.Write([]byte("+OK secure\r\n"))
		buf := make([]byte, 64)
		_, _ = conn.Read(buf)
		_, _ = conn.Write([]byte("+OK bye\r\n"))
	}()
	c, err := Dial(testCtx(t), ln.Addr().String(), &tls.Config{InsecureSkipVerify: true}, nil)
	require.NoError(t, err)
	assert.True(t, c.IsTLS())
	assert.Equal(t, "secure", c.Greeting())
	require.NoError(t, c.Quit(testCtx(t)))
}

// A reader that consumes exactly the body bytes, and with them the
// terminator, but never asks again for io.EOF (a header parser does this)
// must not leave the client busy: Close releases it for the next command.
func TestBodyReadToTerminatorWithoutEOFThenClose(t *testing.T) {
	c, _ := connect(t, func(s *srv) {
		s.expect("TOP 1 0")
		s.send("+OK")
		s.sendRaw([]byte("Subject: hi\r\n\r\n.\r\n"))
		s.expect("NOOP")
		s.send("+OK")
	})
	ctx := testCtx(t)
	body, err := c.Top(ctx, 1, 0)
	require.NoError(t, err)
	buf := make([]byte, len("Subject: hi\r\n\r\n"))
	_, err = io.ReadFull(body, buf)
	require.NoError(t, err)
	// One more read returns the terminator's io.EOF only if asked; here we
	// do not ask.
	require.NoError(t, body.Close())
	require.NoError(t, c.Noop(ctx), "the client is free after Close")
}
