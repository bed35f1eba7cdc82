// Package imap is the IMAP driver of go-mailaccess: a [mailaccess.Mailbox]
// on github.com/emersion/go-imap/v2 (v2.0.0-beta.8). Importing it registers
// the schemes "imap" (STARTTLS required by default) and "imaps" (implicit
// TLS, port 993) through package driver; it knows no driver options yet
// (any opt.NAME is refused):
//
//	import _ "github.com/mailaccess/go-mailaccess/imap"
//
//	cfg, _ := mailaccess.ParseURL("imaps://me@imap.example.com/INBOX")
//	cfg.Password = mailaccess.Secret(os.Getenv("IMAP_PASSWORD"))
//	mb, err := mailaccess.Open(ctx, cfg)
//
// or directly: mb, err := imap.Dial(ctx, cfg). For tests, package
// imap/imaptest runs an in-process server.
//
// # Connections and security
//
// The driver dials the TCP connection itself (bounded by ctx and
// Config.DialTimeout) and hands it to go-imap. imaps:// does TLS at once;
// imap:// reads the greeting, asks CAPABILITY and sends STARTTLS itself, so
// a server that does not offer STARTTLS fails with
// [mailaccess.ErrStartTLSUnavailable] before anything else is sent: there is
// no fallback to plaintext. Certificates are verified
// (driver.Config.TLSClientConfig). Only tls=insecure-plaintext
// connects without TLS and allows credentials in clear; the driver refuses
// to authenticate on any other unencrypted connection
// ([mailaccess.ErrInsecure]).
//
// Authentication: with Config.Token (or Auth "xoauth2"/"oauthbearer") the
// token is sent with XOAUTH2 (Gmail, Outlook; OAUTHBEARER when the server
// offers only that, or when Auth says so); the token function is called
// again once if the server refuses the token. With a password: SASL PLAIN
// when offered, else LOGIN (Auth "plain"/"login" forces one). A refusal
// wraps [mailaccess.ErrAuth]. User names, folder names, flags and search
// strings with CR, LF or NUL are rejected ([mailaccess.ErrInvalid]).
// Errors never contain credentials. Config.Trace receives the protocol
// exchange of every connection ("C3: " client lines, "S3: " server lines):
// LOGIN arguments and the whole AUTHENTICATE exchange are replaced by
// "[redacted]", and literals (message bodies) by their size. The
// pre-STARTTLS plaintext exchange is not traced.
//
// # Context and timeouts
//
// go-imap takes no context; every call ties its connection to its ctx with
// context.AfterFunc, which closes the connection when ctx ends, so a call
// returns promptly even if the server stopped answering (a half-open TCP
// connection). The error then matches ctx.Err(), and the connection is
// dropped from the pool. Config.CommandTimeout (default 2 min) bounds each
// call's wait for the server in the same way (not the reading of a body
// returned by Open, which the caller paces; note that go-imap gives a single
// literal at most 5 minutes to arrive).
//
// # Concurrency: the connection pool
//
// A Mailbox keeps a pool of up to Config.MaxConns authenticated connections
// (default [DefaultMaxConns]); the first is opened by Dial. A call takes an
// idle connection, dials one if there is room, or waits (ctx-aware) for one
// to be returned: it never fails for being busy. A connection runs one call
// at a time, so go-imap never has two commands of a kind it matches by type
// (SEARCH, LIST, EXPUNGE...) in flight on one connection. Each connection
// remembers its selected folder and re-selects only when needed (EXAMINE
// for reading, SELECT for flags, delete and move).
//
// A reader returned by Open holds its connection until it is closed. List
// holds a connection only while it fetches a batch, not while the loop body
// runs, so the body may call Open, SetFlags... even with MaxConns 1.
//
// Watch does not use the pool: it opens a connection of its own, so that
// IDLE, which holds go-imap's write lock for as long as it runs, never
// blocks other calls.
//
// # Capabilities
//
// Always set: folders, uid (UIDs within UIDVALIDITY; IDs are decimal UIDs
// and MessageInfo.UID is set), flags, keywords (assumed; a folder whose
// PERMANENTFLAGS lack \* makes the server refuse new keywords), headers
// (BODY.PEEK[HEADER]), partial (BODY.PEEK[1.2]<offset.length>), search
// (UID SEARCH), append (the ID comes from APPENDUID when the server has
// UIDPLUS, else it is ""), copy (new IDs from COPYUID when offered) and
// manage-folders (CREATE, RENAME, DELETE).
//
// Depending on the server:
//
//	delete    UIDPLUS: UID STORE +FLAGS.SILENT (\Deleted) then UID EXPUNGE of
//	          exactly those UIDs. Without UIDPLUS Delete returns an
//	          UnsupportedError: a bare EXPUNGE would also remove messages
//	          other clients marked \Deleted, so it is never sent.
//	move      MOVE: UID MOVE. Without MOVE, Move is emulated with UID COPY +
//	          UID STORE \Deleted + UID EXPUNGE when the server has UIDPLUS
//	          (not atomic: a failure after the copy leaves both copies); with
//	          neither, Move returns an UnsupportedError.
//	push      IDLE: Watch is pushed; otherwise it polls with NOOP.
//	changes   CONDSTORE: Status reports HIGHESTMODSEQ, List fills ModSeq and
//	          honours ListOptions.ChangedSince (FETCH ... (CHANGEDSINCE n)).
//	          QRESYNC is never enabled (go-imap beta.8 cannot parse VANISHED).
//	sort      SORT: Sort sends UID SORT and receives only the ordered UIDs.
//	          Without it Sort searches, fetches the sizes, dates and the
//	          header fields the keys need of the matching messages, and
//	          orders them itself (driver.Sorter, RFC 5256's order).
//
// # Listing, bodies, search
//
// List fetches UID, FLAGS, RFC822.SIZE, INTERNALDATE (+ MODSEQ with
// CONDSTORE, + BODY.PEEK[HEADER] with ListOptions.Headers) in batches of
// ListOptions.BatchSize (default [DefaultBatchSize]) messages: one short
// FETCH to find the batch's last UID by sequence number, then one UID FETCH
// of the UID range, so memory and command length stay flat for any folder
// size; expunges by other clients between batches are detected and the
// position re-found. Open streams BODY.PEEK[] straight from the server's
// literal (nothing is buffered); closing the reader early drains up to
// 1 MiB to keep the connection, and drops the connection beyond that.
// Search maps mailaccess.Criteria to UID SEARCH key for key (And, Or and
// Not to IMAP's AND, OR and NOT; non-ASCII strings are sent with CHARSET
// UTF-8). If the server answers BADCHARSET, the widest ASCII criteria the
// Criteria imply run on the server and the whole Criteria is evaluated on
// the candidates by the client (driver.Filter: metadata and headers
// fetched in batches, bodies only where still needed), with the meaning
// every driver gives it, which is Dovecot's (the conformance suite checks
// Dovecot and the client-side evaluator on the same mail).
//
// # Errors and validation
//
// Dial (and mailaccess.Open) refuse an empty user or password before
// connecting, and, when the Config names a folder (the URL's path), check
// it exists before returning, so "imaps://host/Archvie" fails at Open with
// [mailaccess.ErrNotFound]. Errors say what to do for the usual
// configuration mistakes: a certificate from an unknown authority
// (ca_file=), for another name, or a plaintext answer on a TLS port; no
// greeting on a plaintext connection (the port may expect imaps://);
// STARTTLS not offered. A refused login is an error of operation "login"
// matching [mailaccess.ErrAuth].
//
// # Watch
//
// See [Mailbox.Watch]: IDLE refreshed every WatchOptions.IdleRefresh
// (default 9 min, below go-imap's fixed 28 min), EXISTS/EXPUNGE/FETCH FLAGS
// turned into events, reconnect with exponential backoff and a catch-up
// from the last known UIDNEXT so no new message is missed.
//
// # As
//
// As(&client) with a *imapclient.Client (target type
// **imapclient.Client) gives the client of one pooled connection. It is not
// reserved: the pool may run other calls on it at the same time, which
// go-imap allows but which breaks the driver's bookkeeping if you SELECT
// another folder, EXPUNGE, or start IDLE. Use it for read-only inspection
// (Caps, ID, NAMESPACE) or open a separate client. As also sets a pointer
// to an optional interface of package driver that the Mailbox implements
// (FolderManager, BatchOpener, ConfigProvider...); [Mailbox.Config]
// returns a copy of the configuration.
package imap
