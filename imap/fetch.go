package imap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"strconv"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// maxSetText bounds the octets of the UID set of one Fetch command, so
// that the command line stays under the 1000 octets RFC 2683 asks for
// whatever the UIDs.
const maxSetText = 800

// Fetch yields the messages ids with one UID FETCH per batch of
// opts.BatchSize IDs (default [DefaultBatchSize]; fewer when scattered
// UIDs would make the command line long): UID, FLAGS, RFC822.SIZE,
// INTERNALDATE (+ MODSEQ with CONDSTORE), BODY.PEEK[HEADER] with
// opts.Headers and BODYSTRUCTURE with opts.Structure, in one exchange.
// Messages are yielded in the order of ids; UIDs the server does not
// return (expunged) are skipped. The connection is returned to the pool
// before a batch's messages are yielded.
//
// A BODYSTRUCTURE the driver cannot use does not fail the listing: if the
// server's answer cannot be parsed (go-imap then drops the connection),
// the batch is split in halves and fetched again, down to a few messages
// fetched without BODYSTRUCTURE whose structures are then asked for one by
// one ([Mailbox.Structure], which reads a message whose description
// cannot be parsed); a structure that parses but makes no sense (a
// multipart described as a single part, a part with no media type) is
// replaced by reading the message.
func (m *Mailbox) Fetch(ctx context.Context, folder string, ids []mailaccess.ID, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		folder, err := m.folderName(folder)
		if err != nil {
			yield(nil, m.opErr("fetch", folder, err))
			return
		}
		ids, err = driver.UniqueIDs(ids)
		if err != nil {
			yield(nil, m.opErr("fetch", folder, err))
			return
		}
		epoch, uids, err := fetchUIDs(ids)
		if err != nil {
			yield(nil, m.opErr("fetch", folder, err))
			return
		}
		var o mailaccess.FetchOptions
		if opts != nil {
			o = *opts
		}
		batch := o.BatchSize
		if batch <= 0 {
			batch = DefaultBatchSize
		}
		batch = min(batch, maxBatchSize)
		for len(uids) > 0 {
			n := chunkLen(uids, batch, maxSetText)
			chunk := uids[:n]
			uids = uids[n:]
			got, err := m.fetchChunk(ctx, folder, epoch, chunk, &o)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, u := range chunk {
				f, ok := got[u]
				if !ok {
					continue
				}
				info := f.info
				if o.Structure && info.Structure == nil {
					if f.problem != "" {
						info.Structure, err = m.structureByReading(ctx, folder, info.ID, f.problem)
					} else {
						info.Structure, err = m.Structure(ctx, folder, info.ID)
					}
					if errors.Is(err, mailaccess.ErrNotFound) {
						continue
					}
					if err != nil {
						yield(nil, err)
						return
					}
				}
				if !yield(driver.NewMessage(m, info), nil) {
					return
				}
			}
		}
	}
}

// chunkLen returns how many of uids (at least one) the next command
// takes: at most max, and no more than make a UID set of room octets.
func chunkLen(uids []imap.UID, max, room int) int {
	n := min(len(uids), max)
	for n > 1 && setTextLen(uids[:n]) > room {
		n = (n + 1) / 2
	}
	return n
}

// setTextLen is the length of the UID set of uids as go-imap writes it
// (sorted, runs as ranges).
func setTextLen(uids []imap.UID) int {
	s := slices.Clone(uids)
	slices.Sort(s)
	s = slices.Compact(s)
	n := 0
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if n > 0 {
			n++ // comma
		}
		n += len(strconv.FormatUint(uint64(s[i]), 10))
		if j > i {
			n += 1 + len(strconv.FormatUint(uint64(s[j]), 10))
		}
		i = j + 1
	}
	return n
}

// uidSet is the UID set of uids, runs as ranges.
func uidSet(uids []imap.UID) imap.UIDSet {
	s := slices.Clone(uids)
	slices.Sort(s)
	s = slices.Compact(s)
	var set imap.UIDSet
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		set.AddRange(s[i], s[j])
		i = j + 1
	}
	return set
}

// fetchChunk fetches one batch. A batch that asked for BODYSTRUCTURE and
// failed after the FETCH was sent for a reason that is not a server
// answer (go-imap drops the connection on a response it cannot parse) is
// split in halves, each fetched again, so that a broken description costs
// a few more exchanges, not one per message; a batch of a few messages is
// fetched without BODYSTRUCTURE, and Fetch then asks (or reads) each
// structure alone.
func (m *Mailbox) fetchChunk(ctx context.Context, folder string, epoch uint32, uids []imap.UID, o *mailaccess.FetchOptions) (map[imap.UID]fetched, error) {
	got, sent, err := m.fetchOnce(ctx, folder, epoch, uids, o.Headers, o.Structure)
	if err == nil || !o.Structure || !sent || !retryable(ctx, err) {
		return got, err
	}
	m.cfg.Log().Warn("imap: a FETCH with BODYSTRUCTURE failed; fetching again in smaller batches",
		"folder", folder, "messages", len(uids), "err", err)
	if len(uids) > minBisect {
		half := len(uids) / 2
		got, err := m.fetchChunk(ctx, folder, epoch, uids[:half], o)
		if err != nil {
			return nil, err
		}
		rest, err := m.fetchChunk(ctx, folder, epoch, uids[half:], o)
		if err != nil {
			return nil, err
		}
		for u, f := range rest {
			got[u] = f
		}
		return got, nil
	}
	got, _, err = m.fetchOnce(ctx, folder, epoch, uids, o.Headers, false)
	return got, err
}

