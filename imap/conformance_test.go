package imap

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
)

// memServers remembers the in-process server behind each Mailbox so the
// harness can deliver mail from the side.
var memServers sync.Map // *Mailbox -> *imaptest.Server

// openMem seeds an in-process server. imapmemserver re-writes a header
// with CRLF line ends but reports RFC822.SIZE of the bytes as given, so
// bare-LF mail would have a size that disagrees with its body: seed it with
// CRLF line ends, as real servers store mail (Dovecot tests cover the
// server's own normalisation).
func openMem(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
	crlf := make([][]byte, len(msgs))
	for i, m := range msgs {
		crlf[i] = mailtest.NormalizeCRLF(m)
	}
	srv := imaptest.Start(t, nil, imaptest.User{Name: "user", Password: "pass", Messages: crlf})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := srv.Config("user", "pass")
	if os.Getenv("IMAP_TRACE") != "" {
		cfg.Trace = os.Stderr
	}
	mb, err := Dial(ctx, cfg)
	require.NoError(t, err)
	memServers.Store(mb, srv)
	return mb
}

// TestConformanceMemServer runs the mailtest conformance suite against
// go-imap's in-memory server.
func TestConformanceMemServer(t *testing.T) {
	conformance.TestMailbox(t, conformance.Harness{
		Open: openMem,
		Reopen: func(t testing.TB, old mailaccess.Mailbox) mailaccess.Mailbox {
			v, ok := memServers.Load(old)
			require.True(t, ok)
			srv := v.(*imaptest.Server)
			mb, err := Dial(context.Background(), srv.Config("user", "pass"))
			require.NoError(t, err)
			memServers.Store(mb, srv)
			return mb
		},
		Deliver: func(t testing.TB, mb mailaccess.Mailbox, raw []byte) {
			v, ok := memServers.Load(mb)
			require.True(t, ok)
			_, err := v.(*imaptest.Server).Append("user", "INBOX", raw, nil)
			require.NoError(t, err)
		},
		OpenFolder: func(t testing.TB, old mailaccess.Mailbox, folder string) (mailaccess.Mailbox, error) {
			v, ok := memServers.Load(old)
			require.True(t, ok)
			cfg := v.(*imaptest.Server).Config("user", "pass")
			cfg.Folder = folder
			return dialFolder(cfg)
		},
		Normalize: mailtest.NormalizeCRLF,
		Skip: map[string]string{
			"SearchDecoded": "go-imap's in-memory server searches raw bytes, not decoded text as IMAP servers do (the driver's search is checked against Dovecot)",
		},
		UnknownID: unknownID,
	})
}

// dialFolder dials cfg for Harness.OpenFolder: no typed nil in the
// interface on failure.
func dialFolder(cfg mailaccess.Config) (mailaccess.Mailbox, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mb, err := Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return mb, nil
}

// unknownID is an ID of the epoch of known that no message has.
func unknownID(known mailaccess.ID) mailaccess.ID {
	uv, _, err := ParseID(known)
	if err != nil {
		panic(err)
	}
	return MakeID(uv, 999999999)
}
