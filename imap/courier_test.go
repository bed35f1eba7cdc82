package imap

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/couriertest"
	"github.com/mailaccess/go-mailaccess/internal/userharness"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
)

// courierHarness runs the suite against Courier-IMAP's imapd over
// STARTTLS (scheme imap) or implicit TLS (imaps).
func courierHarness(srv *couriertest.Server, scheme string) conformance.Harness {
	h := userharness.New(srv, func(t testing.TB, user string) mailaccess.Mailbox {
		mb, err := dialDovecot(srv.Config(scheme, user))
		require.NoError(t, err)
		return mb
	}, nil)
	h.OpenFolder = func(t testing.TB, old mailaccess.Mailbox, folder string) (mailaccess.Mailbox, error) {
		cfg := srv.Config(scheme, h.User(old))
		cfg.Folder = folder
		return dialFolder(cfg)
	}
	h.Normalize, h.UnknownID, h.Skip = couriertest.Wire, unknownID, courierSkips
	return h.Harness
}

// courierNamespace is why the suite's folder subtests are skipped.
const courierNamespace = "Courier-IMAP keeps every folder under its personal namespace \"INBOX.\" (NAMESPACE) and refuses the suite's top-level names (CREATE mailtest-dest: NO Invalid mailbox name.); the driver passes names as given: TestCourierFoldersInNamespace runs these operations with INBOX. names"

// courierSkips are the subtests that check what Courier-IMAP 5.0 (Debian
// bookworm) does not do (each measured; the suite's checks stay as they
// are for every other server).
var courierSkips = map[string]string{
	"OpenFolder":    courierNamespace,
	"CopyMove":      courierNamespace,
	"FolderManager": courierNamespace,
	"Partial":       "imapd sends the body of a message/rfc822 part of a message stored with LF line ends one octet long: BODY[3.1] ends CR LF CR, the CR of the line end before the boundary (and BODYSTRUCTURE counts it: 65 octets for 64)",
	"OpenPart":      "OpenPart of part 3.1 gets imapd's octet too many (see Partial); TestCourierOpenPartWithoutTransferEncoding and TestCourierOpenPartThatDoesNotExist cover the rest",
	"Fetch":         "imapd's BODYSTRUCTURE gives a part without Content-Transfer-Encoding as 8bit (RFC 2045: 7bit) and the message/rfc822 part one octet long (see Partial)",
	"Structure":     "imapd's BODYSTRUCTURE gives a part without Content-Transfer-Encoding as 8bit (RFC 2045: 7bit) and the message/rfc822 part one octet long (see Partial)",
	"Search":        "imapd's SEARCH LARGER and SMALLER compare the size of the file stored with LF line ends, not RFC822.SIZE (a message of RFC822.SIZE 17 is not LARGER 15)",
	"FetchMatching": "FetchMatching runs imapd's SEARCH for size criteria (see Search)",
	"SearchDecoded": "imapd's SEARCH does not parse addresses (display names, angle brackets, lists), misses ISO-8859-1 encoded words and quoted-printable text across a soft line break, is accent-sensitive, and matches words across a line break",
	"Sort":          "imapd's SORT breaks ties in descending sequence order (RFC 5256: ascending; ARRIVAL of five messages with one INTERNALDATE gives 5 4 3 2 1) and compares FROM case-sensitively (\"Carl\" before \"anna\")",
}

// TestConformanceCourier runs the conformance suite against Courier-IMAP
// (a real server, unpacked: see package internal/couriertest).
func TestConformanceCourier(t *testing.T) {
	srv := couriertest.Start(t)
	for _, scheme := range []string{"imap", "imaps"} {
		t.Run(scheme, func(t *testing.T) { conformance.TestMailbox(t, courierHarness(srv, scheme)) })
	}
}

// Courier-IMAP does not announce a message appended (or copied) to the
// folder the session has selected (RFC 3501 6.3.11 and 6.4.7: the server
// SHOULD send EXISTS at once): the session learns of it at the next NOOP.
// A List right after Append must still show the appended message, under
// the ID Append returned, with its bytes; and Status counts it.
func TestCourierAppendToSelectedFolderIsListed(t *testing.T) {
	srv := couriertest.Start(t)
	user, err := srv.AddUser("app", [][]byte{msg("one", "x")})
	require.NoError(t, err)
	for _, scheme := range []string{"imap", "imaps"} {
		t.Run(scheme, func(t *testing.T) {
			cfg := srv.Config(scheme, user)
			cfg.Folder = mailaccess.Inbox // selected at Dial
			mb, err := dialDovecot(cfg)
			require.NoError(t, err)
			defer mb.Close()
			ctx := context.Background()
			before, _ := listIDs(t, mb, mailaccess.Inbox)

			raw := msg("appended "+scheme, "y")
			id, err := mb.Append(ctx, mailaccess.Inbox, bytes.NewReader(raw), nil)
			require.NoError(t, err)
			require.NotEmpty(t, id, "Courier has UIDPLUS: Append returns the new ID")
			ids, _ := listIDs(t, mb, mailaccess.Inbox)
			require.Len(t, ids, len(before)+1, "List right after Append")
			assert.Equal(t, id, ids[len(ids)-1], "the appended message is listed under the ID Append returned")
			rc, err := mb.Open(ctx, mailaccess.Inbox, id, nil)
			require.NoError(t, err)
			got, err := io.ReadAll(rc)
			rc.Close()
			require.NoError(t, err)
			assert.Equal(t, string(couriertest.Wire(raw)), string(got))
		})
	}
}

