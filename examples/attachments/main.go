// Command attachments saves every attachment of every message of a folder
// into a directory, under safe file names, on any protocol:
//
//	export MAIL_PASSWORD=…
//	go run ./examples/attachments -from imaps://me@imap.example.com/INBOX -out ./files
//	go run ./examples/attachments -from pop3s://me@pop.example.com -out ./files
//	go run ./examples/attachments -from maildir:///home/me/Mail -folder Archive -out ./files
//
// On IMAP it downloads only the attachments: the part trees come from
// BODYSTRUCTURE and each attachment is fetched alone, so a folder of large
// messages with small attachments costs the attachments, not the
// messages. It never overwrites a file: a name already taken gets " (2)"
// before its extension.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	_ "github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	_ "github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	_ "github.com/mailaccess/go-mailaccess/pop3"
)

// passwordEnv holds the password; a flag would show it in ps.
const passwordEnv = "MAIL_PASSWORD"

func main() {
	from := flag.String("from", "", "mailbox URL (imaps://, pop3s://, maildir://); the password comes from "+passwordEnv)
	folder := flag.String("folder", "", "folder to read (default: the URL's, else INBOX)")
	out := flag.String("out", "attachments", "directory to save the attachments in")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *from, *folder, *out, os.Getenv(passwordEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "attachments:", err)
		os.Exit(1)
	}
}

// run saves the attachments of folder of the mailbox at url into out,
// printing a line per file to w.
func run(ctx context.Context, w io.Writer, url, folder, out, password string) (err error) {
	if url == "" {
		return errors.New("-from is required (a mailbox URL such as imaps://me@imap.example.com)")
	}
	cfg, err := mailaccess.ParseURL(url)
	if err != nil {
		return err
	}
	cfg.Password = mailaccess.Secret(password)
	mb, err := mailaccess.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, mb.Close()) }()
	if folder == "" {
		folder = cfg.Folder
	}
	if folder == "" {
		folder = mailaccess.Inbox
	}
	saved, err := (&Extractor{Dir: out}).Run(ctx, mb, folder)
	for _, s := range saved {
		fmt.Fprintf(w, "%s\t%d bytes\tmessage %s part %s\n", s.File, s.Size, s.ID, s.Part)
	}
	if err == nil {
		fmt.Fprintf(w, "%d attachment(s) saved in %s\n", len(saved), out)
	}
	return err
}
