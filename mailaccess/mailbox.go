package mailaccess

import (
	"context"
	"io"
	"iter"
	"strings"
	"time"
)

// Inbox is the name of the folder every Mailbox has.
const Inbox = "INBOX"

// ID identifies a message within a folder. Its form is the driver's: the
// decimal IMAP UID, the POP3 UIDL string, the Maildir unique name, a number
// for the fake. Treat it as opaque. IDs are stable across sessions only when
// the Mailbox has [CapUID].
type ID string

// Mailbox is one account or local store, seen through the same API whatever
// the protocol. Get one from [Open] / [OpenURL] or a driver's constructor.
//
// Every method that does I/O takes a context first; cancelling it makes the
// call return promptly (a network driver closes the connection it was using).
//
// An operation the Mailbox cannot do returns an [*UnsupportedError] (it
// matches [errors.ErrUnsupported]) naming the missing capability; it is never
// a silent no-op. Other failures are [*OpError] values wrapping the sentinels
// of this package where one applies ([ErrNotFound], [ErrAuth], ...).
//
// A Mailbox is safe for use by several goroutines at once. Each driver's
// documentation says whether it serialises calls on one connection or spreads
// them over several.
type Mailbox interface {
	// Capabilities reports what this Mailbox can do, as connected.
	Capabilities() Capability

	// Folders lists the folders. Without [CapFolders] it returns only Inbox.
	Folders(ctx context.Context) ([]Folder, error)

	// Status reports a folder's counters without listing it.
	Status(ctx context.Context, folder string) (FolderStatus, error)

	// List iterates over the messages of a folder in ascending ID order
	// (UID order for IMAP, maildrop order for POP3), yielding metadata only.
	// It works in batches, so neither memory nor command length grows with
	// the folder. An error ends the iteration (it is yielded with a nil
	// Message). Breaking out of the loop early releases everything.
	List(ctx context.Context, folder string, opts *ListOptions) iter.Seq2[Message, error]

	// Open streams a message's raw RFC 5322 bytes, exactly as stored, or
	// the part of them selected by opts. The caller must Close the reader;
	// on network drivers the connection stays busy until then. A nil opts
	// means the whole message.
	Open(ctx context.Context, folder string, id ID, opts *OpenOptions) (io.ReadCloser, error)

	// FetchHeader returns a message's parsed header without its body when
	// the Mailbox has [CapHeaders]; otherwise it reads the message up to
	// the end of its header.
	FetchHeader(ctx context.Context, folder string, id ID) (Header, error)

	// SetFlags adds, removes or replaces flags on messages. Needs
	// [CapFlags] (and [CapKeywords] for flags that are not system flags).
	SetFlags(ctx context.Context, folder string, ids []ID, op FlagOp, flags ...Flag) error

	// Delete removes messages. Needs [CapDelete]. With
	// [CapDeferredDelete] the removal happens at [Commit].
	Delete(ctx context.Context, folder string, ids ...ID) error

	// Append adds a message read from r to folder and returns its ID ("" if
	// the server does not say it). Needs [CapAppend].
	Append(ctx context.Context, folder string, r io.Reader, opts *AppendOptions) (ID, error)

	// Move moves messages to another folder and returns their new IDs in
	// order ("" where unknown). Needs [CapMove] or [CapCopy] with
	// [CapDelete]; drivers document when they emulate it.
	Move(ctx context.Context, folder string, ids []ID, dest string) ([]ID, error)

	// Copy copies messages to another folder and returns the new IDs in
	// order ("" where unknown). Needs [CapCopy].
	Copy(ctx context.Context, folder string, ids []ID, dest string) ([]ID, error)

	// Search returns the IDs of the messages in folder that match c, in
	// ascending order. Every driver searches: with [CapSearch] the server
	// (or the store) evaluates c without sending messages; without it the
	// driver evaluates c itself, reading only what c needs (sizes, then
	// headers, then bodies). The results are the same either way: see
	// [Criteria] for what each criterion matches.
	Search(ctx context.Context, folder string, c Criteria) ([]ID, error)

	// Sort returns the IDs of the messages in folder that match c, ordered
	// by keys: by the first key, ties by the next, and remaining ties in
	// ascending ID order (the order of List), as IMAP SORT (RFC 5256)
	// defines. No key means ascending ID order, as Search. With [CapSort]
	// the server sorts; without it the driver sorts itself, from each
	// matching message's size, internal date and the header fields the
	// keys name, with the same result.
	Sort(ctx context.Context, folder string, c Criteria, keys ...SortKey) ([]ID, error)

	// Fetch yields the messages ids of folder, in the order of ids, with
	// the metadata List gives (ID, size, date, flags) and what opts asks
	// for (headers, part trees), in one exchange per batch where the
	// protocol allows it (IMAP: one UID FETCH per batch; POP3: the
	// session's cached listing and pipelined TOP). Each ID is yielded
	// once; IDs of messages that are not in the folder (expunged,
	// deleted) are skipped. An empty ID, or one not in the driver's form
	// of IDs where it has one (IMAP), is an error matching ErrInvalid,
	// before anything is fetched. An error ends the iteration (it is
	// yielded with a nil Message).
	Fetch(ctx context.Context, folder string, ids []ID, opts *FetchOptions) iter.Seq2[Message, error]

	// FetchMatching yields the messages of folder that match c, as
	// Search defines a match and in Search's order, with what opts asks
	// for: Search and Fetch in one call. With [CapSearch] the store
	// selects (IMAP: UID SEARCH, then a batch fetch of only the messages
	// found, so the cost grows with what matched, not with the folder);
	// without it (POP3) the driver evaluates c itself as Search does,
	// reading only what c needs (sizes, then headers, then bodies).
	// The zero Criteria matches every message: FetchMatching(ctx, folder,
	// Criteria{}, &FetchOptions{Structure: true}) is a listing with part
	// trees, which List does not give.
	FetchMatching(ctx context.Context, folder string, c Criteria, opts *FetchOptions) iter.Seq2[Message, error]

	// Structure returns the MIME part tree of a message. With
	// [CapPartial] it comes from the server's description (IMAP
	// BODYSTRUCTURE) without the body; a description the driver cannot
	// use (servers send broken ones) is replaced by reading the message,
	// noted in PartInfo.Problem. Without CapPartial the message is read
	// and parsed, streamed.
	Structure(ctx context.Context, folder string, id ID) (*PartInfo, error)

	// OpenPart streams one MIME part of a message (numbered as
	// PartInfo.Path), decoded: the transfer encoding (base64,
	// quoted-printable) removed and, with opts.UTF8, a text part
	// converted to UTF-8. With [CapPartial] only that part crosses the
	// network (IMAP BINARY[n] or BODY[n]); without it the message is read
	// up to the part. A part that does not exist is ErrNotFound; an
	// empty path is ErrInvalid (Open reads the whole message); an
	// encoding or charset that cannot be decoded is an error matching
	// errors.ErrUnsupported (Open gives the raw bytes). The caller must
	// Close the reader.
	OpenPart(ctx context.Context, folder string, id ID, part []int, opts *PartOptions) (io.ReadCloser, error)

	// Watch reports changes to a folder until ctx is cancelled: by push
	// with [CapPush], by polling otherwise. Transient failures (a dropped
	// connection) are retried with backoff and followed by a catch-up, so
	// no new message is missed; the iteration yields a non-nil error and
	// ends only when it gives up or ctx ends (then the error is ctx.Err()).
	Watch(ctx context.Context, folder string, opts *WatchOptions) iter.Seq2[Event, error]

	// As sets target to a driver-specific value and reports whether it
	// could, like errors.As: for example a **imapclient.Client or the POP3
	// wire connection. What each driver exposes is in its package doc.
	// Using it is not portable.
	//
	// As is also how the optional interfaces of a Mailbox (Commit,
	// Flush, folder management, batch reads...) are found through a
	// wrapper: a driver sets a pointer to any optional interface it
	// implements, and a wrapper that embeds a Mailbox inherits that As, so
	// [Commit] and the other helpers reach the wrapped driver. A wrapper
	// that replaces Open or Append with its own must also define As and
	// not pass on the batch forms of those methods (BatchOpener,
	// KeyedAppender), which would go around it: see package driver,
	// "Optional interfaces", for the rule and an example.
	As(target any) bool

	// Close releases the Mailbox. Deletions still pending (with
	// [CapDeferredDelete], Delete without [Commit]) are never applied:
	// Close then still releases everything, and returns an error matching
	// [ErrDeletesDiscarded] that says how many were dropped, so a program
	// that forgot Commit learns it at once instead of processing the same
	// mail again on every run. [Rollback] drops them on purpose (Close then
	// returns nil). Close is idempotent.
	Close() error
}

