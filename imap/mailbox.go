package imap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailaccess/go-mailaccess/internal/wirecheck"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

func init() {
	open := func(ctx context.Context, cfg mailaccess.Config) (mailaccess.Mailbox, error) {
		return dial(ctx, cfg, hooks{})
	}
	for _, s := range []driver.Scheme{
		{Name: "imap", DefaultPort: 143},
		{Name: "imaps", DefaultPort: 993, ImplicitTLS: true},
	} {
		s.Protocol, s.Form, s.Open = protocol, driver.FormNetwork, open
		s.Auth = []string{"plain", "login", "xoauth2", "oauthbearer"}
		s.Options = optionNames()
		s.Validate = func(cfg mailaccess.Config) error {
			_, err := parseOptions(cfg.Options)
			return err
		}
		driver.Register(s)
	}
}

// DefaultMaxConns is the size of the connection pool when Config.MaxConns
// is 0.
const DefaultMaxConns = 4

// Mailbox is an IMAP account seen as a [mailaccess.Mailbox]. It is safe for
// concurrent use: calls share a pool of up to Config.MaxConns authenticated
// connections (see the package documentation).
type Mailbox struct {
	cfg   driver.Config
	hooks hooks
	caps  mailaccess.Capability
	// server capabilities of the first connection
	srvCaps imap.CapSet
	// verifySize is opt.size-check=strict (see OptSizeCheck).
	verifySize bool
	// described keeps part facts for OpenPart's checks (partcache.go).
	described described

	// perm is each folder's permanent flags as last selected
	// (permflags.go): one entry per folder the caller named.
	permMu sync.Mutex
	perm   map[string]PermanentFlags

	traceMu sync.Mutex

	sem chan struct{} // one token per open (pooled) connection

	mu    sync.Mutex
	idle  []*conn
	all   map[*conn]struct{}
	retCh chan struct{} // closed when a connection returns or a slot frees
	// watchConns are the dedicated connections of running Watch calls.
	watchConns map[*conn]struct{}
	closed     bool
}

var (
	_ mailaccess.Mailbox    = (*Mailbox)(nil)
	_ driver.FolderManager  = (*Mailbox)(nil)
	_ driver.Protocoler     = (*Mailbox)(nil)
	_ driver.BatchOpener    = (*Mailbox)(nil)
	_ driver.ConfigProvider = (*Mailbox)(nil)
	_ driver.FlagKeeper     = (*Mailbox)(nil)
)

