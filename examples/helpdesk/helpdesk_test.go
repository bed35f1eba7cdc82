package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	imapdriver "github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// A customer's message: text in ISO-8859-1, quoted-printable, and a PDF
// whose name tries to leave the ticket's directory.
var customer = []byte("From: =?ISO-8859-1?Q?Jos=E9_Garc=EDa?= <jose@example.com>\r\n" +
	"To: support@example.com\r\nSubject: Printer broken\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
	"The printer in the caf=E9 is broken.\r\n" +
	"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"../../photo.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
	"JVBERi0xLjQKJeLjz9MK\r\n" +
	"--b--\r\n")

var plainNote = []byte("From: Ann <ann@example.com>\r\nSubject: Thanks\r\n\r\nAll good now.\r\n")

func note(i int) []byte {
	return []byte(fmt.Sprintf("From: user%d@example.com\r\nSubject: old %d\r\n\r\nhandled long ago\r\n", i, i))
}

// checkTickets asserts the tickets made of customer and plainNote.
func checkTickets(t *testing.T, tickets []Ticket) {
	t.Helper()
	require.Len(t, tickets, 2)
	c := tickets[0]
	assert.Equal(t, "Printer broken", c.Subject)
	assert.Equal(t, "José García <jose@example.com>", c.From)
	assert.Equal(t, "The printer in the café is broken.", c.Text)
	assert.Equal(t, []string{"1-photo.pdf"}, c.Files, "the name is made safe")
	pdf, err := os.ReadFile(filepath.Join(c.Dir, "1-photo.pdf"))
	require.NoError(t, err)
	assert.Equal(t, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", string(pdf), "the attachment decoded")
	summary, err := os.ReadFile(filepath.Join(c.Dir, "ticket.txt"))
	require.NoError(t, err)
	assert.Contains(t, string(summary), "Subject: Printer broken")

	n := tickets[1]
	assert.Equal(t, "Thanks", n.Subject)
	assert.Equal(t, "Ann <ann@example.com>", n.From)
	assert.Equal(t, "All good now.\r\n", n.Text)
	assert.Empty(t, n.Files)
}

// run imports twice: the second run finds nothing new.
func runTwice(t *testing.T, mb mailaccess.Mailbox) []Ticket {
	t.Helper()
	ctx := context.Background()
	im := &Importer{Dir: t.TempDir()}
	tickets, err := im.Run(ctx, mb, mailaccess.Inbox)
	require.NoError(t, err)
	again, err := im.Run(ctx, mb, mailaccess.Inbox)
	require.NoError(t, err)
	assert.Empty(t, again, "a second run imports nothing again")
	return tickets
}

// On an IMAP-like fake: the unseen messages become tickets and are
// flagged \Seen, read part by part (never a whole message).
func TestImportOnIMAPFake(t *testing.T) {
	mb := mailtest.New(mailtest.ProfileIMAP)
	defer mb.Close()
	mb.Add("INBOX", note(0), mailaccess.FlagSeen)
	mb.Add("INBOX", customer)
	mb.Add("INBOX", plainNote)
	checkTickets(t, runTwice(t, mb))
	for _, m := range mb.Messages("INBOX") {
		assert.Contains(t, m.Flags, mailaccess.FlagSeen)
	}
	assert.Zero(t, mb.Calls(mailtest.OpOpen), "parts were fetched alone")
	assert.Equal(t, 3, mb.Calls(mailtest.OpOpenPart), "two texts and one attachment")
}

// On a POP3-like fake (no flags, deferred deletes): every message is new,
// and the imported ones are deleted at Commit.
func TestImportOnPOP3Fake(t *testing.T) {
	store := mailtest.NewStore()
	store.Add("INBOX", customer)
	store.Add("INBOX", plainNote)
	mb := store.Open(mailtest.ProfilePOP3)
	defer mb.Close()
	checkTickets(t, runTwice(t, mb))
	assert.Empty(t, store.Messages("INBOX"), "imported and deleted")
}

// A message that cannot be read stops the run; what was imported before
// it is still marked, and the rest is imported by the next run.
func TestImportFaultMarksOnlyWhatWasImported(t *testing.T) {
	store := mailtest.NewStore()
	store.Add("INBOX", plainNote)
	store.Add("INBOX", customer)
	store.FailNth(mailtest.OpOpenPart, 2, fmt.Errorf("connection reset"))
	mb := store.Open(mailtest.ProfilePOP3)
	defer mb.Close()
	im := &Importer{Dir: t.TempDir()}
	tickets, err := im.Run(context.Background(), mb, mailaccess.Inbox)
	require.Error(t, err)
	require.Len(t, tickets, 1)
	assert.Equal(t, "Thanks", tickets[0].Subject)
	require.Len(t, store.Messages("INBOX"), 1, "the imported message was deleted, the other kept")
	tickets, err = im.Run(context.Background(), mb, mailaccess.Inbox)
	require.NoError(t, err)
	require.Len(t, tickets, 1)
	assert.Equal(t, "Printer broken", tickets[0].Subject)
}

func TestImportOnMaildir(t *testing.T) {
	st, err := maildir.Open(t.TempDir(), nil)
	require.NoError(t, err)
	defer st.Close()
	ctx := context.Background()
	_, err = st.Append(ctx, "INBOX", bytes.NewReader(note(0)), &mailaccess.AppendOptions{Flags: []mailaccess.Flag{mailaccess.FlagSeen}})
	require.NoError(t, err)
	for _, raw := range [][]byte{customer, plainNote} {
		_, err = st.Append(ctx, "INBOX", bytes.NewReader(raw), nil)
		require.NoError(t, err)
	}
	tickets := runTwice(t, st)
	require.Len(t, tickets, 2)
	subjects := []string{tickets[0].Subject, tickets[1].Subject}
	assert.ElementsMatch(t, []string{"Printer broken", "Thanks"}, subjects)
}

func TestImportOverPOP3(t *testing.T) {
	fake := mailtest.New(mailtest.ProfilePOP3)
	fake.Add("INBOX", customer)
	fake.Add("INBOX", plainNote)
	srv := pop3test.Start(t, fake, nil)
	mb, err := pop3.Dial(context.Background(), srv.Config("user", "pass"))
	require.NoError(t, err)
	defer mb.Close()
	checkTickets(t, runTwice(t, mb))
	assert.Empty(t, fake.Messages("INBOX"), "imported and deleted on the server")
}

// fetchCounter is a TCP proxy that counts the FETCH responses the server
// sends.
type fetchCounter struct {
	ln      net.Listener
	mu      sync.Mutex
	fetches int
}

func startFetchCounter(t *testing.T, upstream string) *fetchCounter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fc := &fetchCounter{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go fc.serve(c, upstream)
		}
	}()
	return fc
}

