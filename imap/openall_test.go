package imap

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// OpenAll returns every requested message byte-for-byte, each once, in
// UID order, and skips a message expunged meanwhile.
func TestOpenAllMatchesOpen(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p"})
	want := map[mailaccess.ID][]byte{}
	var (
		ids  []mailaccess.ID
		uids []imap.UID
		raws [][]byte
	)
	for m := range corpus.Generate(3, 30) {
		uid, err := srv.Append("u", "INBOX", m.Raw, nil)
		require.NoError(t, err)
		uids, raws = append(uids, uid), append(raws, m.Raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(t, err)
	defer mb.Close()
	for i, uid := range uids {
		ids = append(ids, idIn(t, mb, "INBOX", uid))
		want[ids[i]] = raws[i]
	}

	// Expunge one through the driver; it is still asked for.
	require.NoError(t, mb.Delete(ctx, "INBOX", ids[4]))
	var got []mailaccess.ID
	err = mb.OpenAll(ctx, "INBOX", ids, func(id mailaccess.ID, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		assert.True(t, bytes.Equal(want[id], b), "message %s byte-exact", id)
		got = append(got, id)
		return nil
	})
	require.NoError(t, err)
	expect := append(append([]mailaccess.ID{}, ids[:4]...), ids[5:]...)
	assert.Equal(t, expect, got)

	// A reader left unread is skipped, not mixed into the next message.
	n := 0
	require.NoError(t, mb.OpenAll(ctx, "INBOX", ids[:3], func(mailaccess.ID, io.Reader) error { n++; return nil }))
	assert.Equal(t, 3, n)
}

// An error from fn stops the batch and is returned; the Mailbox stays
// usable (the connection is replaced).
func TestOpenAllStopsOnCallbackError(t *testing.T) {
	srv := imaptest.Start(t, nil, imaptest.User{Name: "u", Password: "p"})
	var uids []imap.UID
	for m := range corpus.Generate(4, 10) {
		uid, err := srv.Append("u", "INBOX", m.Raw, nil)
		require.NoError(t, err)
		uids = append(uids, uid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := srv.Config("u", "p")
	cfg.MaxConns = 1
	mb, err := Dial(ctx, cfg)
	require.NoError(t, err)
	defer mb.Close()
	var ids []mailaccess.ID
	for _, uid := range uids {
		ids = append(ids, idIn(t, mb, "INBOX", uid))
	}
	boom := errors.New("disk full")
	calls := 0
	err = mb.OpenAll(ctx, "INBOX", ids, func(mailaccess.ID, io.Reader) error {
		calls++
		if calls == 3 {
			return boom
		}
		return nil
	})
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 3, calls)
	rc, err := mb.Open(ctx, "INBOX", ids[9], nil)
	require.NoError(t, err, "the Mailbox works after a failed batch")
	require.NoError(t, rc.Close())

	assert.ErrorIs(t, mb.OpenAll(ctx, "INBOX", []mailaccess.ID{"not-a-uid"}, nil), mailaccess.ErrInvalid)
	assert.ErrorIs(t, mb.OpenAll(ctx, "INBOX", []mailaccess.ID{"7"}, nil), mailaccess.ErrInvalid, "a bare UID")
}

// Against Dovecot, the edge-case corpus comes back byte-exact through
// OpenAll too (the sync engine's path).
func TestDovecotOpenAllEdgeCases(t *testing.T) {
	srv := startDovecot(t)
	edges := corpus.EdgeCases()
	raws := make([][]byte, len(edges))
	for i, m := range edges {
		raws[i] = m.Raw
	}
	ctx := context.Background()
	mb, err := dialDovecot(dovecotUser(t, srv, "imap", raws))
	require.NoError(t, err)
	defer mb.Close()
	ids, _ := listIDs(t, mb, "INBOX")
	require.Len(t, ids, len(edges))
	i := 0
	err = mb.OpenAll(ctx, "INBOX", ids, func(id mailaccess.ID, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		assert.Equal(t, ids[i], id)
		assert.True(t, bytes.Equal(corpus.Normalize(edges[i].Raw), b), "%s byte-exact", edges[i].Name)
		i++
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, len(edges), i)
}
