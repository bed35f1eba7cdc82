package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// attachment is one part of a test message.
type attachment struct {
	header string // the part's header lines, CRLF-terminated
	data   []byte // the decoded content
}

// message builds a multipart/mixed message: a text of textLines lines,
// then the attachments, base64-encoded.
func message(subject string, textLines int, atts ...attachment) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Ann <ann@example.com>\r\nSubject: %s\r\nMIME-Version: 1.0\r\n", subject)
	b.WriteString("Content-Type: multipart/mixed; boundary=\"=b=\"\r\n\r\n")
	b.WriteString("--=b=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(strings.Repeat("The text of the message, which the extractor never reads.\r\n", textLines))
	for _, a := range atts {
		b.WriteString("--=b=\r\n" + a.header + "Content-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.StdEncoding.EncodeToString(a.data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--=b=--\r\n")
	return b.Bytes()
}

func pdf(name string, data string) attachment {
	return attachment{"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\n", []byte(data)}
}

// corpus is a folder whose messages have the attachments of want, and
// whose texts are textLines lines long.
func corpus(textLines int) [][]byte {
	png := attachment{"Content-Type: image/png\r\nContent-Disposition: inline\r\n", []byte("\x89PNG\r\n\x1a\nnot really")}
	resume := attachment{"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\n", []byte("%PDF résumé")}
	return [][]byte{
		message("two files", textLines, pdf("invoice.pdf", "%PDF invoice 1"), pdf("../../etc/passwd", "root:x:0:0")),
		[]byte("From: Bob <bob@example.com>\r\nSubject: no attachment\r\n\r\nJust text.\r\n"),
		message("same name again", textLines, pdf("invoice.pdf", "%PDF invoice 2"), png, resume),
	}
}

// want is what corpus extracts to: file name → content.
var want = map[string]string{
	"invoice.pdf":     "%PDF invoice 1",
	"passwd":          "root:x:0:0",
	"invoice (2).pdf": "%PDF invoice 2",
	"attachment.png":  "\x89PNG\r\n\x1a\nnot really",
	"résumé.pdf":      "%PDF résumé",
}

// checkDir asserts that saved and dir hold exactly want.
func checkDir(t *testing.T, dir string, saved []Saved) {
	t.Helper()
	got := map[string]string{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		got[e.Name()] = string(b)
	}
	assert.Equal(t, want, got, "the files, decoded, under safe and unique names")
	require.Len(t, saved, len(want))
	assert.Equal(t, "invoice.pdf", saved[0].File)
	assert.Equal(t, "2", saved[0].Part)
	assert.Equal(t, "../../etc/passwd", saved[1].Name, "the name as sent is reported")
	assert.Equal(t, "passwd", saved[1].File, "and never used as a path")
	assert.Equal(t, int64(len("%PDF invoice 1")), saved[0].Size)
	for _, s := range saved {
		assert.NotEmpty(t, s.ID)
	}
}

func extract(t *testing.T, mb mailaccess.Mailbox) {
	t.Helper()
	dir := t.TempDir()
	saved, err := (&Extractor{Dir: dir}).Run(context.Background(), mb, mailaccess.Inbox)
	require.NoError(t, err)
	checkDir(t, dir, saved)
}

// On the fake: one fetch of the part trees, one read per attachment,
// never a whole message.
func TestExtractOnFake(t *testing.T) {
	mb := mailtest.New(mailtest.ProfileIMAP)
	defer mb.Close()
	for _, raw := range corpus(3) {
		mb.Add("INBOX", raw)
	}
	extract(t, mb)
	assert.Equal(t, 1, mb.Calls(mailtest.OpFetch), "one fetch of the part trees")
	assert.Zero(t, mb.Calls(mailtest.OpStructure), "no structure asked message by message")
	assert.Equal(t, len(want), mb.Calls(mailtest.OpOpenPart), "one read per attachment")
	assert.Zero(t, mb.Calls(mailtest.OpOpen), "no whole message")
}

// The same code on a POP3 server, a POP3-like fake and a Maildir.
func TestExtractOnEveryStore(t *testing.T) {
	t.Run("pop3-fake", func(t *testing.T) {
		mb := mailtest.New(mailtest.ProfilePOP3)
		defer mb.Close()
		for _, raw := range corpus(3) {
			mb.Add("INBOX", raw)
		}
		extract(t, mb)
	})
	t.Run("pop3", func(t *testing.T) {
		backing := mailtest.New(mailtest.ProfilePOP3)
		for _, raw := range corpus(3) {
			backing.Add("INBOX", raw)
		}
		srv := pop3test.Start(t, backing, nil)
		mb, err := pop3.Dial(context.Background(), srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword))
		require.NoError(t, err)
		extract(t, mb)
		require.NoError(t, mb.Close())
		assert.Len(t, backing.Messages("INBOX"), 3, "reading deletes nothing")
	})
	t.Run("maildir", func(t *testing.T) {
		st, err := maildir.Open(t.TempDir(), nil)
		require.NoError(t, err)
		defer st.Close()
		for _, raw := range corpus(3) {
			_, err := st.Append(context.Background(), "INBOX", bytes.NewReader(raw), nil)
			require.NoError(t, err)
		}
		extract(t, st)
	})
}

// A second run into the same directory overwrites nothing.
func TestExtractNeverOverwrites(t *testing.T) {
	mb := mailtest.New(mailtest.ProfileIMAP)
	defer mb.Close()
	mb.Add("INBOX", message("one", 1, pdf("a.pdf", "first")))
	dir := t.TempDir()
	x := &Extractor{Dir: dir}
	_, err := x.Run(context.Background(), mb, mailaccess.Inbox)
	require.NoError(t, err)
	mb.Add("INBOX", message("two", 1, pdf("a.pdf", "second")))
	x.Criteria = mailaccess.Criteria{Subject: "two"}
	saved, err := x.Run(context.Background(), mb, mailaccess.Inbox)
	require.NoError(t, err)
	require.Len(t, saved, 1)
	assert.Equal(t, "a (2).pdf", saved[0].File)
	b, err := os.ReadFile(filepath.Join(dir, "a.pdf"))
	require.NoError(t, err)
	assert.Equal(t, "first", string(b))
}

// A read that fails leaves no partial file and reports which part.
func TestExtractFailureLeavesNoPartialFile(t *testing.T) {
	mb := mailtest.New(mailtest.ProfileIMAP)
	defer mb.Close()
	id := mb.Add("INBOX", message("big", 1, pdf("big.pdf", strings.Repeat("x", 100000))))
	mb.CutBodyAfter(5000)
	dir := t.TempDir()
	saved, err := (&Extractor{Dir: dir}).Run(context.Background(), mb, mailaccess.Inbox)
	require.Error(t, err)
	assert.Empty(t, saved)
	assert.ErrorContains(t, err, "message "+string(id)+", part 2")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "the partial file was removed")
}
