package imap

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// systemFlags are the five flags every full server keeps.
var systemFlags = []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft}

// permServer starts a server whose SELECT reports PERMANENTFLAGS as q
// says, with one message in INBOX, and dials it.
func permServer(t *testing.T, q imaptest.Quirks) (*imaptest.Server, *Mailbox, mailaccess.ID) {
	t.Helper()
	srv := imaptest.Start(t, &imaptest.Options{Quirks: &q}, imaptest.User{Name: "u", Password: "pw", Messages: [][]byte{msg("one", "x")}})
	cfg := srv.Config("u", "pw")
	cfg.Folder = "INBOX" // Dial reads the folder's PERMANENTFLAGS for Capabilities
	mb, err := Dial(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { mb.Close() })
	ids, _ := listIDs(t, mb, "INBOX")
	require.Len(t, ids, 1)
	return srv, mb, ids[0]
}

// sentCommand reports whether a command line holding word (" STORE ",
// " APPEND ") was sent.
func sentCommand(srv *imaptest.Server, word string) bool {
	for _, l := range srv.CommandLines() {
		if strings.Contains(strings.ToUpper(l), word) {
			return true
		}
	}
	return false
}

// requireNotKept checks that err refuses flag for lack of missing, naming
// the flag, the folder and PERMANENTFLAGS.
func requireNotKept(t *testing.T, err error, missing mailaccess.Capability, flag string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, errors.ErrUnsupported)
	t.Logf("refused: %v", err)
	var ue *mailaccess.UnsupportedError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, missing, ue.Missing)
	assert.Contains(t, err.Error(), flag)
	assert.Contains(t, err.Error(), `"INBOX"`)
	assert.Contains(t, err.Error(), "PERMANENTFLAGS")
}

// A folder whose PERMANENTFLAGS lack \* keeps only the keywords it lists
// (GNU Mailutils' imap4d lists none): the Mailbox does not declare
// keywords, and a keyword the folder cannot keep is refused before
// anything is sent, by SetFlags and by Append, rather than vanish. The
// keywords it lists work.
func TestPermanentFlagsWithoutWildcardRefuseNewKeywords(t *testing.T) {
	ctx := context.Background()
	srv, mb, id := permServer(t, imaptest.Quirks{PermanentFlags: append(append([]imap.Flag{}, systemFlags...), "$Forwarded")})
	assert.False(t, mb.Capabilities().Has(mailaccess.CapKeywords), "keywords declared for a folder that keeps no new ones: %v", mb.Capabilities())
	assert.True(t, mb.Capabilities().Has(mailaccess.CapFlags))

	pf, err := mb.PermanentFlags(ctx, "INBOX")
	require.NoError(t, err)
	assert.True(t, pf.Reported)
	assert.False(t, pf.NewKeywords)
	assert.True(t, pf.Keeps("$forwarded"), "flags are case-insensitive")
	assert.True(t, pf.Keeps(mailaccess.FlagSeen))
	assert.False(t, pf.Keeps("$Junk"))

	err = mb.SetFlags(ctx, "INBOX", []mailaccess.ID{id}, mailaccess.AddFlags, mailaccess.FlagSeen, "$Junk")
	requireNotKept(t, err, mailaccess.CapKeywords, "$Junk")
	err = mb.SetFlags(ctx, "INBOX", []mailaccess.ID{id}, mailaccess.ReplaceFlags, "$Junk")
	requireNotKept(t, err, mailaccess.CapKeywords, "$Junk")
	assert.False(t, sentCommand(srv, " STORE "), "a refused SetFlags sent STORE: %q", srv.CommandLines())

	_, err = mb.Append(ctx, "INBOX", bytes.NewReader(msg("two", "y")), &mailaccess.AppendOptions{Flags: []mailaccess.Flag{"$Junk"}})
	requireNotKept(t, err, mailaccess.CapKeywords, "$Junk")
	assert.False(t, sentCommand(srv, " APPEND "), "a refused Append sent APPEND: %q", srv.CommandLines())
	ids, _ := listIDs(t, mb, "INBOX")
	assert.Len(t, ids, 1, "a refused Append stored a message")

	// Removing a keyword the folder cannot keep asks nothing of it.
	require.NoError(t, mb.SetFlags(ctx, "INBOX", []mailaccess.ID{id}, mailaccess.RemoveFlags, "$Junk"))

	// What the folder lists is kept, whatever its case.
	require.NoError(t, mb.SetFlags(ctx, "INBOX", []mailaccess.ID{id}, mailaccess.AddFlags, mailaccess.FlagSeen, "$FORWARDED"))
	_, msgs := listIDs(t, mb, "INBOX")
	assert.True(t, msgs[0].HasFlag(mailaccess.FlagSeen) && msgs[0].HasFlag("$Forwarded"), "flags: %v", msgs[0].Flags())
	newID, err := mb.Append(ctx, "INBOX", bytes.NewReader(msg("two", "y")), &mailaccess.AppendOptions{Flags: []mailaccess.Flag{"$Forwarded"}})
	require.NoError(t, err)
	require.NotEmpty(t, newID)
}

