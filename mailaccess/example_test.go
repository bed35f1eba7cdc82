package mailaccess_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

	_ "github.com/mailaccess/go-mailaccess/imap" // registers imap://, imaps://
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailmime"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest" // registers mem://
)

// Open a mailbox from configuration, list a folder with headers, and read a
// message body. Only the URL says which protocol: "imaps://me@host/INBOX"
// or "pop3s://me@host" (with the imap or pop3 driver imported) work the
// same way. Here it is the in-memory fake, seeded as a server would be.
func Example() {
	store := mailtest.NamedStore("example")
	store.Add("INBOX", []byte("From: Ana <ana@example.com>\r\nSubject: =?UTF-8?Q?Caf=C3=A9?= at noon\r\n\r\nSee you there.\r\n"))
	store.Add("INBOX", []byte("From: bob@example.com\r\nSubject: Report\r\n\r\nAttached.\r\n"))

	ctx := context.Background()
	cfg, err := mailaccess.ParseURL("mem://example/INBOX")
	if err != nil {
		log.Fatal(err)
	}
	cfg.Password = mailaccess.Secret(os.Getenv("MAIL_PASSWORD")) // never in the URL or in logs
	mb, err := mailaccess.Open(ctx, cfg, mailaccess.CapUID)      // fail early without stable IDs
	if err != nil {
		log.Fatal(err)
	}
	defer mb.Close()

	var first mailaccess.Message
	for msg, err := range mb.List(ctx, mailaccess.Inbox, &mailaccess.ListOptions{Headers: true}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s  %-20s %s\n", msg.ID(), msg.Header().From()[0].Addr, msg.Header().Subject())
		if first == nil {
			first = msg
		}
	}

	body, err := first.Open(ctx) // streamed, never buffered whole
	if err != nil {
		log.Fatal(err)
	}
	defer body.Close()
	content, err := mailmime.ReadContent(body, nil) // decoded for display
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.TrimSpace(content.Text))
	// Output:
	// 1  ana@example.com      Café at noon
	// 2  bob@example.com      Report
	// See you there.
}

// Capabilities tell a program what the configured protocol can do, so it
// can degrade instead of failing, and unsupported calls say what is missing.
func ExampleCapability() {
	pop := mailtest.New(mailtest.ProfilePOP3)
	defer pop.Close()
	fmt.Println(pop.Capabilities())
	fmt.Println(pop.Capabilities().Has(mailaccess.CapFlags))
	err := pop.SetFlags(context.Background(), mailaccess.Inbox, nil, mailaccess.AddFlags, mailaccess.FlagSeen)
	fmt.Println(err)
	// Output:
	// uid|headers|delete|deferred-delete
	// false
	// mem: set flags: not supported (missing capability flags)
}

// Criteria combine with Or, Not and And; strings match decoded text
// (encoded words, base64 and quoted-printable bodies) case-insensitively,
// the same on every driver. Search works on every driver: without
// CapSearch (POP3) the driver reads what the criteria need itself.
func ExampleOr() {
	mb := mailtest.New(mailtest.ProfilePOP3)
	defer mb.Close()
	mb.Add("INBOX", []byte("From: billing@bank.example\r\nSubject: Statement\r\n\r\nYour statement.\r\n"))
	mb.Add("INBOX", []byte("From: ann@example.com\r\nSubject: =?UTF-8?Q?Invoice_f=C3=BCr_M=C3=A4rz?=\r\n\r\nSee attached.\r\n"))
	mb.Add("INBOX", []byte("From: news@shop.example\r\nList-Id: <news.shop.example>\r\nSubject: Invoice-free deals\r\n\r\nBuy.\r\n"))
	mb.Add("INBOX", []byte("From: bob@example.com\r\nSubject: Lunch\r\n\r\nNoon?\r\n"))

	// Mail from the bank or about an invoice, but no mailing list.
	c := mailaccess.Criteria{
		Or:  []mailaccess.Criteria{{From: "bank.example"}, {Subject: "invoice"}},
		Not: []mailaccess.Criteria{{Header: map[string]string{"List-Id": ""}}},
	}
	ids, err := mb.Search(context.Background(), mailaccess.Inbox, c)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ids)
	// The same with the functions, and the decoded subject.
	ids, _ = mb.Search(context.Background(), mailaccess.Inbox, mailaccess.And(
		mailaccess.Or(mailaccess.Criteria{From: "bank.example"}, mailaccess.Criteria{Subject: "INVOICE FÜR"}),
		mailaccess.Not(mailaccess.Criteria{Header: map[string]string{"List-Id": ""}}),
	))
	fmt.Println(ids)
	// Output:
	// [1 2]
	// [1 2]
}

// Not excludes what its criteria match; with Or it says "neither".
func ExampleNot() {
	mb := mailtest.New(mailtest.ProfileIMAP)
	defer mb.Close()
	mb.Add("INBOX", []byte("From: alerts@monitor.example\r\nSubject: disk full\r\n\r\n.\r\n"))
	mb.Add("INBOX", []byte("From: ann@example.com\r\nSubject: hello\r\n\r\n.\r\n"))
	mb.Add("INBOX", []byte("From: noreply@shop.example\r\nSubject: your order\r\n\r\n.\r\n"))
	notAutomated := mailaccess.Not(mailaccess.Or(mailaccess.Criteria{From: "alerts@"}, mailaccess.Criteria{From: "noreply@"}))
	ids, err := mb.Search(context.Background(), mailaccess.Inbox, notAutomated)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ids)
	// Output:
	// [2]
}

