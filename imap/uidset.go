package imap

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/emersion/go-imap/v2"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Command length. RFC 2683 section 3.2.1.5 asks clients to keep command
// lines to about 1000 octets, and some servers answer BAD beyond that, so
// every command that carries a message set is split by the set's encoded
// length (not only by its count): a few thousand scattered UIDs would
// otherwise make a line of tens of kilobytes.
const (
	// maxCommandLine is the longest command line the driver sends, CRLF
	// included (literals, which the server reads by count, excluded).
	maxCommandLine = 1000
	// tagRoom is room for go-imap's tag ("T" and up to 10 digits) and the
	// space after it.
	tagRoom = 12
	// minSetRoom is the least room a command must leave for its set: one
	// range of two 10-digit numbers.
	minSetRoom = len("4294967295:4294967295")
)

// setRoom returns how many octets a command whose other parts take fixed
// octets (command name, arguments, separating spaces) leaves for its set,
// or an error if that is too little for any set.
func setRoom(fixed int) (int, error) {
	room := maxCommandLine - len("\r\n") - tagRoom - fixed
	if room < minSetRoom {
		return 0, fmt.Errorf("the command's other arguments take %d octets, leaving no room for message numbers in a %d-octet command line: %w",
			fixed, maxCommandLine, mailaccess.ErrInvalid)
	}
	return room, nil
}

// numRange is a range of message numbers, both ends included.
type numRange struct{ lo, hi uint32 }

// textLen is the length of the range in a sequence set ("7" or "7:9").
func (r numRange) textLen() int {
	n := decimalLen(r.lo)
	if r.hi != r.lo {
		n += 1 + decimalLen(r.hi)
	}
	return n
}

func decimalLen(v uint32) int { return len(strconv.FormatUint(uint64(v), 10)) }

// splitNums sorts and de-duplicates nums and cuts them into chunks, each a
// list of ranges whose sequence-set text ("1,3:5,9") is at most room octets
// and which covers at most maxCount numbers (0: no bound on the count).
// A range longer than maxCount is cut.
func splitNums(nums []uint32, room, maxCount int) [][]numRange {
	s := slices.Clone(nums)
	slices.Sort(s)
	s = slices.Compact(s)
	var (
		out   [][]numRange
		cur   []numRange
		width int // text length of cur
		count int // numbers in cur
	)
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, width, count = nil, 0, 0
	}
	for i := 0; i < len(s); {
		// The longest run of consecutive numbers from s[i], within the
		// count bound.
		j := i + 1
		for j < len(s) && s[j] == s[j-1]+1 && (maxCount <= 0 || count+(j-i) < maxCount) {
			j++
		}
		r := numRange{s[i], s[j-1]}
		add := r.textLen()
		if len(cur) > 0 {
			add++ // the comma
		}
		if len(cur) > 0 && width+add > room {
			flush()
			continue // the run again, now at the start of a chunk
		}
		cur = append(cur, r)
		width += add
		count += j - i
		i = j
		if maxCount > 0 && count >= maxCount {
			flush()
		}
	}
	flush()
	return out
}

// uidChunks splits uids into UID sets of at most room octets of text and
// at most maxCount UIDs (0: any number), in ascending order.
func uidChunks(uids []imap.UID, room, maxCount int) []imap.UIDSet {
	nums := make([]uint32, len(uids))
	for i, u := range uids {
		nums[i] = uint32(u)
	}
	var out []imap.UIDSet
	for _, chunk := range splitNums(nums, room, maxCount) {
		set := make(imap.UIDSet, len(chunk))
		for i, r := range chunk {
			set[i] = imap.UIDRange{Start: imap.UID(r.lo), Stop: imap.UID(r.hi)}
		}
		out = append(out, set)
	}
	return out
}

// seqChunks is uidChunks for sequence numbers.
func seqChunks(seqs []uint32, room int) []imap.SeqSet {
	var out []imap.SeqSet
	for _, chunk := range splitNums(seqs, room, 0) {
		set := make(imap.SeqSet, len(chunk))
		for i, r := range chunk {
			set[i] = imap.SeqRange{Start: r.lo, Stop: r.hi}
		}
		out = append(out, set)
	}
	return out
}

// setUIDs lists the UIDs of a set without "*" (as uidChunks makes them).
func setUIDs(set imap.UIDSet) []imap.UID {
	var out []imap.UID
	for _, r := range set {
		for u := r.Start; ; u++ {
			out = append(out, u)
			if u >= r.Stop {
				break
			}
		}
	}
	return out
}

// mailboxArgLen bounds the octets a mailbox name takes on a command line:
// modified UTF-7 or UTF-8, quoted, with escapes (at most three octets per
// input octet, plus the quotes).
func mailboxArgLen(name string) int { return 3*len(name) + 2 }
