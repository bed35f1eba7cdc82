package maildir

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

const protocol = "maildir"

// Capabilities is what a Store can do. It has no [mailaccess.CapPush] (a
// Maildir has no server to push: Watch polls), no [mailaccess.CapPartial]
// (a local file is read whole; Open with a non-zero OpenOptions is
// refused, while Structure and OpenPart read the file up to what they
// need), and no [mailaccess.CapChanges] (a Maildir keeps no modification
// sequence, so "what changed since" needs a directory scan, which List
// is).
const Capabilities = mailaccess.CapFolders | mailaccess.CapUID | mailaccess.CapFlags |
	mailaccess.CapKeywords | mailaccess.CapHeaders | mailaccess.CapSearch |
	mailaccess.CapDelete | mailaccess.CapAppend | mailaccess.CapMove |
	mailaccess.CapCopy | mailaccess.CapOffline | mailaccess.CapManageFolders

// Options tune a Store; nil means the defaults.
type Options struct {
	// DeferDirSync makes Append (and Delete, Move, Copy, SetFlags) return
	// without fsyncing the directories they changed; [Store.Flush] then
	// fsyncs every changed directory once. The message file itself is
	// always fsynced before Append returns. Use it to batch many appends;
	// a program that sets it must call Flush before relying on them.
	DeferDirSync bool
	// NoCreate makes Open fail if root is not already a Maildir, instead
	// of creating root, cur, new and tmp.
	NoCreate bool
	// WrapFS, if set, wraps the file-system layer (an [os.Root] on the
	// root directory), for example to inject faults in tests.
	WrapFS func(FS) FS
	// Logger receives the store's logs; nil means silent.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	// fromConfig: opened from a URL or Config, where the option to
	// create is opt.create (for error messages).
	fromConfig bool
}

// Store is a Maildir tree seen as a [mailaccess.Mailbox]. It is safe for
// concurrent use. See the package documentation for the layout and the
// durability rules.
type Store struct {
	root      *os.Root
	path      string
	fsys      FS
	opts      Options
	now       func() time.Time
	log       *slog.Logger
	mu        sync.Mutex
	dirs      map[string]*dirState // by folder directory ("." for INBOX)
	dirty     map[string]bool      // directories changed but not yet fsynced
	staged    []staged             // keyed appends written but not yet published
	tempFDs   int                  // open unnamed staged files, counting those being written
	tempCap   int                  // at most this many (stagedFDCap; tests lower it)
	noTemp    bool                 // the FS cannot create unnamed files: stage named ones
	flushMu   sync.Mutex           // serializes publishing and Flush, taken before mu
	closed    bool
	stateOnce sync.Once
	state     *stateStore
	stateErr  error
}

// dirState caches what the store knows of one folder directory.
type dirState struct {
	loaded bool
	files  map[mailaccess.ID]string // ID -> "new/NAME" or "cur/NAME:2,INFO"
	keys   map[string]mailaccess.ID // AppendWithKey key -> ID
	pend   map[string]bool          // keys being appended
	stage  map[string]mailaccess.ID // keys staged in tmp/, not yet published
	kw     []string                 // keyword of letter 'a'+i
	kwOK   bool
}

var (
	_ mailaccess.Mailbox          = (*Store)(nil)
	_ driver.Flusher              = (*Store)(nil)
	_ driver.FolderManager        = (*Store)(nil)
	_ driver.KeyedAppender        = (*Store)(nil)
	_ driver.OrderedAppender      = (*Store)(nil)
	_ driver.NewKeyAppender       = (*Store)(nil)
	_ driver.FlagReplacer         = (*Store)(nil)
	_ driver.Protocoler           = (*Store)(nil)
	_ mailsync.StateStoreProvider = (*Store)(nil)
)

func init() {
	driver.Register(driver.Scheme{
		Name:     "maildir",
		Form:     driver.FormPath,
		Options:  []string{"create", "defer_dir_sync", "no_create"},
		Validate: func(cfg mailaccess.Config) error { _, err := optionsOf(cfg); return err },
		Open: func(ctx context.Context, cfg mailaccess.Config) (mailaccess.Mailbox, error) {
			o, err := optionsOf(cfg)
			if err != nil {
				return nil, err
			}
			return Open(cfg.Path, o)
		},
	})
}

// optionsOf reads the driver options of a maildir:// Config. Unlike the
// Go API, a Config does not create a missing Maildir unless opt.create
// is true: a path from configuration is easily mistyped.
func optionsOf(cfg mailaccess.Config) (*Options, error) {
	o := &Options{Logger: cfg.Logger, NoCreate: true}
	var create, noCreate *bool
	for k, v := range cfg.Options {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("option opt.%s=%q: want true or false: %w", k, v, mailaccess.ErrInvalid)
		}
		switch k {
		case "defer_dir_sync":
			o.DeferDirSync = b
		case "create":
			create = &b
		case "no_create":
			noCreate = &b
		}
	}
	if create != nil && noCreate != nil && *create == *noCreate {
		return nil, fmt.Errorf("opt.create=%t contradicts opt.no_create=%t (use opt.create alone): %w", *create, *noCreate, mailaccess.ErrInvalid)
	}
	switch {
	case create != nil:
		o.NoCreate = !*create
	case noCreate != nil:
		o.NoCreate = *noCreate
	}
	o.fromConfig = true
	return o, nil
}

