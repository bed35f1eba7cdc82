package bounces

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func bounce(rcpt string) []byte {
	return []byte("From: MAILER-DAEMON@mx.example.net\r\n" +
		"To: news@example.com\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n" +
		"--r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n" +
		"--r\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; mx.example.net\r\n\r\n" +
		"Final-Recipient: rfc822; " + rcpt + "\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"--r--\r\n")
}

var ordinary = []byte("From: alice@example.com\r\nSubject: Hello\r\n\r\nNot a bounce.\r\n")

// Against an IMAP-like fake, bounces are flagged \Seen and kept, and a
// second run does not count them again.
func TestProcessFlagsBouncesOnIMAP(t *testing.T) {
	ctx := context.Background()
	mb := mailtest.New(mailtest.ProfileIMAP)
	defer mb.Close()
	mb.Add("INBOX", bounce("Gone@Example.org"))
	mb.Add("INBOX", ordinary)
	mb.Add("INBOX", bounce("nobody@example.net"))

	res, err := Process(ctx, mb, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, []string{"gone@example.org", "nobody@example.net"}, res.Failed)
	assert.Equal(t, 2, res.Reports)

	msgs := mb.Messages("INBOX")
	require.Len(t, msgs, 3, "nothing is deleted where flags exist")
	assert.Contains(t, msgs[0].Flags, mailaccess.FlagSeen)
	assert.NotContains(t, msgs[1].Flags, mailaccess.FlagSeen, "ordinary mail is left alone")

	again, err := Process(ctx, mb, "INBOX")
	require.NoError(t, err)
	assert.Zero(t, again.Reports)
}

// Against a POP3-like fake there are no flags: bounces are deleted, and the
// deletion only happens at Commit.
func TestProcessDeletesBouncesOnPOP3(t *testing.T) {
	ctx := context.Background()
	store := mailtest.NewStore()
	store.Add("INBOX", bounce("gone@example.org"))
	store.Add("INBOX", ordinary)
	mb := store.Open(mailtest.ProfilePOP3)
	defer mb.Close()

	res, err := Process(ctx, mb, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, []string{"gone@example.org"}, res.Failed)
	msgs := store.Messages("INBOX")
	require.Len(t, msgs, 1, "the bounce was deleted and committed")
	assert.Equal(t, ordinary, msgs[0].Raw)
}

// A read failure in the middle stops the run before anything is marked:
// no bounce is lost.
func TestProcessFaultLeavesEverything(t *testing.T) {
	ctx := context.Background()
	store := mailtest.NewStore()
	store.Add("INBOX", bounce("a@example.org"))
	store.Add("INBOX", bounce("b@example.org"))
	store.FailNth(mailtest.OpOpen, 2, errors.New("connection reset"))
	mb := store.Open(mailtest.ProfilePOP3)
	defer mb.Close()

	_, err := Process(ctx, mb, "INBOX")
	require.Error(t, err)
	assert.ErrorContains(t, err, "connection reset")
	assert.Len(t, store.Messages("INBOX"), 2, "no delete was committed")

	// A body cut short is an error too, not a silently empty report.
	store.ClearFaults()
	store.CutBodyAfter(40)
	_, err = Process(ctx, store.Open(mailtest.ProfilePOP3), "INBOX")
	require.Error(t, err)
	assert.Len(t, store.Messages("INBOX"), 2)
}

// A mailbox that can neither flag nor delete gets a clear error naming the
// capabilities, not a silent success.
func TestProcessReadOnlyMailbox(t *testing.T) {
	mb := mailtest.New(mailaccess.CapUID | mailaccess.CapHeaders)
	mb.Add("INBOX", bounce("a@example.org"))
	_, err := Process(context.Background(), mb, "INBOX")
	require.Error(t, err)
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	assert.Len(t, mb.Messages("INBOX"), 1)
}

// The same code, pointed at a mailbox by URL, as a program would configure
// it.
func ExampleProcess() {
	mailtest.NamedStore("bounces-example").Add("INBOX", bounce("gone@example.org"))
	ctx := context.Background()
	mb, err := mailaccess.OpenURL(ctx, "mem://bounces-example?opt.profile=pop3")
	if err != nil {
		panic(err)
	}
	defer mb.Close()
	res, err := Process(ctx, mb, mailaccess.Inbox)
	fmt.Println(res.Failed, res.Reports, err)
	// Output: [gone@example.org] 1 <nil>
}
