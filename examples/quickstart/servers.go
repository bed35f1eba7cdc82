package main

import (
	"crypto/tls"
	"fmt"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/internal/testcert"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

const (
	demoUser     = "support"
	demoPassword = "quickstart-demo"
)

// servers are the two embedded servers the quickstart talks to.
type servers struct {
	pop3 *pop3test.Server
	imap *imaptest.Server
	// clientTLS trusts the certificates of both servers.
	clientTLS *tls.Config
}

// startServers starts an in-process POP3 server (pop3test, backed by the
// in-memory fake) and an in-process IMAP server (imaptest, go-imap's
// imapmemserver), each holding msgs in INBOX and offering STARTTLS with a
// self-signed certificate that clientTLS trusts.
func startServers(msgs [][]byte) (*servers, error) {
	backing := mailtest.New(mailtest.ProfilePOP3)
	for _, m := range msgs {
		backing.Add("INBOX", m)
	}
	p, err := pop3test.NewServer(backing, &pop3test.Options{User: demoUser, Password: demoPassword})
	if err != nil {
		return nil, fmt.Errorf("start POP3 server: %w", err)
	}
	// The servers present the repository's test certificate
	// (internal/testcert), which pop3test uses too: the client trusts it.
	cert, err := testcert.Get()
	if err != nil {
		p.Close()
		return nil, err
	}
	pool := cert.Pool()
	i, err := imaptest.NewServer(&imaptest.Options{TLSConfig: cert.ServerConfig()},
		imaptest.User{Name: demoUser, Password: demoPassword, Messages: msgs})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("start IMAP server: %w", err)
	}
	return &servers{pop3: p, imap: i, clientTLS: &tls.Config{RootCAs: pool}}, nil
}

func (s *servers) Close() {
	s.pop3.Close()
	s.imap.Close()
}
