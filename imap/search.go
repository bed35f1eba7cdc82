package imap

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// Search runs UID SEARCH with c translated key for key (And, Or and Not
// become IMAP's AND, OR and NOT) and returns IDs carrying the UIDVALIDITY
// of the selection the search ran under. Criteria with non-ASCII text are
// sent with CHARSET UTF-8 (IMAP4rev1; with UTF8=ACCEPT enabled, as UTF-8
// without CHARSET). If the server answers NO [BADCHARSET], Search sends
// the widest ASCII-only criteria implied by c (non-ASCII strings left
// out, a NOT holding one dropped) and evaluates the whole of c itself on
// the candidates, with the evaluator every local search shares
// (driver.Filter): metadata and headers fetched in batches, bodies
// streamed only where still needed. Criteria too long for a 1000-octet
// command line are split into several searches, or widened and checked
// the same way (see the package documentation, "Command length").
func (m *Mailbox) Search(ctx context.Context, folder string, c mailaccess.Criteria) ([]mailaccess.ID, error) {
	folder, err := m.folderName(folder)
	if err != nil {
		return nil, m.opErr("search", folder, err)
	}
	full, err := m.toSearch(c, true)
	if err != nil {
		return nil, m.opErr("search", folder, err)
	}
	var (
		uids     []imap.UID
		fallback bool // the server refused the charset
		widened  bool // criteria too long for a command line were widened
		epoch    uint32
	)
	err = m.do(ctx, "search", folder, selRead, func(cn *conn) error {
		epoch = cn.sel.UIDValidity
		var err error
		uids, widened, err = m.searchOn(cn, folder, full)
		if isBadCharset(err) && !criteriaASCII(c) {
			fallback = true
			var wide *imap.SearchCriteria
			if wide, err = m.toSearch(c, false); err == nil {
				uids, widened, err = m.searchOn(cn, folder, wide)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if fallback || widened {
		if uids, err = m.filterClientSide(ctx, folder, epoch, uids, c); err != nil {
			return nil, err
		}
	}
	return searchIDs(epoch, uids, c), nil
}

// searchOn runs UID SEARCH with sc on cn, as one command or, for
// criteria too long for a command line, several whose answers are
// intersected (searchsplit.go). It returns the UIDs found, sorted and
// each once, and whether the criteria had to be widened (the UIDs are
// then a superset of the matches, to be filtered).
func (m *Mailbox) searchOn(cn *conn, folder string, sc *imap.SearchCriteria) (uids []imap.UID, widened bool, err error) {
	parts, widened := searchParts(sc, searchCommandRoom)
	for i, p := range parts {
		d, err := cn.c.UIDSearch(p, nil).Wait()
		if err != nil {
			return nil, false, err
		}
		found, err := m.searchUIDs(folder, d, cn.numMessages())
		if err != nil {
			return nil, false, err
		}
		slices.Sort(found)
		found = slices.Compact(found)
		if i == 0 {
			uids = found
		} else {
			uids = intersectUIDs(uids, found)
		}
		if len(uids) == 0 {
			break // no message can match every part
		}
	}
	return uids, widened, nil
}

// searchIDs returns the IDs of uids (of epoch), in order, keeping only
// those within the top-level MinUID and MaxUID of c (a guard: the server
// was asked for exactly that range).
func searchIDs(epoch uint32, uids []imap.UID, c mailaccess.Criteria) []mailaccess.ID {
	out := make([]mailaccess.ID, 0, len(uids))
	for _, u := range uids {
		if (c.MinUID != 0 && uint32(u) < c.MinUID) || (c.MaxUID != 0 && uint32(u) > c.MaxUID) {
			continue
		}
		out = append(out, MakeID(epoch, uint32(u)))
	}
	return out
}

func isBadCharset(err error) bool {
	var ie *imap.Error
	return err != nil && errors.As(err, &ie) && ie.Code == imap.ResponseCodeBadCharset
}

// sortKeys maps the portable sort keys to IMAP's.
var sortKeys = map[mailaccess.SortBy]imapclient.SortKey{
	mailaccess.SortArrival: imapclient.SortKeyArrival,
	mailaccess.SortDate:    imapclient.SortKeyDate,
	mailaccess.SortFrom:    imapclient.SortKeyFrom,
	mailaccess.SortTo:      imapclient.SortKeyTo,
	mailaccess.SortCc:      imapclient.SortKeyCc,
	mailaccess.SortSubject: imapclient.SortKeySubject,
	mailaccess.SortSize:    imapclient.SortKeySize,
}

// Sort runs UID SORT (RFC 5256) when the server offers SORT
// ([mailaccess.CapSort]): the server sends the ordered UIDs and nothing
// else. Otherwise, or if the server refuses the charset, it searches
// (see Search) and orders the matches itself as SORT would
// (driver.Sorter), from their sizes, internal dates and the header fields
// the keys need, fetched in batches for the matching messages only.
func (m *Mailbox) Sort(ctx context.Context, folder string, c mailaccess.Criteria, keys ...mailaccess.SortKey) ([]mailaccess.ID, error) {
	folder, err := m.folderName(folder)
	if err != nil {
		return nil, m.opErr("sort", folder, err)
	}
	sorter, err := driver.NewSorter(keys...)
	if err != nil {
		return nil, m.opErr("sort", folder, err)
	}
	if len(keys) == 0 {
		return m.Search(ctx, folder, c)
	}
	sc, err := m.toSearch(c, true)
	if err != nil {
		return nil, m.opErr("sort", folder, err)
	}
	// Criteria too long for the SORT command line are searched (split,
	// see searchsplit.go) and the matches sorted here.
	if m.caps.Has(mailaccess.CapSort) && criteriaLineLen(sc) <= sortCommandRoom(len(keys)) {
		opts := &imapclient.SortOptions{SearchCriteria: sc}
		for _, k := range keys {
			opts.SortCriteria = append(opts.SortCriteria, imapclient.SortCriterion{Key: sortKeys[k.By], Reverse: k.Reverse})
		}
		var (
			nums       []uint32
			count      uint32
			epoch      uint32
			badCharset bool
		)
		err = m.do(ctx, "sort", folder, selRead, func(cn *conn) error {
			var err error
			epoch = cn.sel.UIDValidity
			nums, err = cn.c.UIDSort(opts).Wait()
			count = cn.numMessages()
			if isBadCharset(err) {
				badCharset = true
				return nil
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if !badCharset {
			uids, err := m.sortUIDs(folder, nums, count)
			if err != nil {
				return nil, m.opErr("sort", folder, err)
			}
			return searchIDs(epoch, uids, c), nil
		}
	}
	ids, err := m.Search(ctx, folder, c)
	if err != nil || len(ids) < 2 {
		return ids, err
	}
	epoch, uids, err := parseIDs(ids)
	if err != nil {
		return nil, m.opErr("sort", folder, err)
	}
	var fields []string
	if sorter.NeedsHeader() {
		fields = []string{"Date", "From", "To", "Cc", "Subject"}
	}
	for len(uids) > 0 {
		n := chunkLen(uids, fetchInfoBatch, maxSetText)
		chunk := uids[:n]
		uids = uids[n:]
		infos, err := m.fetchMeta(ctx, "sort", folder, epoch, chunk, fields)
		if err != nil {
			return nil, err
		}
		for _, info := range infos {
			sorter.Add(info)
		}
	}
	return sorter.IDs(), nil
}

// sortUIDs returns the UIDs of a UID SORT answer in its order, each once
// (a server repeating a UID must not duplicate a message), refusing an
// answer with more UIDs than the folder can hold (count: its message
// count), as searchUIDs does.
func (m *Mailbox) sortUIDs(folder string, nums []uint32, count uint32) ([]imap.UID, error) {
	uids := make([]imap.UID, 0, len(nums))
	seen := make(map[uint32]bool, len(nums))
	for _, n := range nums {
		if !seen[n] {
			seen[n] = true
			uids = append(uids, imap.UID(n))
		}
	}
	if uint64(len(uids)) > uint64(count)+searchSlack {
		return nil, fmt.Errorf("server %s answered SORT in %q with %d UIDs, more than the %d messages it reported: %w",
			m.cfg.Get().Host, folder, len(uids), count, mailaccess.ErrProtocol)
	}
	return uids, nil
}

// fetchInfoBatch is how many messages one metadata fetch of the client
// side search and sort covers (and so how many headers are held at once,
// each bounded by mailaccess.MaxHeaderBytes).
const fetchInfoBatch = 256

// fetchMeta fetches the metadata of uids of epoch (UID, FLAGS,
// RFC822.SIZE, INTERNALDATE) with, if fields is not nil, the header:
// those fields, or the whole header for an empty fields. Messages gone
// are left out; the result is in ascending UID order. A folder whose
// UIDVALIDITY is no longer epoch is an error matching ErrUIDValidity.
func (m *Mailbox) fetchMeta(ctx context.Context, op, folder string, epoch uint32, uids []imap.UID, fields []string) ([]mailaccess.MessageInfo, error) {
	want := make(map[imap.UID]bool, len(uids))
	for _, u := range uids {
		want[u] = true
	}
	fo := &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true}
	if fields != nil {
		bs := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
		if len(fields) > 0 {
			bs.HeaderFields = fields
		}
		fo.BodySection = []*imap.FetchItemBodySection{bs}
	}
	var out []mailaccess.MessageInfo
	err := m.do(ctx, op, folder, selRead, func(cn *conn) error {
		if err := checkFetchEpoch(cn, epoch); err != nil {
			return err
		}
		out = out[:0]
		var cut error
		cmd := startFetchCmd(cn, uidSet(uids), fo)
		defer cmd.Close()
		for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
			info, _, err := m.readFetched(cn, fm, folder, epoch)
			if want[imap.UID(info.UID)] {
				if err != nil && cut == nil {
					cut = err
				}
				out = append(out, info)
			}
		}
		if err := cmd.Close(); err != nil {
			return err
		}
		return cut
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b mailaccess.MessageInfo) int { return cmp.Compare(a.UID, b.UID) })
	out = slices.CompactFunc(out, func(a, b mailaccess.MessageInfo) bool { return a.UID == b.UID })
	return out, nil
}

// toSearch translates c into go-imap's criteria, checking it first (the
// checks every driver makes, then this server's flag syntax). With
// nonASCII false it returns the widest ASCII-only criteria that c
// implies, for a server that refuses CHARSET UTF-8: non-ASCII strings are
// left out, and so is a NOT whose criteria hold one (leaving out part of
// a NOT would narrow the result instead of widening it).
func (m *Mailbox) toSearch(c mailaccess.Criteria, nonASCII bool) (*imap.SearchCriteria, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return m.toSearchNode(c, nonASCII)
}

func (m *Mailbox) toSearchNode(c mailaccess.Criteria, nonASCII bool) (*imap.SearchCriteria, error) {
	with, err := m.checkFlags(c.WithFlags)
	if err != nil {
		return nil, err
	}
	without, err := m.checkFlags(c.WithoutFlags)
	if err != nil {
		return nil, err
	}
	sc := &imap.SearchCriteria{Since: c.Since, Before: c.Before, Flag: with, NotFlag: without, Larger: c.Larger, Smaller: c.Smaller}
	keep := func(s string) bool { return s != "" && (nonASCII || isASCII(s)) }
	for _, h := range [][2]string{{"From", c.From}, {"To", c.To}, {"Cc", c.Cc}, {"Subject", c.Subject}} {
		if keep(h[1]) {
			sc.Header = append(sc.Header, imap.SearchCriteriaHeaderField{Key: h[0], Value: h[1]})
		}
	}
	keys := make([]string, 0, len(c.Header))
	for k := range c.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if v := c.Header[k]; v == "" || keep(v) {
			sc.Header = append(sc.Header, imap.SearchCriteriaHeaderField{Key: k, Value: v})
		}
	}
	if keep(c.Body) {
		sc.Body = []string{c.Body}
	}
	if keep(c.Text) {
		sc.Text = []string{c.Text}
	}
	if c.MinUID != 0 || c.MaxUID != 0 {
		lo, hi := max(c.MinUID, 1), c.MaxUID
		if hi == 0 {
			hi = math.MaxUint32 // not "*": "n:*" matches the last message even below n
		}
		var set imap.UIDSet
		if lo <= hi {
			set.AddRange(imap.UID(lo), imap.UID(hi))
		} else {
			set.AddNum(imap.UID(math.MaxUint32))
		}
		sc.UID = []imap.UIDSet{set}
	}
	for _, sub := range c.And {
		s, err := m.toSearchNode(sub, nonASCII)
		if err != nil {
			return nil, err
		}
		andInto(sc, s)
	}
	if len(c.Or) > 0 {
		// IMAP's OR takes two keys: a OR b OR c is OR a (OR b c).
		or, err := m.toSearchNode(c.Or[len(c.Or)-1], nonASCII)
		if err != nil {
			return nil, err
		}
		for i := len(c.Or) - 2; i >= 0; i-- {
			left, err := m.toSearchNode(c.Or[i], nonASCII)
			if err != nil {
				return nil, err
			}
			or = &imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{*left, *or}}}
		}
		andInto(sc, or)
	}
	for _, sub := range c.Not {
		s, err := m.toSearchNode(sub, true)
		if err != nil {
			return nil, err
		}
		if !nonASCII && !criteriaASCII(sub) {
			continue // widened to "any message"
		}
		sc.Not = append(sc.Not, *s)
	}
	return sc, nil
}

// andInto adds the keys of src to dst (a conjunction). go-imap's own
// SearchCriteria.And drops dst's SMALLER when src has none.
func andInto(dst, src *imap.SearchCriteria) {
	dst.SeqNum = append(dst.SeqNum, src.SeqNum...)
	dst.UID = append(dst.UID, src.UID...)
	if !src.Since.IsZero() && (dst.Since.IsZero() || src.Since.After(dst.Since)) {
		dst.Since = src.Since
	}
	if !src.Before.IsZero() && (dst.Before.IsZero() || src.Before.Before(dst.Before)) {
		dst.Before = src.Before
	}
	dst.Header = append(dst.Header, src.Header...)
	dst.Body = append(dst.Body, src.Body...)
	dst.Text = append(dst.Text, src.Text...)
	dst.Flag = append(dst.Flag, src.Flag...)
	dst.NotFlag = append(dst.NotFlag, src.NotFlag...)
	dst.Larger = max(dst.Larger, src.Larger)
	if src.Smaller != 0 && (dst.Smaller == 0 || src.Smaller < dst.Smaller) {
		dst.Smaller = src.Smaller
	}
	dst.Not = append(dst.Not, src.Not...)
	dst.Or = append(dst.Or, src.Or...)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// criteriaASCII reports whether every string of c, sub-criteria included,
// is ASCII.
func criteriaASCII(c mailaccess.Criteria) bool {
	for _, s := range []string{c.From, c.To, c.Cc, c.Subject, c.Body, c.Text} {
		if !isASCII(s) {
			return false
		}
	}
	for _, v := range c.Header {
		if !isASCII(v) {
			return false
		}
	}
	for _, list := range [][]mailaccess.Criteria{c.And, c.Or, c.Not} {
		for _, sub := range list {
			if !criteriaASCII(sub) {
				return false
			}
		}
	}
	return true
}

// filterClientSide keeps the candidates (UIDs of epoch) that match c,
// evaluated here on their metadata, headers and (where still needed)
// bodies, with the evaluator every driver without server-side search uses
// (driver.Filter).
func (m *Mailbox) filterClientSide(ctx context.Context, folder string, epoch uint32, uids []imap.UID, c mailaccess.Criteria) ([]imap.UID, error) {
	src := driver.Source{
		Headers: func(ctx context.Context, batch []mailaccess.MessageInfo) error {
			us := make([]imap.UID, len(batch))
			for i, info := range batch {
				us[i] = imap.UID(info.UID)
			}
			var got []mailaccess.MessageInfo
			for len(us) > 0 {
				n := chunkLen(us, len(us), maxSetText)
				part, err := m.fetchMeta(ctx, "search", folder, epoch, us[:n], []string{})
				if err != nil {
					return err
				}
				got = append(got, part...)
				us = us[n:]
			}
			byUID := make(map[uint32]mailaccess.Header, len(got))
			for _, g := range got {
				byUID[g.UID] = g.Header
			}
			for i := range batch {
				h, ok := byUID[batch[i].UID]
				if !ok {
					batch[i].ID = "" // expunged meanwhile
				}
				batch[i].Header = h
			}
			return nil
		},
		Bodies: func(ctx context.Context, ids []mailaccess.ID, fn func(mailaccess.ID, io.Reader) error) error {
			return m.OpenAll(ctx, folder, ids, fn)
		},
	}
	var out []imap.UID
	for len(uids) > 0 {
		n := chunkLen(uids, fetchInfoBatch, maxSetText)
		chunk := uids[:n]
		uids = uids[n:]
		infos, err := m.fetchMeta(ctx, "search", folder, epoch, chunk, nil)
		if err != nil {
			return nil, err
		}
		ids, err := driver.Filter(ctx, c, infos, src)
		if err != nil {
			return nil, m.opErr("search", folder, err)
		}
		for _, id := range ids {
			_, u, err := ParseID(id)
			if err != nil {
				return nil, m.opErr("search", folder, err)
			}
			out = append(out, imap.UID(u))
		}
	}
	return out, nil
}
