package imap

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
)

// Search criteria within the command-line limit.
//
// RFC 2683 section 3.2.1.5 asks clients to keep a command line to about
// 1000 octets, and some servers answer BAD beyond it (see uidset.go). A
// UID set is split by length where it is sent; the criteria of a search
// can be long too: several long strings, or one very long string, which
// go-imap sends quoted (it makes a literal only of a string over 4096
// octets or one that cannot be quoted). Before a search is sent, its
// command line is measured as go-imap will encode it, and if it does not
// fit:
//
//   - the criteria, a conjunction of keys, are split into several
//     searches whose answers are intersected (a message matches all keys
//     exactly when every search finds it);
//   - a key that does not fit even alone is widened: a string is cut to a
//     prefix that fits (every message containing the string contains the
//     prefix), a NOT or an OR is left out. The server's answer is then a
//     superset, and the whole criteria are evaluated here on it, as for a
//     server that refuses the charset (Mailbox.filterClientSide).
//
// So no search command line exceeds the limit and the result is the one
// the criteria ask for.

// searchCommandRoom is the room for the criteria of "UID SEARCH [CHARSET
// UTF-8] criteria" in one command line.
var searchCommandRoom = maxCommandLine - len("\r\n") - tagRoom - len("UID SEARCH CHARSET UTF-8 ")

// sortCommandRoom is the room for the criteria of UID SORT with keys.
func sortCommandRoom(keys int) int {
	// "UID SORT (REVERSE SUBJECT ...) UTF-8 ": each key at most
	// "REVERSE SUBJECT" and a space.
	return maxCommandLine - len("\r\n") - tagRoom - len("UID SORT () UTF-8 ") - keys*len("REVERSE SUBJECT ")
}

// searchLine measures the command line go-imap encodes criteria into
// (writeSearchKey of imapclient): the longest line, as a literal ends a
// line (its data is sent by count and not measured). Strings that go-imap
// may send either quoted or as a literal (non-ASCII ones, depending on
// UTF8=ACCEPT) are measured quoted, the longer way for the line.
type searchLine struct {
	cur, max int
}

func (l *searchLine) add(n int) {
	l.cur += n
	l.max = max(l.max, l.cur)
}

// str measures a string argument.
func (l *searchLine) str(s string) {
	if len(s) > 4096 || strings.ContainsAny(s, "\x00\r\n") {
		l.add(len("{" + strconv.Itoa(len(s)) + "+}"))
		l.cur = 0
		return
	}
	l.add(quotedLen(s))
}

