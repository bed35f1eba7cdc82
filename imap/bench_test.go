package imap

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// benchMessages is the corpus size of the body benchmarks (the realistic
// mix of internal/corpus: about 47 KB per message on average).
const benchMessages = 2000

func benchCorpus(n int) ([][]byte, int64) {
	var (
		raws [][]byte
		size int64
	)
	for m := range corpus.Generate(1, n) {
		raw := corpus.Normalize(m.Raw)
		raws = append(raws, raw)
		size += int64(len(raw))
	}
	return raws, size
}

// rawClient opens a plain go-imap client for cfg, for the wire floor.
func rawClient(b *testing.B, config mailaccess.Config) *imapclient.Client {
	b.Helper()
	cfg := driver.NewConfig(config)
	var (
		c   *imapclient.Client
		err error
	)
	switch cfg.EffectiveTLS() {
	case mailaccess.TLSInsecurePlaintext:
		c, err = imapclient.DialInsecure(cfg.Addr(), nil)
	case mailaccess.TLSStartTLS:
		tc, terr := cfg.TLSClientConfig()
		require.NoError(b, terr)
		c, err = imapclient.DialStartTLS(cfg.Addr(), &imapclient.Options{TLSConfig: tc})
	default:
		tc, terr := cfg.TLSClientConfig()
		require.NoError(b, terr)
		c, err = imapclient.DialTLS(cfg.Addr(), &imapclient.Options{TLSConfig: tc})
	}
	require.NoError(b, err)
	require.NoError(b, c.Login(config.User, string(config.Password)).Wait())
	return c
}

// runBodyBenchmarks runs, side by side on one server and corpus:
// wire-floor (one raw go-imap UID FETCH 1:* BODY.PEEK[] to io.Discard),
// mailbox-open (List, then Open of every body to io.Discard through the
// Mailbox), mailbox-openall (every body through OpenAll, the sync
// engine's path) and mailbox-list (List metadata only).
func runBodyBenchmarks(b *testing.B, cfg mailaccess.Config, n int, size int64) {
	ctx := context.Background()
	b.Run("wire-floor", func(b *testing.B) {
		c := rawClient(b, cfg)
		defer c.Close()
		_, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
		require.NoError(b, err)
		b.SetBytes(size)
		b.ResetTimer()
		for b.Loop() {
			var set imap.UIDSet
			set.AddRange(1, 0)
			cmd := c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
			got := 0
			for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
				for item := fm.Next(); item != nil; item = fm.Next() {
					if bs, ok := item.(imapclient.FetchItemDataBodySection); ok && bs.Literal != nil {
						io.Copy(io.Discard, bs.Literal)
					}
				}
				got++
			}
			require.NoError(b, cmd.Close())
			require.Equal(b, n, got)
		}
	})
	b.Run("mailbox-open", func(b *testing.B) {
		mb, err := Dial(ctx, cfg)
		require.NoError(b, err)
		defer mb.Close()
		b.SetBytes(size)
		b.ResetTimer()
		for b.Loop() {
			got := 0
			for m, err := range mb.List(ctx, "INBOX", nil) {
				require.NoError(b, err)
				rc, err := m.Open(ctx)
				require.NoError(b, err)
				_, err = io.Copy(io.Discard, rc)
				require.NoError(b, err)
				require.NoError(b, rc.Close())
				got++
			}
			require.Equal(b, n, got)
		}
	})
	b.Run("mailbox-openall", func(b *testing.B) {
		mb, err := Dial(ctx, cfg)
		require.NoError(b, err)
		defer mb.Close()
		var ids []mailaccess.ID
		for m, err := range mb.List(ctx, "INBOX", nil) {
			require.NoError(b, err)
			ids = append(ids, m.ID())
		}
		b.SetBytes(size)
		b.ResetTimer()
		for b.Loop() {
			got := 0
			require.NoError(b, mb.OpenAll(ctx, "INBOX", ids, func(_ mailaccess.ID, r io.Reader) error {
				got++
				_, err := io.Copy(io.Discard, r)
				return err
			}))
			require.Equal(b, n, got)
		}
	})
	b.Run("mailbox-list", func(b *testing.B) {
		mb, err := Dial(ctx, cfg)
		require.NoError(b, err)
		defer mb.Close()
		b.ResetTimer()
		for b.Loop() {
			got := 0
			for _, err := range mb.List(ctx, "INBOX", nil) {
				require.NoError(b, err)
				got++
			}
			require.Equal(b, n, got)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}

// BenchmarkMemServer runs the body benchmarks against the in-process
// server.
func BenchmarkMemServer(b *testing.B) {
	msgs, size := benchCorpus(benchMessages)
	srv := imaptest.Start(b, nil, imaptest.User{Name: "u", Password: "p", Messages: msgs})
	runBodyBenchmarks(b, srv.Config("u", "p"), len(msgs), size)
}

// BenchmarkMemServerList100k lists a 100,000-message folder and reports
// the peak heap growth of the client while listing (the in-process
// server's own garbage is included, so this is an upper bound).
func BenchmarkMemServerList100k(b *testing.B) {
	n := listBenchN
	srv := imaptest.Start(b, nil, imaptest.User{Name: "u", Password: "p"})
	for i := range n {
		_, err := srv.Append("u", "INBOX", []byte(fmt.Sprintf("Subject: m%d\r\nFrom: a@example.com\r\n\r\nbody %d\r\n", i, i)), nil)
		require.NoError(b, err)
	}
	ctx := context.Background()
	mb, err := Dial(ctx, srv.Config("u", "p"))
	require.NoError(b, err)
	defer mb.Close()
	benchList(b, mb, n)
}

// benchList lists INBOX of mb (n messages) per iteration and reports the
// peak heap growth and the listing rate.
func benchList(b *testing.B, mb *Mailbox, n int) {
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		got := 0
		peak := peakHeap(func() {
			for _, err := range mb.List(ctx, "INBOX", nil) {
				require.NoError(b, err)
				got++
			}
		})
		require.Equal(b, n, got)
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// listBenchN is the folder size of BenchmarkMemServerList100k.
var listBenchN = func() int {
	if v, err := strconv.Atoi(os.Getenv("IMAP_BENCH_LIST_N")); err == nil && v > 0 {
		return v
	}
	return 100000
}()
