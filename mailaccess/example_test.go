package mailaccess_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
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
	content, err := mailaccess.ReadContent(body, nil)
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

// ReadContent decodes a streamed message for display: subject and
// addresses, text and HTML bodies in UTF-8, attachments streamed past.
func ExampleReadContent() {
	raw := "From: =?ISO-8859-1?Q?Jos=E9?= <jose@example.com>\r\n" +
		"Subject: Invoice\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n" +
		"--b--\r\n"
	c, err := mailaccess.ReadContent(strings.NewReader(raw), &mailaccess.ContentOptions{
		OnAttachment: func(a mailaccess.Attachment, r io.Reader) error {
			n, err := io.Copy(io.Discard, r) // save or scan it here
			fmt.Printf("attachment %s (%s), %d bytes\n", a.Filename, a.ContentType, n)
			return err
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Header.From()[0].Name, "-", c.Header.Subject(), "-", strings.TrimSpace(c.Text))
	// Output:
	// attachment invoice.pdf (application/pdf), 9 bytes
	// José - Invoice - Grüße
}

// ParseURL turns a URL into a Config; String never shows the password.
func ExampleParseURL() {
	cfg, err := mailaccess.ParseURL("imaps://alice:secret@imap.example.com/Archive?max_conns=2")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Protocol(), cfg.Addr(), cfg.Folder, cfg.EffectiveTLS())
	fmt.Println(cfg)
	// Output:
	// imap imap.example.com:993 Archive implicit
	// imaps://alice@imap.example.com/Archive?max_conns=2 (password REDACTED)
}
