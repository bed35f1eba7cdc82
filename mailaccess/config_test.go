package mailaccess_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/mailaccess/go-mailaccess/imap"
	. "github.com/mailaccess/go-mailaccess/mailaccess"
	_ "github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	_ "github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	_ "github.com/mailaccess/go-mailaccess/pop3"
)

func TestParseURLForms(t *testing.T) {
	cases := []struct {
		url  string
		want Config
	}{
		{"imaps://alice@imap.example.com:993/INBOX", Config{Scheme: "imaps", Host: "imap.example.com", Port: 993, User: "alice", Folder: "INBOX"}},
		{"imap://bob@127.0.0.1/Archive/2024?tls=insecure-plaintext", Config{Scheme: "imap", Host: "127.0.0.1", User: "bob", Folder: "Archive/2024", TLS: TLSInsecurePlaintext}},
		{"pop3s://carol@pop.example.com", Config{Scheme: "pop3s", Host: "pop.example.com", User: "carol"}},
		{"pop3://dave@pop.example.com:1110?auth=apop&command_timeout=10s", Config{Scheme: "pop3", Host: "pop.example.com", Port: 1110, User: "dave", Auth: "apop", CommandTimeout: Duration(10 * time.Second)}},
		{"maildir:///var/mail/erin", Config{Scheme: "maildir", Path: "/var/mail/erin"}},
		{"mem://test?opt.profile=pop3&require=uid|headers", Config{Scheme: "mem", Path: "test", Options: map[string]string{"profile": "pop3"}, Require: CapUID | CapHeaders}},
		{"imaps://[::1]:1993/", Config{Scheme: "imaps", Host: "::1", Port: 1993}},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			got, err := ParseURL(tc.url)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			// URL is the inverse of ParseURL.
			again, err := ParseURL(got.URL())
			require.NoError(t, err)
			assert.Equal(t, got, again)
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	cases := map[string]string{
		"imaps://":                             "needs a host",
		"imap://h?bogus=1":                     `unknown parameter "bogus"`,
		"imap://h?tls=maybe":                   `tls mode "maybe"`,
		"imaps://h?tls=starttls":               "contradicts",
		"imap://h:99999":                       "port",
		"maildir://":                           "needs a path",
		"pop3://h?auth=telepathy":              "auth",
		"imap://h?require=folders|teleport":    "teleport",
		"imap://h?max_conns=-1":                "max_conns",
		"imap://user:p%0d%0aass@h":             "password contains CR, LF or NUL",
		"imap://h/INBOX%0d%0aA1%20LOGOUT":      "folder contains CR, LF or NUL",
		"imap://h?dial_timeout=soon":           "dial_timeout",
		"://nothing":                           "",
		"imap://us%0aer@h":                     "user contains",
		"imap://h?command_timeout=1fortnight":  "command_timeout",
		"imap://h?max_conns=x":                 "max_conns",
		"imap://h?require=folders&opt.=x":      "unknown parameter",
		"pop3://h?tls=implicit&auth=xoauth2x":  "auth",
		"mem://x?opt.profile=pop3&folder=a%00": "folder contains",
	}
	for u, want := range cases {
		t.Run(u, func(t *testing.T) {
			_, err := ParseURL(u)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), want)
		})
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	const pw = "hunter2-very-secret"
	cfg, err := ParseURL("imaps://alice:" + pw + "@imap.example.com/INBOX")
	require.NoError(t, err)
	assert.Equal(t, Secret(pw), cfg.Password, "the password is parsed")
	cfg.Token = func(context.Context) (string, error) { return "tok-" + pw, nil }

	var logBuf strings.Builder
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("opening", "cfg", cfg, "pw", cfg.Password)
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	outputs := map[string]string{
		"String":  cfg.String(),
		"%v":      fmt.Sprintf("%v", cfg),
		"%+v":     fmt.Sprintf("%+v", cfg),
		"%#v":     fmt.Sprintf("%#v", cfg),
		"%s pw":   fmt.Sprintf("%s", cfg.Password),
		"%q pw":   fmt.Sprintf("%q", cfg.Password),
		"%#v pw":  fmt.Sprintf("%#v", cfg.Password),
		"%v ptr":  fmt.Sprintf("%v", &cfg),
		"json":    string(js),
		"slog":    logBuf.String(),
		"URL":     cfg.URL(),
		"struct":  fmt.Sprintf("%+v", struct{ C Config }{cfg}),
		"pwfield": fmt.Sprintf("%v", struct{ P Secret }{cfg.Password}),
	}
	for name, out := range outputs {
		assert.NotContains(t, out, pw, name)
	}
	assert.Contains(t, cfg.String(), "(token)")
	noTok := cfg
	noTok.Token = nil
	assert.Contains(t, noTok.String(), "REDACTED")
	assert.NotContains(t, noTok.String(), pw)

	// JSON in, JSON out: the secret is read but not written back.
	var in Config
	require.NoError(t, json.Unmarshal([]byte(`{"scheme":"pop3s","host":"h","user":"u","password":"`+pw+`","dial_timeout":"5s","command_timeout":30,"require":"uid"}`), &in))
	assert.Equal(t, Secret(pw), in.Password)
	assert.Equal(t, Duration(5*time.Second), in.DialTimeout)
	assert.Equal(t, Duration(30*time.Second), in.CommandTimeout)
	assert.Equal(t, CapUID, in.Require)
	out, err := json.Marshal(in)
	require.NoError(t, err)
	assert.NotContains(t, string(out), pw)
}

func TestValidateErrorsDoNotLeakPassword(t *testing.T) {
	cfg := Config{Scheme: "imap", Host: "h\r\n", Password: "s3cr3t\n"}
	err := cfg.Validate()
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t")
}
