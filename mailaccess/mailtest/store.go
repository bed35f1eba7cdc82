package mailtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// Profiles: capability sets that imitate the real drivers. Any other
// [mailaccess.Capability] value works as well.
const (
	// ProfilePOP3 is a POP3 server with UIDL, TOP and deferred deletes: one
	// INBOX, stable IDs, header fetch, delete applied at Commit. No flags,
	// server-side search or sort (Search and Sort work locally, as the
	// pop3 driver's do), append, push, folders, move or copy. Like the
	// driver it has no numeric UIDs, UIDVALIDITY or UIDNEXT, and Status
	// reports Unseen as unknown (a test in package pop3 compares them).
	ProfilePOP3 = mailaccess.CapUID | mailaccess.CapHeaders | mailaccess.CapDelete | mailaccess.CapDeferredDelete
	// ProfileIMAP is a full IMAP server (IDLE, MOVE, CONDSTORE, SORT):
	// everything except offline and deferred deletes.
	ProfileIMAP = mailaccess.CapFolders | mailaccess.CapUID | mailaccess.CapFlags | mailaccess.CapKeywords |
		mailaccess.CapHeaders | mailaccess.CapPartial | mailaccess.CapSearch | mailaccess.CapPush |
		mailaccess.CapDelete | mailaccess.CapAppend | mailaccess.CapMove | mailaccess.CapCopy |
		mailaccess.CapChanges | mailaccess.CapManageFolders | mailaccess.CapSort
	// ProfileMaildir is what the Maildir store (package maildir) offers,
	// exactly (a test there compares them): folders, stable IDs, flags and
	// keywords, header fetch, search (a local scan), delete, append, move,
	// copy, folder management, offline. No push, partial fetch or change
	// sequence.
	ProfileMaildir = mailaccess.CapFolders | mailaccess.CapUID | mailaccess.CapFlags | mailaccess.CapKeywords |
		mailaccess.CapHeaders | mailaccess.CapSearch | mailaccess.CapDelete | mailaccess.CapAppend | mailaccess.CapMove |
		mailaccess.CapCopy | mailaccess.CapOffline | mailaccess.CapManageFolders
)

// ProfileByName returns the capabilities of a profile name as accepted by
// the "profile" option of mem:// URLs: "pop3", "imap", "maildir", "all",
// or capability names as parsed by [mailaccess.ParseCapability].
func ProfileByName(name string) (mailaccess.Capability, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "imap":
		return ProfileIMAP, nil
	case "pop3":
		return ProfilePOP3, nil
	case "maildir":
		return ProfileMaildir, nil
	case "all":
		return mailaccess.AllCapabilities, nil
	}
	caps, err := mailaccess.ParseCapability(name)
	if err != nil {
		return 0, fmt.Errorf("mailtest: profile %q is neither a profile name (pop3, imap, maildir, all) nor a capability list: %w: %w", name, err, mailaccess.ErrInvalid)
	}
	return caps, nil
}

// Op names an operation of the fake, for fault injection. Its value is the
// Op recorded in the [mailaccess.OpError] the operation returns.
type Op string

// The operations.
const (
	OpFolders      Op = "folders"
	OpStatus       Op = "status"
	OpList         Op = "list"
	OpOpen         Op = "open"
	OpFetchHeader  Op = "fetch header"
	OpSetFlags     Op = "set flags"
	OpDelete       Op = "delete"
	OpAppend       Op = "append"
	OpMove         Op = "move"
	OpCopy         Op = "copy"
	OpSearch       Op = "search"
	OpWatch        Op = "watch"
	OpCommit       Op = "commit"
	OpRollback     Op = "rollback"
	OpSort         Op = "sort"
	OpCreateFolder Op = "create folder"
	OpRenameFolder Op = "rename folder"
	OpDeleteFolder Op = "delete folder"
	OpFetch        Op = "fetch"
	OpStructure    Op = "structure"
	OpOpenPart     Op = "open part"
)

// ErrInjected is the error an injected fault returns when none is given.
var ErrInjected = errors.New("mailtest: injected fault")

// ErrConnectionDropped is the cause of every error returned by a handle
// after [Store.DropConnections].
var ErrConnectionDropped = errors.New("mailtest: connection dropped")

// Store is the shared state of the fake: folders and messages, and the
// faults set on them. Several [Mailbox] handles (from [Store.Open], [New] or
// mem:// URLs) may use one Store at once. Its methods are the test-side
// controls; they bypass capabilities and are safe for concurrent use.
type Store struct {
	mu        sync.Mutex
	folders   map[string]*folder
	nextValid uint32
	changed   chan struct{} // closed and replaced on every change
	handles   map[*Mailbox]struct{}
	watching  map[string]int

	faultMu sync.Mutex
	calls   map[Op]int
	nth     map[Op][]nthFault
	always  map[Op]error
	cut     int64
	latency time.Duration
}

