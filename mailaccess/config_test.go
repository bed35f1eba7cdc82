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

// Every driver refuses a driver option it does not know, in a URL and in a
// Config built in code or from JSON: a misspelt option is an error, never
// a silent default.
func TestUnknownDriverOptionRejectedByEveryDriver(t *testing.T) {
	for _, u := range []string{
		"imap://h/INBOX", "imaps://h", "pop3://h", "pop3s://h", "mem://store", "maildir:///tmp/x",
	} {
		t.Run(u, func(t *testing.T) {
			sep := "?"
			_, err := ParseURL(u + sep + "opt.bogus=1")
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), `"opt.bogus"`)

			cfg, err := ParseURL(u)
			require.NoError(t, err)
			cfg.Options = map[string]string{"bogus": "1"}
			_, err = Open(context.Background(), cfg)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.ErrorContains(t, err, "opt.bogus")
		})
	}
	// Known options stay accepted.
	_, err := ParseURL("mem://store?opt.profile=pop3")
	assert.NoError(t, err)
	_, err = ParseURL("maildir:///tmp/x?opt.defer_dir_sync=true")
	assert.NoError(t, err)
	_, err = ParseURL("maildir:///tmp/x?opt.defer_dir_sync=maybe")
	assert.ErrorContains(t, err, "defer_dir_sync")
}

// A user name or password holding '/', '?', '#' or '@' must be
// percent-encoded. Unencoded, the URL is ambiguous: it is an error that
// says so, and neither it nor any other parse error repeats the user
// information.
func TestParseURLUserinfo(t *testing.T) {
	for _, tc := range []struct{ url, secret string }{
		{"imaps://alice:Zq7pa/ss9X@imap.example.com", "Zq7pa/ss9X"},
		{"imaps://alice:4242/xyzzy@imap.example.com", "4242/xyzzy"},
		{"imaps://alice:Zq7pa?ss9X@imap.example.com", "Zq7pa?ss9X"},
		{"imaps://alice:Zq7pa#ss9X@imap.example.com", "Zq7pa#ss9X"},
		{"pop3://alice:Wk3se/cr8t@pop.example.com:110", "Wk3se/cr8t"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			c, err := ParseURL(tc.url)
			require.Error(t, err, "parsed as %+v", c)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), "percent-encode")
			for _, part := range strings.FieldsFunc(tc.secret, func(r rune) bool { return strings.ContainsRune("/?#", r) }) {
				assert.NotContains(t, err.Error(), part, "the error repeats part of the password")
			}
		})
	}
	for _, bad := range []string{"imaps://alice:100%zz-secret@h", "imaps://al%zzice-secret:pw@h"} {
		_, err := ParseURL(bad)
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrInvalid)
		assert.NotContains(t, err.Error(), "secret")
		assert.Contains(t, err.Error(), "%25")
	}
	// Percent-encoded, everything is allowed.
	c, err := ParseURL("imaps://alice%40example.com:p%2Fa%3Fs%23s%40w@imap.example.com:993/INBOX")
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", c.User)
	assert.Equal(t, Secret("p/a?s#s@w"), c.Password)
	assert.Equal(t, "imap.example.com", c.Host)
	assert.Equal(t, 993, c.Port)
	// An e-mail address as user name needs no encoding: the host follows
	// the last '@'.
	c, err = ParseURL("imaps://alice@example.com@imap.example.com")
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", c.User)
	assert.Equal(t, "imap.example.com", c.Host)
	// A folder with '@' is written %40 on a network URL; a path needs
	// nothing.
	_, err = ParseURL("imaps://imap.example.com/Lists@Work")
	assert.ErrorContains(t, err, "%40")
	c, err = ParseURL("imaps://imap.example.com/Lists%40Work")
	require.NoError(t, err)
	assert.Equal(t, "Lists@Work", c.Folder)
	c, err = ParseURL("maildir:///home/me/Mail/alice@example.com")
	require.NoError(t, err)
	assert.Equal(t, "/home/me/Mail/alice@example.com", c.Path)
	// A bad port after userinfo does not repeat the userinfo.
	_, err = ParseURL("imaps://alice:s3cr3t@h:99x")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t")
}