// Open opens the Maildir at root (its INBOX: root/cur, root/new,
// root/tmp), creating it unless opts.NoCreate.
func Open(root string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if !o.NoCreate {
		if err := os.MkdirAll(root, 0o700); err != nil {
			return nil, &mailaccess.OpError{Op: "open", Protocol: protocol, Err: err}
		}
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("no Maildir at %s (%s): %w", root, o.createHint(), err)
		}
		return nil, &mailaccess.OpError{Op: "open", Protocol: protocol, Err: notFound(err)}
	}
	s := &Store{root: r, path: root, opts: o, dirs: map[string]*dirState{}, dirty: map[string]bool{}, tempCap: stagedFDCap()}
	s.fsys = rootFS{r}
	if o.WrapFS != nil {
		s.fsys = o.WrapFS(s.fsys)
	}
	s.now = o.Now
	if s.now == nil {
		s.now = time.Now
	}
	s.log = o.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if !o.NoCreate {
		if err := s.makeMaildir("."); err != nil {
			r.Close()
			return nil, &mailaccess.OpError{Op: "open", Protocol: protocol, Err: err}
		}
	} else if _, err := s.fsys.Stat("cur"); err != nil {
		r.Close()
		return nil, &mailaccess.OpError{Op: "open", Protocol: protocol, Err: fmt.Errorf("%s is not a Maildir (no cur directory; %s): %w", root, o.createHint(), notFound(err))}
	}
	return s, nil
}

// createHint says how to have Open create a missing Maildir.
func (o *Options) createHint() string {
	if o.fromConfig {
		return "check the path, or add opt.create=true to the URL to create one"
	}
	return "check the path, or leave Options.NoCreate false to create one"
}

// Path returns the root directory the Store was opened on.
func (s *Store) Path() string { return s.path }

// Protocol returns "maildir".
func (s *Store) Protocol() string { return protocol }

// Capabilities returns [Capabilities].
func (s *Store) Capabilities() mailaccess.Capability { return Capabilities }

// As sets *target to the Store when target is a **Store, and a pointer to
// an optional interface of package driver (or mailsync) that the Store
// implements to the Store.
func (s *Store) As(target any) bool {
	if driver.AsInterface(s, target) {
		return true
	}
	if t, ok := target.(**Store); ok {
		*t = s
		return true
	}
	return false
}

// Close releases the Store. It does not flush (call Flush first when
// DeferDirSync is set): keyed appends still staged are discarded. It does
// not release a sync lock taken through SyncState (call its unlock
// function).
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	// Staged appends that were never flushed are not stored: close their
	// unnamed files (which frees them) or remove their files from tmp/.
	for _, st := range s.staged {
		s.discardLocked(st)
	}
	s.staged = nil
	return s.root.Close()
}

func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) && !errors.Is(err, mailaccess.ErrNotFound) {
		return fmt.Errorf("%w: %w", mailaccess.ErrNotFound, err)
	}
	return err
}

// errs makes the store's errors; a missing file or directory is
// mailaccess.ErrNotFound.
var errs = driver.Errors{Protocol: protocol, Classify: notFound}

func opErr(op, folder string, err error) error {
	return errs.Op(op, folder, err)
}

// begin checks the context and that the store is open.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return mailaccess.ErrClosed
	}
	return nil
}

// makeMaildir creates dir's cur, new and tmp where missing and makes the
// new entries durable.
func (s *Store) makeMaildir(dir string) error {
	created := false
	for _, d := range []string{join(dir, "cur"), join(dir, "new"), join(dir, "tmp")} {
		err := s.fsys.Mkdir(d, 0o700)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		created = created || err == nil
	}
	if created {
		return s.fsys.SyncDir(dir)
	}
	return nil
}

// folder resolves a folder name to its directory and checks it exists.
func (s *Store) folder(name string) (string, error) {
	dir, err := folderDir(name)
	if err != nil {
		return "", err
	}
	if dir != "." {
		if _, err := s.fsys.Stat(join(dir, "cur")); err != nil {
			return "", fmt.Errorf("folder %q: %w", name, notFound(err))
		}
	}
	return dir, nil
}

// markDirty records that a directory must be fsynced, or fsyncs it now
// when deferral is off.
func (s *Store) syncDir(dir string, deferred bool) error {
	if deferred {
		s.mu.Lock()
		s.dirty[dir] = true
		s.mu.Unlock()
		return nil
	}
	return s.fsys.SyncDir(dir)
}