// Courier-IMAP describes a part whose MIME header has no
// Content-Transfer-Encoding as "8bit" (RFC 2045's default is 7bit). Both
// are identity encodings: the part's octets are its content either way,
// so OpenPart must return the part, not refuse it as a MIME header cut
// short (which loses a real encoding such as base64, and stays refused).
func TestCourierOpenPartWithoutTransferEncoding(t *testing.T) {
	srv := couriertest.Start(t)
	multi := []byte("From: a@example.com\r\nSubject: parts\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nfirst part\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n" +
		"--b--\r\n")
	user, err := srv.AddUser("part", [][]byte{msg("single", "only body"), multi})
	require.NoError(t, err)
	mb, err := dialDovecot(srv.Config("imaps", user))
	require.NoError(t, err)
	defer mb.Close()
	ctx := context.Background()
	ids, _ := listIDs(t, mb, mailaccess.Inbox)
	require.Len(t, ids, 2)

	st, err := mb.Structure(ctx, mailaccess.Inbox, ids[0])
	require.NoError(t, err)
	require.Equal(t, "8bit", st.Find([]int{1}).Encoding, "Courier's description (else this test shows nothing)")
	for _, c := range []struct {
		id   mailaccess.ID
		path []int
		want string
	}{
		{ids[0], []int{1}, "only body\r\n"},
		{ids[1], []int{1}, "first part"},
		{ids[1], []int{2}, "hello"},
	} {
		rc, err := mb.OpenPart(ctx, mailaccess.Inbox, c.id, c.path, nil)
		require.NoError(t, err, "OpenPart %v", c.path)
		got, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err, "part %v", c.path)
		assert.Equal(t, c.want, string(got), "part %v", c.path)
	}
}

// Courier-IMAP answers BODY[n] of a part the message does not have with an
// empty string (where other servers answer NIL or NO). OpenPart must not
// hand that out as an empty part: the server's own description of the
// message (BODYSTRUCTURE) shows the part is not there, so it is
// ErrNotFound; a part inside an attached message, which BODYSTRUCTURE
// does not describe, still opens.
func TestCourierOpenPartThatDoesNotExist(t *testing.T) {
	srv := couriertest.Start(t)
	multi := []byte("From: a@example.com\r\nSubject: parts\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n" +
		"--b--\r\n")
	user, err := srv.AddUser("nopart", [][]byte{msg("single", "only body"), multi})
	require.NoError(t, err)
	mb, err := dialDovecot(srv.Config("imaps", user))
	require.NoError(t, err)
	defer mb.Close()
	ctx := context.Background()
	ids, _ := listIDs(t, mb, mailaccess.Inbox)
	require.Len(t, ids, 2)

	for _, c := range []struct {
		id   mailaccess.ID
		path []int
	}{
		{ids[0], []int{2}},
		{ids[0], []int{1, 1}},
		{ids[1], []int{3}},
		{ids[1], []int{1, 2}},
	} {
		rc, err := mb.OpenPart(ctx, mailaccess.Inbox, c.id, c.path, nil)
		if err == nil {
			b, _ := io.ReadAll(rc)
			rc.Close()
			t.Errorf("OpenPart %v of message %s: %q, want ErrNotFound", c.path, c.id, b)
			continue
		}
		assert.ErrorIs(t, err, mailaccess.ErrNotFound, "OpenPart %v of message %s", c.path, c.id)
	}
	rc, err := mb.OpenPart(ctx, mailaccess.Inbox, ids[1], []int{2, 1}, nil)
	require.NoError(t, err, "the body of the attached message")
	got, err := io.ReadAll(rc)
	rc.Close()
	require.NoError(t, err)
	assert.Contains(t, string(got), "inner body")
}

