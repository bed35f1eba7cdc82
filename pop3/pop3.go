package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/mailaccess/go-mailaccess/internal/pop3wire"
	"github.com/mailaccess/go-mailaccess/internal/saslx"
	"github.com/mailaccess/go-mailaccess/internal/wirecheck"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

const protocol = "pop3"

func init() {
	open := func(ctx context.Context, cfg mailaccess.Config) (mailaccess.Mailbox, error) {
		return dialValidated(ctx, cfg)
	}
	for _, s := range []driver.Scheme{
		{Name: "pop3", DefaultPort: 110},
		{Name: "pop3s", DefaultPort: 995, ImplicitTLS: true},
	} {
		s.Protocol, s.Form, s.Open = protocol, driver.FormNetwork, open
		s.Auth = []string{"plain", "login", "xoauth2", "oauthbearer", "apop", "user"}
		s.Options = optionNames
		s.Validate = validate
		driver.Register(s)
	}
}

// optionNames are the driver options (opt.NAME) the pop3 driver knows.
var optionNames = []string{OptSizeCheck, OptMaxListing}

// validate checks what only this driver knows about a Config: the values
// of the driver options, and the folder: POP3 has one folder, so a URL
// naming another ("pop3s://host/Archive") is a mistake to report before
// connecting, not a folder to find missing on first use.
func validate(cfg mailaccess.Config) error {
	if cfg.Folder != "" && !strings.EqualFold(cfg.Folder, mailaccess.Inbox) {
		return fmt.Errorf("folder %q: POP3 has only INBOX (drop the folder from the URL, or use imap:// or imaps:// for other folders): %w", cfg.Folder, mailaccess.ErrInvalid)
	}
	_, err := parseOptions(cfg)
	return err
}

// Conn is the POP3 wire connection reached through [Mailbox.As]. Its
// methods speak POP3 commands directly (Stat, List, UIDL, Retr, Top, Dele,
// Noop, ...). It is not portable, and its method set may change.
type Conn = pop3wire.Client

// ErrDeletesDiscarded is [mailaccess.ErrDeletesDiscarded], kept under
// this name for code written before it moved there. Commit returns an
// error matching it when messages had been marked for deletion in a
// session that ended without QUIT (an error, a cancelled context, a
// dropped connection): the server discarded the marks, so nothing was
// deleted; mark them again and commit. Close returns one when it drops
// deletions never committed.
var ErrDeletesDiscarded = mailaccess.ErrDeletesDiscarded

// Mailbox is a POP3 maildrop seen as a [mailaccess.Mailbox]. It holds one
// session (POP3 allows one per maildrop) and serialises calls on it; see the
// package documentation for what each operation does in POP3.
type Mailbox struct {
	cfg    driver.Config
	tlsCfg *tls.Config
	caps   mailaccess.Capability
	opts   options

	mu   sync.Mutex // serialises sessions; held by open message readers
	sess *session
	lost bool // a session with pending deletes ended without QUIT
	// lostN counts the marks lost with such sessions, until reported.
	lostN int
	// unapplied mirrors the marks neither applied nor reported (the
	// session's pending plus lostN), for Close while a call holds mu.
	unapplied atomic.Int64

	closeMu sync.Mutex
	closed  bool
	cur     *pop3wire.Client // for Close while a reader holds mu

	// cache is the last message Structure or OpenPart downloaded.
	cacheMu sync.Mutex
	cache   *spool
}

// entry is one message of the session's listing.
type entry struct {
	num     int
	size    int64
	uid     string
	deleted bool // marked by Delete, or a hole in the numbering
	hole    bool // no such message number in LIST
	dup     bool // uid is shared with another message of the listing
}

// session is one POP3 connection in the TRANSACTION state and what is
// cached about it.
type session struct {
	c       *pop3wire.Client
	gen     uint64 // sessionSeq number, part of session-number IDs
	wcaps   pop3wire.Capabilities
	uidl    bool
	top     bool
	stat    bool // count/size cached
	count   int
	size    int64
	listed  bool
	entries []entry        // by number-1
	byUID   map[string]int // unique uid → number
	pending int            // messages marked by Delete, sent at Commit
}

var (
	_ mailaccess.Mailbox    = (*Mailbox)(nil)
	_ driver.Committer      = (*Mailbox)(nil)
	_ driver.Rollbacker     = (*Mailbox)(nil)
	_ driver.BatchOpener    = (*Mailbox)(nil)
	_ driver.ConfigProvider = (*Mailbox)(nil)
)

// Dial connects to the POP3 server of cfg (scheme "pop3" or "pop3s"),
// secures the connection, logs in and learns the capabilities. Deletes are
// applied only by [Mailbox.Commit]; call Close when done.
func Dial(ctx context.Context, cfg mailaccess.Config) (*Mailbox, error) {
	if cfg.Scheme != "pop3" && cfg.Scheme != "pop3s" {
		return nil, opErr("dial", "", fmt.Errorf("scheme %q is not pop3 or pop3s: %w", cfg.Scheme, mailaccess.ErrInvalid))
	}
	if err := cfg.Validate(); err != nil {
		return nil, opErr("dial", "", err)
	}
	return dialValidated(ctx, cfg)
}