// minBisect is the batch size below which a failed FETCH with
// BODYSTRUCTURE is not split further.
const minBisect = 4

// fetchOnce runs one FETCH of uids on a pooled connection; sent reports
// whether the command was sent (a failure before it, such as a dial
// error, is not retried).
func (m *Mailbox) fetchOnce(ctx context.Context, folder string, epoch uint32, uids []imap.UID, headers, structure bool) (got map[imap.UID]fetched, sent bool, err error) {
	err = m.do(ctx, "fetch", folder, selRead, func(c *conn) error {
		if err := checkFetchEpoch(c, epoch); err != nil {
			return err
		}
		sent = true
		var err error
		got, err = m.fetchInfos(c, folder, uids, headers, structure)
		return err
	})
	return got, sent, err
}

// retryable reports whether err, from a call under ctx, may be cured by
// asking again differently: not a server's NO or BAD, not an argument or
// epoch error, not the end of ctx, not the command timeout.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, mailaccess.ErrClosed) ||
		errors.Is(err, mailaccess.ErrUIDValidity) {
		return false
	}
	return isConnErr(err)
}

// fetched is what one FETCH said about a message: its metadata and, when
// the BODYSTRUCTURE it sent could not be used, why.
type fetched struct {
	info    mailaccess.MessageInfo
	problem string
}

// fetchInfos runs one UID FETCH of metadata (and header and structure as
// asked) and returns what came, by UID.
func (m *Mailbox) fetchInfos(c *conn, folder string, uids []imap.UID, headers, structure bool) (map[imap.UID]fetched, error) {
	fo := &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true, ModSeq: c.caps.Has(imap.CapCondStore)}
	if headers {
		fo.BodySection = []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true}}
	}
	if structure {
		fo.BodyStructure = &imap.FetchItemBodyStructure{Extended: true}
	}
	want := make(map[imap.UID]bool, len(uids))
	for _, u := range uids {
		want[u] = true
	}
	epoch := c.sel.UIDValidity
	out := make(map[imap.UID]fetched, len(uids))
	cmd := startFetchCmd(c, uidSet(uids), fo)
	defer cmd.Close()
	var cut error
	for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
		info, bs, err := m.readFetched(c, fm, folder, epoch)
		u := imap.UID(info.UID)
		if !want[u] {
			continue
		}
		if err != nil && cut == nil {
			cut = err
		}
		f := fetched{info: info}
		if bs != nil {
			f.info.Structure, f.problem = structureOf(bs)
			if f.problem == "" {
				m.described.note(folder, epoch, u, f.info.Structure)
			}
		}
		out[u] = f
	}
	if err := cmd.Close(); err != nil {
		return out, err
	}
	return out, cut
}

// readFetched turns one FETCH response into MessageInfo and the
// BODYSTRUCTURE it carried, consuming it. The error says the header came
// cut short (driver.HeaderSection).
func (m *Mailbox) readFetched(c *conn, fm *imapclient.FetchMessageData, folder string, epoch uint32) (mailaccess.MessageInfo, imap.BodyStructure, error) {
	info := mailaccess.MessageInfo{Folder: folder}
	var bs imap.BodyStructure
	var hs *driver.HeaderSection
	hasSize := false
	for item := fm.Next(); item != nil; item = fm.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			info.UID = uint32(it.UID)
			info.ID = fetchID(epoch, it.UID)
		case imapclient.FetchItemDataFlags:
			info.Flags = convFlags(it.Flags)
		case imapclient.FetchItemDataRFC822Size:
			info.Size, hasSize = it.Size, true
		case imapclient.FetchItemDataInternalDate:
			info.InternalDate = it.Time
		case imapclient.FetchItemDataModSeq:
			info.ModSeq = it.ModSeq
		case imapclient.FetchItemDataBodyStructure:
			bs = it.BodyStructure
		case imapclient.FetchItemDataBodySection:
			if it.Literal != nil {
				sec, err := driver.ReadHeaderSection(io.LimitReader(c.literal(it.Literal), mailaccess.MaxHeaderBytes), fmt.Sprintf("message %d", fm.SeqNum))
				if err != nil {
					m.cfg.Log().Warn("imap: unparsable header", "folder", folder, "uid", info.UID, "err", err)
				}
				if it.Section != nil && it.Section.Specifier == imap.PartSpecifierHeader && len(it.Section.Part) == 0 {
					hs = &sec
				}
				info.Header = sec.Header
			}
		}
	}
	if hs != nil && hasSize {
		return info, bs, m.headerWhole(*hs, info.Size, info.UID)
	}
	return info, bs, nil
}

// FetchMatching runs UID SEARCH (Search: criteria the server cannot take
// are checked here) and fetches only the messages found, with [Mailbox.Fetch]:
// the cost grows with what matched, not with the folder.
func (m *Mailbox) FetchMatching(ctx context.Context, folder string, c mailaccess.Criteria, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return driver.FetchMatching(ctx, m, folder, c, opts)
}
