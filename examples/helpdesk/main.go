// Command helpdesk imports unseen mail as helpdesk tickets: for each
// unseen message it writes a directory with the sender, the subject and
// the text (in UTF-8), and the attachments under safe file names, then
// marks the message handled (\Seen on IMAP and Maildir, deleted on POP3).
// It is written from the README's "Reading what you need" alone and runs
// unchanged on every protocol:
//
//	export MAIL_PASSWORD=…
//	go run ./examples/helpdesk -from imaps://support@imap.example.com/INBOX -out ./tickets
//	go run ./examples/helpdesk -from pop3s://support@pop.example.com -out ./tickets
//	go run ./examples/helpdesk -from maildir:///var/mail/support -out ./tickets
//
// On IMAP it costs what it selected: one search, one fetch of the unseen
// messages' headers and part trees, one fetch per part it reads.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	_ "github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	_ "github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	_ "github.com/mailaccess/go-mailaccess/pop3"
)

func main() {
	from := flag.String("from", "", "mailbox URL (imaps://, pop3s://, maildir://); the password comes from MAIL_PASSWORD")
	out := flag.String("out", "tickets", "directory to write tickets into")
	flag.Parse()
	if err := run(*from, *out); err != nil {
		fmt.Fprintln(os.Stderr, "helpdesk:", err)
		os.Exit(1)
	}
}

func run(url, out string) (err error) {
	if url == "" {
		return fmt.Errorf("-from is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := mailaccess.ParseURL(url)
	if err != nil {
		return err
	}
	cfg.Password = mailaccess.Secret(os.Getenv("MAIL_PASSWORD"))
	mb, err := mailaccess.Open(ctx, cfg)
	if err != nil {
		return err
	}
	// Close reports deletions it had to drop (POP3 without Commit): never
	// ignore its error, or the same mail becomes tickets on every run.
	defer func() { err = errors.Join(err, mb.Close()) }()
	folder := cfg.Folder
	if folder == "" {
		folder = mailaccess.Inbox
	}
	tickets, err := (&Importer{Dir: out}).Run(ctx, mb, folder)
	for _, t := range tickets {
		fmt.Printf("%s  %-30s %s (%d attachment(s))\n", t.Dir, t.From, t.Subject, len(t.Files))
	}
	return err
}