// Role is the special use of a folder (RFC 6154).
type Role string

// Folder roles. A folder has at most one.
const (
	RoleNone    Role = ""
	RoleInbox   Role = "inbox"
	RoleSent    Role = "sent"
	RoleDrafts  Role = "drafts"
	RoleTrash   Role = "trash"
	RoleJunk    Role = "junk"
	RoleArchive Role = "archive"
	RoleAll     Role = "all"
	RoleFlagged Role = "flagged"
)

// Folder describes one folder.
type Folder struct {
	// Name is the full name, with the hierarchy delimiter of the store
	// ("Archive/2024" or "Archive.2024"). It is what the other methods take.
	Name string `json:"name"`
	// Delimiter separates levels of the hierarchy; "" if flat.
	Delimiter string `json:"delimiter,omitempty"`
	// Role is the folder's special use, if the server says one.
	Role Role `json:"role,omitempty"`
	// NoSelect means the folder only holds other folders.
	NoSelect bool `json:"no_select,omitempty"`
}

// FolderStatus holds a folder's counters. The uint fields a protocol lacks
// are zero; Unseen, which can be zero for real, is [UnknownCount] (-1)
// where the store keeps no \Seen flag (POP3).
type FolderStatus struct {
	Name     string `json:"name"`
	Messages int    `json:"messages"`
	// Unseen is the number of messages without \Seen, or [UnknownCount]
	// when the store keeps no flags (a Mailbox without [CapFlags]), so
	// that "if st.Unseen == 0 { return }" never skips POP3 mail. Tell the
	// two apart with UnseenKnown.
	Unseen int `json:"unseen"`
	// Size is the total size in bytes when known cheaply (POP3 STAT), else 0.
	Size int64 `json:"size,omitempty"`
	// UIDValidity changes when every ID of the folder is void (IMAP). Stores
	// with stable IDs that never reset report a constant non-zero value.
	UIDValidity uint32 `json:"uid_validity,omitempty"`
	// UIDNext is the UID the next message will get (IMAP), or 0.
	UIDNext uint32 `json:"uid_next,omitempty"`
	// HighestModSeq is the folder's modification sequence with
	// [CapChanges] (IMAP CONDSTORE), or 0.
	HighestModSeq uint64 `json:"highest_mod_seq,omitempty"`
}