// Dial connects to the server of cfg (scheme "imap" or "imaps"),
// authenticates, and returns a Mailbox whose capabilities reflect that
// server. The first connection is kept in the pool.
func Dial(ctx context.Context, cfg mailaccess.Config) (*Mailbox, error) {
	if cfg.Scheme == "" {
		cfg.Scheme = "imaps"
	}
	if cfg.Scheme != "imap" && cfg.Scheme != "imaps" {
		return nil, &mailaccess.OpError{Op: "dial", Protocol: protocol, Err: fmt.Errorf("scheme %q is not imap or imaps: %w", cfg.Scheme, mailaccess.ErrInvalid)}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return dial(ctx, cfg, hooks{})
}

// dial opens a Mailbox for a validated cfg (mailaccess.Open validated it,
// or Dial did).
func dial(ctx context.Context, cfg mailaccess.Config, h hooks) (*Mailbox, error) {
	lim, err := parseOptions(cfg.Options)
	if err != nil {
		return nil, &mailaccess.OpError{Op: "dial", Protocol: protocol, Err: err}
	}
	max := cfg.MaxConns
	if max <= 0 {
		max = DefaultMaxConns
	}
	m := &Mailbox{cfg: driver.NewConfig(cfg), hooks: h, verifySize: lim.verifySize, sem: make(chan struct{}, max), all: map[*conn]struct{}{}, watchConns: map[*conn]struct{}{}}
	if err := m.cfg.CheckCredentials(); err != nil && !h.noCredentialsCheck {
		return nil, m.opErr("login", "", err)
	}
	m.sem <- struct{}{}
	c, err := m.dialConn(ctx, nil)
	if err != nil {
		<-m.sem
		return nil, err
	}
	m.all[c] = struct{}{}
	m.srvCaps = c.caps
	m.caps = capsFrom(c.caps)
	m.release(c)
	if err := m.checkDefaultFolder(ctx); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// checkDefaultFolder makes sure the folder the Config names (the URL's
// path, INBOX included) exists, so that a mistyped folder fails at Open
// rather than at the first call, possibly much later, and reads what it
// keeps of flags: the keywords capability is then the folder's (its
// PERMANENTFLAGS hold \* or are not reported). It selects the folder on
// the pooled connection, where it then stays selected for the first call.
// A Config without a folder costs no SELECT: keywords are then assumed.
func (m *Mailbox) checkDefaultFolder(ctx context.Context) error {
	folder := m.cfg.Get().Folder
	if folder == "" {
		return nil
	}
	err := m.do(ctx, "open", folder, selRead, func(c *conn) error {
		if !c.perm.keepsNewKeywords() {
			m.caps &^= mailaccess.CapKeywords
		}
		return nil
	})
	var oe *mailaccess.OpError
	if errors.Is(err, mailaccess.ErrNotFound) && errors.As(err, &oe) {
		oe.Err = fmt.Errorf("the folder of the URL (Config.Folder) does not exist or cannot be selected (Folders lists those that do; create it with mailaccess.CreateFolder): %w", oe.Err)
	}
	return err
}

// capsFrom maps the server's capabilities to mailaccess flags.
func capsFrom(s imap.CapSet) mailaccess.Capability {
	caps := mailaccess.CapFolders | mailaccess.CapUID | mailaccess.CapFlags | mailaccess.CapKeywords |
		mailaccess.CapHeaders | mailaccess.CapPartial | mailaccess.CapSearch | mailaccess.CapAppend |
		mailaccess.CapCopy | mailaccess.CapManageFolders
	if s.Has(imap.CapUIDPlus) {
		caps |= mailaccess.CapDelete
	}
	if s.Has(imap.CapMove) {
		caps |= mailaccess.CapMove
	}
	if s.Has(imap.CapIdle) {
		caps |= mailaccess.CapPush
	}
	if s.Has(imap.CapCondStore) {
		caps |= mailaccess.CapChanges
	}
	if s.Has(imap.CapSort) {
		caps |= mailaccess.CapSort
	}
	return caps
}

// Capabilities reports what this Mailbox can do with the server it is
// connected to; see the package documentation for the mapping.
func (m *Mailbox) Capabilities() mailaccess.Capability { return m.caps }

// Protocol returns "imap".
func (m *Mailbox) Protocol() string { return protocol }

// ServerCapabilities returns the IMAP capabilities the server announced
// after login (for diagnostics).
func (m *Mailbox) ServerCapabilities() []string {
	var out []string
	for c := range m.srvCaps {
		out = append(out, string(c))
	}
	return out
}

// Config returns a copy of the configuration the Mailbox was opened with
// (driver.ConfigProvider).
func (m *Mailbox) Config() mailaccess.Config { return m.cfg.Get() }

// As sets target to the driver's underlying value: a **imapclient.Client
// receives the client of one pooled connection (see the package
// documentation for the hazards). A pointer to an optional interface of
// package driver that the Mailbox implements receives the Mailbox.
func (m *Mailbox) As(target any) bool {
	if driver.AsInterface(m, target) {
		return true
	}
	switch t := target.(type) {
	case **imapclient.Client:
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, c := range m.idle {
			*t = c.c
			return true
		}
		for c := range m.all {
			*t = c.c
			return true
		}
		return false
	}
	return false
}

// Close logs out and closes every connection. Calls in progress fail.
// Close is idempotent.
func (m *Mailbox) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	idle := m.idle
	m.idle = nil
	var busy []*conn
	for c := range m.all {
		busy = append(busy, c)
	}
	for c := range m.watchConns {
		busy = append(busy, c)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range idle {
		wg.Add(1)
		go func() { defer wg.Done(); c.close(m.logoutWait()) }()
	}
	wg.Wait()
	for _, c := range busy {
		c.kill()
	}
	return nil
}

// errs makes the driver's errors (it has no classification of its own:
// the connection code wraps the mailaccess sentinels where they apply).
var errs = driver.Errors{Protocol: protocol}

func (m *Mailbox) opErr(op, folder string, err error) error {
	return errs.Op(op, folder, err)
}

// acquire takes a connection from the pool, dialling one if there is room,
// waiting (ctx-aware) otherwise. It never fails for being busy.
func (m *Mailbox) acquire(ctx context.Context) (*conn, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, mailaccess.ErrClosed
		}
		// An idle connection holds a token already.
		if c := m.popIdleLocked(); c != nil {
			m.mu.Unlock()
			if c.dead() {
				m.discard(c)
				continue
			}
			return c, nil
		}
		if m.retCh == nil {
			m.retCh = make(chan struct{})
		}
		ret := m.retCh
		m.mu.Unlock()
		select {
		case m.sem <- struct{}{}:
			c, err := m.dialConn(ctx, nil)
			if err != nil {
				<-m.sem
				m.signal()
				return nil, err
			}
			m.mu.Lock()
			if m.closed {
				m.mu.Unlock()
				c.c.Close()
				<-m.sem
				return nil, mailaccess.ErrClosed
			}
			m.all[c] = struct{}{}
			m.mu.Unlock()
			return c, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ret:
			// A connection came back or a slot was freed: look again.
		}
	}
}