// Flush fsyncs every directory changed by an operation whose directory
// sync was deferred (Options.DeferDirSync, AppendWithKey). When it returns
// nil, every such operation that had returned before the call is durable.
func (s *Store) Flush(ctx context.Context) error {
	if err := s.begin(ctx); err != nil {
		return opErr("flush", "", err)
	}
	// One Flush at a time, and none while an append publishes early: a
	// Flush must not return before the publishing it did not do itself
	// is complete.
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if err := s.publishStaged(); err != nil {
		return opErr("flush", "", err)
	}
	s.mu.Lock()
	dirs := make([]string, 0, len(s.dirty))
	for d := range s.dirty {
		dirs = append(dirs, d)
	}
	clear(s.dirty)
	s.mu.Unlock()
	slices.Sort(dirs)
	var errs []error
	for i, d := range dirs {
		if err := s.fsys.SyncDir(d); err != nil {
			errs = append(errs, err)
			s.mu.Lock()
			for _, d := range dirs[i:] {
				s.dirty[d] = true
			}
			s.mu.Unlock()
			break
		}
	}
	return opErr("flush", "", errors.Join(errs...))
}

// scan reads a folder directory's new/ and cur/ and refreshes its cache.
// Called with s.mu held.
func (s *Store) scanLocked(dir string) (*dirState, error) {
	ds := s.dirs[dir]
	if ds == nil {
		ds = &dirState{pend: map[string]bool{}, stage: map[string]mailaccess.ID{}}
		s.dirs[dir] = ds
	}
	files := make(map[mailaccess.ID]string, len(ds.files))
	keys := map[string]mailaccess.ID{}
	for _, sub := range []string{"new", "cur"} {
		ents, err := s.fsys.ReadDir(join(dir, sub))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			name := e.Name()
			if strings.HasPrefix(name, ".") || e.IsDir() {
				continue
			}
			id, _ := splitName(name)
			if id == "" {
				continue
			}
			files[mailaccess.ID(id)] = sub + "/" + name
			if k, ok := keyFromName(id); ok {
				keys[k] = mailaccess.ID(id)
			}
		}
	}
	ds.files, ds.keys, ds.loaded = files, keys, true
	if err := s.loadKeywordsLocked(dir, ds); err != nil {
		return nil, err
	}
	return ds, nil
}

func (s *Store) stateLocked(dir string) (*dirState, error) {
	if ds := s.dirs[dir]; ds != nil && ds.loaded {
		return ds, nil
	}
	return s.scanLocked(dir)
}

// dirLocked returns a folder directory's cache without scanning the
// folder: its files and keys maps hold only what this Store added unless
// ds.loaded, but its staged and pending keys and its keywords are
// complete. Called with s.mu held.
func (s *Store) dirLocked(dir string) (*dirState, error) {
	ds := s.dirs[dir]
	if ds == nil {
		ds = &dirState{files: map[mailaccess.ID]string{}, keys: map[string]mailaccess.ID{}, pend: map[string]bool{}, stage: map[string]mailaccess.ID{}}
		s.dirs[dir] = ds
	}
	if !ds.kwOK {
		if err := s.loadKeywordsLocked(dir, ds); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// locate returns the path (relative to the root) of a message file.
func (s *Store) locate(dir string, id mailaccess.ID) (string, error) {
	if err := validID(id); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ds, err := s.stateLocked(dir)
	if err != nil {
		return "", err
	}
	if p, ok := ds.files[id]; ok {
		if _, err := s.fsys.Stat(join(dir, p)); err == nil {
			return join(dir, p), nil
		}
	}
	// A mail reader may have renamed it: rescan once.
	if ds, err = s.scanLocked(dir); err != nil {
		return "", err
	}
	if p, ok := ds.files[id]; ok {
		return join(dir, p), nil
	}
	return "", fmt.Errorf("message %s: %w", id, mailaccess.ErrNotFound)
}

// Folders lists INBOX and every sub-Maildir ".Name" of the root.
func (s *Store) Folders(ctx context.Context) ([]mailaccess.Folder, error) {
	if err := s.begin(ctx); err != nil {
		return nil, opErr("folders", "", err)
	}
	ents, err := s.fsys.ReadDir(".")
	if err != nil {
		return nil, opErr("folders", "", err)
	}
	out := []mailaccess.Folder{{Name: mailaccess.Inbox, Delimiter: ".", Role: mailaccess.RoleInbox}}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, ".") || n == "." || n == ".." || !e.IsDir() {
			continue
		}
		name := folderName(n)
		if d, err := folderDir(name); err != nil || d != n {
			continue
		}
		if _, err := s.fsys.Stat(join(n, "cur")); err != nil {
			continue
		}
		out = append(out, mailaccess.Folder{Name: name, Delimiter: ".", Role: roleOf(name)})
	}
	slices.SortFunc(out[1:], func(a, b mailaccess.Folder) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func roleOf(name string) mailaccess.Role {
	switch strings.ToLower(name) {
	case "sent", "sent messages", "sent items":
		return mailaccess.RoleSent
	case "drafts":
		return mailaccess.RoleDrafts
	case "trash", "deleted messages":
		return mailaccess.RoleTrash
	case "junk", "spam":
		return mailaccess.RoleJunk
	case "archive":
		return mailaccess.RoleArchive
	}
	return mailaccess.RoleNone
}

// entry is one listed message file.
type entry struct {
	id   mailaccess.ID
	path string // relative to the root
	info string
}

// entries scans a folder and returns its messages sorted by ID, with the
// keywords in force.
func (s *Store) entries(dir string) ([]entry, []string, error) {
	s.mu.Lock()
	ds, err := s.scanLocked(dir)
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	out := make([]entry, 0, len(ds.files))
	for id, p := range ds.files {
		_, info := splitName(p)
		out = append(out, entry{id: id, path: join(dir, p), info: info})
	}
	kw := slices.Clone(ds.kw)
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(string(a.id), string(b.id)) })
	return out, kw, nil
}

