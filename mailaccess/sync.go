package mailaccess

import (
	"context"
	"fmt"
	"time"
)

// Sync brings a destination Mailbox up to date with a source, incrementally
// and crash-safely. Package mailsync implements it (mailsync.New).
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
