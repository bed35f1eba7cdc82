package driver

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Sorter orders messages as IMAP SORT (RFC 5256) does, for the drivers
// that sort locally (all of them when the server has no SORT): add the
// messages that matched, in ascending ID order, with [Sorter.Add], then
// read the order with [Sorter.IDs]. It keeps only each message's sort
// values (a few strings and numbers), not its header, so memory grows
// with the number of messages, not their size.
//
// The order is RFC 5256's, with Dovecot's comparator: by the first key,
// ties by the next, remaining ties in the order added. Arrival is the
// internal date; Date the Date header in UTC, or the internal date
// without a valid one; From, To and Cc the local part of the field's
// first address; Subject the base subject (no "Re:", "Fwd:", "[list]"
// prefix, no "(fwd)" trailer); Size the size. Strings compare in the
// folded form of search (case-insensitively), a missing value sorting
// first. Reverse reverses one key, not the tie order.
type Sorter struct {
	keys []mailaccess.SortKey
	recs []sortRec
}

type sortRec struct {
	id   mailaccess.ID
	nums []int64
	strs []string
}

// NewSorter returns a Sorter for keys, or an error wrapping
// [mailaccess.ErrInvalid] if a key is not one of the SortBy constants.
func NewSorter(keys ...mailaccess.SortKey) (*Sorter, error) {
	for _, k := range keys {
		if err := k.Validate(); err != nil {
			return nil, err
		}
	}
	return &Sorter{keys: slices.Clone(keys)}, nil
}

// NeedsHeader reports whether the keys read the header (Date, From, To,
// Cc, Subject): the messages added must then carry Info.Header (the
// fields Date, From, To, Cc and Subject are enough).
func (s *Sorter) NeedsHeader() bool { return needsHeader(s.keys) }

func needsHeader(keys []mailaccess.SortKey) bool {
	for _, k := range keys {
		switch k.By {
		case mailaccess.SortDate, mailaccess.SortFrom, mailaccess.SortTo, mailaccess.SortCc, mailaccess.SortSubject:
			return true
		}
	}
	return false
}

// Add adds a message; add them in ascending ID order, the order ties
// keep.
func (s *Sorter) Add(info mailaccess.MessageInfo) {
	r := sortRec{id: info.ID, nums: make([]int64, len(s.keys)), strs: make([]string, len(s.keys))}
	for i, k := range s.keys {
		switch k.By {
		case mailaccess.SortArrival:
			r.nums[i] = unixOrZero(info.InternalDate.Unix(), info.InternalDate.IsZero())
		case mailaccess.SortDate:
			if d, err := info.Header.Date(); err == nil {
				r.nums[i] = d.UTC().Unix()
			} else {
				r.nums[i] = unixOrZero(info.InternalDate.Unix(), info.InternalDate.IsZero())
			}
		case mailaccess.SortSize:
			r.nums[i] = info.Size
		case mailaccess.SortFrom, mailaccess.SortTo, mailaccess.SortCc:
			field := strings.ToUpper(string(k.By[:1])) + string(k.By[1:])
			if v := info.Header.Values(field); len(v) > 0 {
				r.strs[i] = fold(firstMailbox(v[0]))
			}
		case mailaccess.SortSubject:
			r.strs[i] = fold(baseSubject(info.Header.Get("Subject")))
		}
	}
	s.recs = append(s.recs, r)
}

func unixOrZero(u int64, zero bool) int64 {
	if zero {
		return 0
	}
	return u
}

// Len returns the number of messages added.
func (s *Sorter) Len() int { return len(s.recs) }