// Status counts a folder's messages. UIDValidity is the constant kept in
// the folder's "mailaccess-uidvalidity" file (created on first use);
// UIDNext and HighestModSeq are 0.
func (s *Store) Status(ctx context.Context, folder string) (mailaccess.FolderStatus, error) {
	if err := s.begin(ctx); err != nil {
		return mailaccess.FolderStatus{}, opErr("status", folder, err)
	}
	dir, err := s.folder(folder)
	if err != nil {
		return mailaccess.FolderStatus{}, opErr("status", folder, err)
	}
	ents, _, err := s.entries(dir)
	if err != nil {
		return mailaccess.FolderStatus{}, opErr("status", folder, err)
	}
	st := mailaccess.FolderStatus{Name: folder, Messages: len(ents), UIDValidity: s.uidValidity(dir)}
	for _, e := range ents {
		if !strings.Contains(e.info, "S") {
			st.Unseen++
		}
	}
	return st, nil
}

const uidValidityFile = "mailaccess-uidvalidity"

// uidValidity reads the folder's constant, creating it if missing. If it
// cannot be created (read-only store) it returns 1, still a constant.
func (s *Store) uidValidity(dir string) uint32 {
	name := join(dir, uidValidityFile)
	if v, ok := s.readUIDValidity(name); ok {
		return v
	}
	v := uint32(s.now().Unix())
	if v == 0 {
		v = 1
	}
	if err := s.writeFileAtomic(name, []byte(strconv.FormatUint(uint64(v), 10)+"\n"), false); err != nil {
		s.log.Debug("maildir: cannot record UIDVALIDITY", "dir", dir, "err", err)
		return 1
	}
	if v2, ok := s.readUIDValidity(name); ok {
		return v2
	}
	return v
}

func (s *Store) readUIDValidity(name string) (uint32, bool) {
	f, err := s.fsys.Open(name)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 64))
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	return uint32(v), err == nil && v != 0
}

// writeFileAtomic writes name via a temporary file, fsync and rename; the
// directory is fsynced too (now, or at Flush when deferred).
func (s *Store) writeFileAtomic(name string, data []byte, deferred bool) error {
	dir := name[:max(strings.LastIndexByte(name, '/'), 0)]
	if dir == "" {
		dir = "."
	}
	tmp := join(dir, ".tmp-"+uniqueName(s.now(), 0))
	f, err := s.fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.fsys.Rename(tmp, name)
	}
	if err != nil {
		s.fsys.Remove(tmp)
		return err
	}
	return s.syncDir(dir, deferred)
}

// List yields the folder's messages sorted by ID. Size comes from the
// ",S=" part of the name when present, else the file size; the internal
// date is the file's modification time. MinUID is ignored (Maildir has no
// numeric UIDs); ChangedSince is unsupported.
func (s *Store) List(ctx context.Context, folder string, opts *mailaccess.ListOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		if opts != nil && opts.ChangedSince != 0 {
			yield(nil, driver.Unsupported(protocol, "list changed since", mailaccess.CapChanges))
			return
		}
		if err := s.begin(ctx); err != nil {
			yield(nil, opErr("list", folder, err))
			return
		}
		dir, err := s.folder(folder)
		if err != nil {
			yield(nil, opErr("list", folder, err))
			return
		}
		ents, kw, err := s.entries(dir)
		if err != nil {
			yield(nil, opErr("list", folder, err))
			return
		}
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				yield(nil, opErr("list", folder, err))
				return
			}
			info, ok, err := s.info(folder, e, kw, opts != nil && opts.Headers)
			if err != nil {
				yield(nil, opErr("list", folder, err))
				return
			}
			if !ok {
				continue // removed since the scan
			}
			if !yield(driver.NewMessage(s, info), nil) {
				return
			}
		}
	}
}

