// Command mailbench measures the mailaccess drivers and sync engine against a
// private Dovecot on loopback, next to the raw protocol floor and — when they
// are installed — the peers mbsync (isync) and mpop doing the same jobs on
// the same server and the same corpus.
//
// Run it from the module root (Dovecot must be installed, and it must run as
// root, see internal/dovecottest):
//
//	go run ./internal/cmd/mailbench                 # 10,000 messages, 3 runs
//	go run ./internal/cmd/mailbench -large -scale100k
//	go run ./internal/cmd/mailbench -n 500 -runs 1 -only wire-imap,sync-imap
//	go run ./internal/cmd/mailbench -json > bench.json
//
// # What it does
//
// One run starts one Dovecot, seeds a user with the deterministic corpus
// (internal/corpus: Generate(seed, n), 75% 2–10 KB plain, 20% 20–80 KB
// multipart HTML, 5% 150–750 KB attachments; 373.7 MB for 10,000 messages
// with seed 1), written straight into the user's Maildir/new before the
// first login and streamed message by message, so the corpus is never held
// in memory. It then does one untimed warm-up pass (every maildir file read once,
// one full IMAP fetch and one full POP3 download, which also lets Dovecot
// build its indexes and set \Seen once) so that every timed run starts from
// the same warm state: page caches cannot be dropped here, so they are filled
// instead. Every job is then repeated -runs times and the median is
// reported.
//
// Each timed job runs in its own child process (the tool re-executes itself;
// peers are executed directly), so that its memory is its own. Peak RSS is
// the child's VmHWM from /proc/PID/status, sampled every 5 ms while it runs
// (our children also report their final VmHWM themselves). wait4's ru_maxrss
// is not used: on Linux it includes the RSS high-water mark of the address
// space the child's exec replaced, which for a child started by Go (CLONE_VM)
// is the parent's, so every job would report at least the parent's peak.
// Times are wall-clock, measured by the parent around the whole child
// process, startup and login included, the same way for our jobs and for the
// peers. The one exception is floor-disk, which is not a client: it times
// itself after building its corpus in memory, and reports its own peak RSS
// from that point on. Before every timed job the parent calls sync(2), and a resync starts
// 1.1 s after the full run it follows (mbsync sleeps a second when its Maildir
// changed within the current second, which a real resync never meets).
//
// Outputs are kept until the end of the benchmark (4 full syncs of the
// corpus and floor-disk's copy a run: about 5.6 GB for the default corpus
// and 3 runs, plus the 100k set's replicas, in the system temp directory), because deleting them between runs slows down
// whatever creates files next: ext4 without a journal skips inodes freed in
// the last one to five minutes when it allocates new ones, and the scan
// costs kernel CPU per file created. For the same reason, leave a few
// minutes between two benchmarks (or between deleting a large tree and a
// benchmark) on such a file system.
//
// # Flags
//
//	-n N         messages in the corpus (default 10000)
//	-seed S      corpus seed (default 1; fixed so runs are comparable)
//	-runs R      repetitions of every job; medians are reported (default 3)
//	-large       also seed a user with one 200 MB message (corpus.Large) and
//	             run the large-* jobs
//	-scale100k   also seed a user with 100,000 small messages and run the
//	             100k set (below)
//	-only LIST   comma-separated job names (default: all that apply)
//	-json        print the results as JSON instead of a table
//	-keep        keep the outputs (Maildirs, peer configs; path printed) for
//	             inspection; Dovecot is stopped and removed either way
//	-cpuprofile DIR  write a CPU profile of each of our jobs (not the
//	             peers') to DIR/JOB-runN.cpu, for go tool pprof
//	-v           log progress to stderr
//
// # Jobs
//
//	wire-imap      floor: go-imap v2's imapclient, plaintext LOGIN, one
//	               UID FETCH 1:* BODY.PEEK[], bodies to io.Discard
//	wire-pop3      floor: internal/pop3wire, USER/PASS, pipelined RETR of
//	               every message, bodies to io.Discard
//	floor-imap-status  floor of a no-op IMAP resync: go-imap v2's
//	               imapclient, connect, LOGIN, STATUS INBOX (MESSAGES
//	               UIDNEXT UIDVALIDITY HIGHESTMODSEQ), LOGOUT (not waiting
//	               for the BYE, as the imap driver's Close does not)
//	floor-pop3-uidl    floor of a no-op POP3 resync: internal/pop3wire,
//	               connect, USER/PASS, UIDL, QUIT
//	floor-disk     the physical floor of a durable sync: the corpus's
//	               bytes (as served) written from memory into a fresh
//	               Maildir, no network, no parsing, made durable the way
//	               mailaccess/maildir and the engine do it on Linux: 32
//	               writers put each message in an unnamed O_TMPFILE file
//	               in tmp/ while one committer takes every file written so
//	               far (at least 256) and runs syncfs(2), a linkat(2) of
//	               each into cur/, syncfs again; then cur/ and the Maildir
//	               are fsynced. No sync state, no file times. Its RSS is
//	               the corpus held in memory.
//	read-imap      every body through the imap driver's Mailbox (List, then
//	               its batch read OpenAll: one UID FETCH per 1024
//	               messages) to io.Discard
//	read-pop3      the same through the pop3 driver (OpenAll: pipelined
//	               RETR)
//	read-gopop3    naive-client baseline: the same through
//	               github.com/knadh/go-pop3 (LIST, UIDL, then one RETR
//	               per message, each answered before the next is sent and
//	               buffered whole), to show what a user of that library
//	               gets
//	sync-imap      mailsync.New from imap:// into a fresh Maildir
//	               (mailaccess/maildir), durable (files and directories
//	               fsynced, state committed)
//	resync-imap    a second sync into that Maildir: nothing to transfer
//	sync-pop3      as sync-imap, from pop3://
//	resync-pop3    as resync-imap, from pop3://
//	mbsync         mbsync full pull of INBOX into a fresh Maildir (FSync yes)
//	mbsync-resync  mbsync again on that Maildir: nothing to transfer
//	mpop           mpop full download (keep on) into a fresh Maildir
//	mpop-resync    mpop again with the same UIDL file: nothing to download
//	large-*        with -large: wire-imap, wire-pop3, read-imap, read-pop3,
//	               read-gopop3, sync-imap, sync-pop3, mbsync and mpop on a
//	               mailbox holding one 200 MB message (the point is peak RSS)
//
// With -scale100k, on a folder of 100,000 small messages (a few hundred
// bytes each: what grows here is the cost per message, not per byte; the
// folder grows by 10 messages a run, see below):
//
//	100k-floor-imap-status, 100k-floor-pop3-uidl  the floors above
//	100k-resync-imap   our no-op IMAP resync of an up-to-date replica
//	100k-mbsync-resync mbsync's no-op on its own up-to-date replica
//	100k-resync-pop3   our no-op POP3 resync (ours and mpop both list UIDL)
//	100k-mpop-resync   mpop's no-op on its own replica
//	100k-floor-imap-incr  floor of an incremental IMAP sync: go-imap v2's
//	                   client, LOGIN, EXAMINE (CONDSTORE), the new
//	                   messages' metadata (UID FETCH from the last
//	                   UIDNEXT), the flag changes (CHANGEDSINCE the last
//	                   HIGHESTMODSEQ), the new bodies to io.Discard,
//	                   LOGOUT; it stores nothing
//	100k-incr-imap     our IMAP sync after one change step: 10 new
//	                   messages and 100 flag changes, found through
//	                   CONDSTORE
//	100k-mbsync-incr   mbsync after the same change step
//	100k-floor-pop3-incr  floor of an incremental POP3 sync:
//	                   internal/pop3wire, USER/PASS, UIDL, RETR of the
//	                   10 new messages (the last ones), QUIT
//	100k-incr-pop3     our POP3 sync after the same step (10 new messages)
//	100k-mpop-incr     mpop after the same step
//	100k-list-imap     List (metadata only) of the folder through the imap
//	                   driver (formerly list100k-imap)
//	100k-fetch10-imap  Fetch (the everyday API) of 10 messages selected
//	                   by ID, spread over the folder, with their headers,
//	                   each body read; the 10 and no others must come back
//	100k-fetchunseen-imap  FetchMatching of the folder's 10 unseen
//	                   messages (everything else is \Seen), headers and
//	                   bodies; exactly those must come back
//
// Each tool's replica (ours over IMAP and POP3, mbsync, mpop) is created
// by one untimed full sync before the first run and kept. In each run the
// floors and no-ops come first, on up-to-date replicas; then, before the
// first incremental job, one untimed change step on the server through a
// side IMAP connection: 10 messages APPENDed with \Seen and \Flagged
// toggled on 100 messages spread over the folder (set in odd runs, cleared
// in even ones). Every incremental job thus syncs exactly the same changes
// since its own last run, with CONDSTORE modseqs, and leaves its replica
// up to date for the next run's no-op; a replica whose incremental job is
// not selected is caught up, untimed, before anything measures it.
// Nothing is expunged or deleted between runs (expunges would send a
// CONDSTORE client without QRESYNC to a full listing; deletes slow the
// file system, see above), so the folder grows by 10 messages a run. The
// tool checks the server's STATUS before every job, and fails the run if
// anything but its own change step changed the folder; it checks that
// every replica holds every message and, for IMAP, exactly the server's
// \Flagged messages. The server sets no flag on POP3 downloads
// (pop3_no_flag_updates), so downloads leave it as they found it.
//
// Before every job of the 100k set the server's view of the folder is
// settled, untimed: the tool waits until the folder's cur/ and new/ have
// not changed for two seconds (Dovecot rescans a maildir directory that
// changed within about the last second on every access) and opens the
// folder once, so that the rescan a change step or a job caused is not
// charged to whichever job comes next. What every session costs Dovecot
// anyway stays in every job: on this Maildir-backed server a session that
// opens a message file first reads the folder's whole dovecot-uidlist and
// rescans cur/ (about a second for 100,000 messages), which is why the
// incremental floors cost far more than the STATUS floor.
//
// Every job checks what it did: the number of messages streamed, listed or
// stored (counted in the resulting Maildir for syncs and peers) must equal
// the mailbox's, the bytes streamed or stored must add up (our Maildir holds
// the bytes as served; mpop stores Unix line endings; mbsync stores Unix
// line endings plus a 21-byte X-TUID line per message), and a resync must
// store nothing (and update no flags). A job that does not check
// out fails the run rather than print a meaningless figure. A job whose
// driver or engine is not built into this binary is reported as skipped with
// the reason.
//
// # Reading the table
//
//	job       the job name (above)
//	median s  median wall-clock seconds over -runs runs
//	MB/s      message bytes moved (10^6 bytes) per second, from the median
//	RSS MiB   the largest peak resident set size seen over the runs
//	msgs      messages moved (or listed) per run; for the floors, the
//	          messages STATUS counted or UIDL listed
//	vs peer   peer median / job median, the peer being mbsync for IMAP jobs
//	          and mpop for POP3 jobs (resync jobs compare with the peer's
//	          resync): 3.0 means three times faster than the peer
//	vs wire   job median / wire-floor median for the same protocol and
//	          mailbox: 1.0 means at the floor, 1.5 means 50% slower than
//	          moving the bytes with no parsing and no disk; for
//	          no-op and incremental jobs the floor is the bare client
//	          (floor-imap-status, floor-pop3-uidl; the incremental floors
//	          for the 100k set's incremental jobs)
//	vs floor  durable full syncs only (ours, mbsync, mpop): job median /
//	          the larger of the wire floor's and floor-disk's medians,
//	          naming the larger: how far the sync is from what the
//	          network or the disk alone would allow
//
// The design targets (DESIGN.md) read directly off these columns: sync-imap
// and sync-pop3 "vs peer" of at least 3, resync-imap far below the full
// sync, RSS well under 100 MiB for the large-* jobs. Issue 14's targets
// for the 100k set: 100k-resync-imap "vs peer" of at least 10 and "vs
// wire" at most 1.5; 100k-incr-imap "vs peer" of at least 10 ("vs wire"
// shows how much of it the server's own cost leaves to any client);
// 100k-resync-pop3 "vs wire" at most 1.5 and "vs peer" above 1; RSS under
// 64 MiB for every 100k job of ours.
//
// Figures depend on the machine and its load: the tool prints the number of
// CPUs and the load average at start so that a table can be read in context.
package main
