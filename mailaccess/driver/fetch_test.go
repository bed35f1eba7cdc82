package driver_test

import (
	"context"
	"io"
	"iter"
	"testing"
	"time"

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

// Without search, criteria anywhere in an And, Or or Not tree that the
// header decides are read from the listed headers, as at the top level;
// on a store without internal dates (the POP3 profile) Since and Before
// compare the Date header, read the same way: no message is opened.
func TestFetchMatchingWithoutSearchReadsHeadersForTreesAndDates(t *testing.T) {
	mb := mailtest.New(mailtest.ProfilePOP3)
	for _, m := range []struct{ subject, date string }{
		{"alpha", "Sat, 10 Mar 2001 10:00:00 +0000"},
		{"beta", "Wed, 15 Jun 2011 10:00:00 +0000"},
		{"gamma", ""},
	} {
		raw := "Subject: " + m.subject + "\r\n"
		if m.date != "" {
			raw += "Date: " + m.date + "\r\n"
		}
		mb.Add("INBOX", []byte(raw+"\r\nbody of "+m.subject+"\r\n"))
	}
	ctx := context.Background()
	y2005 := time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		c    mailaccess.Criteria
		want []mailaccess.ID
	}{
		{"or", mailaccess.Or(mailaccess.Criteria{Subject: "alpha"}, mailaccess.Criteria{Subject: "gamma"}), []mailaccess.ID{"1", "3"}},
		{"not", mailaccess.Not(mailaccess.Criteria{Subject: "beta"}), []mailaccess.ID{"1", "3"}},
		{"nested and", mailaccess.And(mailaccess.Criteria{Or: []mailaccess.Criteria{{Subject: "a"}}, Not: []mailaccess.Criteria{{Subject: "gamma"}}}), []mailaccess.ID{"1", "2"}},
		{"since", mailaccess.Criteria{Since: y2005}, []mailaccess.ID{"2"}},
		{"before", mailaccess.Criteria{Before: y2005}, []mailaccess.ID{"1"}},
		{"not since", mailaccess.Not(mailaccess.Criteria{Since: y2005}), []mailaccess.ID{"1", "3"}},
		{"or of dates", mailaccess.Or(mailaccess.Criteria{Before: y2005}, mailaccess.Criteria{Subject: "gamma"}), []mailaccess.ID{"1", "3"}},
	} {
		opens := mb.Calls(mailtest.OpOpen)
		got := []mailaccess.ID{}
		for m, err := range driver.FetchMatching(ctx, mb, "INBOX", tc.c, nil) {
			require.NoError(t, err, tc.name)
			got = append(got, m.ID())
			assert.True(t, m.Header().IsZero(), "%s: headers listed for matching are not handed out unasked", tc.name)
		}
		assert.Equal(t, tc.want, got, tc.name)
		assert.Equal(t, opens, mb.Calls(mailtest.OpOpen), "%s: the header decides, no message is opened", tc.name)
		ids, err := mb.Search(ctx, "INBOX", tc.c)
		require.NoError(t, err)
		assert.Equal(t, tc.want, append([]mailaccess.ID{}, ids...), "%s: Search agrees", tc.name)
	}
}

// FetchMatching checks its criteria as Search does, before reading
// anything.
func TestFetchMatchingWithoutSearchValidatesCriteria(t *testing.T) {
	mb := mailtest.New(mailtest.ProfilePOP3)
	mb.Add("INBOX", []byte("Subject: a\r\n\r\nb\r\n"))
	for m, err := range driver.FetchMatching(context.Background(), mb, "INBOX", mailaccess.Not(mailaccess.Criteria{Subject: "x\r\ny"}), nil) {
		assert.Nil(t, m)
		require.ErrorIs(t, err, mailaccess.ErrInvalid)
		assert.ErrorContains(t, err, "Subject contains CR, LF or NUL")
	}
	assert.Zero(t, mb.Calls(mailtest.OpList), "nothing listed")
}
