package pop3_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// server starts an in-process POP3 server holding two messages; a real
// program would dial its provider instead.
func server() (*pop3test.Server, *mailtest.Mailbox) {
	fake := mailtest.New(mailtest.ProfilePOP3)
	fake.Add("INBOX", []byte("Subject: first\r\n\r\nhello\r\n"))
	fake.Add("INBOX", []byte("Subject: second\r\n\r\nworld\r\n"))
	srv, err := pop3test.NewServer(fake, &pop3test.Options{User: "alice", Password: "secret"})
	if err != nil {
		log.Fatal(err)
	}
	return srv, fake
}

// Download every message, then delete them on the server: the deletions
// take effect only at Commit.
func Example() {
	srv, fake := server()
	defer srv.Close()
	ctx := context.Background()

	// In production: mailaccess.Config{Scheme: "pop3s", Host: "pop.example.org",
	// User: "alice", Password: "..."} or mailaccess.OpenURL(ctx, "pop3s://alice@pop.example.org").
	cfg := srv.Config("alice", "secret")
	mb, err := pop3.Dial(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer mb.Close()
	fmt.Println(mb.Capabilities())

	var done []mailaccess.ID
	for m, err := range mb.List(ctx, "INBOX", &mailaccess.ListOptions{Headers: true}) {
		if err != nil {
			log.Fatal(err)
		}
		rc, err := m.Open(ctx)
		if err != nil {
			log.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc) // store it durably here
		rc.Close()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d bytes\n", m.Header().Subject(), n)
		done = append(done, m.ID())
	}
	if err := mb.Delete(ctx, "INBOX", done...); err != nil {
		log.Fatal(err)
	}
	fmt.Println("on the server before Commit:", len(fake.Messages("INBOX")))
	if err := mb.Commit(ctx); err != nil { // DELE ... QUIT
		log.Fatal(err)
	}
	fmt.Println("on the server after Commit:", len(fake.Messages("INBOX")))
	// Output:
	// uid|headers|delete|deferred-delete
	// first: 25 bytes
	// second: 26 bytes
	// on the server before Commit: 2
	// on the server after Commit: 0
}

// OpenAll downloads many messages with pipelined RETR; generic code finds
// it with an interface assertion.
func ExampleMailbox_OpenAll() {
	srv, _ := server()
	defer srv.Close()
	ctx := context.Background()
	var mb mailaccess.Mailbox
	mb, err := mailaccess.Open(ctx, srv.Config("alice", "secret"))
	if err != nil {
		log.Fatal(err)
	}
	defer mb.Close()
	var ids []mailaccess.ID
	for m, err := range mb.List(ctx, "INBOX", nil) {
		if err != nil {
			log.Fatal(err)
		}
		ids = append(ids, m.ID())
	}
	// driver.OpenAll uses the driver's batch read (pipelined RETR here),
	// and one Open per message on a Mailbox without one.
	err = driver.OpenAll(ctx, mb, "INBOX", ids, func(id mailaccess.ID, r io.Reader) error {
		n, err := io.Copy(io.Discard, r)
		fmt.Println(id, n)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// 1 25
	// 2 26
}

// As reaches the wire connection: not portable.
func ExampleMailbox_As() {
	srv, _ := server()
	defer srv.Close()
	ctx := context.Background()
	mb, err := pop3.Dial(ctx, srv.Config("alice", "secret"))
	if err != nil {
		log.Fatal(err)
	}
	defer mb.Close()
	var c *pop3.Conn
	if mb.As(&c) {
		fmt.Println(c.Capabilities().Pipelining, c.IsTLS())
	}
	// Output: true true
}

// FetchMatching takes the same criteria as Search, evaluated here in
// stages: the sizes of LIST, then one pipelined TOP per message still
// undecided, then RETR only for what the header could not decide. POP3
// has no internal date, so Since compares the Date header; the headers
// read to decide are the ones handed out.
func ExampleMailbox_FetchMatching() {
	fake := mailtest.New(mailtest.ProfilePOP3)
	fake.Add("INBOX", []byte("Subject: invoice 7\r\nDate: Sat, 10 Mar 2001 10:00:00 +0000\r\n\r\nplease pay\r\n"))
	fake.Add("INBOX", []byte("Subject: invoice 8\r\nDate: Wed, 15 Jun 2011 10:00:00 +0000\r\n\r\npaid, thanks\r\n"))
	fake.Add("INBOX", []byte("Subject: newsletter\r\nDate: Thu, 16 Jun 2011 10:00:00 +0000\r\nList-Id: <news.example>\r\n\r\nnews\r\n"))
	srv, err := pop3test.NewServer(fake, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	mb, err := pop3.Dial(ctx, srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword))
	if err != nil {
		log.Fatal(err)
	}
	defer mb.Close()
	recent := mailaccess.Criteria{
		Since: time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC),
		Not:   []mailaccess.Criteria{{Header: map[string]string{"List-Id": ""}}},
	}
	for msg, err := range mb.FetchMatching(ctx, mailaccess.Inbox, recent, &mailaccess.FetchOptions{Headers: true}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(msg.ID(), msg.Header().Subject())
	}
	// Output:
	// 2 invoice 8
}

// POP3 has no search, yet Search works: the driver decides what it can
// from the LIST sizes, reads headers with TOP and bodies with RETR only
// for the messages still undecided. Sort orders them as IMAP SORT would.
func ExampleMailbox_Search() {
	srv, _ := server()
	defer srv.Close()
	ctx := context.Background()
	mb, err := pop3.Dial(ctx, srv.Config("alice", "secret"))
	if err != nil {
		log.Fatal(err)
	}
	defer mb.Close()
	ids, err := mb.Search(ctx, mailaccess.Inbox, mailaccess.Or(mailaccess.Criteria{Subject: "second"}, mailaccess.Criteria{Body: "HELLO"}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ids, mb.Capabilities().Has(mailaccess.CapSearch))
	ids, err = mb.Sort(ctx, mailaccess.Inbox, mailaccess.Criteria{}, mailaccess.SortKey{By: mailaccess.SortSubject, Reverse: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ids)
	st, err := mb.Status(ctx, mailaccess.Inbox)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Messages, st.UnseenKnown())
	// Output:
	// [1 2] false
	// [2 1]
	// 2 false
}

// Deletions apply only at Commit. Close with deletions still pending
// reports them; Rollback drops them on purpose.
func ExampleMailbox_Rollback() {
	srv, fake := server()
	defer srv.Close()
	ctx := context.Background()
	mb, err := pop3.Dial(ctx, srv.Config("alice", "secret"))
	if err != nil {
		log.Fatal(err)
	}
	if err := mb.Delete(ctx, mailaccess.Inbox, "1"); err != nil {
		log.Fatal(err)
	}
	// Storing the message failed: keep it on the server.
	if err := mb.Rollback(ctx); err != nil {
		log.Fatal(err)
	}
	if err := mb.Delete(ctx, mailaccess.Inbox, "2"); err != nil {
		log.Fatal(err)
	}
	err = mb.Close() // without Commit
	fmt.Println(errors.Is(err, mailaccess.ErrDeletesDiscarded))
	fmt.Println(len(fake.Messages("INBOX")))
	// Output:
	// true
	// 2
}
