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
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
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

// downloadAll lists the maildrop and downloads every message with
// OpenAll (open false) or an Open loop (open true) to io.Discard.
func downloadAll(b *testing.B, mb *Mailbox, total int64, open bool) {
	var ids []mailaccess.ID
	var got int64
	for m, err := range mb.List(context.Background(), "INBOX", nil) {
		if err != nil {
			b.Fatal(err)
		}
		if !open {
			ids = append(ids, m.ID())
			continue
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
	if !open {
		err := mb.OpenAll(context.Background(), "INBOX", ids, func(_ mailaccess.ID, r io.Reader) error {
			n, err := io.Copy(io.Discard, r)
			got += n
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if got != total {
		b.Fatalf("got %d bytes, want %d", got, total)
	}
}

// floor is the wire floor: a logged-in plain connection that retrieves
// messages 1..n with pipelined RETR and only looks for the terminators.
type floor struct {
	b    *testing.B
	conn net.Conn
	br   *bufio.Reader
}

func dialFloor(b *testing.B, cfg mailaccess.Config) *floor {
	conn, err := net.Dial("tcp", driver.NewConfig(cfg).Addr())
	if err != nil {
		b.Fatal(err)
	}
	f := &floor{b: b, conn: conn, br: bufio.NewReaderSize(conn, 64<<10)}
	f.status()
	fmt.Fprintf(conn, "USER %s\r\nPASS %s\r\n", cfg.User, string(cfg.Password))
	f.status()
	f.status()
	return f
}

func (f *floor) status() {
	l, err := f.br.ReadString('\n')
	if err != nil || !strings.HasPrefix(l, "+OK") {
		f.b.Fatalf("status %q: %v", l, err)
	}
}

func (f *floor) retrieve(n int) {
	go func() {
		bw := bufio.NewWriter(f.conn)
		for i := 1; i <= n; i++ {
			fmt.Fprintf(bw, "RETR %d\r\n", i)
		}
		bw.Flush()
	}()
	for range n {
		f.status()
		for {
			line, err := f.br.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				f.b.Fatal(err)
			}
			if len(line) == 3 && line[0] == '.' {
				break
			}
		}
	}
}

// benchPair runs the Mailbox and the wire floor against one server: each
// alone, and interleaved in one loop ("side-by-side"), which reports the
// ratio of Mailbox to floor time so machine load affects both alike.
func benchPair(b *testing.B, cfg mailaccess.Config, total int64, n int) {
	dialMB := func(b *testing.B) *Mailbox {
		mb, err := Dial(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		return mb
	}
	for _, open := range []bool{false, true} {
		name := "mailbox-openall"
		if open {
			name = "mailbox-open"
		}
		b.Run(name, func(b *testing.B) {
			mb := dialMB(b)
			defer mb.Close()
			b.SetBytes(total)
			b.ResetTimer()
			for range b.N {
				downloadAll(b, mb, total, open)
			}
		})
	}
	b.Run("wire-floor", func(b *testing.B) {
		f := dialFloor(b, cfg)
		defer f.conn.Close()
		b.SetBytes(total)
		b.ResetTimer()
		for range b.N {
			f.retrieve(n)
		}
	})
	b.Run("side-by-side", func(b *testing.B) {
		// Both hold a session for the whole run, so the floor logs in as
		// a second user with the same messages (pop3test: same maildrop;
		// Dovecot: a copy).
		mb := dialMB(b)
		defer mb.Close()
		f := dialFloor(b, floorCfg(cfg))
		defer f.conn.Close()
		var tMB, tFloor time.Duration
		b.SetBytes(2 * total)
		b.ResetTimer()
		for range b.N {
			t0 := time.Now()
			downloadAll(b, mb, total, false)
			t1 := time.Now()
			f.retrieve(n)
			tFloor += time.Since(t1)
			tMB += t1.Sub(t0)
		}
		b.ReportMetric(float64(tMB.Nanoseconds())/float64(b.N)/1e6, "mailbox-ms/op")
		b.ReportMetric(float64(tFloor.Nanoseconds())/float64(b.N)/1e6, "floor-ms/op")
		b.ReportMetric(float64(tMB)/float64(tFloor), "x-floor")
	})
}

// floorCfg returns the credentials of the second user that shares the
// maildrop, for side-by-side runs.
func floorCfg(cfg mailaccess.Config) mailaccess.Config {
	cfg.User = cfg.User + "2"
	return cfg
}

func BenchmarkDownloadPOP3Test(b *testing.B) {
	msgs, total := benchCorpus()
	fake := mailtest.New(mailtest.ProfilePOP3)
	for _, m := range msgs {
		fake.Add(mailaccess.Inbox, m)
	}
	srv := pop3test.Start(b, fake, &pop3test.Options{Users: map[string]string{"user": "pass", "user2": "pass"}})
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
	for _, u := range []string{"bench", "bench2"} {
		if err := dc.AddUser(u, "pw", msgs); err != nil {
			b.Fatal(err)
		}
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
	dialDovecot(b, cfg).Close() // wait until Dovecot knows the users
	dialDovecot(b, floorCfg(cfg)).Close()
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
		yield(driver.NewMessage(l, mailaccess.MessageInfo{ID: "large", Folder: folder, Size: l.size}), nil)
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
