// Package conformance checks a [mailaccess.Mailbox] implementation against
// the contract, as fstest.TestFS does for file systems: run [TestMailbox]
// from a test of your driver, store or wrapper.
//
//	func TestConformance(t *testing.T) {
//		conformance.TestMailbox(t, conformance.Harness{Open: openMyStore})
//	}
//
// The subtests adapt to the capabilities the Mailbox declares: what it
// declares must work, what it does not must fail with an error matching
// [errors.ErrUnsupported]. They cover a byte-exact round trip of
// mailtest.EdgeCases, listing order and metadata, headers, partial fetch,
// flags and keywords, Status.Unseen (UnknownCount without flags), deletes
// (immediate, or deferred until Commit, with Rollback, and reported by a
// Close that drops them),
// append, copy and move, search on every driver (And, Or and Not, a
// corpus of encoded mail whose answers are Dovecot's: every driver must
// give the same, and Since and Before, which compare the Date header
// where the store has no internal date), sort (RFC 5256's order), watch
// (push or poll as declared), folder management, the batch forms of Open
// and Append found through As (they must agree with Open and Append: see
// package driver; an ordered append must also list a sequence in the
// order of its positions), Fetch, FetchMatching (the same criteria as Search,
// with the same answers), Structure and OpenPart (checked against List,
// Search and the bytes of Open, so a wrapper that replaces those but lets
// the reading methods through is caught), early exit from
// iteration, concurrency, cancelled contexts, unknown IDs and use after
// Close. See [Harness] for how to plug in a store that cannot append
// (POP3) or that rewrites line endings.
//
// It is the checklist for writing a driver: package driver states the
// rules, this suite checks them. The in-memory fake (package mailtest)
// passes it with every profile, and the suite's own tests run it against
// a set of deliberately broken wrappers of the fake to prove it catches
// them.
package conformance