// IDs returns the IDs of the messages added, sorted.
func (s *Sorter) IDs() []mailaccess.ID {
	slices.SortStableFunc(s.recs, func(a, b sortRec) int {
		for i, k := range s.keys {
			c := 0
			switch k.By {
			case mailaccess.SortFrom, mailaccess.SortTo, mailaccess.SortCc, mailaccess.SortSubject:
				c = strings.Compare(a.strs[i], b.strs[i])
			default:
				switch {
				case a.nums[i] < b.nums[i]:
					c = -1
				case a.nums[i] > b.nums[i]:
					c = 1
				}
			}
			if k.Reverse {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	out := make([]mailaccess.ID, len(s.recs))
	for i, r := range s.recs {
		out[i] = r.id
	}
	return out
}

// Sort is [mailaccess.Mailbox].Sort done locally on top of mb's own
// Search, List and FetchHeader, for a driver or store without a server
// that sorts (the fake, Maildir): the IDs Search selects, ordered by keys
// as [Sorter] orders them. It reads the header of the matching messages
// only, and only when a key needs it.
func Sort(ctx context.Context, mb mailaccess.Mailbox, folder string, c mailaccess.Criteria, keys ...mailaccess.SortKey) ([]mailaccess.ID, error) {
	s, err := NewSorter(keys...)
	if err != nil {
		return nil, err
	}
	ids, err := mb.Search(ctx, folder, c)
	if err != nil || len(keys) == 0 || len(ids) < 2 {
		return ids, err
	}
	want := make(map[mailaccess.ID]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var infos []mailaccess.MessageInfo
	for msg, err := range mb.List(ctx, folder, nil) {
		if err != nil {
			return nil, err
		}
		if want[msg.ID()] {
			infos = append(infos, msg.Info())
		}
	}
	for _, info := range infos {
		if s.NeedsHeader() {
			h, err := mb.FetchHeader(ctx, folder, info.ID)
			if errors.Is(err, mailaccess.ErrNotFound) {
				continue // gone since Search
			}
			if err != nil {
				return nil, err
			}
			info.Header = h
		}
		s.Add(info)
	}
	return s.IDs(), nil
}

// baseSubject extracts the base subject of RFC 5256 section 2.1 from a
// raw Subject value.
func baseSubject(raw string) string {
	s := strings.Join(strings.Fields(decodeValue(raw)), " ") // (1)
	for {
		// (2) trailers: "(fwd)" and whitespace.
		for {
			s = strings.TrimRight(s, " ")
			if len(s) >= 5 && strings.EqualFold(s[len(s)-5:], "(fwd)") {
				s = s[:len(s)-5]
				continue
			}
			break
		}
		// (3)-(5) leaders and blobs.
		for {
			if n := leaderLen(s); n > 0 {
				s = s[n:]
				continue
			}
			if n := blobLen(s); n > 0 && strings.TrimSpace(s[n:]) != "" {
				s = s[n:]
				continue
			}
			break
		}
		// (6) "[fwd: ...]"
		if len(s) >= 6 && strings.EqualFold(s[:5], "[fwd:") && s[len(s)-1] == ']' {
			s = s[5 : len(s)-1]
			continue
		}
		return s
	}
}

// blobLen returns the length of the subj-blob ("[" *BLOBCHAR "]" *WSP) at
// the start of s, or 0.
func blobLen(s string) int {
	if s == "" || s[0] != '[' {
		return 0
	}
	end := strings.IndexAny(s[1:], "[]")
	if end < 0 || s[1+end] != ']' {
		return 0
	}
	n := end + 2
	for n < len(s) && s[n] == ' ' {
		n++
	}
	return n
}

// leaderLen returns the length of the subj-leader at the start of s:
// whitespace, or blobs followed by "re", "fw" or "fwd", optional
// whitespace, an optional blob and a colon; 0 if none.
func leaderLen(s string) int {
	if s != "" && s[0] == ' ' {
		return 1
	}
	i := 0
	for {
		n := blobLen(s[i:])
		if n == 0 {
			break
		}
		i += n
	}
	rest := strings.ToLower(s[i:])
	switch {
	case strings.HasPrefix(rest, "re"):
		i += 2
	case strings.HasPrefix(rest, "fwd"):
		i += 3
	case strings.HasPrefix(rest, "fw"):
		i += 2
	default:
		return 0
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	i += blobLen(s[i:])
	if i < len(s) && s[i] == ':' {
		return i + 1
	}
	return 0
}
