package mailsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// New returns a [Sync] that brings dst up to date with src.
//
// How changes are found, per source folder:
//   - IMAP-like sources ([mailaccess.CapUID], a non-zero UIDVALIDITY and UIDNEXT):
//     Status first; if UIDVALIDITY, UIDNEXT, the message count and (with
//     [mailaccess.CapChanges]) HIGHESTMODSEQ equal the committed state, nothing else
//     is asked of the source: a no-op resync costs one Status per folder.
//     Otherwise new mail is listed with ListOptions.MinUID, flag changes
//     with ChangedSince ([mailaccess.CapChanges]) and, when the count does not add
//     up, a full metadata listing finds deletions by set difference.
//     Without CapChanges but with [mailaccess.CapFlags] every run lists the folder's
//     metadata to see flag changes.
//   - Sources with stable IDs but no UIDs (POP3 UIDL, Maildir): a full
//     listing (one round trip for POP3). When it begins with what the last
//     clean pass recorded (a digest of the listing in the source's order
//     says so), what follows is new mail; otherwise a set difference with
//     the state finds what changed.
//   - Sources without [mailaccess.CapUID]: messages are identified by content. With
//     [mailaccess.CapHeaders] the identity is SHA-256(Message-ID, Date, size) from a
//     header fetch per message per run; otherwise SHA-256 of the whole
//     message, which downloads every message on every run. Two messages
//     with the same identity are treated as duplicates.
//
// What a pass reads and writes of its own state grows with what changed,
// not with the folder: the state of a folder is a small head (the
// source's counters at the last clean pass, and counts of the records), a
// base of per-message records and a journal of the changes since the base
// was written, rewritten whole only when the journal has grown to a
// quarter of it. With a keyed destination and no retention or two-way
// flags, a pass over new mail or flag changes reads the head, looks up
// only the messages that changed, stores the new ones without asking the
// destination whether it holds them (the state proves it does not), and
// appends one journal segment; the full pass above runs only when a
// message went (the counts do not add up) or the state cannot vouch for
// the change.
//
// Storing: Concurrency workers append the downloaded messages to dst
// (sources with a batch read, both drivers, stream many bodies per round
// trip; Maildir stages keyed appends without a name and without an fsync).
// Every BatchSize stored messages (or every eighth of the folder's recorded
// messages when that is more: fewer, larger commits, each a few syncs of
// the file system), and at the end or on cancellation,
// the engine calls [Flush] on dst (Maildir: one file-system sync for the
// data of the whole batch, then the names, then one fsync per changed
// directory) and then saves the state that records them. A message counts
// as stored only after both. Commits run in the background: the workers
// go on downloading and writing the next batch while one commits, so the
// disk's sync and the network overlap. Deletions from the source
// (Retention) are sent only for messages in saved state, and [mailaccess.Commit] is
// called on sources with [mailaccess.CapDeferredDelete] (POP3) after them.
//
// Every message a pass set out to download is accounted for: stored,
// found gone from the source (deleted meanwhile: a note in the report),
// or an error naming it. A message a batch read did not deliver is opened
// on its own, so a driver's gap cannot pass silently; a pass that stored
// less than it listed for any other reason returns an error saying which
// messages were not stored and why, and deletes nothing from the source.
//
// A source that ends its session (an IMAP "* BYE", a dropped POP3
// connection: errors matching [mailaccess.ErrTemporary]) does not end the
// run: the folder's pass runs again on a new session, keeping what was
// committed, as long as passes make progress (Options.Retry).
//
// Duplicates after a crash are prevented with idempotent appends when dst
// offers them (maildir.Store.AppendWithKey: the file name carries a hash of
// account, folder, UIDVALIDITY and source ID). For other destinations the
// engine first saves "pending" entries for the messages it is about to
// append; on the next run a pending entry is matched against the
// destination by Message-ID and size before anything is appended again
// (a message without Message-ID may then be stored twice).
//
// Options.Account defaults to "protocol:user@host:port" for sources
// that expose their Config through As (the imap and pop3 drivers), else to
// the protocol name ("mem", "maildir"). Set it whenever more than one such
// source syncs into the same store: both the state records and the keys
// that recognise already-stored messages are per account.
//
// New fails if dst cannot append, if no StateStore is given and dst
// does not provide one, or if a Retention or TwoWayFlags needs a
// capability src lacks.
func New(src, dst mailaccess.Mailbox, opts *Options) (mailaccess.Sync, error) {
	if src == nil || dst == nil {
		return nil, fmt.Errorf("mailsync: New: nil source or destination: %w", mailaccess.ErrInvalid)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if !dst.Capabilities().Has(mailaccess.CapAppend) {
		return nil, driver.Unsupported(driver.ProtocolOf(dst), "sync into", mailaccess.CapAppend)
	}
	if o.Retention.Policy != KeepOnServer && !src.Capabilities().Has(mailaccess.CapDelete) {
		return nil, &mailaccess.UnsupportedError{Op: "sync retention " + o.Retention.String(), Protocol: driver.ProtocolOf(src), Missing: mailaccess.CapDelete}
	}
	if o.Retention.Policy == DeleteAfterAge && o.Retention.MaxAge <= 0 {
		return nil, fmt.Errorf("mailsync: New: retention after age needs a positive MaxAge: %w", mailaccess.ErrInvalid)
	}
	if o.TwoWayFlags && !src.Capabilities().Has(mailaccess.CapFlags) {
		return nil, &mailaccess.UnsupportedError{Op: "sync two-way flags", Protocol: driver.ProtocolOf(src), Missing: mailaccess.CapFlags}
	}
	if o.State == nil {
		p, ok := driver.Find[StateStoreProvider](dst)
		if !ok {
			return nil, fmt.Errorf("mailsync: New: Options.State is nil and the destination (%s) keeps no sync state: %w", driver.ProtocolOf(dst), mailaccess.ErrInvalid)
		}
		ss, err := p.SyncState()
		if err != nil {
			return nil, err
		}
		o.State = ss
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.Account == "" {
		o.Account = defaultAccount(src)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Retry = o.Retry.withDefaults()
	switch {
	case o.MaxMessageSize == 0:
		o.MaxMessageSize = DefaultMaxMessageSize
	case o.MaxMessageSize < 0:
		o.MaxMessageSize = math.MaxInt64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &syncer{src: src, dst: dst, o: o}
	// The batch forms of Append and Open are found like every optional
	// interface, through As too, so a wrapper that only embeds a Mailbox
	// syncs exactly as the Mailbox would. A wrapper that replaces Append
	// or Open keeps them from being found around it (see package driver).
	if ka, ok := driver.Find[driver.KeyedAppender](dst); ok {
		s.keyed = ka
		// The ordered form only where it is the same store's (a wrapper
		// that withholds the keyed append withholds its ordered form).
		if oa, ok := driver.Find[driver.OrderedAppender](dst); ok && any(oa) == any(ka) {
			s.ordered = oa
			if na, ok := driver.Find[driver.NewKeyAppender](dst); ok && any(na) == any(ka) {
				s.newKey = na
			}
		}
	}
	if bo, ok := driver.Find[driver.BatchOpener](src); ok {
		s.batch = bo
	}
	return s, nil
}

type syncer struct {
	src, dst mailaccess.Mailbox
	o        Options
	keyed    driver.KeyedAppender
	ordered  driver.OrderedAppender // keyed's ordered form, if it has one
	newKey   driver.NewKeyAppender  // and its form for keys known new
	batch    driver.BatchOpener
	// lastStart is the start of the last ordered sequence of appends, so
	// that each transfer's starts later than the previous one's.
	lastStart time.Time
	dstDelim  *string
	// deleteChunk bounds the deletions sent in one session (0: none);
	// see shrinkDeleteChunk.
	deleteChunk int
}

// Run syncs every selected folder; see [Sync].
func (s *syncer) Run(ctx context.Context) (*mailaccess.SyncReport, error) {
	rep := &mailaccess.SyncReport{Started: s.o.Now()}
	start := time.Now()
	defer func() { rep.Duration = time.Since(start) }()
	unlock, err := s.o.State.Lock(ctx)
	if err != nil {
		return rep, err
	}
	defer unlock()
	folders, err := s.folders(ctx)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, f := range folders {
		fr, err := s.syncFolder(ctx, f)
		rep.Folders = append(rep.Folders, fr)
		if err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
	}
	return rep, errors.Join(errs...)
}

type srcFolder struct {
	name, delim string
}

// folders resolves Options.Folders against the source.
func (s *syncer) folders(ctx context.Context) ([]srcFolder, error) {
	if len(s.o.Folders) == 0 {
		return []srcFolder{{name: mailaccess.Inbox}}, nil
	}
	var all []mailaccess.Folder
	if s.src.Capabilities().Has(mailaccess.CapFolders) {
		var err error
		if all, err = s.src.Folders(ctx); err != nil {
			return nil, err
		}
	} else {
		all = []mailaccess.Folder{{Name: mailaccess.Inbox}}
	}
	var out []srcFolder
	seen := map[string]bool{}
	for _, pat := range s.o.Folders {
		re, err := regexp.Compile("^(?i:" + strings.ReplaceAll(regexp.QuoteMeta(pat), `\*`, ".*") + ")$")
		if err != nil {
			return nil, fmt.Errorf("mailsync: folder pattern %q: %w", pat, mailaccess.ErrInvalid)
		}
		matched := false
		for _, f := range all {
			if f.NoSelect || !re.MatchString(f.Name) {
				continue
			}
			matched = true
			if !seen[f.Name] {
				seen[f.Name] = true
				out = append(out, srcFolder{f.Name, f.Delimiter})
			}
		}
		if !matched && !strings.Contains(pat, "*") && !seen[pat] {
			seen[pat] = true
			out = append(out, srcFolder{name: pat}) // Status will report it missing
		}
	}
	return out, nil
}

// destFolder maps a source folder to the destination, by default keeping
// the name with the source's hierarchy delimiter replaced by the
// destination's.
func (s *syncer) destFolder(ctx context.Context, f srcFolder) string {
	if s.o.DestFolder != nil {
		return s.o.DestFolder(f.name)
	}
	if strings.EqualFold(f.name, mailaccess.Inbox) || f.delim == "" {
		return f.name
	}
	if s.dstDelim == nil {
		d := ""
		if s.dst.Capabilities().Has(mailaccess.CapFolders) {
			if fs, err := s.dst.Folders(ctx); err == nil && len(fs) > 0 {
				d = fs[0].Delimiter
			}
		}
		s.dstDelim = &d
	}
	if *s.dstDelim == "" || *s.dstDelim == f.delim {
		return f.name
	}
	return strings.ReplaceAll(f.name, f.delim, *s.dstDelim)
}

// defaultAccount names a source in the sync state when Options.Account
// is empty: "protocol:user@host:port" when the driver exposes its Config
// (driver.ConfigProvider: the imap and pop3 drivers do), so two accounts
// syncing into one store keep apart; else the protocol name.
func defaultAccount(src mailaccess.Mailbox) string {
	if c, ok := driver.ConfigOf(src); ok && c.Host != "" {
		cfg := driver.NewConfig(c)
		return cfg.Protocol() + ":" + c.User + "@" + cfg.Addr()
	}
	return driver.ProtocolOf(src)
}