// dialValidated opens a Mailbox for a validated cfg (mailaccess.Open validated it,
// or Dial did).
func dialValidated(ctx context.Context, cfg mailaccess.Config) (*Mailbox, error) {
	dc := driver.NewConfig(cfg)
	if err := dc.CheckCredentials(); err != nil {
		return nil, opErr("login", "", err)
	}
	tc, err := dc.TLSClientConfig()
	if err != nil {
		return nil, opErr("dial", "", err)
	}
	o, err := parseOptions(cfg)
	if err != nil {
		return nil, opErr("dial", "", err)
	}
	m := &Mailbox{cfg: dc, tlsCfg: tc, opts: o}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.connectLocked(ctx); err != nil {
		return nil, err
	}
	s := m.sess
	m.caps = mailaccess.CapDelete | mailaccess.CapDeferredDelete
	if s.uidl {
		m.caps |= mailaccess.CapUID
	}
	if s.top {
		m.caps |= mailaccess.CapHeaders
	}
	return m, nil
}

// Protocol returns "pop3".
func (m *Mailbox) Protocol() string { return protocol }

// Capabilities reports delete|deferred-delete, plus uid with UIDL and
// headers with TOP.
func (m *Mailbox) Capabilities() mailaccess.Capability { return m.caps }

// errs makes the driver's errors, with the driver's own classification
// of wire errors.
var errs = driver.Errors{Protocol: protocol, Classify: classify}

func opErr(op, folder string, err error) error {
	return errs.Op(op, folder, err)
}

// classify adds the mailaccess sentinel matching a wire error. A lost
// connection or a server that timed out is temporary: the next call opens
// a new session.
func classify(err error) error {
	switch {
	case errors.Is(err, pop3wire.ErrListingTooLong):
		err = fmt.Errorf("%w (opt.%s raises the limit if the maildrop really has that many messages)", err, OptMaxListing)
	case errors.Is(err, pop3wire.ErrTimeout):
		err = fmt.Errorf("%w (Config.CommandTimeout, command_timeout in a URL, sets it)", err)
	}
	var sentinel error
	switch {
	case pop3wire.IsMailboxLocked(err):
		sentinel = mailaccess.ErrLocked
	case pop3wire.IsTemporary(err), errors.Is(err, pop3wire.ErrConnectionLost), errors.Is(err, pop3wire.ErrTimeout):
		sentinel = mailaccess.ErrTemporary
	case errors.Is(err, pop3wire.ErrProtocol), errors.Is(err, pop3wire.ErrLineTooLong):
		sentinel = mailaccess.ErrProtocol
	case errors.Is(err, pop3wire.ErrInvalidArgument):
		sentinel = mailaccess.ErrInvalid
	}
	if sentinel == nil || errors.Is(err, sentinel) {
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}

func (m *Mailbox) isClosed() bool {
	m.closeMu.Lock()
	defer m.closeMu.Unlock()
	return m.closed
}

// connectLocked opens a new session: connect, TLS, CAPA, login, probe.
func (m *Mailbox) connectLocked(ctx context.Context) (err error) {
	cfg := m.cfg
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeoutOrDefault())
	defer cancel()
	mode := cfg.EffectiveTLS()
	wopts := &pop3wire.Options{Timeout: cfg.CommandTimeoutOrDefault(), MaxListing: m.opts.maxListing, Trace: cfg.Get().Trace}
	c, err := m.dial(ctx, dctx, mode, wopts)
	if err != nil {
		return opErr("dial", "", err)
	}
	m.closeMu.Lock()
	if m.closed {
		m.closeMu.Unlock()
		c.Close()
		return opErr("dial", "", mailaccess.ErrClosed)
	}
	m.cur = c
	m.closeMu.Unlock()
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	caps, capaErr := c.Capa(dctx)
	hasCapa := capaErr == nil
	if capaErr != nil && c.Err() != nil {
		return opErr("capa", "", capaErr)
	}
	if mode == mailaccess.TLSStartTLS {
		if hasCapa && !caps.STLS {
			return opErr("starttls", "", mailaccess.ErrStartTLSUnavailable)
		}
		if err := c.StartTLS(dctx, m.tlsCfg); err != nil {
			var we *pop3wire.Error
			if errors.As(err, &we) {
				// No CAPA to ask, and STLS refused: not offered.
				return opErr("starttls", "", fmt.Errorf("%w: %w", mailaccess.ErrStartTLSUnavailable, err))
			}
			if ctx.Err() == nil && !errors.Is(err, pop3wire.ErrProtocol) {
				err = cfg.TLSError(err)
			}
			return opErr("starttls", "", err)
		}
		if hasCapa {
			if caps, err = c.Capa(dctx); err != nil {
				return opErr("capa", "", err)
			}
		}
	}
	if !c.IsTLS() && mode != mailaccess.TLSInsecurePlaintext {
		return opErr("login", "", mailaccess.ErrInsecure)
	}
	// RFC 6856: UTF8 before authentication, so a UTF-8 user name works
	// and messages with UTF-8 headers are not downgraded.
	utf8 := false
	if hasCapa && caps.UTF8 {
		if utf8, err = m.enableUTF8(dctx, c); err != nil {
			return err
		}
	}
	if err := m.login(dctx, c, caps); err != nil {
		return err
	}
	s := &session{c: c}
	if hasCapa {
		if after, err := c.Capa(dctx); err == nil {
			caps = after
		} else if c.Err() != nil {
			return opErr("capa", "", err)
		}
		s.uidl, s.top = caps.UIDL, caps.Top
		// Some servers offer UTF8 only once logged in (and some clients
		// send it then): enable it late rather than never.
		if !utf8 && caps.UTF8 {
			if utf8, err = m.enableUTF8(dctx, c); err != nil {
				return err
			}
		}
	} else if err := m.probe(dctx, s); err != nil {
		return err
	}
	s.wcaps = caps
	s.gen = sessionSeq.Add(1)
	m.sess = s
	cfg.Log().Debug("pop3: session open", "addr", cfg.Addr(), "session", s.gen, "tls", c.IsTLS(),
		"uidl", s.uidl, "top", s.top, "pipelining", caps.Pipelining, "utf8", utf8)
	return nil
}

