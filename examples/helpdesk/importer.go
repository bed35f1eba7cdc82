package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Ticket is what the importer made of one message.
type Ticket struct {
	ID      mailaccess.ID
	Subject string
	From    string
	// Text is the message's plain-text body in UTF-8 (at most MaxText
	// bytes).
	Text string
	// Files are the attachments written, by file name in the ticket's
	// directory.
	Files []string
	// Dir is the ticket's directory.
	Dir string
}

// Importer turns the unseen messages of a folder into tickets, one
// directory each under Dir: ticket.txt with the sender, the subject and
// the text, and every attachment under a safe file name.
type Importer struct {
	Dir string
	// MaxText bounds the text kept of each message (default 1 MiB).
	MaxText int64
}

// Run imports the unseen messages of folder and then marks them handled,
// so that the next run does not import them again: \Seen where the
// mailbox keeps flags (IMAP, Maildir), else deleted and the deletion
// committed (POP3). Only messages whose ticket was written are marked,
// even when Run stops on an error; a message it could not read stays
// unseen, to be imported by the next run.
//
// The same code runs on every protocol. On IMAP it fetches what it
// selected: one UID SEARCH, one UID FETCH of the unseen messages'
// headers and part trees, and one fetch per part it reads (the text, and
// each attachment), whatever the size of the folder.
func (im *Importer) Run(ctx context.Context, mb mailaccess.Mailbox, folder string) (tickets []Ticket, err error) {
	var done []mailaccess.ID
	defer func() {
		if merr := markHandled(ctx, mb, folder, done); merr != nil {
			err = errors.Join(err, merr)
		}
	}()
	unseen := mailaccess.Criteria{WithoutFlags: []mailaccess.Flag{mailaccess.FlagSeen}}
	opts := &mailaccess.FetchOptions{Headers: true, Structure: true}
	for msg, err := range mb.FetchMatching(ctx, folder, unseen, opts) {
		if err != nil {
			return tickets, fmt.Errorf("select unseen mail in %s: %w", folder, err)
		}
		t, err := im.ticket(ctx, mb, msg)
		if err != nil {
			return tickets, fmt.Errorf("message %s: %w", msg.ID(), err)
		}
		tickets = append(tickets, t)
		done = append(done, msg.ID())
	}
	return tickets, nil
}

// ticket writes one message's ticket.
func (im *Importer) ticket(ctx context.Context, mb mailaccess.Mailbox, msg mailaccess.Message) (Ticket, error) {
	h := msg.Header()
	t := Ticket{ID: msg.ID(), Subject: h.Subject()}
	if from := h.From(); len(from) > 0 {
		t.From = from[0].String()
	}
	sum := sha256.Sum256([]byte(msg.Folder() + "\x00" + string(msg.ID())))
	t.Dir = filepath.Join(im.Dir, hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(t.Dir, 0o755); err != nil {
		return t, err
	}
	st := msg.Structure()
	if text := st.Text(); text != nil {
		rc, err := mb.OpenPart(ctx, msg.Folder(), msg.ID(), text.Path, &mailaccess.PartOptions{UTF8: true})
		if err != nil {
			return t, err
		}
		maxText := im.MaxText
		if maxText <= 0 {
			maxText = 1 << 20
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxText))
		rc.Close()
		if err != nil {
			return t, err
		}
		t.Text = string(b)
	}
	for i, a := range st.Attachments() {
		name := a.Filename
		if name == "" {
			name = "attachment"
		}
		name = fmt.Sprintf("%d-%s", i+1, name) // unique, and never "ticket.txt"
		if err := saveAttachment(ctx, mb, msg, a.Path, filepath.Join(t.Dir, name)); err != nil {
			return t, err
		}
		t.Files = append(t.Files, name)
	}
	summary := fmt.Sprintf("From: %s\nSubject: %s\nAttachments: %s\n\n%s", t.From, t.Subject, strings.Join(t.Files, ", "), t.Text)
	return t, os.WriteFile(filepath.Join(t.Dir, "ticket.txt"), []byte(summary), 0o644)
}

// saveAttachment streams one part, decoded, into a file.
func saveAttachment(ctx context.Context, mb mailaccess.Mailbox, msg mailaccess.Message, path []int, file string) error {
	rc, err := mb.OpenPart(ctx, msg.Folder(), msg.ID(), path, nil)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// markHandled marks the imported messages: \Seen where flags are kept,
// else deleted and committed.
func markHandled(ctx context.Context, mb mailaccess.Mailbox, folder string, ids []mailaccess.ID) error {
	if len(ids) == 0 {
		return nil
	}
	caps := mb.Capabilities()
	switch {
	case caps.Has(mailaccess.CapFlags):
		return mb.SetFlags(ctx, folder, ids, mailaccess.AddFlags, mailaccess.FlagSeen)
	case caps.Has(mailaccess.CapDelete):
		if err := mb.Delete(ctx, folder, ids...); err != nil {
			return err
		}
		return mailaccess.Commit(ctx, mb) // POP3: the deletes happen here, at QUIT
	}
	return fmt.Errorf("the mailbox can neither flag nor delete (%s): imported messages would be imported again", caps)
}
