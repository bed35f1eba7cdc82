package driver

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The folded form is Dovecot's i;unicode-casemap: each of these pairs was
// checked against Dovecot 2.3 (SEARCH BODY and SUBJECT).
func TestFoldMatchesDovecot(t *testing.T) {
	for _, c := range []struct {
		haystack, needle string
		want             bool
	}{
		{"Café crème", "cafe", true},      // é at the end of the needle: decomposed, E then a combining accent
		{"Café crème", "CAFÉ", true},      // case
		{"schöne Grüße", "schone", false}, // the accent sits between o and n
		{"schöne Grüße", "SCHÖNE", true},
		{"Grüße", "GRÜSSE", false}, // no ß to SS
		{"ÄÖÜ", "äöü", true},
		{"ＡＢＣ", "abc", true},   // fullwidth: a one-character compatibility mapping
		{"ﬁle", "file", false}, // the ligature's is two characters: not applied
		{"ﬁle", "ﬁle", true},   // ...but it matches itself
		{"ſtop", "stop", true}, // long s title-cases to S
		{"ǅ", "ǆ", true},       // title case
		{"Straße", "STRASSE", false},
	} {
		got := strings.Contains(fold(c.haystack), fold(c.needle))
		assert.Equal(t, c.want, got, "%q in %q", c.needle, c.haystack)
	}
	assert.Equal(t, "A\uFFFDB", fold("a\xffb"), "invalid UTF-8 is U+FFFD")
}

func TestFolderKeepsRunesAcrossChunks(t *testing.T) {
	in := []byte("xé€𝄞y")
	var f folder
	var out []byte
	for i := range in {
		out = append(out, f.fold(nil, in[i:i+1], i == len(in)-1)...)
	}
	assert.Equal(t, fold(string(in)), string(out))
}

func TestDecodeValue(t *testing.T) {
	for raw, want := range map[string]string{
		"plain\ttext": "plain text",
		"=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus M=C3=BCnchen":          "Grüße aus M=C3=BCnchen",
		"pre=?UTF-8?Q?x?=post":                                  "prexpost", // decoded inside a word, as Dovecot does
		"=?UTF-8?Q?a?= =?UTF-8?Q?b?=  =?ISO-8859-1?Q?=E9?= end": "abé end",  // whitespace between words dropped
		"=?x-unknown?Q?zz?= end":                                "\uFFFD end",
		"=?UTF-8?Q?broken":                                      "=?UTF-8?Q?broken",
		"a =?UTF-8?Q?not a word?= b":                            "a =?UTF-8?Q?not a word?= b",
		"=?utf-8?b?w6k=?=":                                      "é",
	} {
		assert.Equal(t, want, decodeValue(raw), raw)
	}
}

// addressForm writes address lists as Dovecot's FROM/TO/CC/BCC searches
// see them; the expected forms were established with searches against
// Dovecot 2.3 (see the conformance suite's search corpus).
func TestAddressForm(t *testing.T) {
	for raw, want := range map[string]string{
		"Alice Smith <alice@example.com>":                               `"Alice Smith" <alice@example.com>`,
		"Carol <carol@example.net>, erin@example.com":                   `Carol <carol@example.net>, <erin@example.com>`,
		"bob@example.org (Bob Comment)":                                 `"Bob Comment" <bob@example.org>`,
		`"Bob, Jr." <bob@example.org>`:                                  `"Bob, Jr." <bob@example.org>`,
		`"single" <s@example.com>, Mary.Jones <mj@example.com>`:         `single <s@example.com>, "Mary.Jones" <mj@example.com>`,
		"=?UTF-8?Q?Jos=C3=A9_Garc=C3=ADa?= <jg@example.com>":            `José García <jg@example.com>`,
		"Hans =?UTF-8?Q?M=C3=BCller?= <hm@example.com>":                 `Hans Müller <hm@example.com>`,
		`"a\"b" <ab@example.com>`:                                       `"a\"b" <ab@example.com>`,
		"undisclosed-recipients:;":                                      `undisclosed-recipients:;`,
		`Group: m1@example.com, "M Two" <m2@example.com>;, after@x.org`: `Group: <m1@example.com>, "M Two" <m2@example.com>;, <after@x.org>`,
		"just garbage":                          `"just garbage" <MISSING_MAILBOX@MISSING_DOMAIN>`,
		"a@b.c, broken <x@y":                    `<a@b.c>, broken <x@SYNTAX_ERROR>`,
		"ok@example.com, @@@, last@example.com": `<ok@example.com>, <MISSING_MAILBOX@MISSING_DOMAIN>`,
	} {
		assert.Equal(t, want, addressForm(raw), raw)
	}
	assert.Equal(t, "MISSING_MAILBOX", firstMailbox("just garbage"))
	assert.Equal(t, "m1", firstMailbox("Group: m1@example.com;"))
	assert.Equal(t, "", firstMailbox(""))
}
