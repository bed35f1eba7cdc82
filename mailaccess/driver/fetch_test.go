package driver_test

import (
	"context"
	"io"
	"iter"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
)

// generic is a Mailbox whose reading methods are the helpers a
// third-party driver would use, built on its other methods only.
type generic struct{ *mailtest.Mailbox }

func (g generic) Fetch(ctx context.Context, folder string, ids []mailaccess.ID, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return driver.FetchFromList(ctx, g, folder, ids, opts)
}

func (g generic) FetchMatching(ctx context.Context, folder string, c mailaccess.Criteria, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return driver.FetchMatching(ctx, g, folder, c, opts)
}

func (g generic) Structure(ctx context.Context, folder string, id mailaccess.ID) (*mailaccess.PartInfo, error) {
	return driver.StructureByReading(ctx, g, folder, id)
}

func (g generic) OpenPart(ctx context.Context, folder string, id mailaccess.ID, part []int, opts *mailaccess.PartOptions) (io.ReadCloser, error) {
	return driver.OpenPartByReading(ctx, g, folder, id, part, opts)
}

// The helpers meet the contract: a Mailbox built on them passes the
// conformance suite, with and without search.
func TestReadingHelpersPassConformance(t *testing.T) {
	for name, caps := range map[string]mailaccess.Capability{"pop3": mailtest.ProfilePOP3, "imap": mailtest.ProfileIMAP} {
		t.Run(name, func(t *testing.T) {
			conformance.TestMailbox(t, conformance.Harness{
				Open: func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
					s := mailtest.NewStore()
					for _, m := range msgs {
						s.Add(mailaccess.Inbox, m)
					}
					return generic{s.Open(caps)}
				},
			})
		})
	}
}

// Without search, FetchMatching reads the header of every message but
// opens only the messages the header cannot decide, and Fetch fetches
// only what matched.
func TestFetchMatchingWithoutSearchReadsOnlyWhatCriteriaNeed(t *testing.T) {
	mb := mailtest.New(mailtest.ProfilePOP3)
	for _, s := range []string{"alpha", "beta", "gamma", "alpha again"} {
		mb.Add("INBOX", []byte("Subject: "+s+"\r\n\r\nbody of "+s+"\r\n"))
	}
	ctx := context.Background()
	var got []mailaccess.ID
	for m, err := range driver.FetchMatching(ctx, mb, "INBOX", mailaccess.Criteria{Subject: "alpha"}, nil) {
		require.NoError(t, err)
		got = append(got, m.ID())
		assert.True(t, m.Header().IsZero(), "headers listed for matching are not handed out unasked")
	}
	assert.Equal(t, []mailaccess.ID{"1", "4"}, got)
	assert.Zero(t, mb.Calls(mailtest.OpOpen), "a header criterion opens no message")
	assert.Zero(t, mb.Calls(mailtest.OpFetch))

	got = nil
	for m, err := range driver.FetchMatching(ctx, mb, "INBOX", mailaccess.Criteria{Body: "gamma"}, &mailaccess.FetchOptions{Structure: true}) {
		require.NoError(t, err)
		got = append(got, m.ID())
		assert.NotNil(t, m.Structure())
	}
	assert.Equal(t, []mailaccess.ID{"3"}, got)
	assert.Equal(t, 4, mb.Calls(mailtest.OpOpen), "a body criterion opens each message")
	assert.Equal(t, 1, mb.Calls(mailtest.OpFetch), "one Fetch of what matched")
}
