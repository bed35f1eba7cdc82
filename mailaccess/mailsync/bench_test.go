package mailsync_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

const benchMessages = 500

func benchSource(b *testing.B) (*mailtest.Mailbox, int64) {
	fake := mailtest.New(mailtest.ProfileIMAP)
	var total int64
	for m := range corpus.Generate(1, benchMessages) {
		fake.Add("INBOX", m.Raw)
		total += int64(len(m.Raw))
	}
	return fake, total
}

// BenchmarkSyncDurable is a full durable sync of generated mail from the
// fake into a fresh Maildir on disk, one message at a time versus 32 in
// flight.
func BenchmarkSyncDurable(b *testing.B) {
	for _, conc := range []int{1, 32} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			src, total := benchSource(b)
			b.SetBytes(total)
			ctx := context.Background()
			for b.Loop() {
				b.StopTimer()
				dst, err := maildir.Open(b.TempDir(), nil)
				if err != nil {
					b.Fatal(err)
				}
				s, err := mailsync.New(src, dst, &mailsync.Options{Concurrency: conc})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				rep, err := s.Run(ctx)
				if err != nil || rep.Total().New != benchMessages {
					b.Fatal(err, rep)
				}
				b.StopTimer()
				dst.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(benchMessages)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkSyncNoop is a resync with nothing to do (CONDSTORE-like
// source): one Status call.
func BenchmarkSyncNoop(b *testing.B) {
	src, _ := benchSource(b)
	dst, err := maildir.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer dst.Close()
	s, err := mailsync.New(src, dst, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Run(ctx); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rep, err := s.Run(ctx)
		if err != nil || rep.Total().New != 0 {
			b.Fatal(err, rep)
		}
	}
}

// BenchmarkSyncNoopPOP3 is a POP3 resync with nothing to do, over a fresh
// session each time as a real resync is, against the in-process POP3
// server holding 10,000 messages: dial and login, the UIDL listing, the
// digest compared with the head of the state record.
func BenchmarkSyncNoopPOP3(b *testing.B) {
	backing := mailtest.New(mailtest.ProfileMaildir)
	for i := range 10_000 {
		backing.Add("INBOX", fmt.Appendf(nil, "Message-ID: <%d@bench>\r\nSubject: %d\r\n\r\nbody\r\n", i, i))
	}
	srv := pop3test.Start(b, backing, nil)
	dst, err := maildir.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer dst.Close()
	ctx := context.Background()
	resync := func() *mailaccess.SyncReport {
		src, err := pop3.Dial(ctx, srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword))
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		s, err := mailsync.New(src, dst, &mailsync.Options{Account: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		rep, err := s.Run(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return rep
	}
	if rep := resync(); rep.Total().New != 10_000 {
		b.Fatalf("first sync stored %d", rep.Total().New)
	}
	b.ReportAllocs()
	for b.Loop() {
		if rep := resync(); rep.Total().New != 0 {
			b.Fatalf("no-op stored %d", rep.Total().New)
		}
	}
}
