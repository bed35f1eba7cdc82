package mailaccess_test

import (
	"context"
	"fmt"
	"io"
	"log"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// invoice is a message with a text body in ISO-8859-1 and a PDF.
const invoice = "From: =?ISO-8859-1?Q?Jos=E9?= <jose@example.com>\r\nSubject: Invoice\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe, the invoice is attached.\r\n" +
	"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n" +
	"--b--\r\n"

// Fetch the messages whose IDs a program kept (from Search, a Watch event
// or its own records), with their headers, in one exchange per batch.
func ExampleMailbox_Fetch() {
	mb := mailtest.New(mailtest.ProfileIMAP)
	a := mb.Add("INBOX", []byte("Subject: first\r\n\r\n1\r\n"))
	mb.Add("INBOX", []byte("Subject: second\r\n\r\n2\r\n"))
	c := mb.Add("INBOX", []byte("Subject: third\r\n\r\n3\r\n"))

	ctx := context.Background()
	for msg, err := range mb.Fetch(ctx, "INBOX", []mailaccess.ID{c, a}, &mailaccess.FetchOptions{Headers: true}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(msg.ID(), msg.Size(), msg.Header().Subject())
	}
	// Output:
	// 3 21 third
	// 1 21 first
}

// Take the unseen messages with their headers and part trees: on IMAP one
// UID SEARCH and one UID FETCH of what it found, whatever the size of the
// folder. Then mark them seen.
func ExampleMailbox_FetchMatching() {
	mb := mailtest.New(mailtest.ProfileIMAP)
	mb.Add("INBOX", []byte("Subject: old\r\n\r\nread already\r\n"), mailaccess.FlagSeen)
	mb.Add("INBOX", []byte(invoice))

	ctx := context.Background()
	unseen := mailaccess.Criteria{WithoutFlags: []mailaccess.Flag{mailaccess.FlagSeen}}
	var done []mailaccess.ID
	for msg, err := range mb.FetchMatching(ctx, "INBOX", unseen, &mailaccess.FetchOptions{Headers: true, Structure: true}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s from %s, %d attachment(s)\n", msg.Header().Subject(), msg.Header().From()[0], len(msg.Structure().Attachments()))
		done = append(done, msg.ID())
	}
	if err := mb.SetFlags(ctx, "INBOX", done, mailaccess.AddFlags, mailaccess.FlagSeen); err != nil {
		log.Fatal(err)
	}
	// Output:
	// Invoice from José <jose@example.com>, 1 attachment(s)
}

// Describe a message's parts without reading its body (IMAP:
// BODYSTRUCTURE).
func ExampleMailbox_Structure() {
	mb := mailtest.New(mailtest.ProfileIMAP)
	id := mb.Add("INBOX", []byte(invoice))

	st, err := mb.Structure(context.Background(), "INBOX", id)
	if err != nil {
		log.Fatal(err)
	}
	for p := range st.All() {
		fmt.Printf("[%s] %s %s %s %q %d\n", mailaccess.PathString(p.Path), p.Type, p.Charset, p.Encoding, p.Filename, p.Size)
	}
	fmt.Println("text:", mailaccess.PathString(st.Text().Path))
	// Output:
	// [] multipart/mixed  7bit "" 0
	// [1] text/plain iso-8859-1 quoted-printable "" 35
	// [2] application/pdf  base64 "invoice.pdf" 12
	// text: 1
}

// Read the text in UTF-8 and save the attachments, each part fetched
// alone and decoded (IMAP: BINARY[n] or BODY[n]).
func ExampleMailbox_OpenPart() {
	mb := mailtest.New(mailtest.ProfileIMAP)
	id := mb.Add("INBOX", []byte(invoice))
	ctx := context.Background()

	st, err := mb.Structure(ctx, "INBOX", id)
	if err != nil {
		log.Fatal(err)
	}
	rc, err := mb.OpenPart(ctx, "INBOX", id, st.Text().Path, &mailaccess.PartOptions{UTF8: true})
	if err != nil {
		log.Fatal(err)
	}
	text, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", text)
	for _, a := range st.Attachments() {
		rc, err := mb.OpenPart(ctx, "INBOX", id, a.Path, nil)
		if err != nil {
			log.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc) // os.Create(filepath.Join(dir, a.Filename)) in a real program
		rc.Close()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d bytes\n", a.Filename, n)
	}
	// Output:
	// Grüße, the invoice is attached.
	// invoice.pdf: 9 bytes
}

// An address prints as a header that allows UTF-8 shows it.
func ExampleAddress_String() {
	fmt.Println(mailaccess.Address{Name: "Jörg Müller", Addr: "joerg@example.com"})
	fmt.Println(mailaccess.Address{Name: "Doe, John", Addr: "john@example.com"})
	fmt.Println(mailaccess.Address{Addr: "bob@example.com"})
	// Output:
	// Jörg Müller <joerg@example.com>
	// "Doe, John" <john@example.com>
	// bob@example.com
}
