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
//     Watch poll): using one later returns [mailaccess.ErrNotFound].
//   - flags, keywords: never; POP3 keeps no flags on the server. SetFlags
//     returns an [*mailaccess.UnsupportedError].
//   - headers: when the server offers TOP; FetchHeader and
//     ListOptions.Headers use "TOP n 0" (pipelined for List). Without TOP,
//     FetchHeader reads the message with RETR up to the end of its header.
//   - partial: never (POP3 has no byte ranges or MIME parts).
//   - search: never on the server; Search still works, evaluated here
//     (driver.Filter, the meaning every driver gives a Criteria): sizes
//     from LIST, header criteria from pipelined TOP, bodies from pipelined
//     RETR, each only for the messages still undecided. POP3 keeps no
//     flags (WithoutFlags \Seen matches every message), has no internal
//     date (Since and Before compare the Date header) and no numeric UIDs
//     (MinUID and MaxUID match nothing).
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
// # Batch download
//
// [Mailbox.OpenAll] retrieves many messages with pipelined RETR (when the
// server offers PIPELINING), which is much faster than calling Open in a
// loop on high-latency links. Generic code reaches it through
// [driver.OpenAll] (it implements [driver.BatchOpener]), which falls back
// to Open per message on other Mailboxes.
package pop3
