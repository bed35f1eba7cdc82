package driver

import (
	"context"
	"errors"
	"io"
	"reflect"
	"time"

	"github.com/mailaccess/go-mailaccess/internal/discover"
	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// This file declares every optional interface of a Mailbox, each once,
// with the helper that finds it and falls back when it is missing. See
// "Optional interfaces" in the package documentation for the rule.

// Find returns mb's implementation of the optional interface T, found by
// the one rule: mb itself if it implements T, else the value mb.As sets in
// a T. T must be an interface type.
//
//	if ka, ok := driver.Find[driver.KeyedAppender](dst); ok { ... }
func Find[T any](mb mailaccess.Mailbox) (T, bool) {
	return discover.Find[T](mb)
}

// AsInterface is the part of As every driver shares: if target is a
// pointer to an interface type that mb implements (one of the optional
// interfaces of this file, or any other), it sets *target to mb and
// reports true. A driver calls it first in its As:
//
//	func (m *Mailbox) As(target any) bool {
//		if driver.AsInterface(m, target) {
//			return true
//		}
//		... the driver's own escape hatches ...
//	}
//
// A wrapper that embeds the driver's Mailbox inherits this As, which is how
// [Find] reaches the driver through the wrapper.
func AsInterface(mb mailaccess.Mailbox, target any) bool {
	v := reflect.ValueOf(target)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return false
	}
	e := v.Elem()
	if e.Kind() != reflect.Interface || !reflect.TypeOf(mb).Implements(e.Type()) {
		return false
	}
	e.Set(reflect.ValueOf(mb))
	return true
}

// Committer is implemented by a Mailbox with
// [mailaccess.CapDeferredDelete]. Commit applies the pending deletions
// (POP3: QUIT, then a new session). Programs call [mailaccess.Commit],
// which finds it by the rule of this file and returns nil for a Mailbox
// whose deletions are immediate.
type Committer interface {
	Commit(ctx context.Context) error
}

// Rollbacker is implemented by a Mailbox with
// [mailaccess.CapDeferredDelete] beside [Committer]. Rollback drops the
// pending deletions without applying them, so that Close then reports
// nothing discarded. Programs call [mailaccess.Rollback], which finds it
// by the rule of this file and returns nil for a Mailbox whose deletions
// are immediate.
type Rollbacker interface {
	Rollback(ctx context.Context) error
}

// FolderManager is implemented by a Mailbox with
// [mailaccess.CapManageFolders]. Programs call [mailaccess.CreateFolder],
// [mailaccess.RenameFolder] and [mailaccess.DeleteFolder], which find it by
// the rule of this file and return an [*mailaccess.UnsupportedError] for
// other Mailboxes.
type FolderManager interface {
	CreateFolder(ctx context.Context, name string) error
	RenameFolder(ctx context.Context, name, newName string) error
	DeleteFolder(ctx context.Context, name string) error
}

// Flusher is implemented by stores whose Append may return before the new
// message's directory entry is durable (so that many appends share one
// directory sync). Flush makes every Append that has returned durable.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Flush makes completed appends durable on mb's [Flusher]; for other
// Mailboxes it returns nil, their appends being durable when they return.
func Flush(ctx context.Context, mb mailaccess.Mailbox) error {
	if f, ok := Find[Flusher](mb); ok {
		return f.Flush(ctx)
	}
	return nil
}

// BatchOpener is implemented by Mailboxes that stream many messages in one
// exchange (IMAP: one UID FETCH per batch; POP3: pipelined RETR), much
// faster than one Open per message. OpenAll calls fn once per message of
// ids that exists, in the order the server sends them, with a reader of
// its raw bytes valid only during the call (what fn leaves unread is
// skipped); messages that no longer exist are skipped. If fn returns an
// error OpenAll stops and returns it.
//
// Every ID asked for must be accounted for: delivered to fn, skipped
// because it no longer exists (Open would return
// [mailaccess.ErrNotFound]), or named in the error OpenAll returns. The
// reader verifies the body as Open's does (a body that is not the size the
// server reported fails with an error wrapping [mailaccess.ErrProtocol]
// where io.EOF would come). An error that concerns the session rather
// than some messages (a lost connection: [mailaccess.ErrTemporary]; a
// changed UIDVALIDITY: [mailaccess.ErrUIDValidity]) should wrap those
// sentinels, so a caller can tell "these messages failed" from "the rest
// was not tried". A careful caller does not trust a skip: the sync
// engine opens every ID that was neither delivered nor failed the batch
// as a whole with Open, and so finds a gap in a driver's accounting.
//
// It is a batch form of Open: see the package documentation for what a
// wrapper that replaces Open must do.
type BatchOpener interface {
	OpenAll(ctx context.Context, folder string, ids []mailaccess.ID, fn func(id mailaccess.ID, r io.Reader) error) error
}

