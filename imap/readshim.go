package imap

import (
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// What Fetch, FetchMatching, Structure and OpenPart need from the rest of
// the driver, in one place: how IDs are parsed and made, how their
// UIDVALIDITY epoch is checked, and how a FETCH is started. When the
// driver's IDs carry their epoch ("<uidvalidity>.<uid>", imap.MakeID) and
// FETCH responses are read through a stream that also takes the responses
// go-imap routes elsewhere (a UID after a literal), these four bodies are
// what changes: fetchUIDs becomes parseIDs, fetchID MakeID,
// checkFetchEpoch c.checkEpoch, and startFetchCmd an adapter over that
// stream.

// fetchUIDs parses ids into UIDs, in order, with the UIDVALIDITY epoch
// they were issued under (0: IDs carry none).
func fetchUIDs(ids []mailaccess.ID) (epoch uint32, uids []imap.UID, err error) {
	uids, _, err = parseUIDs(ids)
	return 0, uids, err
}

// fetchID is the ID of uid in epoch.
func fetchID(epoch uint32, uid imap.UID) mailaccess.ID { return idOf(uid) }

// checkFetchEpoch fails with ErrUIDValidity unless the folder selected on
// c has UIDVALIDITY epoch (0: not checked).
func checkFetchEpoch(c *conn, epoch uint32) error {
	if epoch != 0 && c.sel.UIDValidity != epoch {
		return fmt.Errorf("folder has UIDVALIDITY %d, the IDs were issued under %d: %w", c.sel.UIDValidity, epoch, mailaccess.ErrUIDValidity)
	}
	return nil
}

// fetchResponses are the responses of one FETCH command.
type fetchResponses interface {
	// Next returns the next response; nil once the command completed.
	Next() *imapclient.FetchMessageData
	// Close waits for the command to complete and returns its result.
	Close() error
}

// startFetchCmd sends a FETCH on c.
func startFetchCmd(c *conn, set imap.NumSet, opts *imap.FetchOptions) fetchResponses {
	return c.c.Fetch(set, opts)
}
