package driver_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/internal/secrettest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	_ "github.com/mailaccess/go-mailaccess/pop3"
)

func TestEffectiveTLSAndDefaults(t *testing.T) {
	assert.Equal(t, mailaccess.TLSImplicit, driver.NewConfig(mailaccess.Config{Scheme: "imaps"}).EffectiveTLS())
	assert.Equal(t, mailaccess.TLSImplicit, driver.NewConfig(mailaccess.Config{Scheme: "pop3s"}).EffectiveTLS())
	assert.Equal(t, mailaccess.TLSStartTLS, driver.NewConfig(mailaccess.Config{Scheme: "imap"}).EffectiveTLS())
	assert.Equal(t, mailaccess.TLSInsecurePlaintext, driver.NewConfig(mailaccess.Config{Scheme: "pop3", TLS: mailaccess.TLSInsecurePlaintext}).EffectiveTLS())
	assert.Equal(t, "h:995", driver.NewConfig(mailaccess.Config{Scheme: "pop3s", Host: "h"}).Addr())
	assert.Equal(t, "[::1]:143", driver.NewConfig(mailaccess.Config{Scheme: "imap", Host: "::1"}).Addr())
	assert.Equal(t, "INBOX", driver.NewConfig(mailaccess.Config{}).DefaultFolder())
	assert.Equal(t, 30*time.Second, driver.NewConfig(mailaccess.Config{}).DialTimeoutOrDefault())
}

func TestTLSClientConfig(t *testing.T) {
	tc, err := driver.NewConfig(mailaccess.Config{Scheme: "imaps", Host: "mail.example.com"}).TLSClientConfig()
	require.NoError(t, err)
	assert.Equal(t, "mail.example.com", tc.ServerName)
	assert.False(t, tc.InsecureSkipVerify, "verification is on by default")

	_, err = driver.NewConfig(mailaccess.Config{Scheme: "imaps", Host: "h", CAFile: t.TempDir() + "/missing.pem"}).TLSClientConfig()
	assert.ErrorContains(t, err, "ca_file")
}

// holder is how a driver keeps its Config: in an unexported field.
type holder struct {
	name string
	cfg  driver.Config
}

// A Config held by a driver never prints its secrets, whatever the verb
// or handler, even from an unexported field where fmt cannot call its
// methods; printed directly it is the redacted URL form.
func TestConfigHeldInUnexportedFieldHidesSecrets(t *testing.T) {
	const pw = "Zz9-held-secret"
	cfg := driver.NewConfig(mailaccess.Config{Scheme: "imaps", Host: "h", User: "u", Password: pw})
	secrettest.NoSecret(t, &holder{name: "x", cfg: cfg}, pw)
	secrettest.NoSecret(t, holder{name: "x", cfg: cfg}, pw)
	secrettest.NoSecret(t, cfg, pw)
	assert.Equal(t, mailaccess.Secret(pw), cfg.Get().Password, "the driver still reads it")
	assert.Contains(t, cfg.String(), "REDACTED")
}
