package mailmime_test

import (
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess/mailmime"
)

// ReadContent decodes a streamed message for display: subject and
// addresses, text and HTML bodies in UTF-8, attachments streamed past.
func ExampleReadContent() {
	raw := "From: =?ISO-8859-1?Q?Jos=E9?= <jose@example.com>\r\n" +
		"Subject: Invoice\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n" +
		"--b--\r\n"
	c, err := mailmime.ReadContent(strings.NewReader(raw), &mailmime.ContentOptions{
		OnAttachment: func(a mailmime.Attachment, r io.Reader) error {
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

// ParseStructure describes a message's parts, streamed: what
// mailaccess.Mailbox.Structure returns for stores without a server to ask.
func ExampleParseStructure() {
	raw := "Subject: Photos\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nTwo photos.\r\n" +
		"--b\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename=\"../../beach.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/4AAQ\r\n" +
		"--b--\r\n"
	st, err := mailmime.ParseStructure(strings.NewReader(raw), nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range st.Attachments() {
		fmt.Printf("part %v: %s, %q (sent as %q), %d bytes encoded\n", a.Path, a.Type, a.Filename, a.RawFilename, a.Size)
	}
	// Output:
	// part [2]: image/jpeg, "beach.jpg" (sent as "../../beach.jpg"), 8 bytes encoded
}

// SafeFilename turns the name an attachment was sent with into one a
// program can create in a directory of its choice.
func ExampleSafeFilename() {
	for _, name := range []string{"report.pdf", "../../.ssh/authorized_keys", "..", "a:b.txt", "CON.txt"} {
		fmt.Printf("%q\n", mailmime.SafeFilename(name))
	}
	// Output:
	// "report.pdf"
	// "authorized_keys"
	// "_"
	// "a_b.txt"
	// "_CON.txt"
}
