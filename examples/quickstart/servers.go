package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
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
	cert, pool, err := selfSigned()
	if err != nil {
		p.Close()
		return nil, err
	}
	pool.AppendCertsFromPEM(p.CertPEM())
	i, err := imaptest.Start(&imaptest.Options{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}},
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

// selfSigned makes a certificate for 127.0.0.1 and localhost and a pool
// that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailaccess quickstart"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
