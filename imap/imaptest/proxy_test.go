package imaptest_test

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mimap "github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Proxy.Config gives a configuration that reaches the upstream server
// through the proxy (so its quirks apply), as Server.Config does for a
// Server: a test of a real server behind a proxy builds no Config by hand.
func TestProxyConfig(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "pw", Messages: [][]byte{raw("one"), raw("two")}})
	p, err := imaptest.StartProxy(srv.Addr, imaptest.Quirks{HideCaps: []imap.Cap{imap.CapIdle}})
	require.NoError(t, err)
	defer p.Close()

	cfg := p.Config("u", "pw")
	host, port, _ := net.SplitHostPort(p.Addr)
	assert.Equal(t, "imap", cfg.Scheme)
	assert.Equal(t, host, cfg.Host)
	assert.Equal(t, port, strconv.Itoa(cfg.Port))
	assert.Equal(t, "u", cfg.User)
	assert.Equal(t, mailaccess.TLSInsecurePlaintext, cfg.TLS)
	require.NoError(t, cfg.Validate())

	mb, err := mimap.Dial(context.Background(), cfg)
	require.NoError(t, err)
	defer mb.Close()
	assert.False(t, mb.Capabilities().Has(mailaccess.CapPush), "IDLE hidden by the proxy's quirk, so the session went through it")
	n := 0
	for _, err := range mb.List(context.Background(), mailaccess.Inbox, nil) {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, 2, n)
	assert.NotEmpty(t, p.CommandLines(), "the proxy saw the session")
}
