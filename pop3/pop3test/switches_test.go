package pop3test

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBeforeStatusPrecedesEveryStatusLine(t *testing.T) {
	s := Start(t, newMemBox(msgPlain), &Options{BeforeStatus: "\r\n\n"})
	c := dialRaw(t, s)
	for _, want := range []string{"", ""} {
		assert.Equal(t, want, c.line(), "blank line, then stray LF, before the greeting")
	}
	assert.True(t, strings.HasPrefix(c.line(), "+OK pop3test ready"))
	c.send("USER user")
	assert.Equal(t, "", c.line())
	assert.Equal(t, "", c.line())
	assert.Equal(t, "+OK send PASS", c.line())
}

func TestDropAfterEndsTheSessionWithItsText(t *testing.T) {
	mb := newMemBox(msgPlain, msgDots)
	s := Start(t, mb, &Options{DropAfter: 2, DropText: "[SYS/TEMP] autologout"})
	c := dialRaw(t, s)
	c.login(DefaultUser, DefaultPassword)
	assert.True(t, strings.HasPrefix(c.cmd("DELE 1"), "+OK"))
	assert.True(t, strings.HasPrefix(c.cmd("NOOP"), "+OK"))
	assert.Equal(t, "-ERR [SYS/TEMP] autologout", c.cmd("QUIT"), "the third command ends the session")
	_, err := c.br.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "and the connection is closed")
	assert.Equal(t, 2, mb.count(), "the DELE of the dropped session is not applied")

	// Without DropText the connection just closes.
	s2 := Start(t, newMemBox(msgPlain), &Options{DropAfter: 1})
	c2 := dialRaw(t, s2)
	c2.login(DefaultUser, DefaultPassword)
	assert.True(t, strings.HasPrefix(c2.cmd("STAT"), "+OK"))
	c2.send("STAT")
	_, err = c2.br.ReadByte()
	assert.ErrorIs(t, err, io.EOF)
}

func TestUTF8ModeAndDowngrade(t *testing.T) {
	const intl = "Subject: Grüße\r\nFrom: jörg@example.org\r\n\r\nHallo\r\n"
	mb := newMemBox(intl, msgPlain)
	s := Start(t, mb, &Options{UTF8: true, Users: map[string]string{"jörg": "pässword"}})

	// A legacy session: the internationalised message is downgraded, the
	// ASCII one is not, and a UTF-8 user name is refused.
	c := dialRaw(t, s)
	require.True(t, strings.HasPrefix(c.line(), "+OK"))
	require.True(t, strings.HasPrefix(c.cmd("CAPA"), "+OK"))
	assert.Contains(t, string(c.multi()), "UTF8 USER\r\n")
	assert.True(t, strings.HasPrefix(c.cmd("USER jörg"), "-ERR [AUTH]"))
	require.True(t, strings.HasPrefix(c.cmd("QUIT"), "+OK"))

	// USER/PASS after UTF8, then the message as stored.
	c = dialRaw(t, s)
	require.True(t, strings.HasPrefix(c.line(), "+OK"))
	assert.True(t, strings.HasPrefix(c.cmd("UTF8"), "+OK"))
	assert.True(t, strings.HasPrefix(c.cmd("USER jörg"), "+OK"))
	assert.True(t, strings.HasPrefix(c.cmd("PASS pässword"), "+OK"))
	require.True(t, strings.HasPrefix(c.cmd("RETR 1"), "+OK"))
	assert.Equal(t, intl, string(c.multi()))
	require.True(t, strings.HasPrefix(c.cmd("QUIT"), "+OK"))

	// UTF8 after login works too (some clients send it then); before it,
	// RETR downgrades.
	s2 := Start(t, newMemBox(intl, msgPlain), &Options{UTF8: true})
	c = dialRaw(t, s2)
	c.login(DefaultUser, DefaultPassword)
	require.True(t, strings.HasPrefix(c.cmd("LIST 1"), "+OK"))
	require.True(t, strings.HasPrefix(c.cmd("RETR 1"), "+OK"))
	assert.Equal(t, downgradeNotice, string(c.multi()))
	require.True(t, strings.HasPrefix(c.cmd("RETR 2"), "+OK"))
	assert.Equal(t, msgPlain, string(c.multi()), "an ASCII header is not downgraded")
	assert.True(t, strings.HasPrefix(c.cmd("UTF8"), "+OK"))
	require.True(t, strings.HasPrefix(c.cmd("TOP 1 0"), "+OK"))
	assert.Equal(t, "Subject: Grüße\r\nFrom: jörg@example.org\r\n\r\n", string(c.multi()))

	// Without the switch, UTF8 is an unknown command.
	s3 := Start(t, newMemBox(msgPlain), nil)
	c = dialRaw(t, s3)
	require.True(t, strings.HasPrefix(c.line(), "+OK"))
	assert.True(t, strings.HasPrefix(c.cmd("UTF8"), "-ERR"))
}