func (m *Mailbox) popIdleLocked() *conn {
	n := len(m.idle)
	if n == 0 {
		return nil
	}
	c := m.idle[n-1]
	m.idle = m.idle[:n-1]
	return c
}

// signal wakes the callers waiting in acquire.
func (m *Mailbox) signal() {
	m.mu.Lock()
	m.signalLocked()
	m.mu.Unlock()
}

func (m *Mailbox) signalLocked() {
	if m.retCh != nil {
		close(m.retCh)
		m.retCh = nil
	}
}

// release returns a healthy connection to the pool, or discards it.
func (m *Mailbox) release(c *conn) {
	if c.dead() {
		m.discard(c)
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.discard(c)
		return
	}
	m.idle = append(m.idle, c)
	m.signalLocked()
	m.mu.Unlock()
}

// discard closes a connection and frees its pool slot.
func (m *Mailbox) discard(c *conn) {
	c.broken.Store(true)
	c.raw.Close()
	go c.c.Close()
	m.mu.Lock()
	delete(m.all, c)
	m.mu.Unlock()
	<-m.sem
	m.signal()
}

// folderName resolves "" to the default folder and checks the name.
func (m *Mailbox) folderName(folder string) (string, error) {
	if folder == "" {
		folder = m.cfg.DefaultFolder()
	}
	if err := wirecheck.Check("folder name", folder); err != nil {
		return folder, err
	}
	return folder, nil
}

// selMode says what a call needs selected.
type selMode int

const (
	selNone  selMode = iota // no folder needed
	selRead                 // reading (selected read-write all the same: see selectFolder)
	selWrite                // SELECT (flags, expunge, move)
	// selFresh is SELECT sent now even if the folder is selected
	// already, so that the UIDVALIDITY checked is the folder's current one
	// (Delete, Move: the calls that remove messages).
	selFresh
)

// do runs fn on a pooled connection with folder selected as mode needs,
// tying every command to ctx and Config.CommandTimeout. A connection whose
// ctx or timeout fired is discarded; other errors that are not server
// answers (NO/BAD) discard it too.
func (m *Mailbox) do(ctx context.Context, op, folder string, mode selMode, fn func(c *conn) error) error {
	return m.doTimeout(ctx, op, folder, mode, m.cfg.CommandTimeoutOrDefault(), fn)
}

