package pop3test_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"iter"
	"net"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// oneMessage is a tiny read-only Mailbox holding one message; in real tests
// use the fake of mailaccess/mailtest.
type oneMessage struct{ mailaccess.Mailbox }

const raw = "Subject: hello\r\n\r\n.a line with a leading dot\r\n"

func (oneMessage) List(ctx context.Context, folder string, _ *mailaccess.ListOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		yield(driver.NewMessage(oneMessage{}, mailaccess.MessageInfo{ID: "msg-1", Folder: folder, Size: int64(len(raw))}), nil)
	}
}

func (oneMessage) Open(context.Context, string, mailaccess.ID, *mailaccess.OpenOptions) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(raw)), nil
}

func Example() {
	srv, err := pop3test.NewServer(oneMessage{}, &pop3test.Options{User: "alice", Password: "secret"})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	fmt.Fprint(conn, "USER alice\r\nPASS secret\r\nUIDL 1\r\nRETR 1\r\nQUIT\r\n") // pipelined
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		if strings.HasPrefix(line, "+OK pop3test ready") {
			continue // the greeting carries a random APOP timestamp
		}
		fmt.Println(strings.TrimRight(line, "\r\n"))
	}
	fmt.Println(srv.Commands())
	// Output:
	// +OK send PASS
	// +OK alice has 1 messages
	// +OK 1 msg-1
	// +OK 46 octets
	// Subject: hello
	//
	// ..a line with a leading dot
	// .
	// +OK pop3test signing off (0 messages deleted)
	// [USER alice PASS REDACTED UIDL 1 RETR 1 QUIT]
}
