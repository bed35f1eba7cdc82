package corpus

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
)

// crlf joins lines with CRLF and terminates the last one with CRLF too.
func crlf(lines ...string) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// stdHeaders returns a well-formed header block (without the blank line
// that ends it) for an edge-case message.
func stdHeaders(name, subject string, extra ...string) []string {
	h := []string{
		"From: Edge Sender <edge@example.org>",
		"To: Test User <test@example.com>",
		"Subject: " + subject,
		"Date: Mon, 02 Jan 2023 15:04:05 +0000",
		"Message-ID: <" + name + "@corpus.example.org>",
		"MIME-Version: 1.0",
	}
	return append(h, extra...)
}

// longLine returns a line of exactly n printable ASCII bytes (no CR/LF).
func longLine(n int) string {
	const pattern = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"
	var b strings.Builder
	b.Grow(n)
	for b.Len() < n {
		rest := n - b.Len()
		if rest >= len(pattern) {
			b.WriteString(pattern)
		} else {
			b.WriteString(pattern[:rest])
		}
	}
	return b.String()
}

// wrap76 base64-encodes data in lines of 76 characters.
func wrap76(data []byte) []string {
	enc := base64.StdEncoding.EncodeToString(data)
	var lines []string
	for len(enc) > 76 {
		lines = append(lines, enc[:76])
		enc = enc[76:]
	}
	if enc != "" {
		lines = append(lines, enc)
	}
	return lines
}

