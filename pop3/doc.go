// Package pop3 is the POP3 driver of go-mailaccess: a [mailaccess.Mailbox]
// over one POP3 maildrop, registered for the URL schemes "pop3" (STLS) and
// "pop3s" (implicit TLS, port 995).
//
//	import _ "github.com/mailaccess/go-mailaccess/pop3"
//
//	mb, err := mailaccess.OpenURL(ctx, "pop3s://alice@pop.example.org")
//
// or, with a Config, [Dial]. The wire protocol is spoken by this module's
// own streaming client (RFC 1939, RFC 2449 CAPA and PIPELINING, RFC 2595
// STLS, RFC 5034 SASL); see the README's dependency notes for why not an
// existing library.
//
// # Capabilities
//
// What POP3 gives, flag by flag ([mailaccess.Capability]):
//
//   - folders: never. There is one folder, [mailaccess.Inbox] ("" is taken
//     as INBOX too); any other name is [mailaccess.ErrNotFound].
//   - uid: only when the server offers UIDL. IDs are then the UIDL strings,
//     stable across sessions. Without UIDL, IDs are session message numbers
//     written "#N sS" (message N of session S): they contain a space, which
//     no UIDL can, so they are never mistaken for one, and they are valid
//     only until the session ends (a [Mailbox.Commit], a lost connection, a
//     Watch poll): using one later, or in another Mailbox, returns
//     [mailaccess.ErrNotFound] (session numbers are unique in the process
//     and start at a random value), never another message. Such messages
//     have [mailaccess.MessageInfo].UnstableID set: do not store their IDs.
//   - duplicate UIDLs: some servers give one UIDL to several messages
//     (popa3d derives it from the header, so two messages with the same
//     leading header lines share it). The listing is not rejected: a UIDL
//     that occurs once stays that message's ID; the messages that share
//     one get session-number IDs, flagged UnstableID, so every one of them
//     can be listed, read, fetched and deleted in the session. The shared
//     UIDL itself names no message (ErrNotFound), since it is ambiguous.
//   - flags, keywords: never; POP3 keeps no flags on the server. SetFlags
//     returns an [*mailaccess.UnsupportedError].
//   - headers: when the server offers TOP; FetchHeader and
//     ListOptions.Headers use "TOP n 0" (pipelined for List). Without TOP,
//     FetchHeader reads the message with RETR up to the end of its header.
//   - partial: never (POP3 has no byte ranges or MIME parts). Structure
//     and OpenPart still work, by downloading the message (RETR): the
//     last message they read is kept (1 MiB in memory, the rest in a
//     temporary file, removed when another message replaces it or the
//     Mailbox closes), so the part tree, the text and the attachments of
//     one message cost one download. Fetch with FetchOptions.Structure
//     downloads each message as it is yielded, and keeps it the same way.
//   - search: never on the server; Search and FetchMatching still work,
//     evaluated here (driver.Filter, the meaning every driver gives a
//     Criteria): sizes from LIST, header criteria from pipelined TOP,
//     bodies from pipelined RETR, each only for the messages still
//     undecided. POP3 keeps no flags (WithoutFlags \Seen matches every
//     message), has no internal date (Since and Before compare the Date
//     header) and no numeric UIDs (MinUID and MaxUID match nothing).
//   - sort: never on the server; Sort orders the matching messages here
//     (driver.Sorter), reading their headers with TOP when a key needs
//     them.
//   - push: never; Watch polls (Event.Push is false).
//   - delete and deferred-delete: always. Delete only marks messages in the
//     Mailbox (they vanish from its listing at once); [Mailbox.Commit]
//     sends their DELE commands, pipelined, followed by QUIT, at which the
//     server removes them. No DELE reaches the server before Commit, so
//     Close without Commit, a cancelled context, an error or a dropped
//     connection can never apply a pending delete; and if a DELE is refused
//     at Commit the session is closed without QUIT, so a Commit deletes all
//     of its messages or none. If marks were discarded by a lost session,
//     the next Commit returns [ErrDeletesDiscarded] rather than pretend
//     success; Close with marks never committed returns it too, with
//     their number, so a program that forgot Commit finds out at once
//     instead of processing the same mail on every run.
//     [Mailbox.Rollback] (mailaccess.Rollback) drops the marks on purpose.
//   - append, move, copy, changes, offline, manage-folders: never.
//
// Capabilities are those of the server at [Dial] (read from CAPA after
// login; a server without CAPA is probed with UIDL and TOP).
//
// Status reports STAT's count and size; Unseen is
// [mailaccess.UnknownCount], UIDValidity and UIDNext are 0.
//
// # Errors and validation
//
// A Config naming a folder other than INBOX ("pop3s://host/Archive") is
// refused by its validation, before connecting; so is an empty user or
// password. Errors say what to do for the usual configuration mistakes:
// a certificate from an unknown authority (ca_file=), for another name,
// or a plaintext answer on a TLS port; no greeting on a plaintext
// connection (the port may expect pop3s://); STLS not offered.
//
// # Sessions and locking
//
// POP3 allows one session per maildrop: the server locks it at login, and
// a second session is refused ("-ERR [IN-USE]", reported as an error
// matching [mailaccess.ErrLocked]). A Mailbox therefore holds exactly one
// connection and serialises every call on it with a mutex; it is safe for
// concurrent use, but calls wait for each other. A reader returned by Open
// holds the session until it is closed: close it before making another call
// from the same goroutine, or that call waits forever.
//
// Close ends an idle session with RSET then QUIT, so the server has
// released its lock when Close returns (with no DELE ever sent before
// Commit, and RSET first, this applies nothing); a busy or broken session
// is just disconnected. After Commit (QUIT) the next call opens a new
// session lazily. A session
// also only sees the maildrop as it was at login: new mail appears in a new
// session (Watch reconnects for every poll).
//
// STAT, LIST and UIDL are sent at most once per session and cached, so
// listing 100,000 messages costs one round trip each, not one per message.
//
// A session the server ends (an autologout, a limit on commands or time,
// a dropped connection) fails the call that meets it with an error that
// matches [mailaccess.ErrTemporary] and quotes what the server last said
// ("-ERR ..."): a -ERR answer is followed by a NOOP to tell a refused
// command from a session that is over. The next call opens a new session,
// with new message numbers and IDs mapped again from a fresh UIDL; marks
// made by Delete in the lost session are not carried over (the server
// discarded them) and the next Commit returns [ErrDeletesDiscarded].
//
// # Bodies are checked
//
// The reader returned by Open, and the one OpenAll passes to its callback,
// counts the bytes of the message and, at its end, compares them with the
// size LIST gave in the same session. Instead of io.EOF it returns an error
// wrapping [ErrSizeMismatch] and [mailaccess.ErrProtocol], naming the
// message, both sizes and what to do, when the body does not fit: so a
// caller that copies the body somewhere never takes a truncated or altered
// message for complete, and nothing unverified is followed by a delete. An
// empty body for a message listed as non-empty is always refused.
// Otherwise opt.size-check decides:
//
//   - strict (default): exactly the listed size, or exactly what a
//     line-end convention makes of it: RFC 1939 counts a line end as CRLF,
//     some servers count one octet (the size of a message stored with LF
//     line ends: qmail-pop3d, Dovecot with pop3_fast_size_lookups: the
//     body is then longer by its number of lines), and a server adds a
//     CRLF to a message whose last line had none. Besides these, only an
//     "X-UIDL: <uidl>" header field naming the message itself may come on
//     top: servers that keep the UIDL in the message (GNU Mailutils'
//     pop3d, qpopper) add it when they first list a message, after
//     computing that session's LIST size, and store the message with it
//     from then on. Any other length, longer or shorter, is refused: a
//     body with octets cut off or added (a proxy that appends a footer to
//     every message) is not the message listed. Dovecot, popa3d and this
//     module's pop3test list exact sizes; a server that counts the octets
//     of a message stored with mixed line ends needs at-least.
//   - at-least: also accepts longer bodies, for servers that list
//     estimates (Microsoft Exchange and Exchange Online do unless
//     EnableExactRFC822Size is set; fetchmail notes the same of old UCB
//     and QUALCOMM servers, which list more than they send, and those
//     still fail). A shorter body, how a truncated message looks, is still
//     refused.
//   - off: only the empty-body check (as fetchmail, MailKit and mpop do;
//     they pass bodies on whatever their size).
//
// # Options and limits
//
// Driver options are set in Config.Options, or as opt.NAME=VALUE in a URL;
// an unknown name or a bad value fails Dial with [mailaccess.ErrInvalid].
//
//   - opt.size-check=strict|at-least|off: the body check above.
//   - opt.max-listing=N (default 250,000): the most lines of a LIST or UIDL
//     listing, hence the largest maildrop that can be listed. A longer
//     listing fails with [mailaccess.ErrProtocol] naming the limit and the
//     option. Memory is bounded by it: listing takes about 400 bytes per
//     message at its peak (with 40-character UIDLs), so about 100 MB at
//     the default.
//
// Fixed limits: status and listing lines are at most 8,192 octets; at most
// 8 blank lines (or stray line ends) are skipped before a status line;
// CAPA answers at most 1,024 lines; a header parsed for FetchHeader or
// ListOptions.Headers is read up to 1 MiB. Config.CommandTimeout (default 2
// minutes) bounds every answer that is not a message body as a whole: a
// status line, or a listing up to its last line, however slowly the server
// trickles it. A message body is bounded by progress instead: the server
// must send at least 16 KiB of it (or its rest) within each command
// timeout spent waiting for it (the time the caller takes to read does
// not count), so a large message on a slow link is never cut off, and a
// server that trickles a byte at a time cannot hold the client either. A
// maximum message size is the caller's to apply while reading. A timeout matches
// [mailaccess.ErrTemporary]. Nothing is ever allocated from a count or
// size the server claims (STAT, LIST); buffers grow with what arrives.
//
// # Security
//
// pop3:// upgrades with STLS before authenticating and fails with
// [mailaccess.ErrStartTLSUnavailable] if the server does not offer it;
// pop3s:// uses implicit TLS. Certificates are verified (add a CA with
// Config.CAFile or Config.TLSConfig). Only tls=insecure-plaintext allows
// credentials over an unencrypted connection; otherwise the driver refuses
// with [mailaccess.ErrInsecure]. User names with CR, LF or NUL are refused
// before anything is sent. Passwords and tokens never appear in errors,
// logs or traces.
//
// # Authentication
//
// When the server offers UTF8 (RFC 6856) it is enabled before login (or
// right after, if the server only offers it then), so that a user name in
// UTF-8 works where the server allows it and messages with UTF-8 headers
// arrive as stored instead of being downgraded for a legacy client.
//
// Config.Auth selects the mechanism: "apop" (RFC 1939 APOP, the password is
// the shared secret), "plain", "login", "xoauth2", "oauthbearer" (SASL),
// or "user" (USER/PASS). Empty chooses XOAUTH2 (OAUTHBEARER if only that
// is offered) when Config.Token is set, else SASL PLAIN when offered, else
// USER/PASS. A token is asked for again, and authentication retried once,
// after the server refuses one. Refused credentials give an error matching
// [mailaccess.ErrAuth]; "[SYS/TEMP]" and "[LOGIN-DELAY]" match
// [mailaccess.ErrTemporary].
//
// # Escape hatch
//
// As accepts a **[Conn], which it sets to the wire connection of the
// current session (false when none is open). It is not portable and bypasses the
// Mailbox's bookkeeping: use it only for commands that do not change the
// session state, while no other call is running.
//
// # Fetch
//
// Fetch takes the metadata of the messages asked for from the session's
// cached LIST and UIDL (no command), and their headers, when asked, with
// pipelined "TOP n 0" in batches of FetchOptions.BatchSize (default 256).
//
// # Batch download
//
// [Mailbox.OpenAll] retrieves many messages with pipelined RETR (when the
// server offers PIPELINING), which is much faster than calling Open in a
// loop on high-latency links. Generic code reaches it through
// [driver.OpenAll] (it implements [driver.BatchOpener]), which falls back
// to Open per message on other Mailboxes.
package pop3
