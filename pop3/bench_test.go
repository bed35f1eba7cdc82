package pop3

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// Benchmarks: the pop3 Mailbox against the wire floor (a raw pipelined
// RETR loop over a plain net.Conn, no parsing beyond finding the
// terminators), on the same server in the same run.
//
//	go test -run '^$' -bench . -benchtime 5x ./pop3
//
// POP3_BENCH_MESSAGES sets the corpus size (default 500) and
// POP3_BENCH_LARGE the large message's size in MB (default 20; try 200).

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func benchCorpus() ([][]byte, int64) {
	var msgs [][]byte
	var total int64
	for m := range corpus.Generate(42, envInt("POP3_BENCH_MESSAGES", 500)) {
		msgs = append(msgs, m.Raw)
		total += int64(len(m.Raw))
	}
	return msgs, total
}

// benchPair runs the Mailbox and the wire floor against one server.
func benchPair(b *testing.B, cfg mailaccess.Config, total int64, n int) {
	b.Run("mailbox-openall", func(b *testing.B) {
		mb, err := Dial(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer mb.Close()
		b.SetBytes(total)
		b.ResetTimer()
		for range b.N {
			var ids []mailaccess.ID
			for m, err := range mb.List(context.Background(), "INBOX", nil) {
				if err != nil {
					b.Fatal(err)
				}
				ids = append(ids, m.ID())
			}
			var got int64
			err := mb.OpenAll(context.Background(), "INBOX", ids, func(_ mailaccess.ID, r io.Reader) error {
				n, err := io.Copy(io.Discard, r)
				got += n
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			if got != total {
				b.Fatalf("got %d bytes, want %d", got, total)
			}
		}
	})
	b.Run("mailbox-open", func(b *testing.B) {
		mb, err := Dial(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer mb.Close()
		b.SetBytes(total)
		b.ResetTimer()
		for range b.N {
			var got int64
			for m, err := range mb.List(context.Background(), "INBOX", nil) {
				if err != nil {
					b.Fatal(err)
				}
				rc, err := m.Open(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil {
					b.Fatal(err)
				}
				got += n
			}
			if got != total {
				b.Fatalf("got %d bytes, want %d", got, total)
			}
		}
	})
	b.Run("wire-floor", func(b *testing.B) {
		conn, err := net.Dial("tcp", cfg.Addr())
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReaderSize(conn, 64<<10)
		status := func() string {
			l, err := br.ReadString('\n')
			if err != nil || !strings.HasPrefix(l, "+OK") {
				b.Fatalf("status %q: %v", l, err)
			}
			return l
		}
		status()
		fmt.Fprintf(conn, "USER %s\r\nPASS %s\r\n", cfg.User, string(cfg.Password))
		status()
		status()
		b.SetBytes(total)
		b.ResetTimer()
		for range b.N {
			go func() {
				bw := bufio.NewWriter(conn)
				for i := 1; i <= n; i++ {
					fmt.Fprintf(bw, "RETR %d\r\n", i)
				}
				bw.Flush()
			}()
			for range n {
				status()
				for {
					line, err := br.ReadSlice('\n')
					if err == bufio.ErrBufferFull {
						continue
					}
					if err != nil {
						b.Fatal(err)
					}
					if len(line) == 3 && line[0] == '.' {
						break
					}
				}
			}
		}
	})
}

func BenchmarkDownloadPOP3Test(b *testing.B) {
	msgs, total := benchCorpus()
	fake := mailtest.New(mailtest.ProfilePOP3)
	for _, m := range msgs {
		fake.Add(mailaccess.Inbox, m)
	}
	srv := pop3test.Start(b, fake, nil)
	cfg := srv.Config("user", "pass")
	cfg.TLS = mailaccess.TLSInsecurePlaintext // compare with the plaintext floor
	benchPair(b, cfg, total, len(msgs))
}

func BenchmarkDownloadDovecot(b *testing.B) {
	if ok, why := dovecottest.Available(); !ok {
		b.Skip(why)
	}
	msgs, _ := benchCorpus()
	dc := dovecottest.Start(b, nil)
	if err := dc.AddUser("bench", "pw", msgs); err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, m := range msgs {
		total += int64(len(corpus.Normalize(m)))
	}
	cfg, err := mailaccess.ParseURL("pop3://" + dc.POP3Addr)
	if err != nil {
		b.Fatal(err)
	}
	cfg.User, cfg.Password, cfg.TLS = "bench", "pw", mailaccess.TLSInsecurePlaintext
	mb := dialDovecot(b, cfg) // wait until Dovecot knows the user
	mb.Close()
	benchPair(b, cfg, total, len(msgs))
}

// largeBox is a read-only Mailbox whose one message is corpus.Large,
// generated on the fly so the server side holds no copy either.
type largeBox struct {
	mailaccess.Mailbox
	size int64
}

func (l largeBox) List(ctx context.Context, folder string, _ *mailaccess.ListOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		yield(mailaccess.NewMessage(l, mailaccess.MessageInfo{ID: "large", Folder: folder, Size: l.size}), nil)
	}
}

func (l largeBox) Open(context.Context, string, mailaccess.ID, *mailaccess.OpenOptions) (io.ReadCloser, error) {
	return io.NopCloser(corpus.Large(7, l.size)), nil
}

// BenchmarkLargeMessage streams one large message through Open and
// reports the peak heap in use (sampled) and the process's peak RSS.
func BenchmarkLargeMessage(b *testing.B) {
	size := corpus.LargeSize(int64(envInt("POP3_BENCH_LARGE", 20)) << 20)
	srv := pop3test.Start(b, largeBox{size: size}, nil)
	cfg := srv.Config("user", "pass")
	cfg.TLS = mailaccess.TLSInsecurePlaintext
	mb, err := Dial(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer mb.Close()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		rc, err := mb.Open(context.Background(), "INBOX", "large", nil)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != size {
			b.Fatalf("read %d of %d: %v", n, size, err)
		}
	}
	b.StopTimer()
	close(stop)
	<-done
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	if rss := peakRSS(); rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MB")
	}
}

// peakRSS reads VmHWM from /proc/self/status (Linux), in bytes.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(l, []byte("VmHWM:")); ok {
			f := strings.Fields(string(v))
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
