package pop3test

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
	"sync"
	"time"
)

type certificate struct {
	cert tls.Certificate
	leaf *x509.Certificate
}

var (
	certOnce sync.Once
	certVal  certificate
	certErr  error
)

// testCertificate returns the self-signed certificate every server of this
// process uses (made once: key generation is the slow part). It is valid for
// localhost, 127.0.0.1 and ::1.
func testCertificate() (certificate, error) {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certErr = fmt.Errorf("pop3test: key: %w", err)
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(time.Now().UnixNano()),
			Subject:               pkix.Name{CommonName: "pop3test", Organization: []string{"go-mailaccess pop3test"}},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(10 * 24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			DNSNames:              []string{"localhost"},
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certErr = fmt.Errorf("pop3test: certificate: %w", err)
			return
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			certErr = fmt.Errorf("pop3test: certificate: %w", err)
			return
		}
		certVal = certificate{cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf: leaf}
	})
	return certVal, certErr
}
