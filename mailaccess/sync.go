package mailaccess

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Sync brings a destination Mailbox up to date with a source, incrementally
// and crash-safely. Get one from [NewSync].
//
// What a Run guarantees:
//   - A message counts as stored only once the destination has made it
//     durable (for Maildir: file fsynced, directory fsynced) and the state
//     that records it is committed. Nothing is deleted from the source
//     before that.
//   - Killed at any point and run again, every source message ends up in
//     the destination exactly once; at most the in-flight batch is fetched
//     again.
//   - A UIDVALIDITY change, a source that suddenly lists nothing, or
//     duplicate POP3 UIDLs never cause mass deletion or silent duplicates:
//     the report says what happened.
//
// Run may be called again after it returns; two Runs on the same state at
// once are prevented by the state store's lock.
type Sync interface {
	// Run performs one pass over every selected folder and reports what it
	// did. On error the report still holds what was done; the next Run
	// resumes from the last committed state.
	Run(ctx context.Context) (*SyncReport, error)
}

// SyncOptions configure a [Sync]; nil means the defaults.
type SyncOptions struct {
	// Folders selects source folders by name or pattern ("*" matches any
	// run of characters, including the hierarchy delimiter). Empty means
	// the source's INBOX only.
	Folders []string
	// Retention says when messages are deleted from the source after they
	// are stored (POP3 policies; honoured for any source with CapDelete).
	Retention Retention
	// MirrorDeletes deletes from the destination the messages that were
	// deleted on the source since the last run. Off by default.
	MirrorDeletes bool
	// TwoWayFlags sends flag changes made in the destination (read,
	// flagged, deleted...) back to the source. Off by default: flags only
	// flow down.
	TwoWayFlags bool
	// State keeps the sync state. Nil uses the destination's own store
	// when it implements [StateStoreProvider] (Maildir keeps a small file
	// beside the mail); otherwise NewSync fails.
	State StateStore
	// Account names the source in the state, so several accounts can sync
	// into one store. Default: "protocol:user@host:port" when the source
	// exposes its Config through As (the imap and pop3 drivers do), else
	// the protocol name; set it when syncing several such sources (two
	// mem:// fakes, say) into one store.
	Account string
	// Concurrency is how many messages are written and fsynced at once
	// (default 32). BatchSize is how many stored messages share one state
	// commit (default 256).
	Concurrency int
	BatchSize   int
	// DestFolder maps a source folder name to the destination folder
	// name; nil keeps the name.
	DestFolder func(source string) string
	// Progress, if set, is called as messages and bytes complete. It must
	// return quickly.
	Progress func(Progress)
	// Logger receives the engine's logs; nil means silent.
	Logger *slog.Logger
	// Now returns the current time (tests set it); nil means time.Now.
	Now func() time.Time
}

// RetentionPolicy says what happens on the source to messages once stored.
type RetentionPolicy int

// Retention policies.
const (
	// KeepOnServer never deletes from the source (the default).
	KeepOnServer RetentionPolicy = iota
	// DeleteAfterDownload deletes each message from the source once it is
	// durably stored and recorded.
	DeleteAfterDownload
	// DeleteAfterAge deletes a stored message once it was first seen more
	// than Retention.MaxAge ago.
	DeleteAfterAge
)

// Retention is a retention policy with its age.
type Retention struct {
	Policy RetentionPolicy
	MaxAge time.Duration // for DeleteAfterAge
}

// ParseRetention parses "never" (or ""), "after-download" and
// "after=DURATION" such as "after=720h".
func ParseRetention(s string) (Retention, error) {
	switch s {
	case "", "never", "keep":
		return Retention{Policy: KeepOnServer}, nil
	case "after-download":
		return Retention{Policy: DeleteAfterDownload}, nil
	}
	if v, ok := strings.CutPrefix(s, "after="); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Retention{}, fmt.Errorf("mailaccess: retention %q: want a positive duration such as after=720h: %w", s, ErrInvalid)
		}
		return Retention{Policy: DeleteAfterAge, MaxAge: d}, nil
	}
	return Retention{}, fmt.Errorf("mailaccess: retention %q: want never, after-download or after=DURATION: %w", s, ErrInvalid)
}