type nthFault struct {
	at  int // fail when calls[op] reaches at
	err error
}

type folder struct {
	name        string
	uidValidity uint32
	uidNext     uint32
	modSeq      uint64
	msgs        []*stored // ascending UID
}

type stored struct {
	uid    uint32
	raw    []byte // never modified after storing
	flags  []mailaccess.Flag
	date   time.Time
	modSeq uint64
}

// NewStore returns an empty store holding only INBOX.
func NewStore() *Store {
	s := &Store{
		folders:   map[string]*folder{},
		nextValid: 1000,
		changed:   make(chan struct{}),
		handles:   map[*Mailbox]struct{}{},
		watching:  map[string]int{},
		calls:     map[Op]int{},
		nth:       map[Op][]nthFault{},
		always:    map[Op]error{},
		cut:       -1,
	}
	s.createLocked(mailaccess.Inbox)
	return s
}

var (
	namedMu sync.Mutex
	named   = map[string]*Store{}
)

// NamedStore returns the process-wide store called name, creating it empty
// on first use. mem://NAME URLs open handles on it. Tests that run in
// parallel should use distinct names (t.Name() is a good one) and may call
// [RemoveNamedStore] in a cleanup.
func NamedStore(name string) *Store {
	namedMu.Lock()
	defer namedMu.Unlock()
	s := named[name]
	if s == nil {
		s = NewStore()
		named[name] = s
	}
	return s
}

// RemoveNamedStore forgets the named store, so that the next
// [NamedStore] (or mem://NAME) starts empty. Open handles keep working on
// the old store.
func RemoveNamedStore(name string) {
	namedMu.Lock()
	defer namedMu.Unlock()
	delete(named, name)
}

func init() {
	driver.Register(driver.Scheme{
		Name:    "mem",
		Form:    driver.FormStore,
		Options: []string{"profile"},
		Validate: func(cfg mailaccess.Config) error {
			if _, err := ProfileByName(cfg.Options["profile"]); err != nil {
				return fmt.Errorf("opt.profile: %w", err)
			}
			return nil
		},
		Open: func(ctx context.Context, cfg mailaccess.Config) (mailaccess.Mailbox, error) {
			if err := ctx.Err(); err != nil {
				return nil, opErr("open", "", err)
			}
			caps, err := ProfileByName(cfg.Options["profile"])
			if err != nil {
				return nil, opErr("open", "", fmt.Errorf("%w: %w", err, mailaccess.ErrInvalid))
			}
			var s *Store
			if cfg.Path == "" {
				s = NewStore()
			} else {
				s = NamedStore(cfg.Path)
			}
			return s.Open(caps), nil
		},
	})
}

func canonFolder(name string) string {
	if strings.EqualFold(name, mailaccess.Inbox) {
		return mailaccess.Inbox
	}
	return name
}

func (s *Store) createLocked(name string) *folder {
	name = canonFolder(name)
	if f := s.folders[name]; f != nil {
		return f
	}
	s.nextValid++
	f := &folder{name: name, uidValidity: s.nextValid, uidNext: 1, modSeq: 1}
	s.folders[name] = f
	return f
}

// notifyLocked wakes the watchers. s.mu must be held.
func (s *Store) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (f *folder) index(uid uint32) int {
	i := sort.Search(len(f.msgs), func(i int) bool { return f.msgs[i].uid >= uid })
	if i < len(f.msgs) && f.msgs[i].uid == uid {
		return i
	}
	return -1
}

func (f *folder) appendLocked(raw []byte, flags []mailaccess.Flag, date time.Time) *stored {
	f.modSeq++
	m := &stored{uid: f.uidNext, raw: raw, flags: normFlags(flags), date: date, modSeq: f.modSeq}
	f.uidNext++
	f.msgs = append(f.msgs, m)
	return m
}

func (f *folder) removeLocked(uids map[uint32]bool) []uint32 {
	var gone []uint32
	f.msgs = slices.DeleteFunc(f.msgs, func(m *stored) bool {
		if uids[m.uid] {
			gone = append(gone, m.uid)
			return true
		}
		return false
	})
	if len(gone) > 0 {
		f.modSeq++
	}
	return gone
}

