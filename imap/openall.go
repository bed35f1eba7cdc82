package imap

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// openAllBatch is how many messages one OpenAll FETCH covers. The UID set
// of a run of consecutive UIDs is one range, so the command stays short.
const openAllBatch = 1024

// maxEarlyBody bounds how much of a message OpenAll buffers when a server
// sends the body before the UID (no server we know does; UID comes first).
const maxEarlyBody = 8 << 20

// OpenAll streams the raw bytes of several messages of folder with one
// "UID FETCH set BODY.PEEK[]" per 1024 IDs, instead of one
// round trip per message as [Mailbox.Open] costs. fn is called once per
// message in the order the server sends them (ascending UID); its reader is
// valid only during the call, and what fn leaves unread is discarded.
// Messages that no longer exist (expunged meanwhile) are skipped: fn is not
// called for them.
//
// If fn returns an error, OpenAll stops and returns it; the connection is
// closed rather than drained. A cancelled ctx, or a server silent for
// Config.CommandTimeout between two messages, ends it promptly. The sync
// engine ([mailsync.New]) uses this method when the source has it.
func (m *Mailbox) OpenAll(ctx context.Context, folder string, ids []mailaccess.ID, fn func(id mailaccess.ID, r io.Reader) error) error {
	folder, err := m.folderName(folder)
	if err != nil {
		return m.opErr("open all", folder, err)
	}
	uids, _, err := parseUIDs(ids)
	if err != nil {
		return m.opErr("open all", folder, err)
	}
	for start := 0; start < len(uids); start += openAllBatch {
		part := uids[start:min(start+openAllBatch, len(uids))]
		// No overall timeout: a batch may be large. An idle timer below
		// catches a server that stops sending.
		err := m.doTimeout(ctx, "open all", folder, selRead, 0, func(c *conn) error {
			return m.fetchBodies(c, part, fn)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (m *Mailbox) fetchBodies(c *conn, uids []imap.UID, fn func(mailaccess.ID, io.Reader) error) error {
	idle := m.cfg.CommandTimeoutOrDefault()
	timer := time.AfterFunc(idle, c.kill)
	defer timer.Stop()
	cmd := c.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	for {
		fm := cmd.Next()
		if fm == nil {
			break
		}
		timer.Reset(idle)
		if err := deliverBody(fm, fn); err != nil {
			// Stop now: close the connection instead of reading the rest
			// of the batch. The pool discards it.
			// (Closing the socket, not the client: the client's Close
			// waits for its reader, which waits for us to take data.)
			c.broken.Store(true)
			c.raw.Close()
			for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
			}
			cmd.Close()
			return err
		}
	}
	return cmd.Close()
}

// deliverBody hands one FETCH response's body to fn.
func deliverBody(fm *imapclient.FetchMessageData, fn func(mailaccess.ID, io.Reader) error) error {
	var uid imap.UID
	var early []byte
	called := false
	for item := fm.Next(); item != nil; item = fm.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			uid = it.UID
			if early != nil {
				called = true
				if err := fn(mailaccess.ID(fmt.Sprint(uid)), bytes.NewReader(early)); err != nil {
					return err
				}
			}
		case imapclient.FetchItemDataBodySection:
			var body io.Reader = bytes.NewReader(nil)
			if it.Literal != nil {
				body = it.Literal
			}
			if uid == 0 {
				b, err := io.ReadAll(io.LimitReader(body, maxEarlyBody+1))
				if err != nil {
					return err
				}
				if len(b) > maxEarlyBody {
					return fmt.Errorf("server sent a %d+ byte body before its UID: %w", maxEarlyBody, mailaccess.ErrProtocol)
				}
				early = b
				continue
			}
			called = true
			if err := fn(mailaccess.ID(fmt.Sprint(uid)), body); err != nil {
				return err
			}
		}
	}
	if !called && early != nil {
		return fmt.Errorf("FETCH response without UID: %w", mailaccess.ErrProtocol)
	}
	return nil
}
