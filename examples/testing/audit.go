package bounces

import (
	"context"
	"sync"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Audit wraps a Mailbox and records every message deleted through it, as a
// compliance log would. It is a Mailbox itself, so the rest of the program
// does not know it is there; audit_test.go proves with the mailtest
// conformance suite that the wrapper keeps the Mailbox contract.
type Audit struct {
	mailaccess.Mailbox

	mu      sync.Mutex
	deleted []string
}

// NewAudit wraps mb.
func NewAudit(mb mailaccess.Mailbox) *Audit { return &Audit{Mailbox: mb} }

// Delete deletes through the wrapped Mailbox and records the IDs it
// deleted ("folder/id").
func (a *Audit) Delete(ctx context.Context, folder string, ids ...mailaccess.ID) error {
	if err := a.Mailbox.Delete(ctx, folder, ids...); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		a.deleted = append(a.deleted, folder+"/"+string(id))
	}
	return nil
}

// Commit forwards to the wrapped Mailbox, so deferred deletes (POP3) still
// reach the server through the wrapper.
func (a *Audit) Commit(ctx context.Context) error { return mailaccess.Commit(ctx, a.Mailbox) }

// CreateFolder, RenameFolder and DeleteFolder forward the optional
// driver.FolderManager interface. Embedding only promotes the methods of
// the Mailbox interface; the mailaccess helpers would still reach the
// wrapped driver through As, but a wrapper that means to audit folder
// changes too must have them itself.
func (a *Audit) CreateFolder(ctx context.Context, name string) error {
	return mailaccess.CreateFolder(ctx, a.Mailbox, name)
}

// RenameFolder forwards to the wrapped Mailbox.
func (a *Audit) RenameFolder(ctx context.Context, name, newName string) error {
	return mailaccess.RenameFolder(ctx, a.Mailbox, name, newName)
}

// DeleteFolder forwards to the wrapped Mailbox.
func (a *Audit) DeleteFolder(ctx context.Context, name string) error {
	return mailaccess.DeleteFolder(ctx, a.Mailbox, name)
}

// Deleted returns the recorded deletions.
func (a *Audit) Deleted() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.deleted...)
}

// As reaches the wrapper itself, then whatever the wrapped Mailbox exposes.
func (a *Audit) As(target any) bool {
	if p, ok := target.(**Audit); ok {
		*p = a
		return true
	}
	return a.Mailbox.As(target)
}
