package mailtest

import (
	"bytes"
	"strings"
)

// Sample is one test message of [EdgeCases].
type Sample struct {
	// Name is a short stable identifier such as "dot-lines".
	Name string
	// Raw holds the message bytes as they should be stored.
	Raw []byte
	// Parts holds the raw (still transfer-encoded) bodies of some of the
	// sample's MIME parts, by IMAP part path ("1.1"), for checks of
	// partial fetches (OpenOptions.Part). Only "nested-multipart" has
	// them.
	Parts map[string]string
}

// EdgeCases returns messages that naive mail clients and servers tend to
// corrupt: lines starting with "." and a lone "." line (POP3 dot-stuffing),
// lines longer than 8 KiB, raw 8-bit UTF-8 in headers, RFC 2047 encoded
// words, bare LF line endings, an empty body, nested multipart with an
// attached message, a "From " line and trailing white space. Every call
// returns fresh copies; the contents never change between versions of this
// package except by adding samples at the end.
//
// All samples end with a line ending. All but "bare-lf" use CRLF; stores
// that normalise line endings return [NormalizeCRLF] of it.
func EdgeCases() []Sample {
	var s []Sample
	add := func(name, raw string) { s = append(s, Sample{Name: name, Raw: []byte(raw)}) }
	hdr := func(subject string) string {
		return "From: Edge Sender <edge@example.com>\r\n" +
			"To: receiver@example.org\r\n" +
			"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
			"Message-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@mailtest.example>\r\n" +
			"Subject: " + subject + "\r\n"
	}
	add("dot-lines", hdr("dot lines")+"\r\n"+
		".starts with a dot\r\n"+
		"..two dots\r\n"+
		".\r\n"+
		"line after a lone dot\r\n"+
		". dot space\r\n"+
		"...\r\n")
	add("long-lines", hdr("long lines")+"X-Long: "+strings.Repeat("h", 9000)+"\r\n\r\n"+
		strings.Repeat("0123456789", 900)+"\r\n"+
		"short\r\n"+
		strings.Repeat("x", 70000)+"\r\n")
	add("utf8-header", "From: Jörg Müller <joerg@example.com>\r\n"+
		"To: Zoë <zoe@example.org>\r\n"+
		"Date: Tue, 03 Jan 2006 10:00:00 +0100\r\n"+
		"Subject: Grüße aus Köln — 日本語\r\n"+
		"MIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n"+
		"Content-Transfer-Encoding: 8bit\r\n\r\n"+
		"Ünïcödé body: ☃ ✓ 漢字\r\n")
	add("encoded-words", "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.com>\r\n"+
		"To: receiver@example.org\r\n"+
		"Date: Wed, 04 Jan 2006 08:30:00 -0500\r\n"+
		"Subject: =?UTF-8?B?VGVzdCDDqXTDqQ==?=\r\n"+
		" =?ISO-8859-1?Q?_caf=E9?=\r\n"+
		"MIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=us-ascii\r\n\r\n"+
		"Subject is folded over two encoded words.\r\n")
	add("bare-lf", "From: lf@example.com\n"+
		"To: receiver@example.org\n"+
		"Date: Thu, 05 Jan 2006 12:00:00 +0000\n"+
		"Subject: bare LF line endings\n\n"+
		"one\n.two\n.\nthree\n")
	add("empty-body", hdr("empty body")+"\r\n")
	add("nested-multipart", hdr("nested multipart")+nestedMultipartBody)
	s[len(s)-1].Parts = map[string]string{"1.1": partPlain, "1.2": partHTML, "2": partAttachment, "3.1": partInnerBody}
	add("from-line-and-spaces", hdr("from line")+"\r\n"+
		"From the start of a line (mbox would escape this)\r\n"+
		"trailing spaces   \r\n"+
		"\ttab-indented\r\n"+
		"\r\n"+
		"\r\n"+
		"two blank lines above\r\n")
	return s
}

// The nested-multipart sample's MIME structure, with the raw bodies of some
// parts, for partial-fetch checks:
//
//	1    multipart/alternative
//	1.1  text/plain          partPlain
//	1.2  text/html           partHTML
//	2    application/octet-stream (base64)  partAttachment
//	3    message/rfc822
//	3.1  its text/plain body  partInnerBody
const (
	partPlain      = "Plain text part.\r\n.dot line inside a part\r\n"
	partHTML       = "<p>HTML part</p>"
	partAttachment = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n"
	partInnerBody  = "Inner message body.\r\n"
)

const nestedMultipartBody = "MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n" +
	"This is the preamble.\r\n" +
	"--outer\r\n" +
	"Content-Type: multipart/alternative; boundary=inner\r\n\r\n" +
	"--inner\r\n" +
	"Content-Type: text/plain; charset=us-ascii\r\n\r\n" +
	partPlain + "\r\n" +
	"--inner\r\n" +
	"Content-Type: text/html; charset=us-ascii\r\n\r\n" +
	partHTML + "\r\n" +
	"--inner--\r\n" +
	"\r\n" +
	"--outer\r\n" +
	"Content-Type: application/octet-stream; name=\"bytes.bin\"\r\n" +
	"Content-Disposition: attachment; filename=\"bytes.bin\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n\r\n" +
	partAttachment + "\r\n" +
	"--outer\r\n" +
	"Content-Type: message/rfc822\r\n\r\n" +
	"From: inner@example.com\r\n" +
	"Subject: inner\r\n\r\n" +
	partInnerBody + "\r\n" +
	"--outer--\r\n" +
	"Epilogue.\r\n"

// NormalizeCRLF returns raw with every bare LF turned into CRLF (existing
// CRLF pairs and lone CRs are kept). It is what IMAP and POP3 servers
// deliver for a stored message; use it as [Harness].Normalize for them.
func NormalizeCRLF(raw []byte) []byte {
	out := make([]byte, 0, len(raw)+bytes.Count(raw, []byte{'\n'}))
	for i, c := range raw {
		if c == '\n' && (i == 0 || raw[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}
