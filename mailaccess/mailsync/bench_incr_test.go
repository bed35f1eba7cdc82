package mailsync_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// keyedMem is an in-memory destination with keyed, ordered appends (as
// the Maildir store has), so that a benchmark measures the engine (its
// state, its planning) and not a file system.
type keyedMem struct {
	*mailtest.Mailbox
	mu   sync.Mutex
	keys map[string]mailaccess.ID
}

func newKeyedMem() *keyedMem {
	return &keyedMem{Mailbox: mailtest.New(mailtest.ProfileMaildir), keys: map[string]mailaccess.ID{}}
}

func (k *keyedMem) AppendWithKey(ctx context.Context, folder, key string, r io.Reader, o *mailaccess.AppendOptions) (mailaccess.ID, error) {
	k.mu.Lock()
	id, ok := k.keys[key]
	k.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err := k.Mailbox.Append(ctx, folder, r, o)
	if err == nil {
		k.mu.Lock()
		k.keys[key] = id
		k.mu.Unlock()
	}
	return id, err
}

func (k *keyedMem) AppendWithKeyAt(ctx context.Context, folder, key string, _ time.Time, _ int, r io.Reader, o *mailaccess.AppendOptions) (mailaccess.ID, error) {
	return k.AppendWithKey(ctx, folder, key, r, o)
}

func (k *keyedMem) HasKey(_ context.Context, _, key string) (mailaccess.ID, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	id, ok := k.keys[key]
	return id, ok, nil
}

// benchIncremental measures one sync after each change step (10 new
// messages, \Flagged toggled on flagChanges messages spread over the
// folder) of a folder of n small messages, after an untimed first sync:
// what the change costs, which should not grow with n.
func benchIncremental(b *testing.B, n, flagChanges int, listMode bool) {
	ctx := context.Background()
	fake := mailtest.New(mailtest.ProfileIMAP)
	if listMode {
		fake = mailtest.New(mailtest.ProfileMaildir)
	}
	msg := func(i int) []byte {
		return fmt.Appendf(nil, "Message-ID: <%d@bench>\r\nSubject: message %d\r\n\r\nbody %d\r\n", i, i, i)
	}
	for i := range n {
		fake.Add("INBOX", msg(i), mailaccess.FlagSeen)
	}
	var src mailaccess.Mailbox = fake
	if listMode {
		src = &counting{Mailbox: fake, status: pop3Like}
	}
	dst := newKeyedMem()
	s, err := mailsync.New(src, dst, &mailsync.Options{State: &memState{}, Account: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	if rep, err := s.Run(ctx); err != nil || rep.Total().New != n {
		b.Fatal(err, rep)
	}
	ids := make([]mailaccess.ID, 0, flagChanges)
	for i, m := range fake.Messages("INBOX") {
		if flagChanges > 0 && i%(n/flagChanges) == 0 && len(ids) < flagChanges {
			ids = append(ids, m.ID)
		}
	}
	added, step := n, 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		for range 10 {
			fake.Add("INBOX", msg(added), mailaccess.FlagSeen)
			added++
		}
		op := mailaccess.AddFlags
		if step++; step%2 == 0 {
			op = mailaccess.RemoveFlags
		}
		for _, id := range ids {
			fake.SetFlagsDirect("INBOX", id, op, mailaccess.FlagFlagged)
		}
		b.StartTimer()
		rep, err := s.Run(ctx)
		if err != nil || rep.Total().New != 10 {
			b.Fatal(err, rep)
		}
		if !listMode && rep.Total().Updated != len(ids) {
			b.Fatalf("updated %d, want %d", rep.Total().Updated, len(ids))
		}
	}
}

// BenchmarkSyncIncremental: one incremental sync of an IMAP-like source
// with CONDSTORE (10 new messages and 100 flag changes since the last
// run) and of a source with stable IDs but no UIDNEXT (10 new messages:
// the POP3 and Maildir case), into a keyed destination in memory, at
// several folder sizes: the time, bytes and allocations per sync should
// not grow with the folder.
func BenchmarkSyncIncremental(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("uid/n=%d", n), func(b *testing.B) { benchIncremental(b, n, 100, false) })
	}
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("list/n=%d", n), func(b *testing.B) { benchIncremental(b, n, 0, true) })
	}
}

// BenchmarkSyncAfterExpunge measures one sync of an IMAP-like source with
// CONDSTORE after another client expunged one message, at several folder
// sizes, into a keyed destination in memory. Seeing an expunge takes the
// whole listing (there is no QRESYNC here), so this pass grows with the
// folder by nature; what the benchmark shows is how much it costs per
// message listed (bytes and allocations per message held while planning)
// and that the passes after it stay linear: each leaves its drop in the
// journal, which the next pass replays when it loads the records.
func BenchmarkSyncAfterExpunge(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			ctx := context.Background()
			fake := mailtest.New(mailtest.ProfileIMAP)
			for i := range n {
				fake.Add("INBOX", fmt.Appendf(nil, "Message-ID: <%d@bench>\r\nSubject: message %d\r\n\r\nbody %d\r\n", i, i, i), mailaccess.FlagSeen)
			}
			s, err := mailsync.New(fake, newKeyedMem(), &mailsync.Options{State: &memState{}, Account: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			if rep, err := s.Run(ctx); err != nil || rep.Total().New != n {
				b.Fatal(err, rep)
			}
			msgs := fake.Messages("INBOX")
			i := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				if i == len(msgs) {
					b.Fatal("every message expunged")
				}
				fake.Expunge("INBOX", msgs[i].ID)
				i++
				b.StartTimer()
				if _, err := s.Run(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
