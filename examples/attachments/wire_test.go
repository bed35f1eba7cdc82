package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// wireProxy relays IMAP connections to a plaintext server, counting the
// bytes the server sends and recording the command lines clients send.
type wireProxy struct {
	ln       net.Listener
	mu       sync.Mutex
	received int64
	commands []string
}

func startWireProxy(t *testing.T, upstream string) *wireProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &wireProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.relay(c, upstream)
		}
	}()
	return p
}

func (p *wireProxy) relay(client net.Conn, upstream string) {
	defer client.Close()
	server, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		io.Copy(counter{p, client}, server)
		client.Close()
	}()
	// The client sends command lines only (no APPEND here).
	br := bufio.NewReader(client)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			p.mu.Lock()
			p.commands = append(p.commands, strings.TrimRight(line, "\r\n"))
			p.mu.Unlock()
			if _, werr := io.WriteString(server, line); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// counter counts what the server sends before passing it on, so that the
// count is complete once the client has read it.
type counter struct {
	p *wireProxy
	w io.Writer
}

func (c counter) Write(b []byte) (int, error) {
	c.p.mu.Lock()
	c.p.received += int64(len(b))
	c.p.mu.Unlock()
	return c.w.Write(b)
}

// config points cfg at the proxy.
func (p *wireProxy) config(cfg mailaccess.Config) mailaccess.Config {
	host, port, _ := net.SplitHostPort(p.ln.Addr().String())
	cfg.Host = host
	cfg.Port, _ = strconv.Atoi(port)
	return cfg
}

// wire returns the bytes received from the server and the command lines
// sent so far.
func (p *wireProxy) wire() (int64, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.received, append([]string(nil), p.commands...)
}

var (
	fetchItems = regexp.MustCompile(`(?i)^\S+ UID FETCH \S+ \((.*)\)$`)
	// partItem is a fetch of one numbered part (and its MIME header).
	partItem = regexp.MustCompile(`(?i)^(BODY\.PEEK|BINARY\.PEEK)\[([0-9.]+?)(\.MIME)?\](<[0-9.]+>)?$`)
)

// checkOnlyParts asserts that the commands fetched nothing of the
// messages but their part trees and the numbered parts in parts, and
// that the server sent less than limit bytes for mailSize bytes of mail.
func checkOnlyParts(t *testing.T, p *wireProxy, parts map[string]bool, limit int64, mailSize int) {
	t.Helper()
	received, commands := p.wire()
	fetches := 0
	for _, c := range commands {
		m := fetchItems.FindStringSubmatch(c)
		if m == nil {
			assert.NotContains(t, strings.ToUpper(c), "FETCH", "a fetch of an unexpected form: %s", c)
			continue
		}
		fetches++
		for _, item := range strings.Fields(m[1]) {
			switch strings.ToUpper(item) {
			case "UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "BODYSTRUCTURE", "MODSEQ":
				continue
			}
			pm := partItem.FindStringSubmatch(item)
			if assert.NotNil(t, pm, "%s: item %s fetches more than a part", c, item) {
				assert.True(t, parts[pm[2]], "%s: part %s is not an attachment", c, pm[2])
			}
		}
	}
	assert.NotZero(t, fetches, "the proxy saw the fetches")
	assert.Greater(t, received, int64(len(want)*20), "the proxy counted the attachments")
	assert.Less(t, received, limit, "bytes received from the server")
	t.Logf("%d fetch commands; %d bytes from the server for messages of %d bytes", fetches, received, mailSize)
}

// bigText makes the text of each message with attachments about 1 MiB.
const bigText = 18000

// wireLimit is about the attachments (base64 and their MIME headers,
// well under 2 KiB) plus the protocol's chatter: nowhere near the
// messages' 2 MiB of text.
const wireLimit = 32 << 10

// attachmentParts are the part numbers of the attachments in corpus.
var attachmentParts = map[string]bool{"2": true, "3": true, "4": true}

func sizeOf(msgs [][]byte) int {
	n := 0
	for _, m := range msgs {
		n += len(m)
	}
	return n
}

// On IMAP (go-imap's in-memory server) only the attachments cross the
// wire: the 1 MiB texts never do.
func TestExtractOverIMAPFetchesOnlyTheAttachments(t *testing.T) {
	msgs := corpus(bigText)
	srv := imaptest.Start(t, nil, imaptest.User{Name: "ann", Password: "pw", Messages: msgs})
	p := startWireProxy(t, srv.Addr)
	mb, err := imap.Dial(context.Background(), p.config(srv.Config("ann", "pw")))
	require.NoError(t, err)
	extract(t, mb)
	require.NoError(t, mb.Close())
	checkOnlyParts(t, p, attachmentParts, wireLimit, sizeOf(msgs))
}

// The same against Dovecot, which offers BINARY: the driver fetches each
// attachment decoded by the server. Skips without Dovecot, except under
// CI=true.
func TestExtractOnDovecotFetchesOnlyTheAttachments(t *testing.T) {
	s := dovecottest.Start(t, nil)
	msgs := corpus(bigText)
	require.NoError(t, s.AddUser("ann", "pw-ann-1", msgs))
	p := startWireProxy(t, s.IMAPAddr)
	host, port, _ := net.SplitHostPort(s.IMAPAddr)
	cfg := mailaccess.Config{Scheme: "imap", Host: host, User: "ann", Password: "pw-ann-1", TLS: mailaccess.TLSInsecurePlaintext}
	cfg.Port, _ = strconv.Atoi(port)
	mb, err := imap.Dial(context.Background(), p.config(cfg))
	require.NoError(t, err)
	extract(t, mb)
	require.NoError(t, mb.Close())
	checkOnlyParts(t, p, attachmentParts, wireLimit, sizeOf(msgs))
}