// The edge corpus (dot lines, 64 KiB lines, raw UTF-8 and encoded-word
// headers, nested multiparts, bare LF...) comes back from Courier-IMAP
// byte for byte as it sends it (couriertest.Wire: the Maildir file with
// LF line ends, each sent as CRLF), in List order, with RFC822.SIZE the
// length of those bytes; through Open and through OpenAll, on STARTTLS and
// on implicit TLS.
func TestCourierEdgeCorpusByteExact(t *testing.T) {
	srv := couriertest.Start(t)
	edges := corpus.EdgeCases()
	raws := make([][]byte, len(edges))
	for i, m := range edges {
		raws[i] = m.Raw
	}
	user, err := srv.AddUser("edge", raws)
	require.NoError(t, err)
	for _, scheme := range []string{"imap", "imaps"} {
		t.Run(scheme, func(t *testing.T) {
			mb, err := dialDovecot(srv.Config(scheme, user))
			require.NoError(t, err)
			defer mb.Close()
			ctx := context.Background()
			ids, msgs := listIDs(t, mb, mailaccess.Inbox)
			require.Len(t, ids, len(edges))
			for i, m := range edges {
				want := couriertest.Wire(m.Raw)
				assert.Equal(t, int64(len(want)), msgs[i].Size(), "%s: RFC822.SIZE", m.Name)
				rc, err := mb.Open(ctx, mailaccess.Inbox, ids[i], nil)
				require.NoError(t, err, m.Name)
				got, err := io.ReadAll(rc)
				rc.Close()
				require.NoError(t, err, m.Name)
				assert.True(t, bytes.Equal(want, got), "%s: Open returned %d bytes, want %d byte-exact", m.Name, len(got), len(want))
			}

			byID := map[mailaccess.ID][]byte{}
			err = mb.OpenAll(ctx, mailaccess.Inbox, ids, func(id mailaccess.ID, r io.Reader) error {
				b, err := io.ReadAll(r)
				byID[id] = b
				return err
			})
			require.NoError(t, err)
			require.Len(t, byID, len(ids))
			for i, m := range edges {
				assert.True(t, bytes.Equal(couriertest.Wire(m.Raw), byID[ids[i]]), "%s: OpenAll not byte-exact", m.Name)
			}
		})
	}
}

// The folder operations the conformance suite cannot run on Courier-IMAP
// (its names are top-level, Courier's folders live under "INBOX."), run
// with names in Courier's namespace: create, list, status, open a
// Mailbox on the folder, copy and move into it (the IDs returned open
// the messages, byte-exact), rename and delete it while the session has
// it selected (which Courier refuses: the driver deselects first); and a
// top-level name is refused with the server's reason.
func TestCourierFoldersInNamespace(t *testing.T) {
	srv := couriertest.Start(t)
	raws := [][]byte{msg("m1", "one"), msg("m2", "two")}
	user, err := srv.AddUser("fold", raws)
	require.NoError(t, err)
	mb, err := dialDovecot(srv.Config("imaps", user))
	require.NoError(t, err)
	defer mb.Close()
	ctx := context.Background()
	names := func() []string {
		fs, err := mb.Folders(ctx)
		require.NoError(t, err)
		var out []string
		for _, f := range fs {
			out = append(out, f.Name)
			if f.Name != mailaccess.Inbox {
				assert.Equal(t, ".", f.Delimiter, "%s", f.Name)
			}
		}
		return out
	}

	err = mailaccess.CreateFolder(ctx, mb, "toplevel")
	require.Error(t, err, "Courier refuses a folder outside INBOX.")
	assert.Contains(t, err.Error(), "Invalid mailbox name")

	const dest = "INBOX.dest"
	require.NoError(t, mailaccess.CreateFolder(ctx, mb, dest))
	assert.Contains(t, names(), dest)
	st, err := mb.Status(ctx, dest)
	require.NoError(t, err)
	assert.Equal(t, 0, st.Messages)
	cfg := srv.Config("imap", user)
	cfg.Folder = dest
	opened, err := dialFolder(cfg)
	require.NoError(t, err, "a Mailbox opened on the new folder")
	opened.Close()

	ids, _ := listIDs(t, mb, mailaccess.Inbox)
	require.Len(t, ids, 2)
	copied, err := mb.Copy(ctx, mailaccess.Inbox, ids[:1], dest)
	require.NoError(t, err)
	require.Len(t, copied, 1)
	require.NotEmpty(t, copied[0], "COPYUID (UIDPLUS)")
	moved, err := mb.Move(ctx, mailaccess.Inbox, ids[1:], dest)
	require.NoError(t, err)
	require.Len(t, moved, 1)
	require.NotEmpty(t, moved[0])
	for i, id := range []mailaccess.ID{copied[0], moved[0]} {
		rc, err := mb.Open(ctx, dest, id, nil)
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		assert.Equal(t, string(couriertest.Wire(raws[i])), string(got), "the ID Copy/Move returned opens the message")
	}
	left, _ := listIDs(t, mb, mailaccess.Inbox)
	assert.Equal(t, ids[:1], left, "Copy keeps the source, Move removes it")
	inDest, _ := listIDs(t, mb, dest)
	assert.Len(t, inDest, 2)

	require.NoError(t, mailaccess.RenameFolder(ctx, mb, dest, "INBOX.renamed"))
	n := names()
	assert.Contains(t, n, "INBOX.renamed")
	assert.NotContains(t, n, dest)
	// Courier refuses to rename or delete the folder the session has
	// selected ("Cannot delete currently-open folder") and has no
	// UNSELECT: the driver deselects it first.
	moreIDs, _ := listIDs(t, mb, "INBOX.renamed")
	assert.Len(t, moreIDs, 2, "the renamed folder keeps its messages")
	require.NoError(t, mailaccess.DeleteFolder(ctx, mb, "INBOX.renamed"))
	assert.NotContains(t, names(), "INBOX.renamed")
	_, err = mb.Status(ctx, "INBOX.renamed")
	assert.ErrorIs(t, err, mailaccess.ErrNotFound, "Status of a deleted folder")
}
