// Package mailaccess is one mailbox-access API over POP3, IMAP, a local
// Maildir and an in-memory fake.
//
// A program opens a [Mailbox] from a [Config] or a URL, and reads, lists,
// flags, moves, searches and watches mail the same way whatever the
// protocol. The protocol is chosen in configuration; each protocol's
// differences are typed [Capability] flags the program can check at open
// ([Open] takes required capabilities) or at call time (an operation the
// mailbox cannot do returns an error matching [errors.ErrUnsupported]).
//
// Drivers register URL schemes, as database/sql drivers do; import the ones
// you use ([Schemes] lists what is registered):
//
//	import (
//		"github.com/mailaccess/go-mailaccess/mailaccess"
//		_ "github.com/mailaccess/go-mailaccess/imap"            // imap://, imaps://
//		_ "github.com/mailaccess/go-mailaccess/pop3"            // pop3://, pop3s://
//		_ "github.com/mailaccess/go-mailaccess/mailaccess/maildir" // maildir://
//		_ "github.com/mailaccess/go-mailaccess/mailaccess/mailtest" // mem:// (tests)
//	)
//
//	cfg, _ := mailaccess.ParseURL("imaps://me@imap.example.com/INBOX")
//	cfg.Password = mailaccess.Secret(os.Getenv("MAIL_PASSWORD"))
//	mb, err := mailaccess.Open(ctx, cfg)
//	...
//	for msg, err := range mb.List(ctx, "INBOX", &mailaccess.ListOptions{Headers: true}) {
//		if err != nil { ... }
//		fmt.Println(msg.ID(), msg.Header().Subject())
//	}
//
// Changing "imaps" to "pop3s" is the whole port to POP3.
//
// # Capabilities by protocol
//
//	capability        POP3                 IMAP                    Maildir  mem (fake)
//	folders           -                    yes                     yes      profile
//	uid               if UIDL offered      yes (UIDVALIDITY)       yes      profile
//	flags, keywords   -                    yes                     yes      profile
//	headers           if TOP offered       yes                     yes      profile
//	partial           -                    yes                     -        profile
//	search            - (local)            yes                     yes      profile
//	sort              - (local)            if SORT offered         - (local) profile
//	push              - (Watch polls)      if IDLE offered         -        profile
//	delete            yes, at Commit       UIDPLUS: UID EXPUNGE    yes      profile
//	deferred-delete   yes (QUIT)           -                       -        POP3 profile
//	append, copy      -                    yes                     yes      profile
//	move              -                    MOVE, else emulated     yes      profile
//	changes           -                    if CONDSTORE offered    -        profile
//	offline           -                    -                       yes      profile
//	manage-folders    -                    yes                     yes      profile
//
// # Messages
//
// [Mailbox.List] yields [Message] values holding metadata (ID, size, date,
// flags and, on request, the parsed [Header]). Bodies are streamed with
// [Message.Open] and never buffered whole. Package mailmime decodes a
// streamed message for display: subject and addresses, text and HTML
// bodies in UTF-8 whatever their charset and transfer encoding, and
// attachments streamed past in bounded memory. Broken mail (unknown charset,
// bad Date, missing headers) is read as far as possible; the raw bytes are
// always reachable through Open.
//
// # Searching and sorting
//
// [Mailbox.Search] and [Mailbox.Sort] work on every driver: the server
// does the work where it can (search, sort), the driver otherwise, with
// the same result on the same mail. [Criteria] combine with [And], [Or]
// and [Not]; their strings match as IMAP SEARCH matches them (decoded,
// case-insensitively, as Dovecot does); [SortKey] orders as IMAP SORT.
//
// # Reading what you need
//
// [Mailbox.Fetch] yields given messages (IDs from Search, a Watch event or
// a stored list) with their metadata, and on request their headers and
// MIME part trees ([FetchOptions]), in one exchange per batch;
// [Mailbox.FetchMatching] is Search and Fetch in one call, so that taking
// the unseen messages of a large IMAP folder costs what matched, not the
// folder. [Mailbox.Structure] describes a message's parts ([PartInfo]:
// type, charset, encoding, size, disposition, a safe file name) without
// its body where the protocol can, and [Mailbox.OpenPart] streams one
// part decoded (base64 or quoted-printable removed, text optionally in
// UTF-8), fetching only that part over IMAP.
//
//	unseen := mailaccess.Criteria{WithoutFlags: []mailaccess.Flag{mailaccess.FlagSeen}}
//	for msg, err := range mb.FetchMatching(ctx, "INBOX", unseen, &mailaccess.FetchOptions{Headers: true, Structure: true}) {
//		if err != nil { ... }
//		if text := msg.Structure().Text(); text != nil {
//			rc, err := mb.OpenPart(ctx, "INBOX", msg.ID(), text.Path, &mailaccess.PartOptions{UTF8: true})
//			...
//		}
//	}
//
// # Optional operations
//
// Some operations exist only where the protocol has them: [Commit] applies
// POP3's deferred deletions and [Rollback] drops them (Close reports
// deletions it had to drop, [ErrDeletesDiscarded]), [CreateFolder],
// [RenameFolder] and [DeleteFolder] manage folders. They find the driver's
// method on the Mailbox or, through a wrapper, with As, and fail with an
// [*UnsupportedError] (or do nothing, for Commit and Rollback) where there
// is none.
// Package driver declares these optional interfaces, and the batch read
// (driver.OpenAll) that streams many bodies in one exchange.
//
// # Concurrency
//
// Every Mailbox is safe for use by several goroutines. Drivers document how:
// the POP3 driver serialises calls on its single session (POP3 allows one
// per maildrop); the IMAP driver keeps a small pool of connections.
//
// # Sync and offline use
//
// Package mailsync implements [Sync]: it copies a source into a
// destination (usually a Maildir, see package maildir) incrementally and
// crash-safely, with POP3 retention policies and progress reporting, and
// reports each run as a [SyncReport]. The Maildir is itself a Mailbox, so
// a program reads its mail offline through the same API.
//
// # Errors and secrets
//
// Errors are [*OpError] values (operation, protocol, folder, cause) wrapping
// sentinels such as [ErrNotFound], [ErrAuth], [ErrInsecure] and
// [ErrStartTLSUnavailable], or [*UnsupportedError]. Passwords and tokens
// never appear in errors, logs, String or JSON output: see [Secret].
//
// # Escape hatch
//
// [Mailbox.As] reaches the driver's underlying client (for example the
// go-imap *imapclient.Client). Code using it is not portable.
//
// # Packages
//
//	mailaccess          this package: the API a program uses
//	mailaccess/mailsync the sync engine and its state (mailsync.New)
//	mailaccess/mailmime reading a message for display (ReadContent, Walk), part trees and decoded parts
//	mailaccess/maildir  the local Maildir store, a Mailbox (maildir://)
//	mailaccess/mailtest the in-memory fake with fault injection (mem://)
//	mailaccess/mailtest/conformance  the suite every Mailbox must pass
//	mailaccess/driver   what a driver, store or wrapper author needs
//	imap, pop3          the network drivers, with imaptest and pop3test
package mailaccess
