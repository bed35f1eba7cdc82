package testcert

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A client that trusts the pool verifies the server by name and by
// address, and the process gets one certificate.
func TestCertVerifiesForLocalhost(t *testing.T) {
	c, err := Get()
	require.NoError(t, err)
	again, err := Get()
	require.NoError(t, err)
	assert.Same(t, c, again)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", c.ServerConfig())
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_ = conn.(*tls.Conn).Handshake()
			conn.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, name := range []string{"localhost", "127.0.0.1"} {
		cfg := c.ClientConfig()
		cfg.ServerName = name
		conn, err := tls.Dial("tcp", "127.0.0.1:"+port, cfg)
		require.NoError(t, err, name)
		conn.Close()
	}
}
