package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// Example watches an in-memory fake account, which pushes changes as an
// IMAP server with IDLE would, and prints what
//
//	watch -url mem://example-watch
//
// shows when a message arrives.
func Example() {
	st := mailtest.NamedStore("example-watch")
	defer mailtest.RemoveNamedStore("example-watch")

	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"-url", "mem://example-watch"}, func(string) string { return "" }, &out, &out)
	}()

	for st.Watching("INBOX") == 0 { // wait until the watch has started
		time.Sleep(time.Millisecond)
	}
	st.Add("INBOX", []byte("From: Ann Example <ann@example.org>\r\nSubject: =?UTF-8?Q?caf=C3=A9?= at 10?\r\n\r\nSee you.\r\n"))
	for !strings.Contains(out.String(), "Subject:") {
		time.Sleep(time.Millisecond)
	}
	cancel() // Ctrl-C
	fmt.Print(out.String())
	fmt.Println("exit status", <-done)
	// Output:
	// watching INBOX at mem://example-watch: push (IDLE)
	// new INBOX ids=[1] count=1 push
	//   1: From: Ann Example <ann@example.org> Subject: café at 10?
	// exit status 0
}
