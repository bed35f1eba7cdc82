package main

import "strings"

// crlf joins lines with CRLF, as mail is sent on the wire.
func crlf(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

// seedMessages are a few realistic messages: a plain note, an HTML
// newsletter with a text alternative, an invoice with a PDF attachment and a
// Latin-1 encoded subject, and a delivery-failure report.
func seedMessages() [][]byte {
	return [][]byte{
		crlf(
			"From: Ana Lima <ana@example.com>",
			"To: Support <support@example.org>",
			"Subject: Printer on floor 3 is jammed again",
			"Date: Mon, 23 Nov 2026 09:12:44 +0100",
			"Message-ID: <printer-3@example.com>",
			"Content-Type: text/plain; charset=utf-8",
			"",
			"Hi team,",
			"",
			"the printer next to the kitchen is jammed again. Could someone have a look?",
			"",
			"Thanks, Ana",
		),
		crlf(
			"From: \"Weekly Digest\" <digest@news.example.net>",
			"To: support@example.org",
			"Subject: =?UTF-8?Q?Your_weekly_digest_=E2=80=94_5_new_articles?=",
			"Date: Mon, 23 Nov 2026 07:00:00 +0000",
			"Message-ID: <digest-48@news.example.net>",
			"MIME-Version: 1.0",
			`Content-Type: multipart/alternative; boundary="alt-1"`,
			"",
			"--alt-1",
			"Content-Type: text/plain; charset=utf-8",
			"",
			"Five new articles this week.",
			"--alt-1",
			"Content-Type: text/html; charset=utf-8",
			"",
			"<html><body><h1>Five new articles</h1><p>This week...</p></body></html>",
			"--alt-1--",
		),
		crlf(
			"From: =?ISO-8859-1?Q?Jos=E9_Mu=F1oz?= <billing@supplier.example>",
			"To: Support <support@example.org>",
			"Subject: =?ISO-8859-1?Q?Factura_n=BA_2026-117?=",
			"Date: Tue, 24 Nov 2026 16:45:10 +0100",
			"Message-ID: <inv-2026-117@supplier.example>",
			"MIME-Version: 1.0",
			`Content-Type: multipart/mixed; boundary="mix-1"`,
			"",
			"--mix-1",
			"Content-Type: text/plain; charset=ISO-8859-1",
			"Content-Transfer-Encoding: quoted-printable",
			"",
			"Adjuntamos la factura del mes. Un saludo, Jos=E9",
			"--mix-1",
			"Content-Type: application/pdf",
			`Content-Disposition: attachment; filename="factura-2026-117.pdf"`,
			"Content-Transfer-Encoding: base64",
			"",
			"JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl",
			"Y29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAwALJMLU31jBQsTAz1LBSKUrnCtRTyuAIVAIcVB1QK",
			"--mix-1--",
		),
		crlf(
			"From: Mail Delivery System <MAILER-DAEMON@mx.example.org>",
			"To: support@example.org",
			"Subject: Undelivered Mail Returned to Sender",
			"Date: Wed, 25 Nov 2026 08:01:02 +0000",
			"Message-ID: <bounce-1@mx.example.org>",
			`Content-Type: multipart/report; report-type=delivery-status; boundary="rep-1"`,
			"",
			"--rep-1",
			"Content-Type: text/plain",
			"",
			"Your message could not be delivered to one or more recipients.",
			"--rep-1",
			"Content-Type: message/delivery-status",
			"",
			"Reporting-MTA: dns; mx.example.org",
			"",
			"Final-Recipient: rfc822; gone@customer.example",
			"Action: failed",
			"Status: 5.1.1",
			"--rep-1--",
		),
	}
}
