package pop3test

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	gopop3 "github.com/knadh/go-pop3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goPOP3Messages are ordinary messages: no body line starts with a dot and
// none is longer than 4 KiB, the two cases go-pop3 v1.0.0 is known to
// corrupt (see the README's dependency notes and pop3/gopop3_test.go). What
// go-pop3 returns for these must be byte-exact.
func goPOP3Messages() []string {
	var long strings.Builder
	long.WriteString("Subject: many lines\r\nFrom: b@example.org\r\nTo: c@example.net\r\n\r\n")
	for i := range 400 {
		long.WriteString("line " + strconv.Itoa(i) + " of a message larger than a read buffer\r\n")
	}
	return []string{
		msgPlain,
		"From: Multi <m@example.org>\r\nSubject: multipart\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n" +
			"--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain part\r\n" +
			"--b1\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<p>html part</p>\r\n" +
			"--b1--\r\n",
		long.String(),
	}
}

// goPOP3Dialer dials implicit TLS that trusts the test server's certificate:
// go-pop3's own TLS option can only use the system roots or skip
// verification, but it accepts any Dialer.
type goPOP3Dialer struct{ cfg *tls.Config }

func (d goPOP3Dialer) Dial(network, addr string) (net.Conn, error) {
	td := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: d.cfg}
	return td.DialContext(context.Background(), network, addr)
}

// TestInteropGoPOP3 drives the server with github.com/knadh/go-pop3, a
// second client written independently of ours: login, STAT, LIST, UIDL,
// RETR (raw and parsed), TOP, an -ERR answer, DELE, RSET and QUIT, in
// plaintext and over implicit TLS.
func TestInteropGoPOP3(t *testing.T) {
	for _, mode := range []string{"plain", "pop3s"} {
		t.Run(mode, func(t *testing.T) {
			msgs := goPOP3Messages()
			mb := newMemBox(msgs...)
			s := Start(t, mb, &Options{ImplicitTLS: mode == "pop3s"})
			opt := gopop3.Opt{Host: s.Host(), Port: s.Port(), DialTimeout: 5 * time.Second}
			if mode == "pop3s" {
				opt.Dialer = goPOP3Dialer{cfg: &tls.Config{RootCAs: s.CertPool(), ServerName: s.Host(), MinVersion: tls.VersionTLS12}}
			}
			c, err := gopop3.New(opt).NewConn()
			require.NoError(t, err, "go-pop3 reads the greeting")
			require.NoError(t, c.Auth(DefaultUser, DefaultPassword))

			count, size, err := c.Stat()
			require.NoError(t, err)
			total := 0
			for _, m := range msgs {
				total += len(m)
			}
			assert.Equal(t, len(msgs), count)
			assert.Equal(t, total, size)

			list, err := c.List(0)
			require.NoError(t, err)
			require.Len(t, list, len(msgs))
			for i, m := range msgs {
				assert.Equal(t, gopop3.MessageID{ID: i + 1, Size: len(m)}, list[i])
			}
			one, err := c.List(2)
			require.NoError(t, err)
			assert.Equal(t, []gopop3.MessageID{{ID: 2, Size: len(msgs[1])}}, one)

			uids, err := c.Uidl(0)
			require.NoError(t, err)
			require.Len(t, uids, len(msgs))
			for i := range msgs {
				assert.Equal(t, gopop3.MessageID{ID: i + 1, UID: "m" + strconv.Itoa(i+1)}, uids[i])
			}

			for i, m := range msgs {
				raw, err := c.RetrRaw(i + 1)
				require.NoError(t, err)
				assert.True(t, m == raw.String(), "message %d byte-exact through go-pop3 (%d vs %d bytes)", i+1, len(m), raw.Len())
			}
			ent, err := c.Retr(2)
			require.NoError(t, err)
			assert.Equal(t, "multipart", ent.Header.Get("Subject"))
			mr := ent.MultipartReader()
			require.NotNil(t, mr, "go-message sees the multipart body intact")
			parts := 0
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				parts++
				assert.Contains(t, p.Header.Get("Content-Type"), "text/")
			}
			assert.Equal(t, 2, parts)

			top, err := c.Top(1, 0)
			require.NoError(t, err)
			assert.Equal(t, "plain", top.Header.Get("Subject"))
			assert.Equal(t, "a@example.org", top.Header.Get("From"))

			_, err = c.RetrRaw(len(msgs) + 1)
			require.Error(t, err, "RETR of a message that does not exist is answered -ERR")
			require.NoError(t, c.Noop(), "the session goes on after -ERR")

			require.NoError(t, c.Dele(2))
			_, err = c.RetrRaw(2)
			assert.Error(t, err, "a message marked for deletion is gone for the session")
			require.NoError(t, c.Rset())
			require.NoError(t, c.Dele(1, 3))
			count, size, err = c.Stat()
			require.NoError(t, err)
			assert.Equal(t, 1, count)
			assert.Equal(t, len(msgs[1]), size)
			assert.Equal(t, 3, mb.count(), "DELE alone must not touch the backing mailbox")
			require.NoError(t, c.Quit())

			assert.Equal(t, 1, mb.count(), "QUIT applied go-pop3's two marks")
			assert.True(t, mb.has("m2"), "RSET undid the mark on message 2")
			assert.Equal(t, 1, s.Commits())
			assert.Equal(t, []string{"USER user", "PASS REDACTED", "NOOP", "STAT", "LIST", "LIST 2", "UIDL",
				"RETR 1", "RETR 2", "RETR 3", "RETR 2", "TOP 1 0", "RETR 4", "NOOP",
				"DELE 2", "RETR 2", "RSET", "DELE 1", "DELE 3", "STAT", "QUIT"}, s.Commands())
		})
	}
}
