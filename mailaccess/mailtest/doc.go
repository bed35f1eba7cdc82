// Package mailtest helps test code that uses mailaccess: an in-memory fake
// [Mailbox] with fault injection, registered as the mem:// scheme, and
// [EdgeCases], messages that naive clients and servers corrupt. The
// conformance suite that checks any [mailaccess.Mailbox] implementation
// against the contract is in the package beside it,
// mailaccess/mailtest/conformance, so that a program that uses mem:// does
// not link package testing. Together they play the role testing/fstest
// plays for io/fs.
//
// # The fake
//
// [New] returns a Mailbox over a fresh in-memory [Store] that behaves as a
// server with the capabilities you give it: [ProfilePOP3], [ProfileIMAP],
// [ProfileMaildir] or any [mailaccess.Capability] set. Every operation the
// capabilities do not allow returns an error matching
// [errors.ErrUnsupported], as a real driver would, so a test of your code
// against ProfilePOP3 finds out whether your code copes with POP3.
//
//	mb := mailtest.New(mailtest.ProfileIMAP)
//	mb.Add("INBOX", []byte("Subject: hi\r\n\r\nbody\r\n"))
//	err := myapp.Process(ctx, mb)       // the code under test
//	msgs := mb.Messages("INBOX")         // assert on the final state
//
// The fake is also registered as the URL scheme "mem": opening
// "mem://NAME" twice gives two handles on the same named store (see
// [NamedStore]), so code that opens its mailbox from configuration can be
// pointed at a store the test seeded. The option profile selects the
// capabilities: "mem://t1?opt.profile=pop3", "?opt.profile=imap",
// "?opt.profile=maildir", "?opt.profile=all" or a capability list such as
// "?opt.profile=folders|uid|flags". The default is imap. "mem://" without
// a name opens a new private store. A folder in the URL ("mem://t1/Archive")
// must exist in the store, as imap:// checks at Open: otherwise Open fails
// with an error matching [mailaccess.ErrNotFound] ([Store.OpenFolder] is
// the same check for the Go API).
//
// Test-side controls on [Store] (promoted to Mailbox) bypass capabilities
// and act as another client or the server would: [Store.Add] delivers a
// message, [Store.Expunge] removes messages, [Store.ResetUIDValidity]
// renumbers a folder, [Store.SetFlagsDirect] changes flags, and
// [Store.Messages] returns a snapshot to assert on. [Store.Calls] counts
// the calls of an operation, and [Store.Watching] tells when a Watch has
// started, so a test can deliver mail only once the watcher will see it.
//
// Faults, safe to set while other goroutines use the store:
// [Store.FailNth] and [Store.FailAlways] make an operation ([Op]) fail,
// [Store.CutBodyAfter] truncates message streams with
// [io.ErrUnexpectedEOF], [Store.SetLatency] delays every call (honouring
// the context), and [Store.DropConnections] breaks every open handle as a
// lost network connection would, until it is reopened.
//
// # Semantics and limits of the fake
//
// IDs are decimal UIDs ("1", "2", ...) per folder, with a UIDVALIDITY, a
// UIDNEXT and a HIGHESTMODSEQ that grows on every append, flag change and
// expunge. (The imap driver's IDs carry the UIDVALIDITY too,
// "<uidvalidity>.<uid>": portable code takes IDs from List, Search and
// Fetch and never builds or parses them.) A handle reports of them what the driver its capabilities
// imitate reports (tests in packages pop3, imap and maildir compare them):
//   - an IMAP server (CapUID, with folders or flags, not offline):
//     MessageInfo.UID, Status.UIDValidity and UIDNext;
//   - a Maildir (CapOffline): Status.UIDValidity only, MessageInfo.UID 0;
//   - a POP3 maildrop (neither CapFolders nor CapFlags): no UID, no
//     UIDVALIDITY or UIDNEXT, and no internal date (Message.Date falls
//     back to the Date header, as on POP3);
//   - without CapFlags, Status.Unseen is [mailaccess.UnknownCount].
//
// Message bytes are stored as given (no CRLF normalisation, no size
// limit) and never change, so a reader returned by Open keeps reading its
// snapshot even if the message is deleted meanwhile.
//
// Like fstest.MapFS, the fake favours being predictable over being
// realistic:
//   - Everything lives in memory; there is no persistence and no size limit.
//   - Folder names are flat strings compared exactly, except INBOX, which is
//     case-insensitive. The delimiter reported is "/", but no hierarchy is
//     enforced (creating "a/b" does not create "a"). Roles are guessed from
//     well-known names (Sent, Drafts, Trash, Junk/Spam, Archive).
//   - With [mailaccess.CapDeferredDelete] (the POP3 profile) deleted
//     messages disappear from the deleting handle at once and from the
//     store at Commit; Rollback brings them back; Close or a dropped
//     connection discards them, and Close then returns an error matching
//     [mailaccess.ErrDeletesDiscarded], as the pop3 driver's does. Unlike
//     POP3, other handles are not locked out and messages delivered during
//     the session are visible at once.
//   - Search and Sort work with any capabilities (CapSearch and CapSort
//     say whether a real server would do the work), with the evaluator
//     every local search shares (driver.Match, IMAP SEARCH's meaning as
//     Dovecot implements it, checked by the conformance suite) and
//     RFC 5256's order; charsets are those go-message knows.
//   - OpenOptions.Part follows multipart structure and descends into
//     message/rfc822 parts; Part [1] of a single-part message is its body.
//   - Fetch, Structure and OpenPart work with every profile, as every
//     driver's do (Structure and OpenPart parse the stored bytes with
//     package mailmime); FetchMatching is Search and Fetch with
//     CapSearch, and a check of every message without it (as on POP3).
//     Each counts as one call of its Op (OpFetch, OpStructure,
//     OpOpenPart) for [Store.Calls] and fault injection, whatever the
//     number of messages: a test can assert that code fetched what it
//     selected in one call rather than message by message.
//   - Watch reports changes by diffing snapshots: a burst of changes may
//     arrive as one event per kind, as with a real server.
//   - Internal dates are time.Now() unless given ([Store.AddWithDate],
//     AppendOptions.Date).
//
// The fake passes the conformance suite with every profile.
package mailtest
