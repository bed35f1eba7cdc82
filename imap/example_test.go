package imap_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// An in-process server stands in for a real one; against a real server use
// an imaps:// configuration with a password or token.
func ExampleDial() {
	srv, err := imaptest.NewServer(nil, imaptest.User{Name: "alice", Password: "pw", Messages: [][]byte{
		[]byte("From: bob@example.com\r\nSubject: Hello\r\n\r\nHi Alice!\r\n"),
		[]byte("From: carol@example.com\r\nSubject: Lunch?\r\n\r\nNoon?\r\n"),
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	ctx := context.Background()
	mb, err := imap.Dial(ctx, srv.Config("alice", "pw"))
	if err != nil {
		log.Fatal(err)
	}
	defer mb.Close()

	var first mailaccess.ID
	for msg, err := range mb.List(ctx, "INBOX", &mailaccess.ListOptions{Headers: true}) {
		if err != nil {
			log.Fatal(err)
		}
		if first == "" {
			first = msg.ID()
		}
		// IDs are "<uidvalidity>.<uid>".
		fmt.Println(msg.ID(), msg.Info().UID, msg.Header().Subject())
	}
	rc, err := mb.Open(ctx, "INBOX", first, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	raw, _ := io.ReadAll(rc)
	fmt.Println(strings.Contains(string(raw), "Hi Alice!"))
	fmt.Println(mb.Capabilities().Has(mailaccess.CapPush | mailaccess.CapMove))
	// Output:
	// 1.1 1 Hello
	// 1.2 2 Lunch?
	// true
	// true
}

// Opening through the registry, as a program that takes the protocol from
// its configuration does.
func Example_registry() {
	srv, err := imaptest.NewServer(nil, imaptest.User{Name: "alice", Password: "pw"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	cfg := srv.Config("alice", "pw") // in real life: mailaccess.ParseURL("imaps://alice@imap.example.com")
	mb, err := mailaccess.Open(context.Background(), cfg, mailaccess.CapSearch)
	if err != nil {
		log.Fatal(err)
	}
	defer mb.Close()
	folders, err := mb.Folders(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range folders {
		fmt.Printf("%s role=%q\n", f.Name, f.Role)
	}
	// Output:
	// Drafts role=""
	// INBOX role="inbox"
	// Junk role=""
	// Sent role=""
	// Trash role=""
}

// Watch reports new mail pushed by IDLE.
func ExampleMailbox_Watch() {
	srv, err := imaptest.NewServer(nil, imaptest.User{Name: "alice", Password: "pw"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mb, err := imap.Dial(ctx, srv.Config("alice", "pw"))
	if err != nil {
		log.Fatal(err)
	}
	defer mb.Close()

	go func() {
		// Mail arrives from elsewhere while the watch idles.
		if srv.WaitIdle(ctx, "alice") == nil {
			srv.Append("alice", "INBOX", []byte("Subject: new\r\n\r\nnew mail\r\n"), nil)
		}
	}()
	for ev, err := range mb.Watch(ctx, "INBOX", nil) {
		if err != nil {
			log.Fatal(err)
		}
		if ev.Kind == mailaccess.EventNew {
			fmt.Println(ev.Kind, ev.IDs, "push:", ev.Push)
			break
		}
	}
	// Output:
	// new [1.1] push: true
}
