package imap

import (
	"fmt"
	"math"

	"github.com/emersion/go-imap/v2"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Counts the server claims (EXISTS, STATUS MESSAGES, the size of a UID set
// in SEARCH or COPYUID) never size an allocation: buffers grow with what
// is actually received. A count that no folder can have is a protocol
// error ([mailaccess.ErrProtocol]), never a temporary one to retry: the
// server will say the same next time.
//
// The bounds come from the protocol itself: UIDs are 32-bit and UIDNEXT is
// above every UID of the folder, so a folder holds at most UIDNEXT-1
// messages, and never 2^32-1.

// impossibleCount is the error for a count no folder can have.
func impossibleCount(host, what string, n uint32) error {
	return fmt.Errorf("server %s claims %d messages (%s), more than any folder can hold (UIDs are 32-bit): %w",
		host, n, what, mailaccess.ErrProtocol)
}

// checkCounts checks a folder's message count against its UIDNEXT (0:
// unknown).
func checkCounts(host, folder, what string, n uint32, uidNext uint32) error {
	if n == math.MaxUint32 {
		return impossibleCount(host, what, n)
	}
	if uidNext != 0 && n > uidNext-1 {
		return fmt.Errorf("server %s claims %d messages in %q (%s) but UIDNEXT %d: at most %d can exist: %w",
			host, n, folder, what, uidNext, uidNext-1, mailaccess.ErrProtocol)
	}
	return nil
}

// checkSelect checks the counts of a SELECT or EXAMINE.
func (m *Mailbox) checkSelect(folder string, d *imap.SelectData) error {
	return checkCounts(m.cfg.Get().Host, folder, "EXISTS", d.NumMessages, uint32(d.UIDNext))
}

// checkStatus checks the counts of a STATUS response.
func (m *Mailbox) checkStatus(folder string, d *imap.StatusData) error {
	if d.NumMessages == nil {
		return nil
	}
	return checkCounts(m.cfg.Get().Host, folder, "STATUS MESSAGES", *d.NumMessages, uint32(d.UIDNext))
}

// setSize returns how many numbers set holds, or ok false for a set with
// "*" (whose size the client cannot know).
func setSize(set imap.UIDSet) (n uint64, ok bool) {
	for _, r := range set {
		if r.Start == 0 || r.Stop == 0 {
			return 0, false
		}
		lo, hi := min(r.Start, r.Stop), max(r.Start, r.Stop)
		n += uint64(hi-lo) + 1
	}
	return n, true
}

// searchSlack is how many more UIDs than the folder's known message count
// a SEARCH result may hold: messages delivered since the count was last
// reported can match.
const searchSlack = 1024

// searchUIDs returns the UIDs of a UID SEARCH result, refusing a result
// larger than the folder can hold (count: its message count) before
// expanding any range: a server answering "ALL 1:4294967295" must not make
// the client allocate 16 GiB.
func (m *Mailbox) searchUIDs(folder string, d *imap.SearchData, count uint32) ([]imap.UID, error) {
	set, ok := d.All.(imap.UIDSet)
	if !ok || len(set) == 0 {
		return nil, nil
	}
	n, ok := setSize(set)
	if !ok {
		return nil, fmt.Errorf("server %s answered SEARCH in %q with a UID set containing \"*\" (%s): %w",
			m.cfg.Get().Host, folder, truncate(set.String(), 60), mailaccess.ErrProtocol)
	}
	if n > uint64(count)+searchSlack {
		return nil, fmt.Errorf("server %s answered SEARCH in %q with %d UIDs, more than the %d messages it reported: %w",
			m.cfg.Get().Host, folder, n, count, mailaccess.ErrProtocol)
	}
	uids, _ := set.Nums()
	return uids, nil
}

// copyUIDsPlausible reports whether a COPYUID answer for a copy of n
// messages can be expanded: both sets finite and no larger than n.
func copyUIDsPlausible(src, dst imap.UIDSet, n int) bool {
	a, ok1 := setSize(src)
	b, ok2 := setSize(dst)
	return ok1 && ok2 && a <= uint64(n) && b <= uint64(n)
}

// listStuck is the error when List cannot make progress: after a fresh
// EXAMINE, a count the server cannot back with a message (no UID at the
// last sequence number it claims) is a protocol error; otherwise the
// folder is really changing under the listing, and retrying later may
// work.
func (m *Mailbox) listStuck(c *conn, folder string) error {
	c.selected = ""
	if err := m.selectFolder(c, folder, selRead); err != nil {
		return err
	}
	n := c.numMessages()
	if n > 0 {
		uids, err := fetchSeqUIDs(c, imap.SeqSetNum(n))
		if err != nil {
			return err
		}
		if uids[n] == 0 {
			return fmt.Errorf("server %s claims %d messages in %q (EXISTS) but has no message at sequence number %d: %w",
				m.cfg.Get().Host, n, folder, n, mailaccess.ErrProtocol)
		}
	}
	return fmt.Errorf("folder keeps changing under the listing: %w", mailaccess.ErrTemporary)
}