// info builds a message's metadata; ok is false if the file vanished.
func (s *Store) info(folder string, e entry, kw []string, headers bool) (mailaccess.MessageInfo, bool, error) {
	fi, err := s.fsys.Stat(e.path)
	if errors.Is(err, fs.ErrNotExist) {
		return mailaccess.MessageInfo{}, false, nil
	}
	if err != nil {
		return mailaccess.MessageInfo{}, false, err
	}
	size, ok := sizeFromName(string(e.id))
	if !ok {
		size = fi.Size()
	}
	mi := mailaccess.MessageInfo{ID: e.id, Folder: folder, Size: size, InternalDate: fi.ModTime(),
		Flags: flagsFromInfo(e.info, kw)}
	if headers {
		h, err := s.readHeader(e.path)
		if errors.Is(err, fs.ErrNotExist) {
			return mailaccess.MessageInfo{}, false, nil
		}
		if err != nil {
			return mailaccess.MessageInfo{}, false, err
		}
		mi.Header = h
	}
	return mi, true, nil
}

func (s *Store) readHeader(p string) (mailaccess.Header, error) {
	f, err := s.fsys.Open(p)
	if err != nil {
		return mailaccess.Header{}, err
	}
	defer f.Close()
	return mailaccess.ParseHeader(bufio.NewReader(io.LimitReader(f, mailaccess.MaxHeaderBytes+1)))
}

// Open returns the message file, opened for reading (an *os.File with the
// default file-system layer). It never renames the file: a message in
// new/ stays there. OpenOptions selecting a part are unsupported.
func (s *Store) Open(ctx context.Context, folder string, id mailaccess.ID, opts *mailaccess.OpenOptions) (io.ReadCloser, error) {
	if !opts.IsZero() {
		return nil, driver.Unsupported(protocol, "partial open", mailaccess.CapPartial)
	}
	if err := s.begin(ctx); err != nil {
		return nil, opErr("open", folder, err)
	}
	dir, err := s.folder(folder)
	if err != nil {
		return nil, opErr("open", folder, err)
	}
	for try := 0; ; try++ {
		p, err := s.locate(dir, id)
		if err != nil {
			return nil, opErr("open", folder, err)
		}
		f, err := s.fsys.Open(p)
		if errors.Is(err, fs.ErrNotExist) && try == 0 {
			continue // renamed under us by a mail reader
		}
		if err != nil {
			return nil, opErr("open", folder, err)
		}
		return f, nil
	}
}

// FetchHeader reads a message's header from its file.
func (s *Store) FetchHeader(ctx context.Context, folder string, id mailaccess.ID) (mailaccess.Header, error) {
	if err := s.begin(ctx); err != nil {
		return mailaccess.Header{}, opErr("fetch header", folder, err)
	}
	dir, err := s.folder(folder)
	if err != nil {
		return mailaccess.Header{}, opErr("fetch header", folder, err)
	}
	p, err := s.locate(dir, id)
	if err != nil {
		return mailaccess.Header{}, opErr("fetch header", folder, err)
	}
	h, err := s.readHeader(p)
	return h, opErr("fetch header", folder, err)
}

// Append stores a message: it is written to tmp/ under a unique name,
// fsynced, renamed into new/ (or cur/ with its flags when opts has flags)
// and the directory is fsynced. It is durable when Append returns, unless
// Options.DeferDirSync is set: then it is durable when a later Flush
// returns. opts.Date sets the file's modification time (the internal
// date).
func (s *Store) Append(ctx context.Context, folder string, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	id, err := s.append(ctx, folder, "", nil, r, opts, s.opts.DeferDirSync)
	return id, opErr("append", folder, err)
}

// AppendWithKey is an idempotent Append for callers that must not store a
// message twice (the sync engine). key (1–128 bytes of A–Z a–z 0–9 - _)
// becomes part of the unique name ("SECONDS.KKEY.HOST,S=SIZE"); if the
// folder already holds (or has staged) a message with that key,
// AppendWithKey reads nothing from r and returns that message's ID.
//
// The message is staged: written without an fsync, seen by
// [Store.HasKey] at once, but neither visible to List and Open nor
// durable until a later [Store.Flush] returns nil, which publishes every
// staged message with one file-system sync (see the package doc). On
// Linux a staged message is an unnamed (O_TMPFILE) file in tmp/, held
// open until it is published; elsewhere, or where the file system has no
// unnamed files, a named file in tmp/. When 4096 unnamed files are held
// (fewer under a low RLIMIT_NOFILE), AppendWithKey first publishes the
// staged batch itself, as Flush would but without the directory syncs,
// so the messages may become visible before Flush. Close without Flush
// discards them. Two concurrent calls with the same key are refused.
func (s *Store) AppendWithKey(ctx context.Context, folder, key string, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	if !validKey(key) {
		return "", opErr("append", folder, fmt.Errorf("append key %q: want 1-128 of A-Z a-z 0-9 - _: %w", key, mailaccess.ErrInvalid))
	}
	id, err := s.append(ctx, folder, key, nil, r, opts, true)
	return id, opErr("append", folder, err)
}

