package mailaccess

import (
	"iter"
	"slices"
	"strconv"
	"strings"
)

// FetchOptions say what [Mailbox.Fetch] and [Mailbox.FetchMatching] return
// with each message besides its metadata (ID, size, date, flags). The zero
// value (or nil) asks for the metadata only.
type FetchOptions struct {
	// Headers asks for each message's parsed header (Message.Header).
	Headers bool
	// Structure asks for each message's MIME part tree
	// (Message.Structure), as [Mailbox.Structure] returns it: from the
	// server's description where the protocol has one (IMAP
	// BODYSTRUCTURE, in the same exchange as the metadata), else by
	// reading the message.
	Structure bool
	// BatchSize is how many messages one exchange covers; 0 lets the
	// driver choose.
	BatchSize int
}

// PartOptions tune [Mailbox.OpenPart]; nil means the defaults.
type PartOptions struct {
	// UTF8 converts a text part (text/*) from its declared charset to
	// UTF-8. Without it the part's bytes are returned in their charset
	// (only the transfer encoding is removed). Other parts are never
	// converted.
	UTF8 bool
}

// PartInfo describes one MIME part of a message, without its body:
// [Mailbox.Structure] returns the tree of them for a message. Parts are
// numbered as IMAP numbers them (Path), which is what [Mailbox.OpenPart]
// takes.
type PartInfo struct {
	// Path is the part's number, as in IMAP BODY[1.2]: nil for the root of
	// a multipart message, [1] for the single body of a message that is
	// not multipart.
	Path []int `json:"path"`
	// Type is the media type in lower case ("text/plain",
	// "multipart/mixed"). A part that declares none is "text/plain".
	Type string `json:"type"`
	// Params are the Content-Type parameters: names in lower case,
	// values decoded (RFC 2231 continuations joined, charsets decoded).
	Params map[string]string `json:"params,omitempty"`
	// Charset is the charset of a text part in lower case: the charset
	// parameter, else "us-ascii" for text/plain (the MIME default), else
	// "".
	Charset string `json:"charset,omitempty"`
	// Encoding is the Content-Transfer-Encoding in lower case ("7bit" when
	// the part does not say): "base64", "quoted-printable", "8bit"...
	Encoding string `json:"encoding,omitempty"`
	// Size is the size of the part's body in bytes as stored, still
	// transfer-encoded (IMAP body-fld-octets; a base64 body is about 4/3
	// of its decoded size). It is 0 for a multipart.
	Size int64 `json:"size"`
	// Disposition is the Content-Disposition in lower case ("inline",
	// "attachment"), or "" when the part does not say.
	Disposition string `json:"disposition,omitempty"`
	// Filename is the part's file name (Content-Disposition filename, else
	// Content-Type name) made safe to use as the name of a file: only the
	// last path element, no control or reserved characters, never "." or
	// ".." (package mailmime, SafeFilename). "" when the part has none.
	Filename string `json:"filename,omitempty"`
	// RawFilename is the file name as sent (decoded): it may hold path
	// separators, "..", or NUL. Show it, never use it as a path.
	RawFilename string `json:"raw_filename,omitempty"`
	// ContentID is the Content-ID without its angle brackets.
	ContentID string `json:"content_id,omitempty"`
	// Description is the decoded Content-Description.
	Description string `json:"description,omitempty"`
	// Parts are the parts of a multipart, in order. Nothing else has
	// parts: a message attached as message/rfc822 is one part (open it
	// with OpenPart and read it as a message), like a multipart nested
	// deeper than the reader's depth limit.
	Parts []*PartInfo `json:"parts,omitempty"`
	// Problem says what was worked around to describe this part, e.g. a
	// server's BODYSTRUCTURE that could not be used (the message was read
	// instead) or a part left undescended at the depth limit; "" if
	// nothing.
	Problem string `json:"problem,omitempty"`
}

// IsMultipart reports whether the part is a multipart/* container.
func (p *PartInfo) IsMultipart() bool { return strings.HasPrefix(p.Type, "multipart/") }

// IsAttachment reports whether p is a leaf part that is not an inline
// text/plain or text/html body: a file, an inline image, an attached
// message, or a text part with an attachment disposition or a file name.
// It is the rule package mailmime uses to tell attachments from the text
// and HTML bodies (PartAttachment).
func (p *PartInfo) IsAttachment() bool {
	// The root of a multipart message (no Path) cannot be opened as a
	// part, even when it is broken and has no parts.
	if len(p.Path) == 0 || len(p.Parts) > 0 || (p.IsMultipart() && p.Problem == "") {
		return false
	}
	return !p.isBody("text/plain") && !p.isBody("text/html")
}

func (p *PartInfo) isBody(typ string) bool {
	return len(p.Parts) == 0 && p.Type == typ && p.Disposition != "attachment" && p.RawFilename == ""
}

// All iterates over p and every part below it, depth first, each part
// before its children (root first).
func (p *PartInfo) All() iter.Seq[*PartInfo] {
	return func(yield func(*PartInfo) bool) {
		p.walk(yield)
	}
}

func (p *PartInfo) walk(yield func(*PartInfo) bool) bool {
	if !yield(p) {
		return false
	}
	for _, c := range p.Parts {
		if !c.walk(yield) {
			return false
		}
	}
	return true
}

// Find returns the part numbered path below (or at) p, or nil.
func (p *PartInfo) Find(path []int) *PartInfo {
	for q := range p.All() {
		if slices.Equal(q.Path, path) {
			return q
		}
	}
	return nil
}

// Text returns the first inline text/plain body part, or nil.
func (p *PartInfo) Text() *PartInfo { return p.first("text/plain") }

// HTML returns the first inline text/html body part, or nil.
func (p *PartInfo) HTML() *PartInfo { return p.first("text/html") }

func (p *PartInfo) first(typ string) *PartInfo {
	for q := range p.All() {
		if q.isBody(typ) {
			return q
		}
	}
	return nil
}

// Attachments returns the parts for which IsAttachment is true, in order.
func (p *PartInfo) Attachments() []*PartInfo {
	var out []*PartInfo
	for q := range p.All() {
		if q.IsAttachment() {
			out = append(out, q)
		}
	}
	return out
}

// PathString returns path as IMAP writes it ("1.2"), "" for nil.
func PathString(path []int) string {
	var b strings.Builder
	for i, n := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
