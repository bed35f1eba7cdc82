package imaptest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/imap/imaptest"
)

func ExampleNewServer() {
	// In a test, imaptest.Start(t, nil, users...) stops it in t.Cleanup.
	srv, err := imaptest.NewServer(nil, imaptest.User{Name: "alice", Password: "pw", Messages: [][]byte{
		[]byte("Subject: seeded\r\n\r\nhello\r\n"),
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	// Mail can also be delivered "from the side" while clients are connected.
	uid, err := srv.Append("alice", "INBOX", []byte("Subject: delivered\r\n\r\nhi\r\n"), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("delivered UID", uid)

	mb, err := imap.Dial(context.Background(), srv.Config("alice", "pw"))
	if err != nil {
		log.Fatal(err)
	}
	defer mb.Close()
	st, err := mb.Status(context.Background(), "INBOX")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Messages, "messages")
	// Output:
	// delivered UID 2
	// 2 messages
}