// AppendWithKeyAt is [Store.AppendWithKey] for the message at position pos
// of a sequence started at start ([driver.OrderedAppender]): its name is
// "SECONDS.M<µs>Q<pos>KKEY.HOST,S=SIZE", with the start's seconds and
// microseconds and pos in ten digits, so that List, which sorts by ID,
// yields the messages of one sequence in the order of pos, after those of
// sequences started earlier, whatever order the appends finish in. The
// sync engine gives each run's messages their positions in the source.
func (s *Store) AppendWithKeyAt(ctx context.Context, folder, key string, start time.Time, pos int, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	if !validKey(key) {
		return "", opErr("append", folder, fmt.Errorf("append key %q: want 1-128 of A-Z a-z 0-9 - _: %w", key, mailaccess.ErrInvalid))
	}
	if pos < 0 || pos > 9_999_999_999 {
		return "", opErr("append", folder, fmt.Errorf("append position %d: want 0 to 9999999999: %w", pos, mailaccess.ErrInvalid))
	}
	name := func(size int64) string { return orderedName(start, pos, key, size) }
	id, err := s.append(ctx, folder, key, name, r, opts, true)
	return id, opErr("append", folder, err)
}

// AppendNewKeyAt is [Store.AppendWithKeyAt] for a key the caller knows
// was never appended to folder ([driver.NewKeyAppender]): it does not look
// for a message already stored with key, which on the first keyed append
// to a folder costs a scan of its directories (a message staged by this
// Store is still found). The sync engine uses it for mail its records
// prove new. If the key was appended after all, the folder holds the
// message twice.
func (s *Store) AppendNewKeyAt(ctx context.Context, folder, key string, start time.Time, pos int, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	if !validKey(key) {
		return "", opErr("append", folder, fmt.Errorf("append key %q: want 1-128 of A-Z a-z 0-9 - _: %w", key, mailaccess.ErrInvalid))
	}
	if pos < 0 || pos > 9_999_999_999 {
		return "", opErr("append", folder, fmt.Errorf("append position %d: want 0 to 9999999999: %w", pos, mailaccess.ErrInvalid))
	}
	name := func(size int64) string { return orderedName(start, pos, key, size) }
	id, err := s.appendLookup(ctx, folder, key, name, r, opts, true, false)
	return id, opErr("append", folder, err)
}