// dial connects, starts implicit TLS when mode says so, and reads the
// greeting, all bounded by dctx (Config.DialTimeout within ctx), with a
// hint in the errors whose usual cause is the configuration: a TLS
// handshake that fails, or a greeting that never comes on a port that
// expects implicit TLS.
func (m *Mailbox) dial(ctx, dctx context.Context, mode mailaccess.TLSMode, wopts *pop3wire.Options) (*pop3wire.Client, error) {
	cfg := m.cfg
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", cfg.Addr())
	if err != nil {
		return nil, err
	}
	if mode == mailaccess.TLSImplicit {
		tc := tls.Client(conn, m.tlsCfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			conn.Close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, cfg.TLSError(err)
		}
		conn = tc
	}
	start := time.Now()
	c, err := pop3wire.NewClient(dctx, conn, wopts)
	if err != nil && ctx.Err() == nil && (dctx.Err() != nil || driver.IsTimeout(err)) {
		return nil, cfg.GreetingTimeout(time.Since(start), err)
	}
	return c, err
}

// sessionSeq numbers sessions for session-number IDs ("#N sG"). It is
// process-wide and starts at a random value, so an ID of one Mailbox's
// session, or one stored by mistake in an earlier run, names no message of
// another session instead of the wrong one.
var sessionSeq atomic.Uint64

func init() { sessionSeq.Store(uint64(rand.Uint32()) << 8) }

// enableUTF8 sends UTF8 (RFC 6856). A refusal is not an error: the session
// goes on in ASCII mode.
func (m *Mailbox) enableUTF8(ctx context.Context, c *pop3wire.Client) (bool, error) {
	err := c.UTF8(ctx)
	if err != nil && c.Err() != nil {
		return false, opErr("utf8", "", err)
	}
	if err != nil {
		m.cfg.Log().Debug("pop3: UTF8 refused", "err", err)
	}
	return err == nil, nil
}

// probe finds out whether a server without CAPA has UIDL and TOP.
func (m *Mailbox) probe(ctx context.Context, s *session) error {
	if err := s.loadStat(ctx); err != nil {
		return opErr("stat", "", err)
	}
	if s.count == 0 {
		_, err := s.c.UIDL(ctx)
		if s.c.Err() != nil {
			return opErr("uidl", "", err)
		}
		s.uidl = err == nil
		return nil
	}
	_, err := s.c.UIDLOne(ctx, 1)
	if s.c.Err() != nil {
		return opErr("uidl", "", err)
	}
	s.uidl = err == nil
	rc, err := s.c.Top(ctx, 1, 0)
	if err == nil {
		err = rc.Close()
		if err != nil {
			return opErr("top", "", err)
		}
		s.top = true
	} else if s.c.Err() != nil {
		return opErr("top", "", err)
	}
	return nil
}