func normFlags(flags []mailaccess.Flag) []mailaccess.Flag {
	var out []mailaccess.Flag
	for _, f := range flags {
		if f == "" {
			continue
		}
		if !containsFlag(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func containsFlag(flags []mailaccess.Flag, f mailaccess.Flag) bool {
	return slices.ContainsFunc(flags, func(g mailaccess.Flag) bool { return strings.EqualFold(string(f), string(g)) })
}

// Add delivers raw to folder (created if missing) as the server would,
// with the given flags and the current time as internal date, and returns
// its ID. It bypasses capabilities and faults, and wakes watchers. raw is
// copied.
func (s *Store) Add(folder string, raw []byte, flags ...mailaccess.Flag) mailaccess.ID {
	return s.AddWithDate(folder, raw, time.Now(), flags...)
}

// AddWithDate is [Store.Add] with a given internal date.
func (s *Store) AddWithDate(folder string, raw []byte, date time.Time, flags ...mailaccess.Flag) mailaccess.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.createLocked(folder)
	m := f.appendLocked(bytes.Clone(raw), flags, date)
	s.notifyLocked()
	return idOf(m.uid)
}

// AddFolder creates folder if it does not exist, as an administrator
// would, whatever the capabilities.
func (s *Store) AddFolder(folder string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.createLocked(folder)
}

// AddFiles delivers every file matching the glob pattern (as
// [filepath.Glob]) to folder, in name order, and returns their IDs.
func (s *Store) AddFiles(folder, pattern string) ([]mailaccess.ID, error) {
	names, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var ids []mailaccess.ID
	for _, n := range names {
		raw, err := os.ReadFile(n)
		if err != nil {
			return ids, err
		}
		ids = append(ids, s.Add(folder, raw))
	}
	return ids, nil
}

// SeedEML delivers every *.eml file of dir to INBOX, in name order.
func (s *Store) SeedEML(dir string) ([]mailaccess.ID, error) {
	return s.AddFiles(mailaccess.Inbox, filepath.Join(dir, "*.eml"))
}

// Expunge removes messages from folder as another client would, and
// reports how many existed. Unknown IDs are ignored.
func (s *Store) Expunge(folder string, ids ...mailaccess.ID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.folders[canonFolder(folder)]
	if f == nil {
		return 0
	}
	set := map[uint32]bool{}
	for _, id := range ids {
		if uid, ok := parseID(id); ok {
			set[uid] = true
		}
	}
	n := len(f.removeLocked(set))
	if n > 0 {
		s.notifyLocked()
	}
	return n
}

// ResetUIDValidity simulates a server that lost its UID database: the
// folder gets a new UIDVALIDITY and its messages are renumbered from 1, so
// every ID held by a client is void. Pending deferred deletes of the folder
// are dropped.
func (s *Store) ResetUIDValidity(folder string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.folders[canonFolder(folder)]
	if f == nil {
		return
	}
	s.nextValid++
	f.uidValidity = s.nextValid
	f.modSeq++
	for i, m := range f.msgs {
		m.uid = uint32(i + 1)
		m.modSeq = f.modSeq
	}
	f.uidNext = uint32(len(f.msgs) + 1)
	// Pending deferred deletes named the old UIDs: they are void now, as a
	// real server's session would end.
	for h := range s.handles {
		h.mu.Lock()
		delete(h.pending, f.name)
		h.mu.Unlock()
	}
	s.notifyLocked()
}

// SetFlagsDirect changes flags as another client would (keywords allowed
// whatever the capabilities) and reports whether the message exists.
func (s *Store) SetFlagsDirect(folder string, id mailaccess.ID, op mailaccess.FlagOp, flags ...mailaccess.Flag) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.folders[canonFolder(folder)]
	uid, ok := parseID(id)
	if f == nil || !ok || f.index(uid) < 0 {
		return false
	}
	m := f.msgs[f.index(uid)]
	if applyFlags(m, op, flags) {
		f.modSeq++
		m.modSeq = f.modSeq
		s.notifyLocked()
	}
	return true
}

func applyFlags(m *stored, op mailaccess.FlagOp, flags []mailaccess.Flag) bool {
	old := slices.Clone(m.flags)
	switch op {
	case mailaccess.AddFlags:
		m.flags = normFlags(append(m.flags, flags...))
	case mailaccess.RemoveFlags:
		m.flags = slices.DeleteFunc(m.flags, func(g mailaccess.Flag) bool { return containsFlag(flags, g) })
	case mailaccess.ReplaceFlags:
		m.flags = normFlags(flags)
	}
	if len(old) != len(m.flags) {
		return true
	}
	for _, f := range old {
		if !containsFlag(m.flags, f) {
			return true
		}
	}
	return false
}

// StoredMessage is a snapshot of one message of the store.
type StoredMessage struct {
	ID     mailaccess.ID
	UID    uint32
	Raw    []byte
	Flags  []mailaccess.Flag
	Date   time.Time
	ModSeq uint64
}

// Messages returns a snapshot of folder's messages in UID order (nil if
// the folder does not exist). Raw is shared with the store: do not modify
// it.
func (s *Store) Messages(folder string) []StoredMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.folders[canonFolder(folder)]
	if f == nil {
		return nil
	}
	out := make([]StoredMessage, 0, len(f.msgs))
	for _, m := range f.msgs {
		out = append(out, StoredMessage{ID: idOf(m.uid), UID: m.uid, Raw: m.raw, Flags: slices.Clone(m.flags), Date: m.date, ModSeq: m.modSeq})
	}
	return out
}