// doTimeout is do with an explicit timeout (0: only ctx bounds it).
func (m *Mailbox) doTimeout(ctx context.Context, op, folder string, mode selMode, timeout time.Duration, fn func(c *conn) error) error {
	c, err := m.acquire(ctx)
	if err != nil {
		return m.opErr(op, folder, err)
	}
	disarm := c.arm(ctx, timeout)
	c.sem.selectedNow = false
	err = m.selectFolder(c, folder, mode)
	if err == nil {
		err = fn(c)
	}
	ok := disarm()
	if !ok {
		c.broken.Store(true)
		if ctx.Err() != nil {
			err = ctx.Err()
		} else if err != nil || c.killed.Load() {
			err = errCommandTimeout
		}
	} else if err != nil {
		if isConnErr(err) {
			c.broken.Store(true)
		}
		err = c.connErr(err)
	}
	m.release(c)
	return m.opErr(op, folder, err)
}

// isConnErr reports whether err is a transport failure rather than a
// server answer or an argument error.
func isConnErr(err error) bool {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return false
	}
	var me *messageError
	if errors.As(err, &me) {
		return false
	}
	if errors.Is(err, mailaccess.ErrInvalid) || errors.Is(err, mailaccess.ErrNotFound) || errors.Is(err, errors.ErrUnsupported) ||
		errors.Is(err, mailaccess.ErrUIDValidity) {
		return false
	}
	return true
}

// selectFolder makes folder the selected one on c.
//
// A connection keeps its folder selected between calls. It is selected
// again when go-imap no longer has it selected (the server closed it,
// e.g. with a CLOSED response code) and, with selFresh, always. Before the
// connection's first SELECT the driver enables UTF8=ACCEPT when offered.
func (m *Mailbox) selectFolder(c *conn, folder string, mode selMode) error {
	if mode == selNone {
		return nil
	}
	if mode != selFresh && c.selected == folder && (c.writable || mode == selRead) && c.c.Mailbox() != nil {
		return nil
	}
	if err := m.enableUTF8(c); err != nil {
		return err
	}
	// Reading selects read-write too (SELECT, never EXAMINE), as
	// mainstream clients do: servers are tested on that path, and one at
	// least (GNU Mailutils' imap4d) gives messages new UIDs under the same
	// UIDVALIDITY in every read-only session until a SELECT fixes them.
	// Nothing here expunges on leaving a folder (no CLOSE is sent).
	opts := &imap.SelectOptions{CondStore: c.caps.Has(imap.CapCondStore)}
	c.selected = ""
	perms := c.g.permCodes.Load()
	data, err := c.c.Select(folder, opts).Wait()
	if err != nil {
		return mapNotFound(err)
	}
	if err := m.checkSelect(folder, data); err != nil {
		return err
	}
	c.selected, c.writable, c.sel = folder, true, *data
	m.notePerm(c, folder, data, c.g.permCodes.Load() != perms)
	c.sem.selectedNow = true
	c.count.Store(data.NumMessages)
	return nil
}

// mapNotFound turns a NO about a missing mailbox into ErrNotFound.
func mapNotFound(err error) error {
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
		switch ie.Code {
		case imap.ResponseCodeNonExistent, imap.ResponseCodeTryCreate, "":
			return fmt.Errorf("%w: %s", mailaccess.ErrNotFound, truncate(ie.Text, 200))
		}
	}
	return err
}