// quotedLen is the length of s quoted, with '"' and '\' escaped.
func quotedLen(s string) int {
	return 2 + len(s) + strings.Count(s, `"`) + strings.Count(s, `\`)
}

// criteriaLineLen returns the length of the longest command line the
// criteria take.
func criteriaLineLen(sc *imap.SearchCriteria) int {
	var l searchLine
	l.criteria(sc)
	return l.max
}

func (l *searchLine) criteria(sc *imap.SearchCriteria) {
	first := true
	item := func() {
		if !first {
			l.add(1)
		}
		first = false
	}
	for _, s := range sc.SeqNum {
		item()
		l.add(len(s.String()))
	}
	for _, s := range sc.UID {
		item()
		l.add(len("UID ") + len(s.String()))
	}
	const date = len(`"02-Jan-2006"`)
	for _, t := range []bool{!sc.Since.IsZero(), !sc.Before.IsZero(), !sc.SentSince.IsZero(), !sc.SentBefore.IsZero()} {
		if t {
			item()
			l.add(len("SENTBEFORE ") + date)
		}
	}
	for _, h := range sc.Header {
		item()
		switch strings.ToUpper(h.Key) {
		case "BCC", "CC", "FROM", "SUBJECT", "TO":
			l.add(len(h.Key))
		default:
			l.add(len("HEADER "))
			l.str(h.Key)
		}
		l.add(1)
		l.str(h.Value)
	}
	for _, s := range sc.Body {
		item()
		l.add(len("BODY "))
		l.str(s)
	}
	for _, s := range sc.Text {
		item()
		l.add(len("TEXT "))
		l.str(s)
	}
	for _, f := range slices.Concat(sc.Flag, sc.NotFlag) {
		item()
		l.add(len("UNKEYWORD ") + len(f))
	}
	for _, n := range []int64{sc.Larger, sc.Smaller} {
		if n > 0 {
			item()
			l.add(len("SMALLER ") + len(strconv.FormatInt(n, 10)))
		}
	}
	if sc.ModSeq != nil {
		item()
		l.add(len("MODSEQ ") + quotedLen(sc.ModSeq.MetadataName) + len(" ") + len(sc.ModSeq.MetadataType) + len(" 18446744073709551615"))
	}
	for i := range sc.Not {
		item()
		l.add(len("NOT ("))
		l.criteria(&sc.Not[i])
		l.add(len(")"))
	}
	for i := range sc.Or {
		item()
		l.add(len("OR ("))
		l.criteria(&sc.Or[i][0])
		l.add(len(") ("))
		l.criteria(&sc.Or[i][1])
		l.add(len(")"))
	}
	if first {
		l.add(len("ALL"))
	}
}

// searchParts returns criteria whose search commands each fit in room and
// whose answers, intersected, are those of sc (see the comment at the top
// of this file); widened says a key had to be widened or left out, so the
// intersection is a superset that the caller must filter.
func searchParts(sc *imap.SearchCriteria, room int) (parts []*imap.SearchCriteria, widened bool) {
	if criteriaLineLen(sc) <= room {
		return []*imap.SearchCriteria{sc}, false
	}
	var cur *imap.SearchCriteria
	for _, key := range searchKeys(sc) {
		if criteriaLineLen(key) > room {
			widened = true
			if key = widenKey(key, room); key == nil {
				continue
			}
		}
		if cur != nil {
			joined := *cur
			andInto(&joined, key)
			if criteriaLineLen(&joined) <= room {
				*cur = joined
				continue
			}
		}
		cur = key
		parts = append(parts, cur)
	}
	if len(parts) == 0 {
		parts = []*imap.SearchCriteria{{}} // ALL
	}
	return parts, widened
}

// searchKeys splits the conjunction sc into its keys, each in criteria
// of its own.
func searchKeys(sc *imap.SearchCriteria) []*imap.SearchCriteria {
	var keys []*imap.SearchCriteria
	add := func(k imap.SearchCriteria) { keys = append(keys, &k) }
	for _, s := range sc.SeqNum {
		add(imap.SearchCriteria{SeqNum: []imap.SeqSet{s}})
	}
	for _, s := range sc.UID {
		add(imap.SearchCriteria{UID: []imap.UIDSet{s}})
	}
	if !sc.Since.IsZero() || !sc.Before.IsZero() {
		add(imap.SearchCriteria{Since: sc.Since, Before: sc.Before})
	}
	if !sc.SentSince.IsZero() || !sc.SentBefore.IsZero() {
		add(imap.SearchCriteria{SentSince: sc.SentSince, SentBefore: sc.SentBefore})
	}
	for _, h := range sc.Header {
		add(imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{h}})
	}
	for _, s := range sc.Body {
		add(imap.SearchCriteria{Body: []string{s}})
	}
	for _, s := range sc.Text {
		add(imap.SearchCriteria{Text: []string{s}})
	}
	for _, f := range sc.Flag {
		add(imap.SearchCriteria{Flag: []imap.Flag{f}})
	}
	for _, f := range sc.NotFlag {
		add(imap.SearchCriteria{NotFlag: []imap.Flag{f}})
	}
	if sc.Larger > 0 {
		add(imap.SearchCriteria{Larger: sc.Larger})
	}
	if sc.Smaller > 0 {
		add(imap.SearchCriteria{Smaller: sc.Smaller})
	}
	if sc.ModSeq != nil {
		add(imap.SearchCriteria{ModSeq: sc.ModSeq})
	}
	for _, n := range sc.Not {
		add(imap.SearchCriteria{Not: []imap.SearchCriteria{n}})
	}
	for _, o := range sc.Or {
		add(imap.SearchCriteria{Or: [][2]imap.SearchCriteria{o}})
	}
	return keys
}

// widenKey returns a key that fits in room and matches every message key
// matches (a string cut to a prefix), or nil if none does but ALL (a NOT,
// an OR, a header name too long to name).
func widenKey(key *imap.SearchCriteria, room int) *imap.SearchCriteria {
	cut := func(s string, fixed int) (string, bool) {
		p := prefixWithin(s, room-fixed)
		return p, p != ""
	}
	switch {
	case len(key.Header) == 1:
		h := key.Header[0]
		probe := imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: h.Key}}}
		v, ok := cut(h.Value, criteriaLineLen(&probe)-quotedLen(""))
		if !ok {
			return nil
		}
		return &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: h.Key, Value: v}}}
	case len(key.Body) == 1:
		v, ok := cut(key.Body[0], len("BODY "))
		if !ok {
			return nil
		}
		return &imap.SearchCriteria{Body: []string{v}}
	case len(key.Text) == 1:
		v, ok := cut(key.Text[0], len("TEXT "))
		if !ok {
			return nil
		}
		return &imap.SearchCriteria{Text: []string{v}}
	}
	return nil
}

// prefixWithin returns the longest prefix of s, cut at a character
// boundary, whose quoted form takes at most room octets ("" if none).
func prefixWithin(s string, room int) string {
	n := 2 // the quotes
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		q := w
		if r == '"' || r == '\\' {
			q++
		}
		if n+q > room {
			return s[:i]
		}
		n += q
		i += w
	}
	return s
}

// intersectUIDs returns the UIDs of a (sorted, without duplicates) that b
// holds.
func intersectUIDs(a, b []imap.UID) []imap.UID {
	in := make(map[imap.UID]bool, len(b))
	for _, u := range b {
		in[u] = true
	}
	out := a[:0:0]
	for _, u := range a {
		if in[u] {
			out = append(out, u)
		}
	}
	return out
}
