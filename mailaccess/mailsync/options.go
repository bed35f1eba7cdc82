package mailsync

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Options configure a sync ([New]); nil means the defaults.
type Options struct {
	// Folders selects source folders by name or pattern ("*" matches any
	// run of characters, including the hierarchy delimiter). Empty means
	// the source's INBOX only.
	Folders []string
	// Retention says when messages are deleted from the source after they
	// are stored (POP3 policies; honoured for any source with
	// [mailaccess.CapDelete]).
	Retention Retention
	// MirrorDeletes deletes from the destination the messages that were
	// deleted on the source since the last run. Off by default.
	MirrorDeletes bool
	// TwoWayFlags sends flag changes made in the destination (read,
	// flagged, deleted...) back to the source. Off by default: flags only
	// flow down.
	TwoWayFlags bool
	// State keeps the sync state. Nil uses the destination's own store
	// when it provides one ([StateStoreProvider]: Maildir keeps a small
	// file beside the mail), found as every optional interface is (see
	// package driver), so a wrapper around the destination works too;
	// otherwise New fails.
	State StateStore
	// Account names the source in the state, so several accounts can sync
	// into one store. Default: "protocol:user@host:port" when the source
	// exposes its Config (driver.ConfigProvider: the imap and pop3 drivers
	// do), else the protocol name; set it when syncing several such
	// sources (two mem:// fakes, say) into one store.
	Account string
	// Concurrency is how many messages are written and fsynced at once
	// (default 32). BatchSize is how many stored messages share one state
	// commit (default 256).
	Concurrency int
	BatchSize   int
	// DestFolder maps a source folder name to the destination folder
	// name; nil keeps the name.
	DestFolder func(source string) string
	// MaxMessageSize bounds the size of one message (default 256 MiB; a
	// negative value removes the bound). A message listed as larger is not
	// downloaded, and a body that turns out larger while it is read (a
	// server that lies about the size, or never ends the body) is cut
	// there: either way it is an error for that message matching
	// [ErrTooLarge], its staged bytes are discarded, nothing of it is
	// stored, and the pass deletes nothing from the source.
	MaxMessageSize int64
	// Retry says how a run recovers within itself when the source fails
	// in a way a new session may cure (see [Retry]); the zero value means
	// the defaults.
	Retry Retry
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
			return Retention{}, fmt.Errorf("mailsync: retention %q: want a positive duration such as after=720h: %w", s, mailaccess.ErrInvalid)
		}
		return Retention{Policy: DeleteAfterAge, MaxAge: d}, nil
	}
	return Retention{}, fmt.Errorf("mailsync: retention %q: want never, after-download or after=DURATION: %w", s, mailaccess.ErrInvalid)
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

// Retry bounds how a run recovers from a source that ends its session or
// drops the connection (a server with an autologout or a command limit:
// IMAP "* BYE", a POP3 server that closes the connection), which the
// drivers report as errors matching [mailaccess.ErrTemporary] (or
// [mailaccess.ErrLocked]: a POP3 server may not yet have released the
// dropped session's lock when the next one logs in), and from a folder
// whose UIDVALIDITY changed during a pass ([mailaccess.ErrUIDValidity]).
//
// After such a failure the folder's pass is run again: the driver opens a
// new session on its next call, what was committed stays committed, and
// the new pass goes on from the state (a dropped POP3 session discards
// its deletion marks, so nothing is deleted that the new pass does not
// decide again). Before a retry after a temporary failure the run waits
// Backoff, doubled after each retry that made no progress, at most
// MaxBackoff, each wait drawn at random between half and all of it so
// that many clients do not retry in step. A pass that stores or deletes
// something resets the count and the wait. When the retries are used up
// the run returns the last error, which quotes the server's words.
type Retry struct {
	// Attempts is how many passes in a row may fail without progress
	// before the run gives up on the folder. 0 means 5; a negative value
	// disables retries.
	Attempts int
	// Backoff is the wait before the first retry (0 means 1s); MaxBackoff
	// bounds it (0 means 30s).
	Backoff, MaxBackoff time.Duration
}

// DefaultMaxMessageSize is the default of Options.MaxMessageSize.
const DefaultMaxMessageSize = 256 << 20

// ErrTooLarge is matched by the error of a message larger than
// Options.MaxMessageSize.
var ErrTooLarge = errors.New("message larger than the sync's size limit")

// Default retry bounds.
const (
	DefaultRetryAttempts   = 5
	DefaultRetryBackoff    = time.Second
	DefaultRetryMaxBackoff = 30 * time.Second
)

// withDefaults fills in the zero fields.
func (r Retry) withDefaults() Retry {
	if r.Attempts == 0 {
		r.Attempts = DefaultRetryAttempts
	}
	if r.Backoff <= 0 {
		r.Backoff = DefaultRetryBackoff
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = DefaultRetryMaxBackoff
	}
	r.MaxBackoff = max(r.MaxBackoff, r.Backoff)
	return r
}