// UnknownCount is the value of a [FolderStatus] counter the store cannot
// report: Unseen on a Mailbox without [CapFlags] (POP3 keeps no \Seen
// flag, so every message is as good as unseen).
const UnknownCount = -1

// UnseenKnown reports whether Unseen is a real count (the Mailbox keeps
// flags), as opposed to [UnknownCount].
func (s FolderStatus) UnseenKnown() bool { return s.Unseen >= 0 }

// ListOptions narrow and enrich List. The zero value lists every message
// with ID, size, date and flags, without headers.
type ListOptions struct {
	// Headers asks for each message's parsed header (IMAP: one batch fetch
	// of the header section; POP3: TOP n 0; otherwise read from the body).
	Headers bool
	// MinUID lists only messages whose numeric UID is at least MinUID
	// (IMAP-like stores: MessageInfo.UID is non-zero). Others ignore it.
	MinUID uint32
	// ChangedSince lists only messages whose modification sequence is
	// greater. Needs [CapChanges].
	ChangedSince uint64
	// BatchSize is how many messages one round trip covers; 0 lets the
	// driver choose.
	BatchSize int
}

// OpenOptions select part of a message for [Mailbox.Open]. Any non-zero
// field needs [CapPartial].
type OpenOptions struct {
	// Part is a MIME part path as in IMAP BODY[1.2]: nil means the whole
	// message. The part's raw (still transfer-encoded) body is returned.
	Part []int
	// Offset and Length select a byte range; Length 0 means to the end.
	Offset, Length int64
}

// IsZero reports whether o selects the whole message.
func (o *OpenOptions) IsZero() bool {
	return o == nil || (len(o.Part) == 0 && o.Offset == 0 && o.Length == 0)
}