// PERMANENTFLAGS () (a folder that keeps no flag at all) refuses system
// flags too, naming the flags capability.
func TestPermanentFlagsEmptyRefusesEveryFlag(t *testing.T) {
	ctx := context.Background()
	srv, mb, id := permServer(t, imaptest.Quirks{PermanentFlags: []imap.Flag{}})
	assert.False(t, mb.Capabilities().Has(mailaccess.CapKeywords))
	err := mb.SetFlags(ctx, "INBOX", []mailaccess.ID{id}, mailaccess.AddFlags, mailaccess.FlagSeen)
	requireNotKept(t, err, mailaccess.CapFlags, `\Seen`)
	_, err = mb.Append(ctx, "INBOX", bytes.NewReader(msg("two", "y")), &mailaccess.AppendOptions{Flags: []mailaccess.Flag{mailaccess.FlagFlagged}})
	requireNotKept(t, err, mailaccess.CapFlags, `\Flagged`)
	assert.False(t, sentCommand(srv, " STORE ") || sentCommand(srv, " APPEND "), "%q", srv.CommandLines())
	// Append without flags needs nothing kept.
	_, err = mb.Append(ctx, "INBOX", bytes.NewReader(msg("two", "y")), nil)
	require.NoError(t, err)
}

// \* in PERMANENTFLAGS, or no PERMANENTFLAGS at all (RFC 3501: every flag
// is then kept), lets any keyword through.
func TestPermanentFlagsWildcardOrAbsentKeepKeywords(t *testing.T) {
	for name, q := range map[string]imaptest.Quirks{
		"wildcard": {PermanentFlags: append(append([]imap.Flag{}, systemFlags...), imap.FlagWildcard)},
		"absent":   {NoPermanentFlags: true},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			_, mb, id := permServer(t, q)
			assert.True(t, mb.Capabilities().Has(mailaccess.CapKeywords))
			pf, err := mb.PermanentFlags(ctx, "INBOX")
			require.NoError(t, err)
			assert.Equal(t, name == "wildcard", pf.Reported)
			assert.True(t, pf.Keeps("$Junk"))
			require.NoError(t, mb.SetFlags(ctx, "INBOX", []mailaccess.ID{id}, mailaccess.AddFlags, "$Junk"))
			_, err = mb.Append(ctx, "INBOX", bytes.NewReader(msg("two", "y")), &mailaccess.AppendOptions{Flags: []mailaccess.Flag{"$Label1"}})
			require.NoError(t, err)
			_, msgs := listIDs(t, mb, "INBOX")
			require.Len(t, msgs, 2)
			assert.True(t, msgs[0].HasFlag("$Junk") && msgs[1].HasFlag("$Label1"), "%v %v", msgs[0].Flags(), msgs[1].Flags())
		})
	}
}

// KeptFlags (driver.FlagKeeper) leaves out exactly the flags the folder
// would refuse, so a caller such as the sync engine can append without
// failing the message; through a wrapper too.
func TestKeptFlagsFiltersWhatTheFolderRefuses(t *testing.T) {
	ctx := context.Background()
	_, mb, _ := permServer(t, imaptest.Quirks{PermanentFlags: append(append([]imap.Flag{}, systemFlags...), "$Forwarded")})
	in := []mailaccess.Flag{mailaccess.FlagSeen, "$Junk", "$forwarded", "NonJunk"}
	kept, err := mb.KeptFlags(ctx, "INBOX", in)
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.Flag{mailaccess.FlagSeen, "$forwarded"}, kept)
	wrapped := struct{ mailaccess.Mailbox }{mb}
	kept, err = driver.KeptFlags(ctx, wrapped, "INBOX", in)
	require.NoError(t, err)
	assert.Equal(t, []mailaccess.Flag{mailaccess.FlagSeen, "$forwarded"}, kept)
	_, err = mb.Append(ctx, "INBOX", bytes.NewReader(msg("kept", "z")), &mailaccess.AppendOptions{Flags: kept})
	require.NoError(t, err, "what KeptFlags returns, Append accepts")

	_, err = mb.KeptFlags(ctx, "Missing", in)
	assert.ErrorIs(t, err, mailaccess.ErrNotFound)
}

// A folder that lists \* keeps every flag.
func TestKeptFlagsWithWildcardKeepsAll(t *testing.T) {
	ctx := context.Background()
	_, mb, _ := permServer(t, imaptest.Quirks{})
	in := []mailaccess.Flag{mailaccess.FlagSeen, "$Junk", "NonJunk"}
	kept, err := mb.KeptFlags(ctx, "INBOX", in)
	require.NoError(t, err)
	assert.Equal(t, in, kept)
}