// login authenticates with the mechanism chosen from cfg and the server's
// offer.
func (m *Mailbox) login(ctx context.Context, c *pop3wire.Client, caps pop3wire.Capabilities) error {
	cfg := m.cfg.Get()
	mech := strings.ToLower(cfg.Auth)
	if mech == "" {
		switch {
		case cfg.Token != nil && !caps.HasSASL("XOAUTH2") && caps.HasSASL("OAUTHBEARER"):
			mech = "oauthbearer"
		case cfg.Token != nil:
			mech = "xoauth2"
		case caps.HasSASL("PLAIN"):
			mech = "plain"
		default:
			mech = "user"
		}
	}
	pass := string(cfg.Password)
	var err error
	switch mech {
	case "user":
		err = c.Login(ctx, cfg.User, pass)
	case "apop":
		err = c.APOP(ctx, cfg.User, pass)
		if errors.Is(err, pop3wire.ErrNotSupported) {
			return &mailaccess.UnsupportedError{Op: "login", Protocol: protocol, Reason: "auth=apop but the server greeting has no APOP timestamp"}
		}
	case "plain":
		err = c.Auth(ctx, sasl.NewPlainClient("", cfg.User, pass))
	case "login":
		err = c.Auth(ctx, sasl.NewLoginClient(cfg.User, pass))
	case "xoauth2", "oauthbearer":
		if cfg.Token == nil {
			return opErr("login", "", fmt.Errorf("auth=%s needs Config.Token: %w", mech, mailaccess.ErrInvalid))
		}
		for attempt := 0; attempt < 2; attempt++ {
			tok, terr := cfg.Token(ctx)
			if terr != nil {
				return opErr("login", "", fmt.Errorf("token: %w", terr))
			}
			if err := wirecheck.Check("token", tok); err != nil {
				return opErr("login", "", err)
			}
			var sc sasl.Client
			if mech == "xoauth2" {
				sc = saslx.NewXOAUTH2Client(cfg.User, tok)
			} else {
				host, portStr, _ := net.SplitHostPort(m.cfg.Addr())
				port, _ := strconv.Atoi(portStr)
				sc = sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: cfg.User, Token: tok, Host: host, Port: port})
			}
			err = c.Auth(ctx, sc)
			if err == nil || !pop3wire.IsAuthFailure(err) || c.Err() != nil {
				break
			}
		}
	default:
		return opErr("login", "", fmt.Errorf("auth mechanism %q (want apop, plain, login, xoauth2, oauthbearer or user): %w", cfg.Auth, mailaccess.ErrInvalid))
	}
	if err == nil {
		return nil
	}
	if !pop3wire.IsMailboxLocked(err) && !pop3wire.IsTemporary(err) && pop3wire.IsAuthFailure(err) {
		err = fmt.Errorf("%w: %w", mailaccess.ErrAuth, err)
	}
	return opErr("login", "", err)
}