// enableUTF8 sends ENABLE UTF8=ACCEPT (RFC 6855) once per connection, in
// the authenticated state before its first SELECT or APPEND, when the
// server offers it: folder names then travel as UTF-8 (go-imap stops using modified
// UTF-7), and a server that would otherwise rewrite messages whose headers
// hold UTF-8 for a client that does not know UTF-8 (RFC 6857 downgrading)
// sends them as stored. A refusal is logged and the session goes on as
// before.
func (m *Mailbox) enableUTF8(c *conn) error {
	if c.sem.utf8Tried {
		return nil
	}
	c.sem.utf8Tried = true
	if !c.caps.Has(imap.CapUTF8Accept) {
		return nil
	}
	if _, err := c.c.Enable(imap.CapUTF8Accept).Wait(); err != nil {
		if isConnErr(err) {
			return fmt.Errorf("enable UTF8=ACCEPT: %w", err)
		}
		m.cfg.Log().Info("imap: server refused ENABLE UTF8=ACCEPT; using modified UTF-7", "err", err)
	}
	return nil
}

// Folders lists every folder with LIST "" "*", asking for special-use
// attributes when the server has SPECIAL-USE.
func (m *Mailbox) Folders(ctx context.Context) ([]mailaccess.Folder, error) {
	var out []mailaccess.Folder
	err := m.do(ctx, "folders", "", selNone, func(c *conn) error {
		var opts *imap.ListOptions
		if c.caps.Has(imap.CapSpecialUse) && c.caps.Has(imap.CapListExtended) {
			opts = &imap.ListOptions{ReturnSpecialUse: true}
		}
		cmd := c.c.List("", "*", opts)
		defer cmd.Close()
		for d := cmd.Next(); d != nil; d = cmd.Next() {
			out = append(out, folderOf(d))
		}
		return cmd.Close()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func folderOf(d *imap.ListData) mailaccess.Folder {
	f := mailaccess.Folder{Name: d.Mailbox}
	if d.Delim != 0 {
		f.Delimiter = string(d.Delim)
	}
	if strings.EqualFold(d.Mailbox, "INBOX") {
		f.Role = mailaccess.RoleInbox
	}
	for _, a := range d.Attrs {
		switch strings.ToLower(string(a)) {
		case `\noselect`, `\nonexistent`:
			f.NoSelect = true
		case `\sent`:
			f.Role = mailaccess.RoleSent
		case `\drafts`:
			f.Role = mailaccess.RoleDrafts
		case `\trash`:
			f.Role = mailaccess.RoleTrash
		case `\junk`:
			f.Role = mailaccess.RoleJunk
		case `\archive`:
			f.Role = mailaccess.RoleArchive
		case `\all`:
			f.Role = mailaccess.RoleAll
		case `\flagged`:
			f.Role = mailaccess.RoleFlagged
		}
	}
	return f
}

// Status runs STATUS (MESSAGES UIDNEXT UIDVALIDITY UNSEEN, plus
// HIGHESTMODSEQ with CONDSTORE).
func (m *Mailbox) Status(ctx context.Context, folder string) (mailaccess.FolderStatus, error) {
	folder, err := m.folderName(folder)
	if err != nil {
		return mailaccess.FolderStatus{}, m.opErr("status", folder, err)
	}
	var st mailaccess.FolderStatus
	err = m.do(ctx, "status", folder, selNone, func(c *conn) error {
		if c.selected == folder {
			// STATUS on the selected folder may answer from the
			// connection's view, missing mail delivered since it was
			// selected (RFC 3501 6.3.10); NOOP brings the view up to date.
			if err := c.c.Noop().Wait(); err != nil {
				return err
			}
		}
		opts := &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, NumUnseen: true,
			HighestModSeq: c.caps.Has(imap.CapCondStore)}
		d, err := c.c.Status(folder, opts).Wait()
		if err != nil {
			return mapNotFound(err)
		}
		if err := m.checkStatus(folder, d); err != nil {
			return err
		}
		if d.UIDValidity != 0 {
			m.forgetEpochsBut(c, folder, d.UIDValidity)
		}
		st = mailaccess.FolderStatus{Name: folder, UIDValidity: d.UIDValidity, UIDNext: uint32(d.UIDNext), HighestModSeq: d.HighestModSeq}
		if d.NumMessages != nil {
			st.Messages = int(*d.NumMessages)
		}
		if d.NumUnseen != nil {
			st.Unseen = int(*d.NumUnseen)
		}
		return nil
	})
	return st, err
}

// CreateFolder creates a folder (CREATE).
func (m *Mailbox) CreateFolder(ctx context.Context, name string) error {
	if err := wirecheck.Check("folder name", name); err != nil || name == "" {
		if err == nil {
			err = fmt.Errorf("empty folder name: %w", mailaccess.ErrInvalid)
		}
		return m.opErr("create folder", name, err)
	}
	return m.do(ctx, "create folder", name, selNone, func(c *conn) error {
		return c.c.Create(name, nil).Wait()
	})
}

// RenameFolder renames a folder (RENAME).
func (m *Mailbox) RenameFolder(ctx context.Context, name, newName string) error {
	for _, n := range []string{name, newName} {
		if err := wirecheck.Check("folder name", n); err != nil {
			return m.opErr("rename folder", name, err)
		}
	}
	return m.do(ctx, "rename folder", name, selNone, func(c *conn) error {
		m.forgetSelected(name)
		if c.selected == name {
			if err := deselect(c); err != nil {
				return err
			}
		}
		return mapNotFound(c.c.Rename(name, newName, nil).Wait())
	})
}

// DeleteFolder deletes a folder and its messages (DELETE).
func (m *Mailbox) DeleteFolder(ctx context.Context, name string) error {
	if err := wirecheck.Check("folder name", name); err != nil {
		return m.opErr("delete folder", name, err)
	}
	return m.do(ctx, "delete folder", name, selNone, func(c *conn) error {
		m.forgetSelected(name)
		if c.selected == name {
			if err := deselect(c); err != nil {
				return err
			}
		}
		return mapNotFound(c.c.Delete(name).Wait())
	})
}

// deselectName is the folder deselect examines on a server without
// UNSELECT: a name no one has, so that EXAMINE fails.
const deselectName = "mailaccess-deselect-no-such-folder"

// deselect leaves the folder selected on c, before renaming or deleting
// it (some servers refuse either for the folder the session has open:
// Courier-IMAP, "Cannot delete currently-open folder"). UNSELECT where
// the server has it (RFC 3691); else an EXAMINE that fails, which leaves
// no folder selected (RFC 3501 6.3.1) and, unlike CLOSE, expunges
// nothing. Only a broken connection is an error.
func deselect(c *conn) error {
	c.selected = ""
	var err error
	if c.caps.Has(imap.CapUnselect) {
		err = c.c.Unselect().Wait()
	} else {
		_, err = c.c.Select(deselectName, &imap.SelectOptions{ReadOnly: true}).Wait()
	}
	if err != nil && isConnErr(err) {
		return err
	}
	return nil
}

// forgetSelected drops idle connections that have folder selected, so no
// connection keeps a stale selection of a renamed or deleted folder.
// forgetEpochsBut makes the connections (c, in use by the caller, and
// the idle ones) that hold folder selected under a UIDVALIDITY other than
// uv select it again before their next command on it: Status reported
// uv, so the folder was re-created (or renumbered) since they selected
// it, and a List on a stale selection would give IDs of the old epoch
// to a caller that goes by the new one.
func (m *Mailbox) forgetEpochsBut(c *conn, folder string, uv uint32) {
	if c.selected == folder && c.sel.UIDValidity != uv {
		c.selected = ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ic := range m.idle {
		if ic.selected == folder && ic.sel.UIDValidity != uv {
			ic.selected = ""
		}
	}
}

func (m *Mailbox) forgetSelected(folder string) {
	m.mu.Lock()
	var drop []*conn
	keep := m.idle[:0]
	for _, c := range m.idle {
		if c.selected == folder {
			drop = append(drop, c)
		} else {
			keep = append(keep, c)
		}
	}
	m.idle = keep
	m.mu.Unlock()
	for _, c := range drop {
		m.discard(c)
	}
}
