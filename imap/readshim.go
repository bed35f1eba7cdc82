package imap

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// What Fetch, FetchMatching, Structure and OpenPart need from the rest of
// the driver, in one place: how IDs are parsed and made (they carry their
// UIDVALIDITY epoch, see MakeID), how that epoch is checked, and how a
// FETCH is started (through the stream that also takes the responses
// go-imap routes to the unilateral handler, such as a UID after a literal).

// fetchUIDs parses ids into UIDs, in order, with the UIDVALIDITY epoch
// they were issued under.
func fetchUIDs(ids []mailaccess.ID) (epoch uint32, uids []imap.UID, err error) {
	return parseIDs(ids)
}

// fetchID is the ID of uid in epoch.
func fetchID(epoch uint32, uid imap.UID) mailaccess.ID { return MakeID(epoch, uint32(uid)) }

// checkFetchEpoch fails with ErrUIDValidity unless the folder selected on
// c has UIDVALIDITY epoch.
func checkFetchEpoch(c *conn, epoch uint32) error { return c.checkEpoch(epoch) }

// fetchResponses are the responses of one FETCH command.
type fetchResponses interface {
	// Next returns the next response; nil once the command completed.
	Next() *imapclient.FetchMessageData
	// Close waits for the command to complete and returns its result.
	Close() error
}

// streamResponses adapts a fetchStream to fetchResponses.
type streamResponses struct{ *fetchStream }

// Next returns the next response, whichever way go-imap routed it.
func (s streamResponses) Next() *imapclient.FetchMessageData {
	fm, _ := s.fetchStream.Next()
	return fm
}

// startFetchCmd sends a FETCH on c.
func startFetchCmd(c *conn, set imap.NumSet, opts *imap.FetchOptions) fetchResponses {
	return streamResponses{startFetch(c, set, opts)}
}
