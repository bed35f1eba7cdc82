// Package mailsync is the sync engine: it brings a destination Mailbox up
// to date with a source, incrementally and crash-safely, and implements
// [mailaccess.Sync].
//
//	dst, _ := maildir.Open("/var/mail/archive", nil)
//	s, err := mailsync.New(src, dst, &mailsync.Options{
//		Retention: mailsync.Retention{Policy: mailsync.DeleteAfterAge, MaxAge: 30 * 24 * time.Hour},
//		Progress:  func(p mailsync.Progress) { ... },
//	})
//	report, err := s.Run(ctx)
//
// What a run guarantees is on [mailaccess.Sync]; how changes are found and
// stored is on [New]. The engine keeps small per-folder records in a
// [StateStore]: the destination's own (the Maildir store keeps files
// beside the mail) or one given in Options.State (a database, for a
// service that syncs many accounts; a store shared by several workers can
// fence a stale one off the source, see [StateFencer]).
//
// The engine uses the optional interfaces of its source and destination
// when they have them (see package driver): the batch read of the network
// drivers, the keyed appends and the state store of the Maildir store,
// Flush and Commit. They are found on the Mailbox or through its As, so a
// wrapper that embeds a Mailbox syncs exactly as the Mailbox would.
package mailsync
