// Package maildir is a local Maildir store seen as a [mailaccess.Mailbox]:
// readable and writable, working with no network, so a program can read an
// IMAP or POP3 account offline through the same API once the sync engine
// ([mailsync.New]) has copied it here.
//
// Open a store directly or through the registry (scheme "maildir",
// Config.Path is the root):
//
//	st, err := maildir.Open("/home/me/Mail", nil)
//	// or
//	mb, err := mailaccess.OpenURL(ctx, "maildir:///home/me/Mail")
//
// [Open] creates the root (and its cur, new and tmp) when it is missing,
// unless Options.NoCreate. A URL or Config opens only a Maildir that
// exists, so a mistyped path is an error rather than a new empty store:
// add opt.create=true to create it ("maildir:///home/me/Mail?opt.create=true").
// The driver options are:
//
//   - opt.create=true: create the Maildir if it does not exist.
//   - opt.defer_dir_sync=true: Options.DeferDirSync (see below).
//   - opt.no_create=true: the default for URLs; kept for configurations
//     written before opt.create (opt.no_create=false is opt.create=true).
//
// # Layout
//
// Folders follow Maildir++ (as Dovecot and Courier use it): INBOX is the
// root itself (root/cur, root/new, root/tmp); the folder "Archive.2024" is
// the sub-Maildir root/.Archive.2024 and "." is the hierarchy delimiter.
// "INBOX.X" is accepted as a synonym of "X". Folder names containing "..",
// "/", "\", NUL, CR or LF, or starting or ending with ".", are rejected with
// [mailaccess.ErrInvalid]; every file access goes through an [os.Root] on
// the root directory, so no path can escape it.
//
// Beside the mail the store keeps, per folder, "mailaccess-uidvalidity"
// (a constant reported as UIDValidity, created on first Status) and
// Dovecot's "dovecot-keywords"; and root/mailaccess-sync/ for the sync
// engine's state (see [Store.SyncState]).
//
// # Messages, IDs and flags
//
// A message is one file. Its ID is the file's unique name without the
// ":2,FLAGS" info part, so it does not change when a mail reader moves the
// file from new/ to cur/ or changes its flags, nor when [Store.Move] moves it
// to another folder. List yields messages sorted by ID (names start with
// the delivery time in seconds, so this is roughly delivery order); the
// messages the sync engine stores are named by [Store.AppendWithKeyAt]
// with the time its transfer started and their position in the source,
// so a folder lists them in the source's order, whatever order its
// parallel writers finished in. Size
// is the ",S=NNN" value of the name when present, else the file size;
// the internal date is the file's modification time (Append sets it from
// AppendOptions.Date). Maildir has no numeric UIDs (MessageInfo.UID is 0).
//
// Flags live in the info suffix: D=\Draft F=\Flagged P=$Forwarded
// R=\Answered S=\Seen T=\Deleted, and keywords as the letters a–z mapped by
// the folder's "dovecot-keywords" file (lines "N NAME", letter 'a'+N), the
// scheme Dovecot uses, so keywords survive and are shared with Dovecot. A
// folder holds at most 26 keywords. A message in new/ has no flags; setting
// flags moves it to cur/.
//
// Reading (List, Status, Open, FetchHeader, Search, Watch) never moves or
// renames a message file. (Status writes the small uidvalidity file the
// first time a folder is asked.)
//
// # Writing and durability
//
// Append writes the message to tmp/ under a collision-free unique name
// (SECONDS.M<µs>P<pid>Q<counter>R<random>.HOST,S=SIZE), fsyncs the file,
// renames it into new/ (or cur/ with an info suffix when flags are given;
// the unique name cannot already exist, so nothing is overwritten) and
// fsyncs the new/ or cur/ directory. A message is durable when:
//
//   - Append returns nil, by default;
//   - with Options.DeferDirSync: when a later [Store.Flush] returns nil.
//     The file's content is already fsynced when Append returns; Flush
//     fsyncs every directory changed since the previous Flush, once, which
//     lets many appends share one directory sync;
//   - for [Store.AppendWithKey] (the sync engine's path): when a later
//     Flush returns nil. A keyed append is staged: written without an
//     fsync and neither visible (List, Open) nor durable until Flush
//     publishes the batch: one syncfs(2) makes the data of every staged
//     file durable (on systems without syncfs, each file is fsynced, many
//     at a time), then the files are given their names in new/ or cur/
//     and their directories fsynced. HasKey sees a staged key at once. A
//     batch of thousands of messages thus costs a few syncs instead of
//     one fsync per message, and a message's bytes are durable before its
//     name appears outside tmp/.
//
// On Linux a staged message is an unnamed file (open(2) with O_TMPFILE
// in the folder's tmp/), kept open until Flush links it (linkat(2)) into
// new/ or cur/, after which a second syncfs(2) makes its link durable. It
// never has a name in tmp/, which spares the file system a directory
// entry created and removed per message. Where the file system has no
// O_TMPFILE, or the FS given through [Options.WrapFS] is no [TempFS], it
// is a named "*.staged" file in tmp/ that Flush renames. A Store holds at
// most 4096 unnamed files open (a quarter of RLIMIT_NOFILE if that is
// lower); at that cap the next keyed append publishes the staged batch
// first, or, while a publish is already running, stages its message under
// a name instead of waiting.
//
// A crash can leave a file in tmp/ (never in new/ or cur/ partially
// written: files only appear there after their data is synced). An
// unnamed staged file leaves nothing. Named staged files ("*.staged") of
// a sync that died before its Flush are removed when the next sync takes
// the store's lock; other tmp/ files are left to the Maildir readers'
// rule of removing stale tmp/ files.
//
// Delete removes files; Move links the file into the destination folder,
// fsyncs that directory and only then removes the original (a crash leaves
// a message in both folders, never in neither); Copy hard-links under a new
// unique name (copying through tmp/ when linking fails); SetFlags renames
// within cur/.
//
// # Capabilities
//
// folders, uid, flags, keywords, headers, search, delete, append, move,
// copy, offline, manage-folders. Not sort (Sort works, reading the header
// of each matching file when a key needs it), not push (there is no server: Watch
// polls the directories), not partial (Open returns the whole file), not
// changes (a Maildir records no modification sequence; finding changes
// means a directory scan, which is what List does).
//
// A Store is safe for concurrent use. Faults can be injected for tests
// through [Options.WrapFS].
package maildir
