package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Extractor saves the attachments of a folder's messages as files in one
// directory.
type Extractor struct {
	// Dir is the directory the files are written to; it is created if
	// missing. A file already there is never overwritten.
	Dir string
	// Criteria select the messages; the zero value selects every one.
	Criteria mailaccess.Criteria
}

// Saved is one attachment written to Dir.
type Saved struct {
	ID   mailaccess.ID // the message
	Part string        // the part's number in the message, "2" or "1.3"
	Name string        // the file name as the sender wrote it (decoded): show it, never use it as a path
	File string        // the name of the file written in Dir
	Size int64         // bytes written, decoded
}

// Run saves every attachment of the messages of folder that x.Criteria
// selects and returns what it wrote, in message order. It stops at the
// first error and returns it with what was saved before; a file it was
// writing when it failed is removed.
//
// Each file is named after the attachment's safe file name
// (PartInfo.Filename: the last path element of what the sender wrote,
// without control or reserved characters), "attachment" plus an
// extension for the type when the part has none, and "name (2).ext" and
// so on when the name is taken. Files are created inside Dir through an
// os.Root, so no name can reach outside it.
//
// The same code runs on every protocol. On IMAP it fetches only what it
// saves: one UID SEARCH, one UID FETCH of the messages' part trees
// (BODYSTRUCTURE) per batch, then each attachment alone (BINARY or
// BODY[n]); a message's text, and a message without attachments, never
// cross the wire. POP3, Maildir and the fake read the messages instead.
func (x *Extractor) Run(ctx context.Context, mb mailaccess.Mailbox, folder string) ([]Saved, error) {
	if err := os.MkdirAll(x.Dir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(x.Dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var saved []Saved
	opts := &mailaccess.FetchOptions{Structure: true}
	for msg, err := range mb.FetchMatching(ctx, folder, x.Criteria, opts) {
		if err != nil {
			return saved, fmt.Errorf("list the messages of %s: %w", folder, err)
		}
		for _, part := range msg.Structure().Attachments() {
			s, err := save(ctx, mb, root, msg, part)
			if err != nil {
				return saved, fmt.Errorf("message %s, part %s: %w", msg.ID(), mailaccess.PathString(part.Path), err)
			}
			saved = append(saved, s)
		}
	}
	return saved, nil
}

// save streams one attachment, decoded, into a new file in root.
func save(ctx context.Context, mb mailaccess.Mailbox, root *os.Root, msg mailaccess.Message, part *mailaccess.PartInfo) (Saved, error) {
	rc, err := mb.OpenPart(ctx, msg.Folder(), msg.ID(), part.Path, nil)
	if err != nil {
		return Saved{}, err
	}
	defer rc.Close()
	f, file, err := createUnique(root, fileName(part))
	if err != nil {
		return Saved{}, err
	}
	n, err := io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		root.Remove(file)
		return Saved{}, err
	}
	return Saved{ID: msg.ID(), Part: mailaccess.PathString(part.Path), Name: part.RawFilename, File: file, Size: n}, nil
}

// extensions give a nameless attachment an extension by its type.
var extensions = map[string]string{
	"message/rfc822":  ".eml",
	"application/pdf": ".pdf",
	"image/png":       ".png",
	"image/jpeg":      ".jpg",
	"image/gif":       ".gif",
	"text/plain":      ".txt",
	"text/html":       ".html",
	"text/calendar":   ".ics",
}

// fileName is the name to save part under: its safe file name, or
// "attachment" with an extension for its type.
func fileName(part *mailaccess.PartInfo) string {
	if part.Filename != "" {
		return part.Filename
	}
	ext, ok := extensions[part.Type]
	if !ok {
		ext = ".bin"
	}
	return "attachment" + ext
}

// createUnique creates name in root, or "base (2).ext", "base (3).ext"...
// when it exists, and returns the file and the name it got.
func createUnique(root *os.Root, name string) (*os.File, string, error) {
	ext := path.Ext(name)
	if ext == name || len(ext) > 16 || strings.ContainsAny(ext, " ") {
		ext = "" // ".profile", or a dot inside a long name: no extension
	}
	base := strings.TrimSuffix(name, ext)
	for i := 1; i <= 10000; i++ {
		file := name
		if i > 1 {
			file = fmt.Sprintf("%s (%d)%s", base, i, ext)
		}
		f, err := root.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, file, err
	}
	return nil, "", fmt.Errorf("more than 10000 files named like %q", name)
}