// FlagKeeper is implemented by a Mailbox whose folders may keep only some
// flags: an IMAP folder keeps what its PERMANENTFLAGS lists, and a Mailbox
// refuses to set or append a flag its folder would not keep. The sync
// engine asks before it appends, so that a flag the destination folder
// cannot keep is left out, and reported, instead of failing the message.
type FlagKeeper interface {
	// KeptFlags returns those of flags that folder keeps, in their order.
	KeptFlags(ctx context.Context, folder string, flags []mailaccess.Flag) ([]mailaccess.Flag, error)
}

// KeptFlags returns those of flags that folder of mb keeps, through mb's
// [FlagKeeper], or all of them when mb has none (its capabilities say what
// it keeps: [mailaccess.CapFlags], [mailaccess.CapKeywords]).
func KeptFlags(ctx context.Context, mb mailaccess.Mailbox, folder string, flags []mailaccess.Flag) ([]mailaccess.Flag, error) {
	if len(flags) == 0 {
		return flags, nil
	}
	if fk, ok := Find[FlagKeeper](mb); ok {
		return fk.KeptFlags(ctx, folder, flags)
	}
	return flags, nil
}

// OpenAll reads the messages ids of folder through mb's [BatchOpener], or,
// without one, with one Open per message, skipping those that are gone
// (Open fails with [mailaccess.ErrNotFound]): the same contract either
// way.
func OpenAll(ctx context.Context, mb mailaccess.Mailbox, folder string, ids []mailaccess.ID, fn func(id mailaccess.ID, r io.Reader) error) error {
	if bo, ok := Find[BatchOpener](mb); ok {
		return bo.OpenAll(ctx, folder, ids, fn)
	}
	for _, id := range ids {
		rc, err := mb.Open(ctx, folder, id, nil)
		if errors.Is(err, mailaccess.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		err = fn(id, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// KeyedAppender is implemented by destinations whose appends can be made
// idempotent with a caller-chosen key (the Maildir store): a message
// appended before a crash, but not yet recorded by the caller, is found
// again by its key (HasKey) instead of being stored twice. AppendWithKey
// appends like Append and records key with the message; HasKey returns
// the ID of the message appended with key, if there is one. The sync
// engine (package mailsync) uses it.
//
// It is a batch form of Append: see the package documentation for what a
// wrapper that replaces Append must do.
type KeyedAppender interface {
	AppendWithKey(ctx context.Context, folder, key string, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error)
	HasKey(ctx context.Context, folder, key string) (mailaccess.ID, bool, error)
}

// OrderedAppender is implemented by a [KeyedAppender] that can list the
// messages a caller appends in an order the caller gives, however its
// appends overlap and finish (the Maildir store, whose List is sorted by
// ID: a keyed message's ID is its file name). The sync engine appends with
// it so that a destination lists a run's messages in the source's order,
// not in the order its parallel writers finished.
//
// AppendWithKeyAt is AppendWithKey for the message at position pos (0 or
// more) of a sequence the caller started at start: messages of one
// sequence are listed in the order of pos, after those of every sequence
// started earlier. The key alone still identifies the message (HasKey,
// and an append with a key already stored reads nothing).
type OrderedAppender interface {
	KeyedAppender
	AppendWithKeyAt(ctx context.Context, folder, key string, start time.Time, pos int, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error)
}

// AppendWithKey appends through mb's [KeyedAppender] and reports keyed
// true, or, without one, with a plain Append (which is not idempotent: a
// caller that needs that checks for a KeyedAppender with [Find] first)
// and reports keyed false.
func AppendWithKey(ctx context.Context, mb mailaccess.Mailbox, folder, key string, r io.Reader, opts *mailaccess.AppendOptions) (id mailaccess.ID, keyed bool, err error) {
	if ka, ok := Find[KeyedAppender](mb); ok {
		id, err = ka.AppendWithKey(ctx, folder, key, r, opts)
		return id, true, err
	}
	id, err = mb.Append(ctx, folder, r, opts)
	return id, false, err
}

// Protocoler is implemented by a Mailbox to name its protocol ("imap",
// "pop3", "maildir", "mem") in errors built outside the driver.
type Protocoler interface {
	Protocol() string
}

// ProtocolOf returns the protocol of mb's [Protocoler], else "mailaccess".
func ProtocolOf(mb mailaccess.Mailbox) string {
	if p, ok := Find[Protocoler](mb); ok {
		return p.Protocol()
	}
	return "mailaccess"
}

// ConfigProvider is implemented by a Mailbox opened from a
// [mailaccess.Config] that it can give back (the network drivers): the
// sync engine names an account after it ("protocol:user@host:port").
type ConfigProvider interface {
	Config() mailaccess.Config
}

// ConfigOf returns the Config of mb's [ConfigProvider], if it has one.
func ConfigOf(mb mailaccess.Mailbox) (mailaccess.Config, bool) {
	if p, ok := Find[ConfigProvider](mb); ok {
		return p.Config(), true
	}
	return mailaccess.Config{}, false
}

// FlagChange is one message's new flags for [FlagReplacer]: Flags replace
// all of the message's flags. Was is what the caller believes the message
// carries now (the flags it last set or stored it with): a hint that lets
// a store find the message without searching for it. A wrong hint costs
// time, never correctness.
type FlagChange struct {
	ID    mailaccess.ID
	Flags []mailaccess.Flag
	Was   []mailaccess.Flag
}

// FlagReplacer is implemented by a Mailbox that replaces the flags of many
// messages faster than one SetFlags each, given the flags each carries now
// (the Maildir store: its file names hold the flags, so with the right
// hint it renames each file at once instead of first scanning the folder
// for its name, a cost that grows with the folder, and it syncs the
// directory once for the batch). ReplaceFlags returns nil when every
// change was made, else one error per change (nil where it was made); a
// message that is not there fails with an error matching
// [mailaccess.ErrNotFound]. The changes are durable when it returns.
type FlagReplacer interface {
	ReplaceFlags(ctx context.Context, folder string, changes []FlagChange) []error
}

// ReplaceFlags makes changes through mb's [FlagReplacer], or, without one,
// with one SetFlags(ReplaceFlags) per change, and returns nil or one error
// per change, as FlagReplacer does.
func ReplaceFlags(ctx context.Context, mb mailaccess.Mailbox, folder string, changes []FlagChange) []error {
	if fr, ok := Find[FlagReplacer](mb); ok {
		return fr.ReplaceFlags(ctx, folder, changes)
	}
	var errs []error
	for i, c := range changes {
		if err := mb.SetFlags(ctx, folder, []mailaccess.ID{c.ID}, mailaccess.ReplaceFlags, c.Flags...); err != nil {
			if errs == nil {
				errs = make([]error, len(changes))
			}
			errs[i] = err
		}
	}
	return errs
}

// NewKeyAppender is implemented by an [OrderedAppender] that can skip the
// lookup that makes a keyed append idempotent (for the Maildir store, a
// scan of the folder's directories at its first keyed append, a cost that
// grows with the folder). AppendNewKeyAt is AppendWithKeyAt for a key the
// caller knows, from its own durable records, was never appended to the
// folder: the sync engine uses it for mail it proved new when its records
// say no transfer was left unfinished. A caller that breaks the promise
// may find a message stored twice.
type NewKeyAppender interface {
	OrderedAppender
	AppendNewKeyAt(ctx context.Context, folder, key string, start time.Time, pos int, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error)
}
