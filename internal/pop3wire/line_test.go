package pop3wire

import (
	"bufio"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatus(t *testing.T) {
	cases := []struct {
		line string
		kind statusKind
		code string
		text string
		bad  bool
	}{
		{line: "+OK", kind: statusOK},
		{line: "+OK hello there", kind: statusOK, text: "hello there"},
		{line: "+ok lower", kind: statusOK, text: "lower"},
		{line: "-ERR", kind: statusErr},
		{line: "-ERR [IN-USE] locked", kind: statusErr, code: "IN-USE", text: "locked"},
		{line: "-ERR [SYS/TEMP] try later", kind: statusErr, code: "SYS/TEMP", text: "try later"},
		{line: "-ERR [LOGIN-DELAY] wait", kind: statusErr, code: "LOGIN-DELAY", text: "wait"},
		{line: "-ERR [AUTH] bad", kind: statusErr, code: "AUTH", text: "bad"},
		{line: "-ERR [SYS/PERM] gone", kind: statusErr, code: "SYS/PERM", text: "gone"},
		{line: "-ERR [unterminated text", kind: statusErr, text: "[unterminated text"},
		{line: "-ERR [] empty", kind: statusErr, text: "[] empty"},
		{line: "-ERR [A//B] x", kind: statusErr, text: "[A//B] x"},
		{line: "+ ", kind: statusCont},
		{line: "+", kind: statusCont},
		{line: "+ Zm9v", kind: statusCont, text: "Zm9v"},
		{line: "", bad: true},
		{line: "+OKAY", bad: true},
		{line: "-ERROR", bad: true},
		{line: "hello", bad: true},
		{line: "\x00\x01", bad: true},
		{line: "+X", bad: true},
	}
	for _, tc := range cases {
		st, err := parseStatus([]byte(tc.line))
		if tc.bad {
			require.Error(t, err, "%q", tc.line)
			assert.True(t, errors.Is(err, ErrProtocol))
			continue
		}
		require.NoError(t, err, "%q", tc.line)
		assert.Equal(t, tc.kind, st.kind, "%q", tc.line)
		assert.Equal(t, tc.code, st.code, "%q", tc.line)
		assert.Equal(t, tc.text, string(st.text), "%q", tc.line)
	}
}

func TestReadLineBounded(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader(strings.Repeat("x", MaxLineLength+10)+"\r\n"), readBufferSize)
	_, err := readLine(br, MaxLineLength)
	assert.True(t, errors.Is(err, ErrLineTooLong))

	br = bufio.NewReaderSize(strings.NewReader(strings.Repeat("x", 1<<20)), readBufferSize)
	_, err = readLine(br, MaxLineLength)
	assert.True(t, errors.Is(err, ErrLineTooLong))
	assert.Equal(t, readBufferSize, br.Size())
}

func TestParseListingLines(t *testing.T) {
	m, err := parseListLine([]byte("1 120"))
	require.NoError(t, err)
	assert.Equal(t, MessageSize{1, 120}, m)
	m, err = parseListLine([]byte("2 0 extra info"))
	require.NoError(t, err)
	assert.Equal(t, MessageSize{2, 0}, m)
	for _, bad := range []string{"", "1", "0 10", "-1 10", "+1 10", "1 -5", "x 1", "1 99999999999999999999999", "99999999999 1", "1 1x"} {
		_, err := parseListLine([]byte(bad))
		require.Error(t, err, "%q", bad)
		assert.Contains(t, err.Error(), "malformed LIST line")
	}

	u, err := parseUIDLLine([]byte("3 QhdPYR:00WBw1Ph7x7"))
	require.NoError(t, err)
	assert.Equal(t, MessageUID{3, "QhdPYR:00WBw1Ph7x7"}, u)
	for _, bad := range []string{"", "3", "3 " + strings.Repeat("u", 71), "0 abc", "3 ab\x01c", "3 caf\xc3\xa9"} {
		_, err := parseUIDLLine([]byte(bad))
		require.Error(t, err, "%q", bad)
	}
}

func TestErrorPredicates(t *testing.T) {
	e := &Error{Command: "PASS <redacted>", Text: "invalid login"}
	assert.True(t, e.IsAuthFailure())
	assert.False(t, e.IsMailboxLocked())
	assert.True(t, IsAuthFailure(errors.Join(errors.New("x"), e)))

	e = &Error{Command: "PASS <redacted>", Code: "IN-USE", Text: "busy"}
	assert.False(t, e.IsAuthFailure())
	assert.True(t, e.IsMailboxLocked())

	e = &Error{Command: "PASS <redacted>", Text: "Unable to lock maildrop"}
	assert.True(t, e.IsMailboxLocked())
	assert.False(t, e.IsAuthFailure())

	e = &Error{Command: "RETR 1", Code: "SYS/TEMP"}
	assert.True(t, e.IsTemporary())
	assert.True(t, (&Error{Code: "LOGIN-DELAY"}).IsTemporary())
	assert.False(t, (&Error{Code: "SYS/PERM"}).IsTemporary())
	assert.True(t, (&Error{Command: "RETR 1", Code: "AUTH"}).IsAuthFailure())
	assert.False(t, (&Error{Command: "RETR 1", Text: "no such message"}).IsAuthFailure())

	assert.Equal(t, "RETR 1: -ERR [SYS/TEMP] x", (&Error{Command: "RETR 1", Code: "SYS/TEMP", Text: "x"}).Error())
}

func TestSanitizeAndRedact(t *testing.T) {
	s := sanitize([]byte("a\x00b\r\nc\x1b[31m" + strings.Repeat("z", 1000)))
	assert.NotContains(t, s, "\x00")
	assert.NotContains(t, s, "\n")
	assert.NotContains(t, s, "\x1b")
	assert.LessOrEqual(t, len(s), maxErrText)

	assert.Equal(t, "PASS <redacted>", redact("PASS hunter2"))
	assert.Equal(t, "APOP bob <redacted>", redact("APOP bob c4c9334bac560ecc979e58001b3e22fb"))
	assert.Equal(t, "AUTH PLAIN <redacted>", redact("AUTH PLAIN AGJvYgBzZWNyZXQ="))
	assert.Equal(t, "AUTH XOAUTH2", redact("AUTH XOAUTH2"))
	assert.Equal(t, "USER bob", redact("USER bob"))
}
