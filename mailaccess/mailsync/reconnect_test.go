package mailsync_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// fastRetry retries at once (tests do not wait for the real backoff).
var fastRetry = mailsync.Retry{Backoff: time.Microsecond}

// TestSyncReconnectsWithinTheRun (issue 10 item 7): servers that end every
// session after a few commands (a POP3 server that drops the connection,
// an IMAP server's "* BYE Autologout"). One run reconnects as often as it
// makes progress, keeps what it committed, and completes with every
// message stored once (and, with delete-after-download, deleted from the
// server once stored).
func TestSyncReconnectsWithinTheRun(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		n, limit int
		ret      mailsync.RetentionPolicy
		imap     bool
	}{
		{name: "pop3 drop", n: 30, limit: 8},
		{name: "pop3 drop, delete after download", n: 10, limit: 30, ret: mailsync.DeleteAfterDownload},
		// An IMAP pass reads all bodies of a folder in one command, so a
		// session must last long enough for one; several folders, or the
		// deletions, take more commands than a session allows.
		{name: "imap bye, three folders", n: 30, limit: 10, imap: true},
		{name: "imap bye, delete after download", n: 12, limit: 12, imap: true, ret: mailsync.DeleteAfterDownload},
		{name: "imap bye, three folders, delete after download", n: 30, limit: 12, imap: true, ret: mailsync.DeleteAfterDownload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raws := genRaws(39, tc.n)
			var (
				src   mailaccess.Mailbox
				count func() int
			)
			folders := []string{mailaccess.Inbox}
			if strings.Contains(tc.name, "three folders") {
				folders = []string{mailaccess.Inbox, "Sent", "Drafts"}
			}
			if tc.imap {
				srv := imaptest.Start(t, &imaptest.Options{Quirks: &imaptest.Quirks{ByeAfter: tc.limit, ByeText: "Autologout; idle for too long"}},
					imaptest.User{Name: "u", Password: "pw"})
				for i, r := range raws {
					_, err := srv.Append("u", folders[i%len(folders)], r, nil)
					require.NoError(t, err)
				}
				client, err := imap.Dial(ctx, srv.Config("u", "pw"))
				require.NoError(t, err)
				defer client.Close()
				src = client
				count = func() int {
					c, err := imap.Dial(ctx, srv.Config("u", "pw"))
					require.NoError(t, err)
					defer c.Close()
					n := 0
					for _, f := range folders {
						st, err := c.Status(ctx, f)
						require.NoError(t, err)
						n += st.Messages
					}
					return n
				}
			} else {
				backing := mailtest.New(mailtest.ProfileMaildir)
				for _, r := range raws {
					backing.Add("INBOX", r)
				}
				srv := pop3test.Start(t, backing, &pop3test.Options{DropAfter: tc.limit, DropText: "[SYS/TEMP] autologout"})
				client, err := pop3.Dial(ctx, srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword))
				require.NoError(t, err)
				defer client.Close()
				src = client
				count = func() int { return len(backing.Messages("INBOX")) }
			}
			dir := t.TempDir()
			dst := openDst(t, dir, nil)
			s, err := mailsync.New(src, dst, &mailsync.Options{Retry: fastRetry, BatchSize: 4, Folders: folders,
				Retention: mailsync.Retention{Policy: tc.ret}})
			require.NoError(t, err)
			rep, err := s.Run(ctx)
			require.NoError(t, err, "%v %q", rep, rep.Total().Notes)
			assert.Equal(t, tc.n, rep.Total().New)
			assert.Zero(t, rep.Total().Skipped)
			assert.Contains(t, strings.Join(rep.Total().Notes, "\n"), "reconnecting and resuming")
			var stored [][]byte
			for i, f := range folders {
				var in [][]byte
				for j := i; j < len(raws); j += len(folders) {
					in = append(in, raws[j])
				}
				sub := dir
				if f != mailaccess.Inbox {
					sub += "/." + f
				}
				requireExactlyOnce(t, sub, in)
				stored = append(stored, in...)
			}
			assert.Len(t, stored, tc.n)
			if tc.ret == mailsync.DeleteAfterDownload {
				assert.Equal(t, tc.n, rep.Total().SourceDeleted)
				assert.Zero(t, count())
			} else {
				assert.Equal(t, tc.n, count())
			}
		})
	}
}

// TestSyncGivesUpQuotingTheServer: a server that ends every session
// before a pass can make progress; the run gives up after the configured
// attempts, and its error quotes what the server said.
func TestSyncGivesUpQuotingTheServer(t *testing.T) {
	ctx := context.Background()
	backing := mailtest.New(mailtest.ProfileMaildir)
	seed(t, backing, 5, 40)
	srv := pop3test.Start(t, backing, &pop3test.Options{DropAfter: 1, DropText: "[SYS/TEMP] too many commands, come back later"})
	client, err := pop3.Dial(ctx, srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword))
	require.NoError(t, err)
	defer client.Close()
	dst := openDst(t, t.TempDir(), nil)
	s, err := mailsync.New(client, dst, &mailsync.Options{Retry: mailsync.Retry{Attempts: 3, Backoff: time.Microsecond}})
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, mailaccess.ErrTemporary)
	assert.Contains(t, err.Error(), "too many commands, come back later")
	assert.Contains(t, strings.Join(rep.Total().Notes, "\n"), "gave up after 4 passes")
	assert.Zero(t, rep.Total().New)
}