// FolderNames returns the names of the folders, sorted, INBOX first.
func (s *Store) FolderNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.folderNamesLocked()
}

func (s *Store) folderNamesLocked() []string {
	names := make([]string, 0, len(s.folders))
	for n := range s.folders {
		if n != mailaccess.Inbox {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return append([]string{mailaccess.Inbox}, names...)
}

func (s *Store) watchers(folder string, delta int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watching[folder] += delta
}

// Watching returns how many Watch iterations on folder are running and have
// taken their initial snapshot, so that a test can deliver a message
// only once its watcher will see it:
//
//	for mb.Watching("INBOX") == 0 { runtime.Gosched() }
//	mb.Add("INBOX", raw)
func (s *Store) Watching(folder string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watching[canonFolder(folder)]
}

// FailNth makes the n-th call of op from now on (n >= 1, counted over every
// handle of the store) fail once with err (ErrInjected if nil), wrapped in
// an [*mailaccess.OpError].
func (s *Store) FailNth(op Op, n int, err error) {
	if n < 1 {
		n = 1
	}
	if err == nil {
		err = ErrInjected
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.nth[op] = append(s.nth[op], nthFault{at: s.calls[op] + n, err: err})
}

// FailAlways makes every call of op fail with err (ErrInjected if nil)
// until [Store.ClearFaults].
func (s *Store) FailAlways(op Op, err error) {
	if err == nil {
		err = ErrInjected
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.always[op] = err
}

// ClearFaults removes every fault: pending FailNth and FailAlways, the body
// cut and the latency.
func (s *Store) ClearFaults() {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.nth = map[Op][]nthFault{}
	s.always = map[Op]error{}
	s.cut = -1
	s.latency = 0
}

// Calls returns how many times op was called on the store's handles
// (including failed calls), for asserting that code retried or batched.
func (s *Store) Calls(op Op) int {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.calls[op]
}

// CutBodyAfter makes every reader returned by Open from now on fail after
// n bytes with an error wrapping [io.ErrUnexpectedEOF], as a connection
// lost mid-message would. A negative n removes the cut.
func (s *Store) CutBodyAfter(n int64) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.cut = n
}

// SetLatency delays every later call by d (a call whose context ends first
// returns the context's error).
func (s *Store) SetLatency(d time.Duration) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.latency = d
}

// DropConnections breaks every handle open now, as a lost connection
// would: their calls fail with [ErrConnectionDropped] and their pending
// deferred deletes are discarded. Handles opened later work.
func (s *Store) DropConnections() {
	s.mu.Lock()
	hs := make([]*Mailbox, 0, len(s.handles))
	for h := range s.handles {
		hs = append(hs, h)
	}
	s.handles = map[*Mailbox]struct{}{}
	s.notifyLocked()
	s.mu.Unlock()
	for _, h := range hs {
		h.mu.Lock()
		h.dropped = true
		h.pending = nil
		h.mu.Unlock()
	}
}

// fault counts a call of op and returns the latency to add and the
// injected error for it, if any.
func (s *Store) fault(op Op) (time.Duration, error) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.calls[op]++
	if err := s.always[op]; err != nil {
		return s.latency, err
	}
	fs := s.nth[op]
	for i, f := range fs {
		if f.at == s.calls[op] {
			s.nth[op] = slices.Delete(fs, i, i+1)
			return s.latency, f.err
		}
	}
	return s.latency, nil
}

func (s *Store) bodyCut() int64 {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.cut
}

func idOf(uid uint32) mailaccess.ID { return mailaccess.ID(strconv.FormatUint(uint64(uid), 10)) }

func parseID(id mailaccess.ID) (uint32, bool) {
	if id == "" || len(id) > 10 || id[0] == '0' || id[0] == '+' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(id), 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint32(n), true
}

// roleOf guesses a folder's special use from its name.
func roleOf(name string) mailaccess.Role {
	base := name
	if i := strings.LastIndex(name, "/"); i >= 0 {
		base = name[i+1:]
	}
	switch strings.ToLower(base) {
	case "inbox":
		if name == mailaccess.Inbox {
			return mailaccess.RoleInbox
		}
	case "sent", "sent messages", "sent items", "sent mail":
		return mailaccess.RoleSent
	case "drafts", "draft":
		return mailaccess.RoleDrafts
	case "trash", "deleted items", "deleted messages", "bin":
		return mailaccess.RoleTrash
	case "junk", "spam", "junk e-mail", "junk email":
		return mailaccess.RoleJunk
	case "archive", "archives":
		return mailaccess.RoleArchive
	}
	return mailaccess.RoleNone
}
