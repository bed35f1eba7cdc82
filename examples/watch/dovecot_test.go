package main

import (
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
)

// TestDovecotWatch watches a real Dovecot over imap:// (STARTTLS, verified
// with -ca, IDLE) and pop3s:// (polling) and checks that delivered mail is
// reported with its decoded subject. It skips without Dovecot, except
// under CI=true.
func TestDovecotWatch(t *testing.T) {
	s := dovecottest.Start(t, nil)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600))
	require.NoError(t, s.AddUser("watchimap", "pw-imap-123", nil))
	require.NoError(t, s.AddUser("watchpop", "pw-pop-123", nil))

	for _, tc := range []struct {
		user, pass, url, mode string
		args                  []string
	}{
		{"watchimap", "pw-imap-123", "imap://watchimap@" + s.IMAPAddr, "push (IDLE)", nil},
		{"watchpop", "pw-pop-123", "pop3s://watchpop@" + s.POP3SAddr, "poll every 50ms", []string{"-poll", "50ms"}},
	} {
		t.Run(tc.user, func(t *testing.T) {
			args := append([]string{"-url", tc.url, "-ca", caFile}, tc.args...)
			stdout, stderr, stop := startWatchEnv(t, func(k string) string {
				if k == passwordEnv {
					return tc.pass
				}
				return ""
			}, args...)
			waitFor(t, "the watch to start", func() bool { return strings.Contains(stdout.String(), "watching INBOX") })
			assert.Contains(t, stdout.String(), ": "+tc.mode+"\n")

			// The watch may take its baseline after the first delivery:
			// deliver until one is reported.
			for i := 0; i < 30 && !strings.Contains(stdout.String(), "Subject: Grüße"); i++ {
				raw := fmt.Sprintf("From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.org>\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= %d\r\nMessage-ID: <w%d@example.org>\r\n\r\nhi\r\n", i, i)
				require.NoError(t, s.AddMessages(tc.user, [][]byte{[]byte(raw)}))
				time.Sleep(200 * time.Millisecond) // pacing only
			}
			waitFor(t, "a new-mail line", func() bool { return strings.Contains(stdout.String(), "Subject: Grüße") })
			out := stdout.String()
			assert.Regexp(t, `(?m)^new INBOX ids=\[[^\]]+\] count=\d+ (push|poll)$`, out)
			assert.Contains(t, out, "From: Jürgen <j@example.org>")
			assert.Equal(t, 0, stop(), "stderr: %s", stderr.String())
			assert.NotContains(t, out+stderr.String(), tc.pass)
		})
	}
}
