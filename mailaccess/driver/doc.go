// Package driver is for code that implements a [mailaccess.Mailbox]: a
// driver for a protocol, a store, or a wrapper around another Mailbox. It
// states what such code may assume and what it must do, and holds the
// helpers that keep every implementation alike: registration of URL
// schemes, error construction, the optional interfaces with the one rule
// by which they are found, the message type, a polling Watch, and the
// local search evaluator. Programs that only use mailboxes need package
// mailaccess; they meet this package only for the batch read
// ([OpenAll]) and [Flush].
//
// A driver is correct when the conformance suite
// (mailaccess/mailtest/conformance) passes against it: run it from a test
// of the driver's package, it is the checklist of everything below.
//
// # What a driver may assume
//
//   - [mailaccess.Open] has validated the Config with
//     [mailaccess.Config.Validate] before it calls the Open function the
//     driver registered: a registered scheme, a host (network form) or a
//     path (path form), a port in range, no CR, LF or NUL in the host,
//     user, password, folder, path or auth, a known TLS mode that fits
//     the scheme, an Auth value and driver options from the lists the
//     driver registered, and what the driver's own Validate accepts. A
//     driver's exported constructor (imap.Dial) validates once itself,
//     then shares the unvalidated path.
//   - Nothing else about arguments: folder names, IDs, flags and search
//     strings come from the program and must be checked before they go on
//     a wire (ErrInvalid for CR, LF, NUL, an empty ID...).
//   - Calls may come from several goroutines at once, and a context may be
//     cancelled at any time.
//
// # What a driver must do
//
//   - Register its schemes from init with [Register], giving the URL form,
//     default port, implicit TLS, the Auth mechanisms and the driver
//     options it knows (any other opt.NAME is refused, so a misspelt
//     option is an error, never a silent default), and a Validate for
//     their values. Adding a scheme needs no change outside the driver.
//   - Hold the Config as a [Config] (driver.NewConfig) in an unexported
//     field, never a mailaccess.Config by value: fmt and log/slog print an
//     unexported field's contents without calling their redacting methods.
//     No error, log line or formatted value may contain a password or
//     token.
//   - Report its capabilities exactly: a declared capability works, and
//     an operation whose capability is missing returns an
//     [*mailaccess.UnsupportedError] (see [Unsupported]), never a silent
//     no-op or a panic. That includes the options that need one: a
//     non-zero mailaccess.OpenOptions without CapPartial,
//     ListOptions.ChangedSince without CapChanges, keywords in SetFlags or
//     AppendOptions.Flags without CapKeywords.
//   - Return errors built by one [Errors] value: [*mailaccess.OpError]s
//     naming the operation, protocol and folder, wrapping the mailaccess
//     sentinels (ErrNotFound for a gone message or folder, ErrAuth,
//     ErrProtocol...) so that errors.Is works; the driver keeps only its
//     classification of causes (Errors.Classify).
//   - Take a context first in every call that does I/O and return
//     promptly when it is cancelled (a network driver closes the
//     connection it was using); bound every wait (Config.CommandTimeout).
//   - Stream: List yields [NewMessage] values batch by batch, Open returns
//     a reader of the raw bytes, nothing is buffered whole, and nothing is
//     allocated from a size or count the server claims.
//   - Implement Fetch, FetchMatching, Structure and OpenPart natively
//     where the protocol can do better than reading messages (one
//     exchange per batch; the server's search; a description and a part
//     without the body); elsewhere, or in a third-party Mailbox, with
//     [FetchFromList], [FetchMatching], [StructureByReading] and
//     [OpenPartByReading], which use only the Mailbox's other methods.
//     Describe parts with package mailmime (ParseStructure, DescribePart)
//     so that every driver reports the same tree for the same message.
//   - Implement Watch by push where the protocol has it, else with
//     [PollWatch] (one retry rule, one set of defaults for every driver);
//     implement Search and FetchMatching on the server where it can, else
//     with [Match], or [Filter] and [FilterMessages] for a store that
//     reads headers and bodies in batches (one meaning of every criterion
//     for every driver, that of IMAP SEARCH as Dovecot evaluates it; on a
//     store without internal dates Since and Before compare the Date
//     header), and Sort on the server where it can, else with [Sort] or a
//     [Sorter] (the order of RFC 5256 SORT).
//   - Refuse the same bad input alike: check search criteria with
//     mailaccess.Criteria.Validate and sort keys with
//     mailaccess.SortKey.Validate before any I/O, and reject an empty user
//     or password of a network Config before connecting
//     ([Config.CheckCredentials]).
//   - With [mailaccess.CapDeferredDelete], make Close report deletions it
//     drops ([mailaccess.ErrDeletesDiscarded], with their number) and
//     offer [Rollbacker] to drop them on purpose.
//   - Call [AsInterface] first in As, so that the optional interfaces it
//     implements are found through wrappers; document in the package doc
//     what else As exposes (the escape hatch), and which capabilities
//     depend on the server.
//
// # Optional interfaces
//
// Besides the Mailbox methods a driver may implement the optional
// interfaces declared in this package (file optional.go), each once,
// each with a helper that falls back when it is missing: [Committer]
// (mailaccess.Commit),
// [Rollbacker] (mailaccess.Rollback),
// [FolderManager] (mailaccess.CreateFolder, RenameFolder, DeleteFolder),
// [Flusher] ([Flush]), [BatchOpener] ([OpenAll]), [KeyedAppender]
// ([AppendWithKey]) and its ordered form [OrderedAppender],
// [Protocoler] ([ProtocolOf]) and [ConfigProvider]
// ([ConfigOf]); and, for destinations of a sync, the
// mailsync.StateStoreProvider beside the state store it returns.
//
// They are all found by one rule, [Find]: on the Mailbox itself, else
// through its As method. A driver answers As for every optional interface
// it implements by calling [AsInterface]. A wrapper that embeds a Mailbox
// (struct{ mailaccess.Mailbox }) inherits the wrapped Mailbox's As, so it
// passes every optional interface through: Commit, folder management,
// Flush, and the sync engine's use of the store's state and batch forms
// reach the wrapped driver, and the wrapper syncs exactly as the bare
// Mailbox does.
//
// Two of them, [BatchOpener] and [KeyedAppender] (with its ordered form
// [OrderedAppender]), are batch forms of a Mailbox method: OpenAll reads
// what Open would, AppendWithKey stores what Append would. Found through As, they go around the wrapper. So a
// wrapper that replaces Open or Append with its own (to transform, count
// or filter messages) must also define As and not pass the batch form of
// that method on; every other request may still go to the wrapped
// Mailbox:
//
//	type decrypting struct{ mailaccess.Mailbox }
//
//	func (d decrypting) Open(...) (io.ReadCloser, error) { ... }
//
//	// As passes everything on but the batch read, which would bypass Open.
//	func (d decrypting) As(target any) bool {
//		if _, ok := target.(*driver.BatchOpener); ok {
//			return false
//		}
//		return d.Mailbox.As(target)
//	}
//
// (or it implements OpenAll itself, on top of its Open). The same holds
// for the Mailbox methods that read what Open and List read: a wrapper
// that replaces Open also replaces Structure and OpenPart (with
// [StructureByReading] and [OpenPartByReading] on its own Open), and one
// that replaces List or Search also replaces Fetch and FetchMatching;
// embedding would otherwise send them to the wrapped driver. The rule is
// checked: the conformance suite reads every message both ways, through
// Open and through the BatchOpener found by Find, and appends the same
// message through Append and through the KeyedAppender, compares Fetch,
// Structure and OpenPart with List and the bytes of Open, and fails a
// Mailbox whose two ways disagree.
package driver
