package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// Example syncs an in-memory fake account (what a test would use instead
// of a server) into a temporary Maildir, as
//
//	mailsync -from mem://example -to DIR -folders '*' -json
//
// would, and shows the report and where the folders went.
func Example() {
	st := mailtest.NamedStore("example")
	defer mailtest.RemoveNamedStore("example")
	st.Add("INBOX", []byte("From: ann@example.org\r\nSubject: hello\r\n\r\nHi!\r\n"))
	st.Add("Archive/2024", []byte("From: bob@example.org\r\nSubject: old news\r\n\r\nBye.\r\n"))

	dir, err := os.MkdirTemp("", "mailsync-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	var stdout bytes.Buffer
	code := run(context.Background(), []string{"-from", "mem://example", "-to", dir, "-folders", "*", "-json"},
		os.Getenv, &stdout, io.Discard)
	fmt.Println("exit status", code)

	var rep mailaccess.SyncReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		panic(err)
	}
	for _, f := range rep.Folders {
		fmt.Printf("%s: %d new\n", f.Folder, f.New)
	}
	inbox, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
	archive, _ := filepath.Glob(filepath.Join(dir, ".Archive.2024", "new", "*"))
	fmt.Println("files in DIR/new:", len(inbox), "in DIR/.Archive.2024/new:", len(archive))
	// Output:
	// exit status 0
	// INBOX: 1 new
	// Archive/2024: 1 new
	// files in DIR/new: 1 in DIR/.Archive.2024/new: 1
}
