package maildir_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
)

// namedFS hides the TempFS methods of the FS it wraps, so the Store
// stages named files in tmp/.
type namedFS struct{ maildir.FS }

// BenchmarkStagedAppend compares the two ways of staging keyed appends
// the way the sync engine drives them: per op, 1,000 messages of about
// 8 KB appended by 16 goroutines into a fresh Maildir, with a Flush every
// 256 appends and one at the end.
func BenchmarkStagedAppend(b *testing.B) {
	const (
		msgs      = 1000
		appenders = 16
		flushN    = 256
	)
	body := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"), 8*1024/66)
	raw := append([]byte("From: a@example.org\r\nSubject: bench\r\n\r\n"), body...)
	for _, mode := range []string{"tmpfile", "named"} {
		b.Run(mode, func(b *testing.B) {
			opts := &maildir.Options{}
			if mode == "named" {
				opts.WrapFS = func(base maildir.FS) maildir.FS { return namedFS{base} }
			} else {
				var base maildir.FS
				probe, err := maildir.Open(b.TempDir(), &maildir.Options{WrapFS: func(fs maildir.FS) maildir.FS { base = fs; return fs }})
				if err != nil {
					b.Fatal(err)
				}
				requireTempFS(b, base)
				probe.Close()
			}
			ctx := context.Background()
			parent := b.TempDir()
			b.SetBytes(int64(msgs * len(raw)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir, err := os.MkdirTemp(parent, "md")
				if err != nil {
					b.Fatal(err)
				}
				st, err := maildir.Open(dir, opts)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				var next, done atomic.Int64
				var wg sync.WaitGroup
				for range appenders {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							n := next.Add(1)
							if n > msgs {
								return
							}
							if _, err := st.AppendWithKey(ctx, "INBOX", fmt.Sprintf("m%d", n), bytes.NewReader(raw), &mailaccess.AppendOptions{}); err != nil {
								b.Error(err)
								return
							}
							if done.Add(1)%flushN == 0 {
								if err := st.Flush(ctx); err != nil {
									b.Error(err)
								}
							}
						}
					}()
				}
				wg.Wait()
				if err := st.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				st.Close()
				os.RemoveAll(dir)
				b.StartTimer()
			}
			b.ReportMetric(float64(msgs*b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
