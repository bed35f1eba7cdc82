package mailaccess

import (
	"context"
	"fmt"

	"github.com/mailaccess/go-mailaccess/internal/discover"
)

// The optional interfaces a driver may implement are declared, each once,
// in package driver (driver/optional.go), which also states the rule by
// which they are found: on the Mailbox itself, else through its As. The
// helpers below are the ones a program calls; they use that same rule.
// The interface types they look for are spelled out here so that this
// package does not import package driver, which imports it.

type committer interface {
	Commit(ctx context.Context) error
}

type rollbacker interface {
	Rollback(ctx context.Context) error
}

type folderManager interface {
	CreateFolder(ctx context.Context, name string) error
	RenameFolder(ctx context.Context, name, newName string) error
	DeleteFolder(ctx context.Context, name string) error
}

// Commit applies a Mailbox's pending deferred deletions (POP3: QUIT, then
// a new session). It finds the driver's Commit method on mb itself or,
// for a wrapper that embeds a Mailbox, through mb.As (driver.Committer).
// For a Mailbox whose deletions are immediate (no [CapDeferredDelete]) it
// does nothing and returns nil: there is nothing pending. A Mailbox that
// declares CapDeferredDelete but offers no Commit is an error, never a
// silent success.
func Commit(ctx context.Context, mb Mailbox) error {
	if c, ok := discover.Find[committer](mb); ok {
		return c.Commit(ctx)
	}
	if mb.Capabilities().Has(CapDeferredDelete) {
		return &OpError{Op: "commit", Protocol: protocolOf(mb),
			Err: fmt.Errorf("the mailbox declares deferred-delete but offers no Commit (a wrapper must forward Commit, or As): %w", ErrInvalid)}
	}
	return nil
}

// Rollback drops a Mailbox's pending deferred deletions without applying
// them: the messages stay on the server and are listed again, and a Close
// that follows returns no [ErrDeletesDiscarded] error. It finds the
// driver's Rollback method as [Commit] does (driver.Rollbacker). For a
// Mailbox whose deletions are immediate it does nothing and returns nil.
func Rollback(ctx context.Context, mb Mailbox) error {
	if r, ok := discover.Find[rollbacker](mb); ok {
		return r.Rollback(ctx)
	}
	if mb.Capabilities().Has(CapDeferredDelete) {
		return &OpError{Op: "rollback", Protocol: protocolOf(mb),
			Err: fmt.Errorf("the mailbox declares deferred-delete but offers no Rollback (a wrapper must forward Rollback, or As): %w", ErrInvalid)}
	}
	return nil
}

func findFolderManager(mb Mailbox, op string) (folderManager, error) {
	if mb.Capabilities().Has(CapManageFolders) {
		if fm, ok := discover.Find[folderManager](mb); ok {
			return fm, nil
		}
	}
	return nil, &UnsupportedError{Op: op, Protocol: protocolOf(mb), Missing: CapManageFolders}
}

// CreateFolder creates a folder on mb. It needs [CapManageFolders] and
// finds the driver's method as [Commit] does (driver.FolderManager).
func CreateFolder(ctx context.Context, mb Mailbox, name string) error {
	fm, err := findFolderManager(mb, "create folder")
	if err != nil {
		return err
	}
	return fm.CreateFolder(ctx, name)
}

// RenameFolder renames a folder on mb; see [CreateFolder].
func RenameFolder(ctx context.Context, mb Mailbox, name, newName string) error {
	fm, err := findFolderManager(mb, "rename folder")
	if err != nil {
		return err
	}
	return fm.RenameFolder(ctx, name, newName)
}

// DeleteFolder deletes a folder, and the messages in it, on mb; see
// [CreateFolder].
func DeleteFolder(ctx context.Context, mb Mailbox, name string) error {
	fm, err := findFolderManager(mb, "delete folder")
	if err != nil {
		return err
	}
	return fm.DeleteFolder(ctx, name)
}

// protocolOf names mb's protocol in errors built outside the driver
// (driver.Protocoler).
func protocolOf(mb Mailbox) string {
	if p, ok := discover.Find[interface{ Protocol() string }](mb); ok {
		return p.Protocol()
	}
	return "mailaccess"
}