// EdgeCases returns a fixed, deterministic set of messages that naive
// clients break on. Every call returns fresh slices, so callers may modify
// them. Unless its Name says otherwise ("edge-bare-lf"), each message uses
// CRLF line endings. The set contains:
//
//   - edge-dot-lines: body lines beginning with "." (".x", "..y", "...")
//   - edge-dot-lone: a body line holding a lone "." mid-body and as the last line
//   - edge-long-8k, edge-long-64k: one body line of 9000 and 70000 bytes
//   - edge-utf8-headers: raw UTF-8 in Subject and the From display name
//   - edge-ew-iso-8859-1, edge-ew-windows-1252, edge-ew-iso-2022-jp,
//     edge-ew-gb2312: RFC 2047 encoded-word subjects in those charsets
//   - edge-no-date-msgid: no Date and no Message-ID header
//   - edge-bad-date: an unparseable Date header
//   - edge-dup-msgid-1, edge-dup-msgid-2: two messages sharing a Message-ID
//   - edge-empty-body: headers followed by an empty body
//   - edge-nested-multipart: multipart/mixed holding multipart/alternative
//     (text/plain + text/html) and a base64 attachment
//   - edge-rfc822-attached: a message/rfc822 attachment
//   - edge-folded-headers: folded Subject, To and Received headers
//   - edge-qp-latin1: quoted-printable text/plain in ISO-8859-1
//   - edge-bare-lf: the whole message with bare LF line endings
func EdgeCases() []Message {
	var msgs []Message
	add := func(name, subject string, raw []byte) {
		msgs = append(msgs, Message{Name: name, Raw: raw, Subject: subject})
	}

	// Lines starting with a dot must be dot-stuffed by POP3 servers and
	// un-stuffed by clients.
	{
		s := "Lines starting with dots"
		h := stdHeaders("edge-dot-lines", s, "Content-Type: text/plain; charset=us-ascii")
		add("edge-dot-lines", s, crlf(append(h, "",
			"The next lines begin with dots.",
			".x",
			"..y",
			"...",
			". space after dot",
			".",
			"..",
			"End of dotted lines.",
		)...))
	}
	// A lone dot is the POP3 multi-line terminator and the SMTP end of data.
	{
		s := "A lone dot line"
		h := stdHeaders("edge-dot-lone", s, "Content-Type: text/plain; charset=us-ascii")
		add("edge-dot-lone", s, crlf(append(h, "",
			"Before the lone dot.",
			".",
			"After the lone dot; the message also ends with one.",
			".",
		)...))
	}
	// Very long lines (no CRLF inside), over common 8 KiB and 64 KiB buffers.
	for _, c := range []struct {
		name string
		n    int
	}{{"edge-long-8k", 9000}, {"edge-long-64k", 70000}} {
		s := "A body line of " + strconv.Itoa(c.n) + " bytes"
		h := stdHeaders(c.name, s, "Content-Type: text/plain; charset=us-ascii")
		add(c.name, s, crlf(append(h, "", "Short line before.", longLine(c.n), "Short line after.")...))
	}
	// Raw 8-bit UTF-8 in headers (RFC 6532 style).
	{
		s := "Grüße aus Köln — 日本語 ✓"
		h := []string{
			"From: Jürgen Müller <juergen@example.org>",
			"To: Zoë Ångström <zoe@example.com>",
			"Subject: " + s,
			"Date: Tue, 03 Jan 2023 10:00:00 +0100",
			"Message-ID: <edge-utf8-headers@corpus.example.org>",
			"MIME-Version: 1.0",
			"Content-Type: text/plain; charset=utf-8",
			"Content-Transfer-Encoding: 8bit",
		}
		add("edge-utf8-headers", s, crlf(append(h, "", "Hallo Zoë, schöne Grüße! こんにちは。")...))
	}
	// RFC 2047 encoded words. The bytes were produced by hand from the
	// charset tables; Subject holds the expected decoded text.
	for _, c := range []struct {
		name, encoded, decoded string
	}{
		// Two adjacent encoded words: the whitespace between them must vanish.
		// Caf\xe9 cr\xe8me br\xfbl\xe9e in ISO-8859-1.
		{"edge-ew-iso-8859-1", "=?ISO-8859-1?Q?Caf=E9_?= =?ISO-8859-1?Q?cr=E8me_br=FBl=E9e?=", "Café crème brûlée"},
		// 0x93/0x94 curly quotes, 0x96 en dash, 0x80 euro, 0x85 ellipsis.
		{"edge-ew-windows-1252", "Re: =?windows-1252?Q?=93Smart_quotes=94_=96_=80100_=85?=", "Re: “Smart quotes” – €100 …"},
		// ESC $ B "F|K\8l$N%F%9%H" ESC ( B.
		{"edge-ew-iso-2022-jp", "=?ISO-2022-JP?B?GyRCRnxLXDhsJE4lRiU5JUgbKEI=?=", "日本語のテスト"},
		// D6D0 CEC4 D3CA BCFE B2E2 CAD4 in GB2312 (EUC-CN).
		{"edge-ew-gb2312", "=?GB2312?B?1tDOxNPKvP6y4srU?=", "中文邮件测试"},
	} {
		h := stdHeaders(c.name, c.encoded, "Content-Type: text/plain; charset=us-ascii")
		add(c.name, c.decoded, crlf(append(h, "", "The subject of this message is an encoded word.")...))
	}
	// No Date and no Message-ID.
	{
		s := "No date and no message id"
		add("edge-no-date-msgid", s, crlf(
			"From: Edge Sender <edge@example.org>",
			"To: Test User <test@example.com>",
			"Subject: "+s,
			"",
			"This message has neither a Date nor a Message-ID header.",
		))
	}
	// A Date that no parser accepts.
	{
		s := "Unparseable date"
		add("edge-bad-date", s, crlf(
			"From: Edge Sender <edge@example.org>",
			"To: Test User <test@example.com>",
			"Subject: "+s,
			"Date: Thursday, the 32nd of Smarch 20X4 at 25:61 o'clock",
			"Message-ID: <edge-bad-date@corpus.example.org>",
			"",
			"The Date header above cannot be parsed.",
		))
	}
	// Two different messages with the same Message-ID.
	for i, n := range []string{"edge-dup-msgid-1", "edge-dup-msgid-2"} {
		s := "Duplicate message id, copy " + strconv.Itoa(i+1)
		add(n, s, crlf(
			"From: Edge Sender <edge@example.org>",
			"To: Test User <test@example.com>",
			"Subject: "+s,
			"Date: Wed, 04 Jan 2023 0"+strconv.Itoa(i+8)+":00:00 +0000",
			"Message-ID: <duplicate@corpus.example.org>",
			"",
			"Both duplicate messages share one Message-ID; this is copy "+strconv.Itoa(i+1)+".",
		))
	}
	// Headers and an empty body.
	{
		s := "Empty body"
		h := stdHeaders("edge-empty-body", s, "Content-Type: text/plain; charset=us-ascii")
		add("edge-empty-body", s, crlf(append(h, "")...))
	}
	// multipart/mixed { multipart/alternative { text/plain, text/html }, attachment }.
	{
		s := "Nested multipart with attachment"
		att := make([]byte, 300)
		for i := range att {
			att[i] = byte(i * 7)
		}
		lines := stdHeaders("edge-nested-multipart", s, `Content-Type: multipart/mixed; boundary="outer-boundary-1"`)
		lines = append(lines, "",
			"This is a multi-part message in MIME format.",
			"--outer-boundary-1",
			`Content-Type: multipart/alternative; boundary="inner-boundary-2"`,
			"",
			"--inner-boundary-2",
			"Content-Type: text/plain; charset=utf-8",
			"Content-Transfer-Encoding: 7bit",
			"",
			"Hello in plain text.",
			"--inner-boundary-2",
			"Content-Type: text/html; charset=utf-8",
			"Content-Transfer-Encoding: 7bit",
			"",
			"<html><body><p>Hello in <b>HTML</b>.</p></body></html>",
			"--inner-boundary-2--",
			"",
			"--outer-boundary-1",
			`Content-Type: application/octet-stream; name="data.bin"`,
			`Content-Disposition: attachment; filename="data.bin"`,
			"Content-Transfer-Encoding: base64",
			"",
		)
		lines = append(lines, wrap76(att)...)
		lines = append(lines, "--outer-boundary-1--")
		add("edge-nested-multipart", s, crlf(lines...))
	}
	// A message/rfc822 attachment.
	{
		s := "Fwd: Forwarded message attached"
		lines := stdHeaders("edge-rfc822-attached", s, `Content-Type: multipart/mixed; boundary="fwd-boundary"`)
		lines = append(lines, "",
			"--fwd-boundary",
			"Content-Type: text/plain; charset=us-ascii",
			"",
			"See the attached message.",
			"--fwd-boundary",
			"Content-Type: message/rfc822",
			`Content-Disposition: attachment; filename="original.eml"`,
			"",
			"From: Original Author <author@example.net>",
			"To: Edge Sender <edge@example.org>",
			"Subject: The original message",
			"Date: Sun, 01 Jan 2023 09:00:00 -0500",
			"Message-ID: <original@corpus.example.net>",
			"",
			"This is the body of the original message.",
			"--fwd-boundary--",
		)
		add("edge-rfc822-attached", s, crlf(lines...))
	}
	// Folded headers (continuation lines start with a space or a tab).
	{
		add("edge-folded-headers", "This subject is folded across three physical lines of the header", crlf(
			"Received: from mx.example.org (mx.example.org [192.0.2.1])",
			"\tby mail.example.com with ESMTP id abc123",
			"\tfor <test@example.com>; Mon, 02 Jan 2023 15:04:06 +0000",
			"From: Edge Sender <edge@example.org>",
			"To: Test User <test@example.com>,",
			" Second User <second@example.com>,",
			" Third User <third@example.com>",
			"Subject: This subject is folded",
			" across three physical lines",
			" of the header",
			"Date: Mon, 02 Jan 2023 15:04:05 +0000",
			"Message-ID: <edge-folded-headers@corpus.example.org>",
			"",
			"Headers above are folded.",
		))
	}
	// Quoted-printable ISO-8859-1 body with soft line breaks.
	{
		s := "Quoted-printable Latin-1 body"
		h := stdHeaders("edge-qp-latin1", s,
			"Content-Type: text/plain; charset=ISO-8859-1",
			"Content-Transfer-Encoding: quoted-printable")
		add("edge-qp-latin1", s, crlf(append(h, "",
			"Caf=E9 cr=E8me br=FBl=E9e, =E0 la fran=E7aise: tr=E8s bien.",
			"This line is long enough that it is broken with a soft line break right=",
			" here, and continues.",
			"Equals sign: =3D, trailing space protected:=20",
		)...))
	}
	// Bare LF line endings everywhere.
	{
		s := "Bare LF line endings"
		raw := "From: Edge Sender <edge@example.org>\n" +
			"To: Test User <test@example.com>\n" +
			"Subject: " + s + "\n" +
			"Date: Mon, 02 Jan 2023 15:04:05 +0000\n" +
			"Message-ID: <edge-bare-lf@corpus.example.org>\n" +
			"\n" +
			"Every line of this message ends with a bare LF.\n" +
			".dot line\n" +
			"Last line.\n"
		add("edge-bare-lf", s, []byte(raw))
	}
	return msgs
}