// AppendOptions are the optional attributes of an appended message.
type AppendOptions struct {
	Flags []Flag    // flags to set on the new message
	Date  time.Time // internal date; zero means now
}

// Flag is a message flag: a system flag (the constants) or a keyword.
type Flag string

// System flags, spelled as IMAP does.
const (
	FlagSeen     Flag = `\Seen`
	FlagAnswered Flag = `\Answered`
	FlagFlagged  Flag = `\Flagged`
	FlagDraft    Flag = `\Draft`
	FlagDeleted  Flag = `\Deleted`
	// FlagForwarded is the common keyword for forwarded (Maildir "P").
	FlagForwarded Flag = "$Forwarded"
)

// IsSystem reports whether f is one of the RFC 3501 system flags
// (case-insensitively).
func (f Flag) IsSystem() bool {
	switch strings.ToLower(string(f)) {
	case `\seen`, `\answered`, `\flagged`, `\draft`, `\deleted`, `\recent`:
		return true
	}
	return false
}

// FlagOp says what SetFlags does with its flags.
type FlagOp int

// Flag operations.
const (
	AddFlags     FlagOp = iota // add the flags to those present
	RemoveFlags                // remove the flags
	ReplaceFlags               // set exactly these flags
)

// String returns "add", "remove" or "replace".
func (op FlagOp) String() string {
	switch op {
	case AddFlags:
		return "add"
	case RemoveFlags:
		return "remove"
	case ReplaceFlags:
		return "replace"
	}
	return "FlagOp(?)"
}

// Criteria select messages for [Mailbox.Search], [Mailbox.Sort] and
// [Mailbox.FetchMatching]. Every
// non-zero field must match (AND); the zero Criteria matches every
// message. And, Or and Not combine Criteria into an expression of any
// shape (see also the functions [And], [Or] and [Not]):
//
//	// unseen mail from the bank or about an invoice, but not newsletters
//	c := mailaccess.Criteria{
//		WithoutFlags: []mailaccess.Flag{mailaccess.FlagSeen},
//		Or:           []mailaccess.Criteria{{From: "bank.example"}, {Subject: "invoice"}},
//		Not:          []mailaccess.Criteria{{Header: map[string]string{"List-Id": ""}}},
//	}
//
// Strings match as IMAP SEARCH matches them (RFC 3501, as Dovecot does),
// on every driver alike: case-insensitively (Unicode case folding, with
// accents decomposed, so "cafe" is found in "Café" but "schone" not in
// "schöne"), as substrings of decoded text:
//   - Subject and Header values: in the field's value with RFC 2047
//     encoded words decoded, line folds and tabs as single spaces. A
//     Header entry with an empty value only needs the field to be
//     present.
//   - From, To, Cc (and Header entries for From, To, Cc, Bcc): in the
//     address list rewritten in one form: `"Ann Lee" <ann@example.com>`
//     (a display name quoted when it holds a space or special character),
//     `<bob@example.com>` for a bare address, decoded.
//   - Body: in the text of the message's text parts (text/*, message/*,
//     and those of attached messages), transfer encoding undone and
//     charset converted to UTF-8; never in a header, nor in binary
//     attachments, nor across a line break.
//   - Text: in any header (names and decoded values, of the message and
//     of its parts) or as Body.
type Criteria struct {
	From, To, Cc, Subject string
	Body                  string // in the body only
	Text                  string // in header or body
	// Since and Before compare the internal date by day, as IMAP does:
	// Since is inclusive, Before exclusive. A message without internal
	// date (POP3) is compared by its Date header, and matches no date
	// criterion without one.
	Since, Before time.Time
	// WithFlags must all be set; WithoutFlags must all be unset. Unseen
	// mail is WithoutFlags: []Flag{FlagSeen}. On a Mailbox without
	// [CapFlags] no message has a flag.
	WithFlags, WithoutFlags []Flag
	// Larger and Smaller compare the size in bytes (strictly).
	Larger, Smaller int64
	// MinUID and MaxUID bound the numeric UID (0 = unbounded). On a
	// store without numeric UIDs (MessageInfo.UID is 0: POP3, Maildir) a
	// non-zero bound matches nothing.
	MinUID, MaxUID uint32
	// Header holds header-field/substring pairs that must all match.
	Header map[string]string

	// And lists criteria that must all match too.
	And []Criteria
	// Or lists alternatives: when it is not empty, at least one must
	// match. (An empty Or imposes nothing; the function [Or] with no
	// argument returns criteria that match nothing.)
	Or []Criteria
	// Not lists criteria that must not match: a message matching any of
	// them is excluded.
	Not []Criteria
}