// And joins criteria that set the same field twice.
func ExampleAnd() {
	mb := mailtest.New(mailtest.ProfileIMAP)
	defer mb.Close()
	mb.Add("INBOX", []byte("Subject: budget meeting\r\n\r\n.\r\n"))
	mb.Add("INBOX", []byte("Subject: budget\r\n\r\n.\r\n"))
	both := mailaccess.And(mailaccess.Criteria{Subject: "budget"}, mailaccess.Criteria{Subject: "meeting"})
	ids, err := mb.Search(context.Background(), mailaccess.Inbox, both)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ids)
	// Output:
	// [1]
}

// Sort orders the matching messages as IMAP SORT does: by base subject
// ("Re:" and "[list]" prefixes ignored), then newest first. The IMAP
// driver has the server sort when it offers SORT (CapSort); the others
// sort locally, with the same result.
func ExampleSortKey() {
	mb := mailtest.New(mailtest.ProfilePOP3)
	defer mb.Close()
	mb.Add("INBOX", []byte("Subject: Re: budget\r\nDate: Tue, 02 Jan 2024 10:00:00 +0000\r\n\r\n.\r\n"))
	mb.Add("INBOX", []byte("Subject: [team] Agenda\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\n.\r\n"))
	mb.Add("INBOX", []byte("Subject: budget\r\nDate: Wed, 03 Jan 2024 10:00:00 +0000\r\n\r\n.\r\n"))
	ids, err := mb.Sort(context.Background(), mailaccess.Inbox, mailaccess.Criteria{},
		mailaccess.SortKey{By: mailaccess.SortSubject},
		mailaccess.SortKey{By: mailaccess.SortDate, Reverse: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ids, mb.Capabilities().Has(mailaccess.CapSort))
	// Output:
	// [2 3 1] false
}

// Unseen is UnknownCount where the store keeps no \Seen flag (POP3), so a
// check against 0 never skips POP3 mail; UnseenKnown tells the cases
// apart.
func ExampleFolderStatus_UnseenKnown() {
	ctx := context.Background()
	for _, profile := range []mailaccess.Capability{mailtest.ProfileIMAP, mailtest.ProfilePOP3} {
		mb := mailtest.New(profile)
		mb.Add("INBOX", []byte("Subject: new\r\n\r\n.\r\n"))
		st, err := mb.Status(ctx, mailaccess.Inbox)
		if err != nil {
			log.Fatal(err)
		}
		if st.UnseenKnown() {
			fmt.Println("unseen:", st.Unseen)
		} else {
			fmt.Println("unseen: unknown, of", st.Messages)
		}
		mb.Close()
	}
	// Output:
	// unseen: 1
	// unseen: unknown, of 1
}

// Close reports deletions it had to drop because Commit was never called
// (POP3 deletes only at Commit); Rollback drops them on purpose.
func ExampleRollback() {
	ctx := context.Background()
	mb := mailtest.New(mailtest.ProfilePOP3)
	id := mb.Add("INBOX", []byte("Subject: ticket\r\n\r\n.\r\n"))
	if err := mb.Delete(ctx, mailaccess.Inbox, id); err != nil {
		log.Fatal(err)
	}
	err := mb.Close() // forgot mailaccess.Commit(ctx, mb)
	fmt.Println(errors.Is(err, mailaccess.ErrDeletesDiscarded))

	mb = mailtest.New(mailtest.ProfilePOP3)
	id = mb.Add("INBOX", []byte("Subject: ticket\r\n\r\n.\r\n"))
	if err := mb.Delete(ctx, mailaccess.Inbox, id); err != nil {
		log.Fatal(err)
	}
	// The ticket could not be stored: keep the mail on the server.
	if err := mailaccess.Rollback(ctx, mb); err != nil {
		log.Fatal(err)
	}
	fmt.Println(mb.Close())
	// Output:
	// true
	// <nil>
}

// ParseURL turns a URL into a Config; String never shows the password.
func ExampleParseURL() {
	cfg, err := mailaccess.ParseURL("imaps://alice:secret@imap.example.com/Archive?max_conns=2")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Scheme, cfg.Host, cfg.Folder, cfg.MaxConns)
	fmt.Println(cfg)
	// Output:
	// imaps imap.example.com Archive 2
	// imaps://alice@imap.example.com/Archive?max_conns=2 (password REDACTED)
}

// Validate checks criteria as every driver does before searching, so a
// bad Criteria fails alike on every protocol.
func ExampleCriteria_Validate() {
	c := mailaccess.Or(mailaccess.Criteria{Subject: "ok"}, mailaccess.Criteria{Subject: "bad\r\nA1 DELETE INBOX"})
	err := c.Validate()
	fmt.Println(errors.Is(err, mailaccess.ErrInvalid))
	fmt.Println(err)
	fmt.Println(mailaccess.Criteria{}.IsZero(), mailaccess.Or().IsZero())
	// Output:
	// true
	// search criteria: Subject contains CR, LF or NUL: invalid argument
	// true false
}