func TestEndlessListingFault(t *testing.T) {
	s := Start(t, newMemBox(msgPlain), &Options{Faults: []Fault{
		{Command: "UIDL", Action: FaultEndlessListing},
		{Command: "LIST", Action: FaultEndlessListing, Interval: time.Millisecond},
	}})
	c := dialRaw(t, s)
	c.login(DefaultUser, DefaultPassword)
	require.Equal(t, "+OK listing follows", c.cmd("UIDL"))
	for i := 1; i <= 5000; i++ { // far more lines than the maildrop has
		require.Equal(t, fmt.Sprintf("%d u%d", i, i), c.line())
	}
	c.conn.Close()

	// The maildrop is unlocked once the server notices the client left
	// (a write of the endless listing fails) and ends the session.
	require.NoError(t, s.WaitIdle(testCtx(t)))
	c = dialRaw(t, s)
	c.login(DefaultUser, DefaultPassword)
	require.Equal(t, "+OK listing follows", c.cmd("LIST"))
	assert.Equal(t, "1 1000", c.line())
	assert.Equal(t, "2 1000", c.line(), "trickled, one line at a time")
}

func TestLFSizesCountLineEndsAsOneOctet(t *testing.T) {
	s := Start(t, newMemBox(msgPlain, msgDots), &Options{LFSizes: true})
	c := dialRaw(t, s)
	c.login(DefaultUser, DefaultPassword)
	lf := func(m string) int { return len(m) - strings.Count(m, "\r\n") }
	assert.Equal(t, fmt.Sprintf("+OK 2 %d", lf(msgPlain)+lf(msgDots)), c.cmd("STAT"))
	assert.Equal(t, fmt.Sprintf("+OK 1 %d", lf(msgPlain)), c.cmd("LIST 1"))
	require.True(t, strings.HasPrefix(c.cmd("RETR 1"), "+OK"))
	assert.Equal(t, msgPlain, string(c.multi()), "the bytes sent are unchanged")
}

func TestUTF8AfterLoginAdvertisedOnlyAfterLogin(t *testing.T) {
	s := Start(t, newMemBox(msgPlain), &Options{UTF8: true, UTF8AfterLogin: true})
	c := dialRaw(t, s)
	require.True(t, strings.HasPrefix(c.line(), "+OK"))
	require.True(t, strings.HasPrefix(c.cmd("CAPA"), "+OK"))
	assert.NotContains(t, string(c.multi()), "UTF8")
	require.True(t, strings.HasPrefix(c.cmd("USER user"), "+OK"))
	require.True(t, strings.HasPrefix(c.cmd("PASS pass"), "+OK"))
	require.True(t, strings.HasPrefix(c.cmd("CAPA"), "+OK"))
	assert.Contains(t, string(c.multi()), "UTF8 USER\r\n")
}
