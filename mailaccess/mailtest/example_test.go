package mailtest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// archiveInvoices is the kind of function a user of mailaccess writes and
// wants to test: it moves every message whose subject mentions "invoice"
// to the Archive folder and marks it seen.
func archiveInvoices(ctx context.Context, mb mailaccess.Mailbox) (int, error) {
	var ids []mailaccess.ID
	for m, err := range mb.List(ctx, mailaccess.Inbox, &mailaccess.ListOptions{Headers: true}) {
		if err != nil {
			return 0, err
		}
		if strings.Contains(strings.ToLower(m.Header().Subject()), "invoice") {
			ids = append(ids, m.ID())
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if err := mb.SetFlags(ctx, mailaccess.Inbox, ids, mailaccess.AddFlags, mailaccess.FlagSeen); err != nil {
		return 0, err
	}
	if _, err := mb.Move(ctx, mailaccess.Inbox, ids, "Archive"); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// Seed a fake IMAP mailbox, run the code under test, assert on the final
// state.
func Example() {
	ctx := context.Background()
	mb := mailtest.New(mailtest.ProfileIMAP)
	defer mb.Close()
	mb.AddFolder("Archive")
	mb.Add("INBOX", []byte("Subject: Invoice 42\r\n\r\nPlease pay.\r\n"))
	mb.Add("INBOX", []byte("Subject: lunch?\r\n\r\nNoon.\r\n"))
	mb.Add("INBOX", []byte("Subject: =?UTF-8?Q?Re:_invoice_=E2=82=AC?=\r\n\r\nPaid.\r\n"))

	n, err := archiveInvoices(ctx, mb)
	fmt.Println(n, err)
	for _, m := range mb.Messages("Archive") {
		fmt.Printf("archived %q flags %v\n", strings.SplitN(string(m.Raw), "\r\n", 2)[0], m.Flags)
	}
	fmt.Println("left in INBOX:", len(mb.Messages("INBOX")))

	// The same code against a POP3-like mailbox fails cleanly, telling
	// what is missing.
	pop := mailtest.New(mailtest.ProfilePOP3)
	pop.Add("INBOX", []byte("Subject: invoice\r\n\r\nx\r\n"))
	_, err = archiveInvoices(ctx, pop)
	fmt.Println(errors.Is(err, errors.ErrUnsupported), err)
	// Output:
	// 2 <nil>
	// archived "Subject: Invoice 42" flags [\Seen]
	// archived "Subject: =?UTF-8?Q?Re:_invoice_=E2=82=AC?=" flags [\Seen]
	// left in INBOX: 1
	// true mem: set flags: not supported (missing capability flags)
}

// Faults make error paths testable: here the second Open fails, as a
// dropped connection would.
func ExampleStore_FailNth() {
	ctx := context.Background()
	mb := mailtest.New(mailtest.ProfilePOP3)
	mb.Add("INBOX", []byte("Subject: one\r\n\r\n1\r\n"))
	mb.Add("INBOX", []byte("Subject: two\r\n\r\n2\r\n"))
	mb.FailNth(mailtest.OpOpen, 2, mailtest.ErrConnectionDropped)

	for m, err := range mb.List(ctx, "INBOX", nil) {
		if err != nil {
			fmt.Println("list:", err)
			break
		}
		rc, err := m.Open(ctx)
		if err != nil {
			fmt.Println("open:", err)
			continue
		}
		rc.Close()
		fmt.Println("read", m.ID())
	}
	// Output:
	// read 1
	// open: mem: open INBOX: mailtest: connection dropped
}

// Code that opens its mailbox from a URL can be pointed at a store the test
// seeded: every mem://NAME opens a handle on the same named store.
func ExampleNamedStore() {
	ctx := context.Background()
	store := mailtest.NamedStore("example-named")
	defer mailtest.RemoveNamedStore("example-named")
	store.Add("INBOX", []byte("Subject: seeded\r\n\r\nhello\r\n"))

	// Somewhere in the code under test:
	mb, err := mailaccess.OpenURL(ctx, "mem://example-named?opt.profile=pop3")
	if err != nil {
		panic(err)
	}
	defer mb.Close()
	st, _ := mb.Status(ctx, "INBOX")
	fmt.Println(mb.Capabilities(), st.Messages)
	// Output:
	// uid|headers|delete|deferred-delete 1
}

// openMyStore stands for the constructor of the implementation under
// test; here it is the fake itself.