// HasKey reports whether folder holds a message appended with key, and
// its ID.
func (s *Store) HasKey(ctx context.Context, folder, key string) (mailaccess.ID, bool, error) {
	if err := s.begin(ctx); err != nil {
		return "", false, opErr("append", folder, err)
	}
	dir, err := s.folder(folder)
	if err != nil {
		return "", false, opErr("append", folder, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ds, err := s.stateLocked(dir)
	if err != nil {
		return "", false, opErr("append", folder, err)
	}
	if id, ok := ds.keys[key]; ok {
		return id, true, nil
	}
	id, ok := ds.stage[key]
	return id, ok, nil
}

func (s *Store) append(ctx context.Context, folder, key string, name func(size int64) string, r io.Reader, opts *mailaccess.AppendOptions, deferred bool) (mailaccess.ID, error) {
	return s.appendLookup(ctx, folder, key, name, r, opts, deferred, true)
}

// appendLookup is append; for a keyed append, lookup says whether to look
// for a message already stored with key, scanning the folder the first
// time (a key staged or published by this Store is found either way).
func (s *Store) appendLookup(ctx context.Context, folder, key string, name func(size int64) string, r io.Reader, opts *mailaccess.AppendOptions, deferred, lookup bool) (mailaccess.ID, error) {
	if err := s.begin(ctx); err != nil {
		return "", err
	}
	if opts == nil {
		opts = &mailaccess.AppendOptions{}
	}
	dir, err := s.folder(folder)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	var ds *dirState
	if lookup {
		ds, err = s.stateLocked(dir)
	} else {
		ds, err = s.dirLocked(dir)
	}
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	info := ""
	if len(opts.Flags) > 0 {
		info, err = infoFromFlags(opts.Flags, func(k string) (byte, error) { return s.keywordLocked(dir, ds, k) })
		if err != nil {
			s.mu.Unlock()
			return "", err
		}
	}
	if key != "" {
		if id, ok := ds.keys[key]; ok {
			if p, ok := ds.files[id]; ok {
				if _, err := s.fsys.Stat(join(dir, p)); err == nil {
					// Already stored (by a run that did not commit its
					// state): make sure its directory entry is synced.
					sub := p[:3]
					s.mu.Unlock()
					return id, s.syncDir(join(dir, sub), true)
				}
			}
		}
		if id, ok := ds.stage[key]; ok {
			s.mu.Unlock()
			return id, nil // staged by this process: published by Flush
		}
		if ds.pend[key] {
			s.mu.Unlock()
			return "", fmt.Errorf("append key %q is already being appended: %w", key, mailaccess.ErrInvalid)
		}
		ds.pend[key] = true
		defer func() {
			s.mu.Lock()
			delete(ds.pend, key)
			s.mu.Unlock()
		}()
	}
	s.mu.Unlock()

	now := s.now()
	if key != "" {
		// Keyed appends are staged instead: Flush makes the data of a
		// whole batch durable at once before publishing it.
		if name == nil {
			name = func(size int64) string { return keyedName(now, key, size) }
		}
		return s.stage(ctx, dir, ds, key, name, info != "" || len(opts.Flags) > 0, info, now, r, opts.Date)
	}
	tmp := join(dir, "tmp", uniqueName(now, 0))
	f, err := s.fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	size, err := io.Copy(f, ctxReader{ctx, r})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !opts.Date.IsZero() {
		err = s.fsys.Chtimes(tmp, opts.Date, opts.Date)
	}
	if err != nil {
		s.fsys.Remove(tmp)
		return "", err
	}
	var unique, sub string
	for try := 0; ; try++ {
		unique = uniqueName(now, size)
		name := join("new", unique)
		if info != "" || len(opts.Flags) > 0 {
			name = join("cur", unique+infoSep+info)
		}
		sub = name[:3]
		// The unique name cannot exist already (time, pid, counter and
		// random part), so a rename—one directory operation—is safe.
		err = s.fsys.Rename(tmp, join(dir, name))
		if errors.Is(err, fs.ErrExist) && try < 5 {
			continue
		}
		if err != nil {
			s.fsys.Remove(tmp)
			return "", err
		}
		s.mu.Lock()
		ds.files[mailaccess.ID(unique)] = name
		s.mu.Unlock()
		break
	}
	return mailaccess.ID(unique), s.syncDir(join(dir, sub), deferred)
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Delete removes messages' files. An ID that is not there is an
// ErrNotFound error (the others are still deleted).
func (s *Store) Delete(ctx context.Context, folder string, ids ...mailaccess.ID) error {
	if err := s.begin(ctx); err != nil {
		return opErr("delete", folder, err)
	}
	dir, err := s.folder(folder)
	if err != nil {
		return opErr("delete", folder, err)
	}
	var errs []error
	subs := map[string]bool{}
	for _, id := range ids {
		p, err := s.locate(dir, id)
		if err == nil {
			err = s.fsys.Remove(p)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		subs[p[:strings.LastIndexByte(p, '/')]] = true
		s.forget(dir, id)
	}
	for d := range subs {
		if err := s.syncDir(d, s.opts.DeferDirSync); err != nil {
			errs = append(errs, err)
		}
	}
	return opErr("delete", folder, errors.Join(errs...))
}

func (s *Store) forget(dir string, id mailaccess.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ds := s.dirs[dir]; ds != nil {
		delete(ds.files, id)
		if k, ok := keyFromName(string(id)); ok && ds.keys[k] == id {
			delete(ds.keys, k)
		}
	}
}

// SetFlags renames messages' files within cur/ to carry the new flags (a
// message in new/ moves to cur/).
func (s *Store) SetFlags(ctx context.Context, folder string, ids []mailaccess.ID, op mailaccess.FlagOp, flags ...mailaccess.Flag) error {
	if err := s.begin(ctx); err != nil {
		return opErr("set flags", folder, err)
	}
	dir, err := s.folder(folder)
	if err != nil {
		return opErr("set flags", folder, err)
	}
	subs := map[string]bool{}
	for _, id := range ids {
		p, err := s.locate(dir, id)
		if err != nil {
			return opErr("set flags", folder, err)
		}
		_, oldInfo := splitName(p[strings.LastIndexByte(p, '/')+1:])
		s.mu.Lock()
		ds, err := s.stateLocked(dir)
		if err != nil {
			s.mu.Unlock()
			return opErr("set flags", folder, err)
		}
		cur := flagsFromInfo(oldInfo, ds.kw)
		var next []mailaccess.Flag
		switch op {
		case mailaccess.AddFlags:
			next = append(cur, flags...)
		case mailaccess.RemoveFlags:
			for _, f := range cur {
				if !slices.ContainsFunc(flags, func(g mailaccess.Flag) bool { return strings.EqualFold(string(f), string(g)) }) {
					next = append(next, f)
				}
			}
		case mailaccess.ReplaceFlags:
			next = slices.Clone(flags)
		default:
			s.mu.Unlock()
			return opErr("set flags", folder, fmt.Errorf("flag op %d: %w", op, mailaccess.ErrInvalid))
		}
		info, err := infoFromFlags(next, func(k string) (byte, error) { return s.keywordLocked(dir, ds, k) })
		s.mu.Unlock()
		if err != nil {
			return opErr("set flags", folder, err)
		}
		np := join(dir, "cur", string(id)+infoSep+info)
		if np == p {
			continue
		}
		if err := s.fsys.Rename(p, np); err != nil {
			return opErr("set flags", folder, err)
		}
		s.mu.Lock()
		ds.files[id] = np[len(join(dir))+1:]
		if dir == "." {
			ds.files[id] = np
		}
		s.mu.Unlock()
		subs[join(dir, "cur")] = true
		subs[p[:strings.LastIndexByte(p, '/')]] = true
	}
	for d := range subs {
		if err := s.syncDir(d, s.opts.DeferDirSync); err != nil {
			return opErr("set flags", folder, err)
		}
	}
	return nil
}

// Move moves messages to another folder keeping their unique names, so
// their IDs do not change. Each file is linked into the destination,
// whose directory is synced, before it is removed from the source: a crash
// can leave a message in both folders, never in neither.
func (s *Store) Move(ctx context.Context, folder string, ids []mailaccess.ID, dest string) ([]mailaccess.ID, error) {
	return s.transfer(ctx, "move", folder, ids, dest, true)
}

// Copy copies messages to another folder (a hard link when possible) under
// new unique names, which it returns.
func (s *Store) Copy(ctx context.Context, folder string, ids []mailaccess.ID, dest string) ([]mailaccess.ID, error) {
	return s.transfer(ctx, "copy", folder, ids, dest, false)
}

func (s *Store) transfer(ctx context.Context, op, folder string, ids []mailaccess.ID, dest string, move bool) ([]mailaccess.ID, error) {
	if err := s.begin(ctx); err != nil {
		return nil, opErr(op, folder, err)
	}
	dir, err := s.folder(folder)
	if err != nil {
		return nil, opErr(op, folder, err)
	}
	ddir, err := s.folder(dest)
	if err != nil {
		return nil, opErr(op, dest, err)
	}
	s.mu.Lock()
	sds, err1 := s.stateLocked(dir)
	dds, err2 := s.stateLocked(ddir)
	s.mu.Unlock()
	if err := errors.Join(err1, err2); err != nil {
		return nil, opErr(op, folder, err)
	}
	out := make([]mailaccess.ID, 0, len(ids))
	var removed []string
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return out, opErr(op, folder, err)
		}
		p, err := s.locate(dir, id)
		if err != nil {
			return out, opErr(op, folder, err)
		}
		base := p[strings.LastIndexByte(p, '/')+1:]
		sub := p[strings.LastIndexByte(p, '/')-3 : strings.LastIndexByte(p, '/')]
		_, info := splitName(base)
		// Keywords are letters relative to each folder's keyword file.
		s.mu.Lock()
		flags := flagsFromInfo(info, sds.kw)
		ninfo, err := infoFromFlags(flags, func(k string) (byte, error) { return s.keywordLocked(ddir, dds, k) })
		s.mu.Unlock()
		if err != nil {
			return out, opErr(op, dest, err)
		}
		nid := id
		if !move || dir == ddir {
			fi, _ := s.fsys.Stat(p)
			var size int64
			if fi != nil {
				size = fi.Size()
			}
			if n, ok := sizeFromName(string(id)); ok {
				size = n
			}
			nid = mailaccess.ID(uniqueName(s.now(), size))
		}
		if move && dir == ddir {
			out = append(out, id)
			continue
		}
		name := join(sub, string(nid))
		if sub == "cur" {
			name += infoSep + ninfo
		}
		if err := s.fsys.Link(p, join(ddir, name)); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return out, opErr(op, dest, fmt.Errorf("message %s already in %q: %w", nid, dest, err))
			}
			if cerr := s.copyFile(p, ddir, name); cerr != nil {
				return out, opErr(op, dest, cerr)
			}
		}
		s.mu.Lock()
		dds.files[nid] = name
		if k, ok := keyFromName(string(nid)); ok {
			dds.keys[k] = nid
		}
		s.mu.Unlock()
		if err := s.fsys.SyncDir(join(ddir, sub)); err != nil {
			return out, opErr(op, dest, err)
		}
		if move {
			if err := s.fsys.Remove(p); err != nil {
				return out, opErr(op, folder, err)
			}
			s.forget(dir, id)
			removed = append(removed, join(dir, sub))
		}
		out = append(out, nid)
	}
	for _, d := range slices.Compact(removed) {
		if err := s.syncDir(d, s.opts.DeferDirSync); err != nil {
			return out, opErr(op, folder, err)
		}
	}
	return out, nil
}

// copyFile copies a message through the destination's tmp/ when a hard
// link is impossible.
func (s *Store) copyFile(src, ddir, name string) error {
	dst := join(ddir, name)
	in, err := s.fsys.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := join(ddir, "tmp", uniqueName(s.now(), 0))
	out, err := s.fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.fsys.Rename(tmp, dst)
	}
	if err != nil {
		s.fsys.Remove(tmp)
	}
	return err
}
