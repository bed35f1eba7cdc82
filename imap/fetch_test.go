package imap

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// bigFolder starts a server whose INBOX holds n messages, all \Seen but
// every step-th, and dials it with a wire counter.
func bigFolder(t *testing.T, n, step int) (*Mailbox, *wireCounter) {
	t.Helper()
	srv := imaptest.Start(t, nil, imaptest.User{Name: "user", Password: "pass"})
	for i := 0; i < n; i++ {
		var flags []imap.Flag
		if i%step != 0 {
			flags = []imap.Flag{imap.FlagSeen}
		}
		raw := []byte(fmt.Sprintf("From: sender%d@example.com\r\nSubject: message %d\r\n\r\nbody %d\r\n", i, i, i))
		_, err := srv.Append("user", "INBOX", raw, flags)
		require.NoError(t, err)
	}
	w := &wireCounter{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mb, err := dial(ctx, srv.Config("user", "pass"), w.hooks())
	require.NoError(t, err)
	t.Cleanup(func() { mb.Close() })
	return mb, w
}

// Selecting 10 unseen messages of a 10,000-message folder costs 10 message
// transfers (one UID SEARCH, one UID FETCH of what it found), not 10,000.
func TestFetchMatchingCostsWhatMatched(t *testing.T) {
	mb, w := bigFolder(t, 10000, 1000)
	ctx := context.Background()
	unseen := mailaccess.Criteria{WithoutFlags: []mailaccess.Flag{mailaccess.FlagSeen}}

	before := w.snapshot()
	var subjects []string
	for msg, err := range mb.FetchMatching(ctx, "INBOX", unseen, &mailaccess.FetchOptions{Headers: true, Structure: true}) {
		require.NoError(t, err)
		subjects = append(subjects, msg.Header().Subject())
		require.NotNil(t, msg.Structure())
		assert.Equal(t, "text/plain", msg.Structure().Type)
		assert.False(t, msg.HasFlag(mailaccess.FlagSeen))
	}
	cost := w.snapshot().minus(before)
	want := []string{}
	for i := 0; i < 10000; i += 1000 {
		want = append(want, fmt.Sprintf("message %d", i))
	}
	assert.Equal(t, want, subjects)
	t.Logf("FetchMatching of 10 of 10,000: %d FETCH responses, %d UID FETCH commands, %d bytes read", cost.Fetches, cost.Commands, cost.Read)
	assert.Equal(t, 10, cost.Fetches, "one FETCH response per selected message")
	assert.Equal(t, 1, cost.Commands, "one UID FETCH for the batch")
	assert.Less(t, cost.Read, int64(16<<10), "bytes read grow with what matched")

	// The same selection by listing the folder costs every message: the
	// counter tells the two apart.
	before = w.snapshot()
	n := 0
	for msg, err := range mb.List(ctx, "INBOX", &mailaccess.ListOptions{Headers: true}) {
		require.NoError(t, err)
		if !msg.HasFlag(mailaccess.FlagSeen) {
			n++
		}
	}
	cost = w.snapshot().minus(before)
	assert.Equal(t, 10, n)
	assert.GreaterOrEqual(t, cost.Fetches, 10000, "List transfers the whole folder")
}

// Fetch of k IDs costs k FETCH responses in ceil(k/BatchSize) commands,
// yields in the order of the IDs, skips IDs that are gone, and keeps each
// command line short whatever the UIDs.
func TestFetchBatchesAndOrder(t *testing.T) {
	mb, w := bigFolder(t, 1300, 1)
	ctx := context.Background()
	all, _ := listIDs(t, mb, "INBOX")
	require.Len(t, all, 1300)

	// Every other message, newest first: 650 scattered UIDs.
	var ids []mailaccess.ID
	for i := len(all) - 1; i >= 0; i -= 2 {
		ids = append(ids, all[i])
	}
	ids = append(ids, ids[0]) // a repeat is yielded once
	before := w.snapshot()
	var got []mailaccess.ID
	for msg, err := range mb.Fetch(ctx, "INBOX", ids, &mailaccess.FetchOptions{BatchSize: 500}) {
		require.NoError(t, err)
		got = append(got, msg.ID())
		assert.Positive(t, msg.Size())
		assert.False(t, msg.Date().IsZero())
		assert.True(t, msg.Header().IsZero(), "no header unless asked")
		assert.Nil(t, msg.Structure(), "no structure unless asked")
	}
	cost := w.snapshot().minus(before)
	assert.Equal(t, ids[:650], got)
	assert.Equal(t, 650, cost.Fetches)
	assert.LessOrEqual(t, cost.Commands, 8, "650 scattered UIDs need a few commands, each under %d octets of set", maxSetText)
	assert.Less(t, cost.Written, int64(8*1000), "command lines stay short")

	// Contiguous UIDs: ceil(1300/500) commands.
	before = w.snapshot()
	n := 0
	for _, err := range mb.Fetch(ctx, "INBOX", all, &mailaccess.FetchOptions{BatchSize: 500}) {
		require.NoError(t, err)
		n++
	}
	cost = w.snapshot().minus(before)
	assert.Equal(t, 1300, n)
	assert.Equal(t, 3, cost.Commands)

	// IDs that are gone are skipped.
	require.NoError(t, mb.Delete(ctx, "INBOX", all[1]))
	got = nil
	for msg, err := range mb.Fetch(ctx, "INBOX", all[:3], nil) {
		require.NoError(t, err)
		got = append(got, msg.ID())
	}
	assert.Equal(t, []mailaccess.ID{all[0], all[2]}, got)

	for _, err := range mb.Fetch(ctx, "INBOX", []mailaccess.ID{"not-an-id"}, nil) {
		assert.ErrorIs(t, err, mailaccess.ErrInvalid)
	}
}

func TestSetTextLen(t *testing.T) {
	for _, c := range []struct {
		uids []imap.UID
		want string
	}{
		{[]imap.UID{1}, "1"},
		{[]imap.UID{3, 1, 2}, "1:3"},
		{[]imap.UID{1, 3, 5, 6, 7, 100}, "1,3,5:7,100"},
		{[]imap.UID{4294967295, 1}, "1,4294967295"},
	} {
		assert.Equal(t, c.want, uidSet(c.uids).String())
		assert.Equal(t, len(c.want), setTextLen(c.uids))
	}
}
