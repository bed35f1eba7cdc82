package imap

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// MakeID returns the [mailaccess.ID] of the message with UID uid in a
// folder whose UIDVALIDITY is uidValidity: "<uidvalidity>.<uid>" in
// decimal, e.g. "1732900000.17". This is the form List, Search, Append,
// Copy, Move and Watch return, and the only form Open, OpenAll,
// FetchHeader, SetFlags, Delete, Copy and Move accept: the UIDVALIDITY part
// lets the driver refuse an ID from an earlier incarnation of the folder
// (see the package documentation). Build IDs by hand only from a UID and a
// UIDVALIDITY the server reported together (MessageInfo.UID and
// FolderStatus.UIDValidity of the same listing, say).
func MakeID(uidValidity, uid uint32) mailaccess.ID {
	return mailaccess.ID(strconv.FormatUint(uint64(uidValidity), 10) + "." + strconv.FormatUint(uint64(uid), 10))
}

// ParseID splits an ID of the form MakeID returns into its UIDVALIDITY and
// UID. It fails, with an error wrapping [mailaccess.ErrInvalid], on a bare
// UID ("17", the form of earlier versions of this driver), a zero UID, and
// anything not in MakeID's canonical form (no sign, no leading zeros), so
// that one message has exactly one ID.
func ParseID(id mailaccess.ID) (uidValidity, uid uint32, err error) {
	s := string(id)
	v, u, ok := strings.Cut(s, ".")
	if !ok {
		if _, perr := strconv.ParseUint(s, 10, 32); perr == nil {
			return 0, 0, fmt.Errorf("message ID %q is a bare UID: IMAP IDs are \"<uidvalidity>.<uid>\"; use an ID from List or Search, or imap.MakeID(uidValidity, uid): %w",
				truncate(s, 40), mailaccess.ErrInvalid)
		}
		return 0, 0, badID(s)
	}
	vn, err1 := strconv.ParseUint(v, 10, 32)
	un, err2 := strconv.ParseUint(u, 10, 32)
	if err1 != nil || err2 != nil || un == 0 || MakeID(uint32(vn), uint32(un)) != id {
		return 0, 0, badID(s)
	}
	return uint32(vn), uint32(un), nil
}

func badID(s string) error {
	return fmt.Errorf("message ID %q is not an IMAP message ID (\"<uidvalidity>.<uid>\", as List and Search return): %w", truncate(s, 40), mailaccess.ErrInvalid)
}

// parseIDs parses ids, which must all carry the same UIDVALIDITY, and
// returns that epoch and the UIDs in the order given (duplicates kept).
func parseIDs(ids []mailaccess.ID) (epoch uint32, uids []imap.UID, err error) {
	uids = make([]imap.UID, 0, len(ids))
	for i, id := range ids {
		v, u, err := ParseID(id)
		if err != nil {
			return 0, nil, err
		}
		if i == 0 {
			epoch = v
		} else if v != epoch {
			return 0, nil, fmt.Errorf("the IDs come from two UIDVALIDITY epochs of the folder (%d and %d): at most one of them can be current: %w",
				epoch, v, mailaccess.ErrUIDValidity)
		}
		uids = append(uids, imap.UID(u))
	}
	return epoch, uids, nil
}

// checkEpoch fails with ErrUIDValidity unless the folder selected on c
// has UIDVALIDITY epoch. Call it after selectFolder and before any command
// that acts on the UIDs of IDs.
func (c *conn) checkEpoch(epoch uint32) error {
	if c.sel.UIDValidity != epoch {
		return fmt.Errorf("folder %q has UIDVALIDITY %d now, the IDs were issued under %d: the folder was deleted and recreated (or reset) since they were listed, so they may name other messages; nothing was done, list again: %w",
			truncate(c.selected, 80), c.sel.UIDValidity, epoch, mailaccess.ErrUIDValidity)
	}
	return nil
}

// idsOf turns UIDs of the epoch into IDs.
func idsOf(epoch uint32, uids []imap.UID) []mailaccess.ID {
	out := make([]mailaccess.ID, len(uids))
	for i, u := range uids {
		out[i] = MakeID(epoch, uint32(u))
	}
	return out
}

// underEpoch runs fn, which acts on UIDs of epoch, on c with folder
// selected (mode): first it checks the selection's UIDVALIDITY. If the
// server then refuses a command (NO, BAD) on a selection made before this
// call, the folder may have been replaced meanwhile (Dovecot answers NO
// [SERVERBUG] on a stale selection of a recreated folder): the folder is
// selected afresh, and a changed UIDVALIDITY is reported as such.
func (m *Mailbox) underEpoch(c *conn, folder string, mode selMode, epoch uint32, fn func() error) error {
	if err := c.checkEpoch(epoch); err != nil {
		return err
	}
	err := fn()
	var ie *imap.Error
	if err == nil || !errors.As(err, &ie) || c.sem.selectedNow {
		return err
	}
	c.selected = ""
	if serr := m.selectFolder(c, folder, mode); serr != nil {
		return err
	}
	if eerr := c.checkEpoch(epoch); eerr != nil {
		return fmt.Errorf("%w (the server had refused the command: %s)", eerr, truncate(ie.Error(), 200))
	}
	return err
}
