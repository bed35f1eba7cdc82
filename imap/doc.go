// Package imap is the IMAP driver of go-mailaccess: a [mailaccess.Mailbox]
// on github.com/emersion/go-imap/v2 (v2.0.0-beta.8). Importing it registers
// the schemes "imap" (STARTTLS required by default) and "imaps" (implicit
// TLS, port 993) through package driver. Its driver options are
// opt.max-line, opt.max-literal (see "Limits against hostile servers") and
// opt.size-check (OptSizeCheck); any other opt.NAME is refused:
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
// "[redacted]", and literals (message bodies) by their size; a password or
// token that a server line repeats is replaced too. The
// pre-STARTTLS plaintext exchange is not traced.
//
// # Limits against hostile servers
//
// go-imap buffers every response line and every literal that is not a
// message body whole. The driver reads the connection through a guard that
// counts them as they arrive, so that memory stays bounded whatever the
// server sends:
//
//	opt.max-line     the most bytes of one server response outside its
//	                 literals (default 4 MiB). The longest responses the
//	                 driver provokes are SEARCH results, about 8 bytes per
//	                 matching message.
//	opt.max-literal  the most bytes of literals that are not message bodies
//	                 in one response: a folder name, a string of an ENVELOPE
//	                 (default 1 MiB). A literal is refused on the size it
//	                 announces, before it is read.
//
// The defaults are [DefaultMaxLine] and [DefaultMaxLiteral].
// Values are byte counts ("65536") or carry a KiB, MiB or GiB suffix; set
// them in Config.Options or in the URL
// ("imaps://me@host/INBOX?opt.max-line=16MiB"). An unknown option or a bad
// value fails Dial with [mailaccess.ErrInvalid]. Message bodies (the
// BODY[...], BINARY[...] and RFC822 items of FETCH) are not held to these
// limits: they are streamed to the caller. Beyond a limit the call fails
// with an error matching [mailaccess.ErrProtocol] that names the server,
// the limit, its value and the option, and the connection is dropped.
//
// Counts the server claims (EXISTS, STATUS MESSAGES, the UID sets of SEARCH
// and COPYUID) never size an allocation. A count no folder can have is an
// ErrProtocol error, not a temporary one: 2^32-1 messages, more messages
// than UIDNEXT-1, or a count the server cannot back with a message at its
// last sequence number after a fresh EXAMINE. So is a SEARCH result larger
// than the folder (beyond a margin of 1024 for new mail). A COPYUID larger
// than the copy is ignored: the new IDs are then "".
//
// # Server quirks and connection errors
//
// The guard also rewrites, line by line and never inside a quoted string
// or a literal, the deviations of real servers that go-imap would reject
// but whose meaning is certain: blank lines are dropped; a response code
// without a status ("* [ALERT] ...", or "[COPYUID ...]" alone on a line as
// Exchange 2013 sends it) reads as "* OK [...]"; text glued to a response
// code (Office 365's "[Error="..." ...]"), a missing space after "]" and a
// "[" never closed are repaired; runs of spaces or tabs, a space before
// ")" and trailing spaces (qq.com, Exchange) are dropped; a size in
// exponent form after RFC822.SIZE (mail.ru's "9.3736e+06") becomes the
// integer it is; the items RFC822, RFC822.HEADER and RFC822.TEXT become
// BODY[], BODY[HEADER] and BODY[TEXT], which RFC 3501 defines as the same;
// an ESEARCH response without a correlator is spaced as go-imap expects.
// One rewrite loses information: a keyword no atom can hold, which Gmail
// lists in FLAGS, PERMANENTFLAGS and a message's FLAGS (such as
// "OIB-Seen-[Gmail]/Trash"), is left out rather than fail the SELECT or the
// FETCH; such a keyword with a space in it leaves its last word behind as
// a keyword of its own ("OIB-Seen-[Gmail]/All Mail" leaves "Mail").
//
// Anything else go-imap cannot parse fails the call with an error matching
// [mailaccess.ErrProtocol] that names the server and quotes the response
// (its first 128 bytes; during authentication only its tag and status
// word; a password or token the server echoes reads "[redacted]"). A
// session that ends fails the call in progress with an error matching
// [mailaccess.ErrTemporary]: a BYE (quoted in the error), a connection
// closed or reset by the server (also in the middle of a body), a BYE
// greeting, a NO [UNAVAILABLE]. NO [INUSE] matches
// [mailaccess.ErrLocked]. The connection is dropped, and the Mailbox's next
// call dials a new one; a pooled connection that received BYE is never
// used again.
//
// # Context and timeouts
//
// go-imap takes no context; every call ties its connection to its ctx with
// context.AfterFunc, which closes the connection when ctx ends, so a call
// returns promptly even if the server stopped answering (a half-open TCP
// connection). The error then matches ctx.Err(), and the connection is
// dropped from the pool. Config.CommandTimeout (default 2 min) bounds each
// call's wait for the server in the same way (not the reading of a body
// returned by Open, which the caller paces). go-imap's own constant bounds
// (30 seconds for a response, 5 minutes for a whole message body) are
// applied to each read instead: a large body on a slow link, or read
// slowly by the caller, is not cut off, while a server that sends nothing
// for that long still is. A literal (a message body) must also deliver
// [MinProgress] octets (16 KiB), or its rest, within each
// Config.CommandTimeout the driver spends waiting for it (the caller's
// own pace does not count), so a server that trickles a body a byte at a
// time fails the read with an error matching [mailaccess.ErrTemporary]
// instead of holding it for hours.
//
// # Concurrency: the connection pool
//
// A Mailbox keeps a pool of up to Config.MaxConns authenticated connections
// (default [DefaultMaxConns]); the first is opened by Dial. A call takes an
// idle connection, dials one if there is room, or waits (ctx-aware) for one
// to be returned: it never fails for being busy. A connection runs one call
// at a time, so go-imap never has two commands of a kind it matches by type
// (SEARCH, LIST, EXPUNGE...) in flight on one connection. Each connection
// remembers its selected folder and re-selects only when needed. Folders
// are opened with SELECT, for reading too: never EXAMINE, which servers
// test less (GNU Mailutils' imap4d renumbers new messages in every
// read-only session); the driver never sends CLOSE, so leaving a folder
// expunges nothing.
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
// Always set: folders, uid (IDs carry the UIDVALIDITY, see below, and
// MessageInfo.UID is set), flags, headers
// (BODY.PEEK[HEADER]), partial (BODY.PEEK[1.2]<offset.length>,
// BODYSTRUCTURE, BINARY.PEEK[n] where offered), search
// (UID SEARCH), append (the ID comes from APPENDUID when the server has
// UIDPLUS, else it is ""), copy (new IDs from COPYUID when offered) and
// manage-folders (CREATE, RENAME, DELETE).
//
// Depending on the server:
//
//	keywords  the folder's PERMANENTFLAGS (RFC 3501 7.1), which SELECT
//	          reports: set when they hold \* (new keywords are kept) or
//	          are not reported. Dial selects the folder the Config names
//	          (the URL's path, INBOX included) and sets keywords from it;
//	          a Config without a folder costs no SELECT at Dial, and
//	          keywords are then assumed. Whatever Capabilities says, every
//	          SetFlags (adding or replacing) and Append checks its flags
//	          against the PERMANENTFLAGS of the folder it acts on and, if
//	          the folder does not keep one, returns an
//	          *mailaccess.UnsupportedError (Missing keywords, or flags for
//	          a system flag) naming the flags and the list, before anything
//	          is sent: a flag never vanishes silently (servers drop it, or
//	          answer BAD as GNU Mailutils' imap4d does). A folder that
//	          lists \* is taken to keep system flags too, listed or not;
//	          one that lists "()" keeps none. [Mailbox.PermanentFlags]
//	          tells what a folder keeps, to leave out what it cannot.
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
// # Message IDs and UIDVALIDITY
//
// A message's [mailaccess.ID] is "<uidvalidity>.<uid>" in decimal, e.g.
// "1732900000.17" ([MakeID], [ParseID]): a UID names a message only within
// one UIDVALIDITY epoch of its folder, and a folder deleted and recreated
// (or reset by the server) reuses UIDs for other messages. Every call that
// takes IDs (Open, OpenAll, FetchHeader, SetFlags, Delete, Copy, Move)
// checks their UIDVALIDITY against the one the server reported when it
// selected the folder for the call, and on a mismatch fails with
// [mailaccess.ErrUIDValidity] before any command acts on a message. Delete
// and Move select the folder afresh for that check; the other calls use
// the connection's current selection, which the server keeps bound to the
// folder it selected (if the folder was replaced since, the server refuses
// the command, as Dovecot does, and the driver then reports
// ErrUIDValidity, or it acts on the old folder; never on the new one). A
// bare UID ("17") is refused with [mailaccess.ErrInvalid]. IDs returned by
// List, Search, Append and Copy/Move (APPENDUID, COPYUID: the destination's
// UIDVALIDITY) and Watch carry the epoch too. List fails with
// ErrUIDValidity if the epoch changes between two of its batches.
//
// # Verified bodies
//
// Open and OpenAll ask RFC822.SIZE in the same FETCH as the body, and
// the reader they hand out counts octets: where io.EOF would come, it
// returns an error wrapping [mailaccess.ErrProtocol] (naming the message,
// the size expected and the size received, and what to do) if the body is
// not as long as the message's RFC822.SIZE says (or, for a byte range,
// implies). NIL or an empty body for a non-empty message is such an error
// too (from Open at once), as is a body cut off by the connection. So a
// caller that keeps a body only once it read to EOF without error never
// keeps one the server did not vouch for. A MIME part (OpenOptions.Part)
// is checked against its literal's length only. OpenPart checks the part
// it reads against the server's description of the message: the part's
// size in BODYSTRUCTURE (one more small FETCH before the part), or
// BINARY.SIZE in the same FETCH with BINARY; a part of another length is
// an ErrProtocol error at its end, never a part that lost its last bytes.
// A part that BODYSTRUCTURE shows the message does not have is
// [mailaccess.ErrNotFound], even from a server that answers BODY[n] for
// it with an empty string (Courier-IMAP); transfer encodings that leave
// the octets as they are (7bit, 8bit, binary) count as the same when the
// part's MIME header and BODYSTRUCTURE disagree on them.
//
// Some servers report sizes that are not their bodies' lengths. For them
// the option opt.size-check=off ([OptSizeCheck]; in a URL
// "?opt.size-check=off") accepts a body of another length, logging a
// warning, and OpenPart does not check parts; NIL, empty and truncated
// bodies are errors even then.
//
// FETCH items may come in any order (RFC 3501); some servers send the UID
// after the body literal. go-imap beta.8 then cannot match the response to
// its command and passes it to the unilateral-data handler; the driver
// takes such responses back to the command running on the connection, so
// they are delivered like any other, and their UID is checked when the
// body ends.
//
// # Command length
//
// No command line is longer than 1000 octets (RFC 2683 section 3.2.1.5;
// some servers answer BAD beyond it): every command that carries a set of
// UIDs (FETCH, STORE, COPY, MOVE, UID EXPUNGE, SEARCH) is split by the
// set's encoded length, not only by its count, so a scattered set of IDs
// becomes several commands. Copy and Move of many IDs are therefore not
// atomic as a whole (each command is); Delete removes exactly the IDs
// asked in each round. Search and Sort criteria too long for one line are
// sent as several searches whose answers are intersected; a string too
// long on its own is searched by a prefix that fits (a NOT or OR holding
// it is left out), and the whole criteria are then checked by the driver
// on the messages found, as after NO [BADCHARSET].
//
// # UTF-8
//
// When the server offers UTF8=ACCEPT (RFC 6855), each connection sends
// ENABLE UTF8=ACCEPT before its first SELECT or APPEND: folder names then
// travel as UTF-8 rather than modified UTF-7, a server that downgrades
// messages with UTF-8 headers for legacy clients (RFC 6857) sends them as
// stored, and such messages can be appended. Searches are sent without
// CHARSET then, as RFC 6855 requires.
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
// [Mailbox.OpenAll] streams many bodies per round trip and accounts for
// every ID asked: delivered, skipped because it no longer exists, or named
// in its error.
// Search maps mailaccess.Criteria to UID SEARCH key for key (And, Or and
// Not to IMAP's AND, OR and NOT; non-ASCII strings are sent with CHARSET
// UTF-8, or as UTF-8 without CHARSET once UTF8=ACCEPT is enabled). If the
// server answers BADCHARSET, the widest ASCII criteria the Criteria imply
// run on the server and the whole Criteria is evaluated on the candidates
// by the client (driver.Filter: metadata and headers fetched in batches,
// bodies only where still needed), with the meaning every driver gives
// it, which is Dovecot's (the conformance suite checks Dovecot and the
// client-side evaluator on the same mail).
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
// # Reading what was selected
//
// Fetch sends one UID FETCH per batch of IDs (FetchOptions.BatchSize,
// default [DefaultBatchSize], fewer when scattered UIDs would make the
// command longer than about 800 octets of UID set) for the metadata List
// gives, + BODY.PEEK[HEADER] and BODYSTRUCTURE as asked; FetchMatching
// runs Search and then Fetch of only the UIDs found, so ten unseen
// messages of a 10,000-message folder cost ten message transfers.
// Structure is UID FETCH BODYSTRUCTURE, converted to a
// mailaccess.PartInfo tree as package mailmime describes a message it
// parses. OpenPart fetches BODY.PEEK[n.MIME] (the part's header: its
// encoding and charset) with BINARY.PEEK[n] when the server offers BINARY
// (RFC 3516: the server removes the transfer encoding, so a base64
// attachment crosses the wire at its decoded size), else with
// BODY.PEEK[n], decoded here; a part that does not exist is ErrNotFound.
//
// Servers send broken BODYSTRUCTUREs (Gmail, Exchange, Domino, GMX are
// known for it: see [Mailbox.Structure]). go-imap cannot parse most of
// them and drops the connection; a description that parses but makes no
// sense is refused here. Either way the message is then read (BODY.PEEK[],
// streamed) and parsed instead, and the root's PartInfo.Problem says so:
// a broken description never fails a Fetch, a FetchMatching or a
// Structure. In a batch, the failed FETCH is split in halves and asked
// again, so one broken message costs a few more exchanges.
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