// EventKind says what an [Event] reports.
type EventKind int

// Event kinds.
const (
	// EventNew: messages arrived (IDs holds them when known).
	EventNew EventKind = iota + 1
	// EventExpunge: messages were removed.
	EventExpunge
	// EventFlags: flags of messages changed.
	EventFlags
	// EventReconnect: the watch lost its connection and is back; the events
	// that follow are the catch-up of what happened meanwhile.
	EventReconnect
)

// String returns "new", "expunge", "flags" or "reconnect".
func (k EventKind) String() string {
	switch k {
	case EventNew:
		return "new"
	case EventExpunge:
		return "expunge"
	case EventFlags:
		return "flags"
	case EventReconnect:
		return "reconnect"
	}
	return "EventKind(?)"
}

// Event is one change seen by [Mailbox.Watch].
type Event struct {
	Kind   EventKind
	Folder string
	// IDs of the messages concerned, when the protocol tells them.
	IDs []ID
	// Count is the folder's message count after the change, when known.
	Count int
	// Push is true when the server pushed the change (IDLE), false when
	// polling found it.
	Push bool
}

// WatchOptions tune [Mailbox.Watch]; nil means the defaults.
type WatchOptions struct {
	// PollInterval is how often a poll runs without push (default 1 min).
	PollInterval time.Duration
	// IdleRefresh is how often IDLE is restarted (default 9 min, below the
	// 29-minute limit of RFC 2177 and the shorter timeouts of some
	// providers).
	IdleRefresh time.Duration
	// MaxBackoff caps the delay between reconnection attempts (default 2
	// min). MaxRetries > 0 gives up after that many failed attempts in a
	// row; 0 retries until ctx ends.
	MaxBackoff time.Duration
	MaxRetries int
}

// Message is one message of a folder, as yielded by [Mailbox.List],
// [Mailbox.Fetch] and [Mailbox.FetchMatching]. It holds metadata (and
// what the call's options asked for: the header, the part tree); the body
// is read with Open, one part with [Mailbox.OpenPart].
type Message interface {
	// ID is the message's ID in its folder.
	ID() ID
	// Folder is the folder the message was listed from.
	Folder() string
	// Size is the size of the raw message in bytes (as the server counts
	// it; POP3 and IMAP count CRLF line ends).
	Size() int64
	// Date is the internal date (when the store received the message),
	// else the Date header, else the zero time.
	Date() time.Time
	// Flags are the message's flags (nil without [CapFlags]).
	Flags() []Flag
	// HasFlag reports whether the message has flag f.
	HasFlag(f Flag) bool
	// Header is the parsed header if it was fetched (ListOptions.Headers,
	// FetchOptions.Headers), else the zero Header.
	Header() Header
	// Structure is the MIME part tree if it was fetched
	// (FetchOptions.Structure), else nil (List never fetches it): ask for
	// it, or call [Mailbox.Structure], before calling its methods.
	Structure() *PartInfo
	// Info returns all of the metadata as a plain value.
	Info() MessageInfo
	// Open streams the raw message; see [Mailbox.Open].
	Open(ctx context.Context) (io.ReadCloser, error)
}

// MessageInfo is the metadata of a message as a plain value, as
// [Message].Info returns it. Drivers fill one per message and turn it into
// a Message (package driver's NewMessage does).
type MessageInfo struct {
	ID     ID
	Folder string
	// UID is the numeric IMAP UID, or 0 for stores without one.
	UID  uint32
	Size int64
	// InternalDate is when the store received the message; zero if unknown.
	InternalDate time.Time
	Flags        []Flag
	// ModSeq is the message's modification sequence with [CapChanges].
	ModSeq uint64
	// Structure is the MIME part tree when it was requested
	// (FetchOptions.Structure).
	Structure *PartInfo
	// Header is set when headers were requested.
	Header Header

	// UnstableID reports that ID holds only for the current session of the
	// Mailbox: do not store it. POP3 sets it on a message whose UIDL the
	// server gives to more than one message, and on every message of a
	// server without UIDL; such a message is best identified by content.
	UnstableID bool
}
