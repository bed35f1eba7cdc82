package mailaccess_test

import (
	"context"
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
	fmt.Println(pop.Capabilities().Has(mailaccess.CapSearch))
	_, err := pop.Search(context.Background(), mailaccess.Inbox, mailaccess.Criteria{Subject: "invoice"})
	fmt.Println(err)
	// Output:
	// uid|headers|delete|deferred-delete
	// false
	// mem: search: not supported (missing capability search)
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