func (fc *fetchCounter) serve(client net.Conn, upstream string) {
	defer client.Close()
	server, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer server.Close()
	go func() { io.Copy(server, client); server.Close() }()
	br := bufio.NewReader(server)
	for {
		line, err := br.ReadBytes('\n')
		if bytes.HasPrefix(line, []byte("* ")) && bytes.Contains(line, []byte(" FETCH (")) {
			fc.mu.Lock()
			fc.fetches++
			fc.mu.Unlock()
		}
		if _, werr := client.Write(line); werr != nil || err != nil {
			return
		}
		if n, ok := literal(line); ok {
			if _, err := io.CopyN(client, br, n); err != nil {
				return
			}
		}
	}
}

func literal(line []byte) (int64, bool) {
	s := string(bytes.TrimRight(line, "\r\n"))
	i := bytes.LastIndexByte([]byte(s), '{')
	if i < 0 || len(s) == 0 || s[len(s)-1] != '}' {
		return 0, false
	}
	n, err := strconv.ParseInt(s[i+1:len(s)-1], 10, 64)
	return n, err == nil
}

func (fc *fetchCounter) count() int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.fetches
}

// On IMAP (imapmemserver) the importer fetches what it selected: the
// number of FETCH responses is the same for a folder of 100 and of 3,000
// seen messages, a few per unseen message.
func TestImportOverIMAPCostsWhatItSelected(t *testing.T) {
	cost := map[int]int{}
	for _, seen := range []int{100, 3000} {
		srv := imaptest.Start(t, nil, imaptest.User{Name: "user", Password: "pass"})
		for i := 0; i < seen; i++ {
			_, err := srv.Append("user", "INBOX", note(i), []imap.Flag{imap.FlagSeen})
			require.NoError(t, err)
			if i == seen/2 {
				_, err = srv.Append("user", "INBOX", customer, nil)
				require.NoError(t, err)
			}
		}
		_, err := srv.Append("user", "INBOX", plainNote, nil)
		require.NoError(t, err)
		fc := startFetchCounter(t, srv.Addr)
		cfg := srv.Config("user", "pass")
		host, port, _ := net.SplitHostPort(fc.ln.Addr().String())
		cfg.Host = host
		cfg.Port, _ = strconv.Atoi(port)
		mb, err := imapdriver.Dial(context.Background(), cfg)
		require.NoError(t, err)
		before := fc.count()
		checkTickets(t, runTwice(t, mb))
		cost[seen] = fc.count() - before
		mb.Close()
		st, err := func() (mailaccess.FolderStatus, error) {
			mb, err := imapdriver.Dial(context.Background(), srv.Config("user", "pass"))
			if err != nil {
				return mailaccess.FolderStatus{}, err
			}
			defer mb.Close()
			return mb.Status(context.Background(), "INBOX")
		}()
		require.NoError(t, err)
		assert.Zero(t, st.Unseen, "the imported messages are seen")
	}
	t.Logf("FETCH responses for 2 unseen messages: %v (by number of seen messages)", cost)
	assert.Equal(t, cost[100], cost[3000], "the cost does not grow with the folder")
	assert.LessOrEqual(t, cost[3000], 2+3, "one per selected message, one per part read")
}