// String returns the form ParseRetention reads.
func (r Retention) String() string {
	switch r.Policy {
	case DeleteAfterDownload:
		return "after-download"
	case DeleteAfterAge:
		return "after=" + r.MaxAge.String()
	}
	return "never"
}

// Progress is reported during a sync.
type Progress struct {
	Folder        string
	Messages      int   // messages stored so far in this folder
	MessagesTotal int   // messages to store in this folder
	Bytes         int64 // bytes stored so far in this folder
	BytesTotal    int64 // bytes to store in this folder (0 if unknown)
}

// SyncReport says what a [Sync] run did.
type SyncReport struct {
	Folders  []FolderReport `json:"folders"`
	Started  time.Time      `json:"started"`
	Duration time.Duration  `json:"duration"`
}

// FolderReport is the part of a [SyncReport] for one folder.
type FolderReport struct {
	Folder string `json:"folder"`
	// New messages stored; Updated messages whose flags changed; Deleted
	// messages removed from the destination (MirrorDeletes);
	// SourceDeleted messages deleted from the source (Retention);
	// Skipped messages not stored (already present, or failed and left
	// for the next run: see Errors).
	New           int   `json:"new"`
	Updated       int   `json:"updated"`
	Deleted       int   `json:"deleted"`
	SourceDeleted int   `json:"source_deleted"`
	Skipped       int   `json:"skipped"`
	Bytes         int64 `json:"bytes"`
	// Notes record unusual events handled safely: a UIDVALIDITY change, an
	// empty source not taken as "delete everything", duplicate UIDLs.
	Notes []string `json:"notes,omitempty"`
	// Errors are the failures of this folder, as text.
	Errors []string `json:"errors,omitempty"`
}

// Total sums the folder reports.
func (r *SyncReport) Total() FolderReport {
	var t FolderReport
	for _, f := range r.Folders {
		t.New += f.New
		t.Updated += f.Updated
		t.Deleted += f.Deleted
		t.SourceDeleted += f.SourceDeleted
		t.Skipped += f.Skipped
		t.Bytes += f.Bytes
		t.Notes = append(t.Notes, f.Notes...)
		t.Errors = append(t.Errors, f.Errors...)
	}
	return t
}

// String is a one-line summary.
func (r *SyncReport) String() string {
	t := r.Total()
	s := fmt.Sprintf("%d folders: %d new, %d updated, %d deleted, %d deleted on source, %d skipped, %d bytes in %s",
		len(r.Folders), t.New, t.Updated, t.Deleted, t.SourceDeleted, t.Skipped, t.Bytes, r.Duration.Round(time.Millisecond))
	if len(t.Errors) > 0 {
		s += fmt.Sprintf(", %d errors", len(t.Errors))
	}
	return s
}

// StateStore keeps the sync engine's state: small opaque records, one per
// source account and folder. Save must be atomic and durable (write a
// temporary file, fsync, rename, fsync the directory, or a database
// transaction). Lock keeps two syncs from sharing a store at once.
type StateStore interface {
	// Lock takes the store's exclusive lock, failing (not waiting
	// forever) if another process holds it, and returns its release.
	Lock(ctx context.Context) (unlock func() error, err error)
	// Load returns the record saved under key, or nil and no error if
	// there is none.
	Load(ctx context.Context, key string) ([]byte, error)
	// Save replaces the record under key atomically and durably.
	Save(ctx context.Context, key string, data []byte) error
}

// StateOpener is an optional extension of a [StateStore] that returns a
// record as a stream. The engine decides a no-op resync from the first
// fields of a record (its head); through OpenState it reads only those
// instead of a record that grows with the folder (about 150 bytes a
// message). The Maildir state store implements it.
type StateOpener interface {
	StateStore
	// OpenState returns a reader over the record saved under key, or nil
	// and no error if there is none. The caller closes it.
	OpenState(ctx context.Context, key string) (io.ReadCloser, error)
}

// StateStoreProvider is implemented by destinations that can keep sync
// state themselves (Maildir keeps it in a file beside the mail).
type StateStoreProvider interface {
	SyncState() (StateStore, error)
}
