// Command quickstart shows mailaccess end to end with nothing to install:
//
//	go run ./examples/quickstart
//
// It starts an in-process POP3 server and an in-process IMAP server, both
// seeded with the same few messages and both offering STARTTLS with a
// certificate it trusts. It then opens each through the same
// mailaccess.Config, changing only the URL scheme, prints the capabilities
// and the listing of each side by side, reads one message (decoded subject,
// sender, text and attachments), syncs both accounts into a temporary
// Maildir, and reads that copy offline through the same API.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	_ "github.com/mailaccess/go-mailaccess/imap" // imap://, imaps://
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir" // maildir://
	"github.com/mailaccess/go-mailaccess/mailaccess/mailmime"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	_ "github.com/mailaccess/go-mailaccess/pop3" // pop3://, pop3s://
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	srv, err := startServers(seedMessages())
	if err != nil {
		return err
	}
	defer srv.Close()

	fmt.Fprintln(out, "mailaccess quickstart: one API, two protocols, embedded servers")
	fmt.Fprintln(out)

	// One Config; only the scheme and port differ between the protocols.
	base := mailaccess.Config{
		Host:      "127.0.0.1",
		User:      demoUser,
		Password:  demoPassword, // a Secret: never printed
		TLS:       mailaccess.TLSStartTLS,
		TLSConfig: srv.clientTLS,
	}
	_, imapPort, _ := net.SplitHostPort(srv.imap.Addr)
	accounts := []struct {
		name string
		cfg  mailaccess.Config
	}{
		{"POP3", withEndpoint(base, "pop3", srv.pop3.Port())},
		{"IMAP", withEndpoint(base, "imap", atoi(imapPort))},
	}

	var boxes []mailaccess.Mailbox
	for _, a := range accounts {
		mb, err := mailaccess.Open(ctx, a.cfg)
		if err != nil {
			return fmt.Errorf("open %s: %w", a.name, err)
		}
		defer mb.Close()
		boxes = append(boxes, mb)
		fmt.Fprintf(out, "%-5s %s\n", a.name, a.cfg) // the password shows as REDACTED
		fmt.Fprintf(out, "      capabilities: %s\n", mb.Capabilities())
	}
	fmt.Fprintln(out)

	// Listings side by side.
	listings := make([][]mailaccess.Message, len(boxes))
	for i, mb := range boxes {
		for msg, err := range mb.List(ctx, mailaccess.Inbox, &mailaccess.ListOptions{Headers: true}) {
			if err != nil {
				return fmt.Errorf("list %s: %w", accounts[i].name, err)
			}
			listings[i] = append(listings[i], msg)
		}
	}
	fmt.Fprintf(out, "%-18s %-6s %6s  %-28s %s\n", "POP3 ID", "IMAP", "SIZE", "FROM", "SUBJECT")
	for j := range listings[0] {
		p := listings[0][j]
		imapID := "-"
		if j < len(listings[1]) {
			imapID = string(listings[1][j].ID())
		}
		from := ""
		if f := p.Header().From(); len(f) > 0 {
			from = f[0].Name
			if from == "" {
				from = f[0].Addr
			}
		}
		fmt.Fprintf(out, "%-18s %-6s %6d  %-28s %s\n", clip(string(p.ID()), 18), imapID, p.Size(), clip(from, 28), clip(p.Header().Subject(), 50))
	}
	fmt.Fprintln(out)

	// One search on both protocols: the IMAP server evaluates it, the
	// POP3 driver reads what the criteria need (POP3 has no search).
	c := mailaccess.Or(mailaccess.Criteria{Subject: "factura"}, mailaccess.Criteria{Body: "jammed"})
	var ids []mailaccess.ID
	for i, mb := range boxes {
		if ids, err = mb.Search(ctx, mailaccess.Inbox, c); err != nil {
			return fmt.Errorf("%s search: %w", accounts[i].name, err)
		}
		fmt.Fprintf(out, "%-4s search subject~factura OR body~jammed: %v\n", accounts[i].name, ids)
	}
	// What POP3 cannot do is an error that says so, not a silent no-op.
	err = boxes[0].SetFlags(ctx, mailaccess.Inbox, ids[:1], mailaccess.AddFlags, mailaccess.FlagSeen)
	fmt.Fprintf(out, "POP3 set flags: %v (errors.Is ErrUnsupported: %v)\n\n", err, errors.Is(err, errors.ErrUnsupported))
	ids = ids[len(ids)-1:] // the invoice, on IMAP

	// Read one message through IMAP: decoded header, text, attachments.
	if len(ids) > 0 {
		if err := show(ctx, out, boxes[1], ids[0]); err != nil {
			return err
		}
	}

	// Sync both accounts into a local Maildir, then read it offline.
	dir, err := os.MkdirTemp("", "mailaccess-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for i, a := range accounts {
		dst, err := maildir.Open(dir+"/"+strings.ToLower(a.name), nil)
		if err != nil {
			return err
		}
		s, err := mailsync.New(boxes[i], dst, nil)
		if err != nil {
			dst.Close()
			return err
		}
		rep, err := s.Run(ctx)
		if err != nil {
			dst.Close()
			return fmt.Errorf("sync %s: %w", a.name, err)
		}
		again, err := s.Run(ctx)
		if err != nil {
			dst.Close()
			return fmt.Errorf("resync %s: %w", a.name, err)
		}
		dst.Close()
		fmt.Fprintf(out, "sync %s -> %s/%s\n      first run:  %s\n      second run: %s\n",
			a.name, "$TMP", strings.ToLower(a.name), rep, again)
	}
	fmt.Fprintln(out)

	offline, err := mailaccess.OpenURL(ctx, "maildir://"+dir+"/imap")
	if err != nil {
		return err
	}
	defer offline.Close()
	fmt.Fprintf(out, "offline copy maildir://$TMP/imap, capabilities: %s\n", offline.Capabilities())
	for msg, err := range offline.List(ctx, mailaccess.Inbox, &mailaccess.ListOptions{Headers: true}) {
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %6d  %s\n", msg.Size(), msg.Header().Subject())
	}
	return nil
}

// show prints a decoded message.
func show(ctx context.Context, out io.Writer, mb mailaccess.Mailbox, id mailaccess.ID) error {
	body, err := mb.Open(ctx, mailaccess.Inbox, id, nil)
	if err != nil {
		return err
	}
	defer body.Close()
	c, err := mailmime.ReadContent(body, nil)
	if err != nil {
		return err
	}
	from := ""
	for _, a := range c.Header.From() {
		from += a.Name + " <" + a.Addr + ">"
	}
	fmt.Fprintf(out, "Message %s\n  From:    %s\n  Subject: %s\n  Text:    %s\n", id, from, c.Header.Subject(), strings.TrimSpace(c.Text))
	for _, a := range c.Attachments {
		fmt.Fprintf(out, "  Attachment: %s (%s, %d bytes)\n", a.Filename, a.ContentType, a.Size)
	}
	fmt.Fprintln(out)
	return nil
}

func withEndpoint(c mailaccess.Config, scheme string, port int) mailaccess.Config {
	c.Scheme = scheme
	c.Port = port
	return c
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
