package pop3

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/popa3dtest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// popa3dMessages are seeded into popa3d's mbox. popa3d derives the UIDL
// from header fields (two messages without Date or Message-ID, or with the
// same ones, collide), so the three "same" messages share one.
var popa3dMessages = []string{
	"From: a@example.org\nSubject: same\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nfirst body\n",
	"From: b@example.org\nSubject: unique\nDate: Tue, 2 Jan 2024 00:00:00 +0000\nMessage-ID: <2@example.org>\n\nbody\n.leading dot\n..two dots\n>From quoted\n",
	"From: a@example.org\nSubject: same\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nsecond body, longer than the first\n",
	"From: a@example.org\nSubject: same\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nthird\n\n\n",
	"From: c@example.org\nSubject: Grüße, 8-bit header\nDate: Wed, 3 Jan 2024 00:00:00 +0000\nMessage-ID: <5@example.org>\n\nbody\n",
}

func TestPopa3dDuplicateUIDLsEveryMessageOnceByteExact(t *testing.T) {
	srv := popa3dtest.Start(t)
	seed := make([][]byte, len(popa3dMessages))
	want := make([]string, len(popa3dMessages))
	for i, m := range popa3dMessages {
		seed[i] = []byte(m)
		want[i] = string(popa3dtest.Wire([]byte(m)))
	}
	require.NoError(t, srv.SetMessages(seed...))
	cfg := mailaccess.Config{Scheme: "pop3", Host: srv.Host(), Port: srv.Port(),
		User: popa3dtest.User, Password: popa3dtest.Password, TLS: mailaccess.TLSInsecurePlaintext}
	ctx := context.Background()
	mb := dial(t, cfg)
	assert.True(t, mb.Capabilities().Has(mailaccess.CapUID|mailaccess.CapHeaders), "UIDL and TOP probed: popa3d has no CAPA")

	msgs := list(t, mb, &mailaccess.ListOptions{Headers: true})
	require.Len(t, msgs, len(want), "the listing with duplicate UIDLs is not rejected")
	ids := make([]mailaccess.ID, len(msgs))
	seen := map[mailaccess.ID]bool{}
	for i, m := range msgs {
		ids[i] = m.ID()
		assert.False(t, seen[m.ID()], "distinct IDs")
		seen[m.ID()] = true
		assert.Equal(t, int64(len(want[i])), m.Size(), "popa3d lists exact sizes")
		shared := strings.Contains(popa3dMessages[i], "Subject: same")
		assert.Equal(t, shared, m.Info().UnstableID, "message %d: unstable exactly when its UIDL is shared", i+1)
	}
	assert.Equal(t, "same", msgs[2].Header().Subject())
	h, err := mb.FetchHeader(ctx, mailaccess.Inbox, ids[3])
	require.NoError(t, err)
	assert.Equal(t, "same", h.Subject())

	// Every message arrives once, byte-exact, through Open and OpenAll.
	for i, id := range ids {
		assert.Equal(t, want[i], readAll(t, mb, id), "message %d through Open", i+1)
	}
	var got []string
	var gotIDs []mailaccess.ID
	require.NoError(t, mb.OpenAll(ctx, mailaccess.Inbox, ids, func(id mailaccess.ID, r io.Reader) error {
		b, err := io.ReadAll(r)
		got = append(got, string(b))
		gotIDs = append(gotIDs, id)
		return err
	}))
	assert.Equal(t, want, got, "through OpenAll")
	assert.Equal(t, ids, gotIDs)

	// Delete two of the colliding messages and commit: popa3d rewrites the
	// mbox without exactly those.
	require.NoError(t, mb.Delete(ctx, mailaccess.Inbox, ids[0], ids[3]))
	require.NoError(t, mb.Commit(ctx))
	left, err := srv.Messages()
	require.NoError(t, err)
	require.Len(t, left, 3)
	assert.Equal(t, []string{want[1], want[2], want[4]}, []string{string(left[0]), string(left[1]), string(left[2])})

	// A new session: the UIDL that is now unique is a stable ID again.
	again := list(t, mb, nil)
	require.Len(t, again, 3)
	for i, m := range again {
		assert.False(t, m.Info().UnstableID, "message %d", i+1)
		assert.Equal(t, string(left[i]), readAll(t, mb, m.ID()))
	}
}