// sessionLocked returns the open session, connecting if there is none.
func (m *Mailbox) sessionLocked(ctx context.Context) (*session, error) {
	if m.isClosed() {
		return nil, mailaccess.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.sess != nil {
		if m.sess.c.Err() == nil {
			return m.sess, nil
		}
		m.dropLocked()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := m.connectLocked(ctx); err != nil {
		return nil, err
	}
	return m.sess, nil
}

// dropLocked closes the session without QUIT: pending deletes are
// discarded by the server (and remembered for Commit to report).
func (m *Mailbox) dropLocked() {
	if m.sess == nil {
		return
	}
	if m.sess.pending > 0 {
		m.lost = true
		m.lostN += m.sess.pending
	}
	m.cfg.Log().Debug("pop3: session dropped without QUIT", "session", m.sess.gen,
		"discarded_deletes", m.sess.pending, "cause", m.sess.c.Err())
	m.sess.c.Close()
	m.sess = nil
	m.notePendingLocked()
}

// notePendingLocked updates the count Close reports.
func (m *Mailbox) notePendingLocked() {
	n := m.lostN
	if m.sess != nil {
		n += m.sess.pending
	}
	m.unapplied.Store(int64(n))
}

// probeLocked checks, after a command of the session was answered -ERR,
// whether the session is still alive: a server that ends a session (an
// autologout, a limit on commands or time) often answers the next command
// with -ERR and closes the connection, and the -ERR alone does not say so.
// If a NOOP finds the connection closed, the error becomes one that names
// both and matches [mailaccess.ErrTemporary], and the next call opens a new
// session. Other errors are returned as they are.
func (m *Mailbox) probeLocked(ctx context.Context, err error) error {
	s := m.sess
	if err == nil || s == nil || !isServerAnswer(err) || s.c.Err() != nil || ctx.Err() != nil {
		return err
	}
	if perr := s.c.Noop(ctx); perr != nil && s.c.Err() != nil {
		return fmt.Errorf("%w; then the server ended the session: %w", err, perr)
	}
	return err
}

// checkLocked drops the session if its connection broke during a call.
func (m *Mailbox) checkLocked() {
	if m.sess != nil && m.sess.c.Err() != nil {
		m.dropLocked()
	}
}

func (s *session) loadStat(ctx context.Context) error {
	if s.stat {
		return nil
	}
	n, size, err := s.c.Stat(ctx)
	if err != nil {
		return err
	}
	s.count, s.size, s.stat = n, size, true
	return nil
}

// loadListing caches LIST and (with UIDL) UIDL for the session.
func (s *session) loadListing(ctx context.Context) error {
	if s.listed {
		return nil
	}
	sizes, err := s.c.List(ctx)
	if err != nil {
		return err
	}
	maxNum := 0
	for _, l := range sizes {
		maxNum = max(maxNum, l.Num)
	}
	if maxNum > len(sizes)*2+1024 {
		return fmt.Errorf("%w: LIST numbers up to %d for %d messages", pop3wire.ErrProtocol, maxNum, len(sizes))
	}
	entries := make([]entry, maxNum)
	for i := range entries {
		entries[i] = entry{num: i + 1, deleted: true, hole: true}
	}
	for _, l := range sizes {
		entries[l.Num-1] = entry{num: l.Num, size: l.Size}
	}
	if s.uidl {
		uids, err := s.c.UIDL(ctx)
		if err != nil {
			return err
		}
		s.byUID = make(map[string]int, len(uids))
		for _, u := range uids {
			if u.Num > len(entries) || entries[u.Num-1].hole {
				return fmt.Errorf("%w: UIDL names message %d, absent from LIST", pop3wire.ErrProtocol, u.Num)
			}
			e := &entries[u.Num-1]
			if e.uid != "" {
				return fmt.Errorf("%w: UIDL lists message %d twice", pop3wire.ErrProtocol, u.Num)
			}
			e.uid = u.UID
			if other, dup := s.byUID[u.UID]; dup {
				// Servers such as popa3d derive the UIDL from the header,
				// so two messages can share one. Both stay reachable, by
				// session-number IDs flagged unstable.
				e.dup = true
				if other > 0 {
					entries[other-1].dup = true
					s.byUID[u.UID] = 0 // shared: resolves to no message
				}
				continue
			}
			s.byUID[u.UID] = u.Num
		}
		for _, e := range entries {
			if !e.hole && e.uid == "" {
				return fmt.Errorf("%w: UIDL misses message %d", pop3wire.ErrProtocol, e.num)
			}
		}
	}
	s.entries = entries
	s.listed = true
	return nil
}

// idOf returns the mailaccess ID of a listing entry: its UIDL when the
// server has UIDL and gave it to this message only, else a session-number
// ID "#N sG" (message N of session G), valid for this session only. A
// session-number ID contains a space, which no UIDL can (RFC 1939: 0x21 to
// 0x7E), so the two kinds never collide.
func (s *session) idOf(e entry) mailaccess.ID {
	if s.uidl && !e.dup {
		return mailaccess.ID(e.uid)
	}
	return mailaccess.ID("#" + strconv.Itoa(e.num) + " s" + strconv.FormatUint(s.gen, 10))
}

// unstable reports whether the ID of e holds only for this session.
func (s *session) unstable(e entry) bool { return !s.uidl || e.dup }

// info returns the listing metadata of e.
func (s *session) info(e entry) mailaccess.MessageInfo {
	return mailaccess.MessageInfo{ID: s.idOf(e), UnstableID: s.unstable(e), Folder: mailaccess.Inbox, Size: e.size}
}

// resolve maps an ID to a message number of this session.
func (s *session) resolve(ctx context.Context, id mailaccess.ID) (int, error) {
	if id == "" {
		return 0, fmt.Errorf("empty ID: %w", mailaccess.ErrInvalid)
	}
	if err := s.loadListing(ctx); err != nil {
		return 0, err
	}
	num := 0
	if str := string(id); strings.HasPrefix(str, "#") && strings.Contains(str, " ") {
		a, b, _ := strings.Cut(str[1:], " s")
		n, err1 := strconv.Atoi(a)
		g, err2 := strconv.ParseUint(b, 10, 64)
		if err1 != nil || err2 != nil || n < 1 {
			return 0, fmt.Errorf("message %q: malformed ID: %w", id, mailaccess.ErrNotFound)
		}
		if g != s.gen {
			return 0, fmt.Errorf("message %q: a session-number ID of another POP3 session (such IDs hold for one session: take IDs from this session's List): %w", id, mailaccess.ErrNotFound)
		}
		if n <= len(s.entries) && !s.unstable(s.entries[n-1]) {
			return 0, fmt.Errorf("message %q: the message has a stable ID, its UIDL: %w", id, mailaccess.ErrNotFound)
		}
		num = n
	} else {
		if !s.uidl {
			return 0, fmt.Errorf("message %q: the server has no UIDL, IDs are session numbers: %w", id, mailaccess.ErrNotFound)
		}
		n, ok := s.byUID[string(id)]
		if ok && n == 0 {
			return 0, fmt.Errorf("message %q: several messages share this UIDL in this session; use the session IDs List gives them: %w", id, mailaccess.ErrNotFound)
		}
		num = n
	}
	if num < 1 || num > len(s.entries) || s.entries[num-1].deleted {
		return 0, fmt.Errorf("message %q: %w", id, mailaccess.ErrNotFound)
	}
	return num, nil
}

func checkFolder(folder string) error {
	if folder == "" || strings.EqualFold(folder, mailaccess.Inbox) {
		return nil
	}
	return fmt.Errorf("folder %q: POP3 has only INBOX: %w", folder, mailaccess.ErrNotFound)
}

// Folders returns INBOX, the only POP3 folder.
func (m *Mailbox) Folders(ctx context.Context) ([]mailaccess.Folder, error) {
	if m.isClosed() {
		return nil, opErr("folders", "", mailaccess.ErrClosed)
	}
	return []mailaccess.Folder{{Name: mailaccess.Inbox, Role: mailaccess.RoleInbox}}, nil
}

// Status reports STAT: the number and total size of the messages not
// marked for deletion. Unseen is [mailaccess.UnknownCount]: POP3 keeps no
// \Seen flag.
func (m *Mailbox) Status(ctx context.Context, folder string) (mailaccess.FolderStatus, error) {
	if err := checkFolder(folder); err != nil {
		return mailaccess.FolderStatus{}, opErr("status", folder, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.checkLocked()
	s, err := m.sessionLocked(ctx)
	if err != nil {
		return mailaccess.FolderStatus{}, opErr("status", folder, err)
	}
	if s.pending > 0 {
		// The server does not know the marks yet: count from the listing.
		st := mailaccess.FolderStatus{Name: mailaccess.Inbox, Unseen: mailaccess.UnknownCount}
		for _, e := range s.entries {
			if !e.deleted {
				st.Messages++
				st.Size += e.size
			}
		}
		return st, nil
	}
	if err := s.loadStat(ctx); err != nil {
		return mailaccess.FolderStatus{}, opErr("status", folder, m.probeLocked(ctx, err))
	}
	return mailaccess.FolderStatus{Name: mailaccess.Inbox, Messages: s.count, Size: s.size, Unseen: mailaccess.UnknownCount}, nil
}

// Open streams a message with RETR. The reader holds the session until it
// is closed (Close reads the rest of the message); options selecting a
// part need [mailaccess.CapPartial], which POP3 lacks.
func (m *Mailbox) Open(ctx context.Context, folder string, id mailaccess.ID, opts *mailaccess.OpenOptions) (io.ReadCloser, error) {
	if !opts.IsZero() {
		return nil, &mailaccess.UnsupportedError{Op: "open part", Protocol: protocol, Missing: mailaccess.CapPartial, Reason: "POP3 retrieves whole messages only"}
	}
	if err := checkFolder(folder); err != nil {
		return nil, opErr("open", folder, err)
	}
	m.mu.Lock()
	s, err := m.sessionLocked(ctx)
	if err != nil {
		m.mu.Unlock()
		return nil, opErr("open", folder, err)
	}
	num, err := s.resolve(ctx, id)
	if err != nil {
		err = m.probeLocked(ctx, err)
		m.checkLocked()
		m.mu.Unlock()
		return nil, opErr("open", folder, err)
	}
	body, err := s.c.Retr(ctx, num)
	if err != nil {
		err = m.probeLocked(ctx, err)
		m.checkLocked()
		m.mu.Unlock()
		return nil, opErr("open", folder, err)
	}
	v := newVerifier(body, id, s.entries[num-1], m.opts.sizeCheck)
	return &reader{m: m, ctx: ctx, body: body, r: v, folder: folder}, nil
}

// closeBody finishes a wire body. It reads the rest first (unless ctx is
// done): pop3wire's Body.Close does not release the connection when the
// terminator was consumed by a Read that returned data without io.EOF.
func closeBody(ctx context.Context, body io.ReadCloser) error {
	if ctx.Err() == nil {
		if _, err := io.Copy(io.Discard, body); err != nil {
			body.Close()
			return err
		}
	}
	return body.Close()
}

// reader is a message body that holds the Mailbox's session until Close.
// Reads go through the size check; Close drains the wire body itself.
type reader struct {
	m      *Mailbox
	ctx    context.Context
	body   io.ReadCloser // the wire body
	r      io.Reader     // body through its verifier
	folder string
	once   sync.Once
	err    error
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = opErr("read", r.folder, err)
	}
	return n, err
}

func (r *reader) Close() error {
	r.once.Do(func() {
		if err := closeBody(r.ctx, r.body); err != nil {
			r.err = opErr("read", r.folder, err)
		}
		r.m.checkLocked()
		r.m.mu.Unlock()
	})
	return r.err
}

// OpenAll streams the messages ids, in that order, to fn: one RETR per
// message, pipelined when the server offers PIPELINING, so many small
// messages download at the speed of the link rather than of its round
// trips. The reader given to fn is valid only during the call; fn may stop
// reading early (the rest is skipped). An ID that names no message of the
// session (deleted, or never there: Open would return
// [mailaccess.ErrNotFound]) is skipped, as [driver.BatchOpener] says. The
// first error (an invalid ID, before anything is sent; a server error; an
// error returned by fn) ends the batch and is returned. It holds the
// session for the whole batch.
func (m *Mailbox) OpenAll(ctx context.Context, folder string, ids []mailaccess.ID, fn func(id mailaccess.ID, r io.Reader) error) error {
	if err := checkFolder(folder); err != nil {
		return opErr("open", folder, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.checkLocked()
	s, err := m.sessionLocked(ctx)
	if err != nil {
		return opErr("open", folder, err)
	}
	nums := make([]int, 0, len(ids))
	for _, id := range ids {
		num, err := s.resolve(ctx, id)
		if errors.Is(err, mailaccess.ErrNotFound) {
			continue // gone: skipped
		}
		if err != nil {
			return opErr("open", folder, m.probeLocked(ctx, err))
		}
		nums = append(nums, num)
	}
	var fnErr error
	err = s.c.RetrAll(ctx, nums, func(num int, body io.Reader) error {
		e := s.entries[num-1]
		id := s.idOf(e)
		if err := fn(id, &batchBody{v: newVerifier(body, id, e, m.opts.sizeCheck), folder: folder}); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if err != nil && fnErr != nil && errors.Is(err, fnErr) {
		return fnErr
	}
	return opErr("open", folder, m.probeLocked(ctx, err))
}

// batchBody is a body handed to OpenAll's callback: it is checked like
// Open's, and its errors other than io.EOF carry the operation.
type batchBody struct {
	v      *verifier
	folder string
}

func (b *batchBody) Read(p []byte) (int, error) {
	n, err := b.v.Read(p)
	if err != nil && err != io.EOF {
		err = opErr("read", b.folder, err)
	}
	return n, err
}

// FetchHeader returns the parsed header of a message: TOP n 0 with
// [mailaccess.CapHeaders], else RETR read up to the end of the header.
func (m *Mailbox) FetchHeader(ctx context.Context, folder string, id mailaccess.ID) (mailaccess.Header, error) {
	if err := checkFolder(folder); err != nil {
		return mailaccess.Header{}, opErr("fetch header", folder, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.checkLocked()
	s, err := m.sessionLocked(ctx)
	if err != nil {
		return mailaccess.Header{}, opErr("fetch header", folder, err)
	}
	num, err := s.resolve(ctx, id)
	if err != nil {
		return mailaccess.Header{}, opErr("fetch header", folder, m.probeLocked(ctx, err))
	}
	var body io.ReadCloser
	if s.top {
		body, err = s.c.Top(ctx, num, 0)
	} else {
		body, err = s.c.Retr(ctx, num)
	}
	if err != nil {
		return mailaccess.Header{}, opErr("fetch header", folder, m.probeLocked(ctx, err))
	}
	h, perr := parseHeader(body, s.entries[num-1])
	if cerr := closeBody(ctx, body); cerr != nil {
		return mailaccess.Header{}, opErr("fetch header", folder, cerr)
	}
	if perr != nil {
		return mailaccess.Header{}, opErr("fetch header", folder, perr)
	}
	return h, nil
}

// maxHeader bounds the header bytes parsed per message.
const maxHeader = 1 << 20

// parseHeader parses the header of message e from r (the answer to TOP
// n 0, or to RETR), refusing one cut short (see driver.ReadHeader).
func parseHeader(r io.Reader, e entry) (mailaccess.Header, error) {
	return driver.ReadHeader(io.LimitReader(r, maxHeader), e.size, fmt.Sprintf("message %d", e.num))
}

// Delete marks messages for deletion. They disappear from this session at
// once (List skips them, Open reports ErrNotFound), but nothing is sent to
// the server yet: [Mailbox.Commit] sends the DELE commands (pipelined) and
// QUIT together. Close without Commit, or a lost session, discards the
// marks without the server ever seeing them.
func (m *Mailbox) Delete(ctx context.Context, folder string, ids ...mailaccess.ID) error {
	if err := checkFolder(folder); err != nil {
		return opErr("delete", folder, err)
	}
	if len(ids) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.checkLocked()
	s, err := m.sessionLocked(ctx)
	if err != nil {
		return opErr("delete", folder, err)
	}
	nums := make([]int, 0, len(ids))
	for _, id := range ids {
		n, err := s.resolve(ctx, id)
		if err != nil {
			return opErr("delete", folder, m.probeLocked(ctx, err)) // nothing marked
		}
		nums = append(nums, n)
	}
	for _, n := range nums {
		if !s.entries[n-1].deleted {
			s.entries[n-1].deleted = true
			s.pending++
		}
	}
	m.notePendingLocked()
	return nil
}

// Commit applies the pending deletions: it sends their DELE commands
// (pipelined when the server allows) and then QUIT, at which the server
// removes them, and ends the session; the next call opens a new one. If a
// DELE is refused, the session is closed without QUIT, so nothing at all is
// deleted, and the error is returned. It returns [ErrDeletesDiscarded]
// (once) if a session with pending deletions was lost before, and nil with
// nothing pending.
func (m *Mailbox) Commit(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isClosed() {
		return opErr("commit", "", mailaccess.ErrClosed)
	}
	m.checkLocked()
	if m.lost {
		n := m.lostN
		m.lost, m.lostN = false, 0
		m.notePendingLocked()
		return opErr("commit", "", fmt.Errorf("%d marked before the session was lost: %w", n, ErrDeletesDiscarded))
	}
	s := m.sess
	if s == nil || s.pending == 0 {
		return nil
	}
	var nums []int
	for _, e := range s.entries {
		if e.deleted && !e.hole {
			nums = append(nums, e.num)
		}
	}
	if err := s.c.DeleteAll(ctx, nums); err != nil {
		m.dropLocked()
		m.lost, m.lostN = false, 0 // reported now
		m.notePendingLocked()
		return opErr("commit", "", fmt.Errorf("nothing deleted (session closed without QUIT): %w", err))
	}
	m.sess = nil
	m.notePendingLocked()
	if err := s.c.Quit(ctx); err != nil {
		if !isServerAnswer(err) {
			// No answer to QUIT: whether the server applied the deletes
			// is unknown.
			return opErr("commit", "", fmt.Errorf("QUIT not acknowledged, deletions may or may not be applied: %w", err))
		}
		return opErr("commit", "", err)
	}
	return nil
}

func isServerAnswer(err error) bool {
	var we *pop3wire.Error
	return errors.As(err, &we)
}

// SetFlags is not supported: POP3 keeps no flags.
func (m *Mailbox) SetFlags(ctx context.Context, folder string, ids []mailaccess.ID, op mailaccess.FlagOp, flags ...mailaccess.Flag) error {
	return &mailaccess.UnsupportedError{Op: "set flags", Protocol: protocol, Missing: mailaccess.CapFlags, Reason: "POP3 keeps no flags on the server"}
}

// Append is not supported: POP3 cannot upload.
func (m *Mailbox) Append(ctx context.Context, folder string, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	return "", &mailaccess.UnsupportedError{Op: "append", Protocol: protocol, Missing: mailaccess.CapAppend, Reason: "POP3 cannot upload messages"}
}

// Move is not supported: POP3 has one folder.
func (m *Mailbox) Move(ctx context.Context, folder string, ids []mailaccess.ID, dest string) ([]mailaccess.ID, error) {
	return nil, &mailaccess.UnsupportedError{Op: "move", Protocol: protocol, Missing: mailaccess.CapMove, Reason: "POP3 has only INBOX"}
}

// Copy is not supported: POP3 has one folder.
func (m *Mailbox) Copy(ctx context.Context, folder string, ids []mailaccess.ID, dest string) ([]mailaccess.ID, error) {
	return nil, &mailaccess.UnsupportedError{Op: "copy", Protocol: protocol, Missing: mailaccess.CapCopy, Reason: "POP3 has only INBOX"}
}

// Config returns a copy of the configuration the Mailbox was opened with
// (driver.ConfigProvider).
func (m *Mailbox) Config() mailaccess.Config { return m.cfg.Get() }

// As sets target, a **[Conn], to the wire connection of the open session
// and reports whether there was one. A pointer to an optional interface of
// package driver that the Mailbox implements receives the Mailbox. Not
// portable: see the package doc.
func (m *Mailbox) As(target any) bool {
	if driver.AsInterface(m, target) {
		return true
	}
	p, ok := target.(**Conn)
	if !ok || p == nil {
		return false
	}
	m.closeMu.Lock()
	defer m.closeMu.Unlock()
	if m.closed || m.cur == nil || m.cur.Err() != nil {
		return false
	}
	*p = m.cur
	return true
}

// Rollback drops the deletions marked since the last Commit without
// applying them (nothing was sent yet: POP3 deletes at QUIT, and this
// driver sends its DELE commands only at Commit): the messages are listed
// again, and a Close that follows reports nothing discarded. It also
// forgets deletions lost with an earlier session, which Commit would
// otherwise report.
func (m *Mailbox) Rollback(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isClosed() {
		return opErr("rollback", "", mailaccess.ErrClosed)
	}
	if s := m.sess; s != nil {
		for i := range s.entries {
			if e := &s.entries[i]; e.deleted && !e.hole {
				e.deleted = false
			}
		}
		s.pending = 0
	}
	m.lost, m.lostN = false, 0
	m.notePendingLocked()
	return nil
}

// Close ends the session without applying pending deletions: when the
// session is idle it sends RSET and then QUIT (so the server releases the
// maildrop lock before Close returns), otherwise it closes the connection,
// which makes the server discard everything. It does not wait for an open
// message reader; that reader fails. If deletions marked with Delete were
// never committed, Close returns an error matching
// [mailaccess.ErrDeletesDiscarded] that says how many it dropped (the
// messages are still on the server): call Commit before Close, or
// Rollback to drop them on purpose. Close is idempotent.
func (m *Mailbox) Close() error {
	m.closeMu.Lock()
	if m.closed {
		m.closeMu.Unlock()
		return nil
	}
	m.closed = true
	c := m.cur
	m.closeMu.Unlock()
	m.dropCache()
	var err error
	if n := m.unapplied.Load(); n > 0 {
		err = opErr("close", "", driver.DeletesDiscarded(int(n)))
	}
	if c == nil {
		return err
	}
	// When no call or reader holds the session, end it properly so the
	// server releases the maildrop lock before Close returns (a new
	// session opened right after would otherwise meet [IN-USE]): RSET
	// first, so that not even a DELE of an interrupted Commit could be
	// applied, and QUIT only once RSET succeeded. Otherwise, or on any
	// error, just close the socket: the server then applies nothing.
	if m.mu.TryLock() {
		defer m.mu.Unlock()
		if c.Err() == nil {
			ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
			defer cancel()
			if c.Rset(ctx) == nil && c.Quit(ctx) == nil {
				return err
			}
		}
	}
	c.Close()
	return err
}

// closeTimeout bounds the RSET and QUIT with which Close ends a session.
const closeTimeout = 2 * time.Second
