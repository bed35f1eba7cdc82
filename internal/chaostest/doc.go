// Package chaostest puts a chaos proxy between a mail client and a
// plaintext POP3 or IMAP server (pop3test, imaptest, a Dovecot test
// instance) for tests: the proxy relays each connection and perturbs the
// server's answers by seeded, reproducible rules, the ways real and
// hostile servers misbehave.
//
//	p, err := chaostest.Start(chaostest.IMAP, srv.Addr, chaostest.RandomPlan(seed, chaostest.AllKinds()))
//	defer p.Close()
//	// dial p.Addr instead of srv.Addr; p.Events() says what was done
//
// What it does is listed by [Kind]: the connection dropped at any byte; a
// body (RETR, a FETCH literal) cut short, lengthened or replaced by another
// message's; sizes and counts that lie (LIST, STAT, RFC822.SIZE, EXISTS,
// STATUS); FETCH responses repeated, reordered or with their items
// shuffled; listing lines repeated or swapped; garbage, BYE, blank lines,
// NUL, bare LF, 8-bit octets, overlong lines and literals announced as
// 2^40 octets; stalls and slow-loris answers; commands refused or their
// answers lost; UIDVALIDITY changed mid-session; POP3 UIDLs recycled.
//
// The proxy frames the protocol (POP3 answers by the command they answer,
// IMAP responses with their literals), so a fault lands on a whole answer
// and the stream stays well-formed unless the fault is about form. It
// holds an answer in memory to rewrite it (test-sized messages), and
// generates its long lines and literals without holding them. Clients
// must log in with USER/PASS (POP3) or LOGIN (IMAP) over plaintext: a
// SASL exchange is not framed.
//
// The property test of this package (go test -run Chaos) syncs and reads
// mail through the proxy with many seeds and checks the reliability
// invariants after each run; -chaos.seeds=N runs more seeds.
package chaostest
