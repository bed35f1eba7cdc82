package pop3wire

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// onlyReader hides WriterTo/ReaderFrom so io.Copy really copies.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// benchCorpus builds ~8 MiB of realistic mail: headers, quoted-printable
// text with some leading dots, and base64 attachment lines.
func benchCorpus() (wire []byte, plain int) {
	var b strings.Builder
	for b.Len() < 8<<20 {
		fmt.Fprintf(&b, "Received: from mx.example.com by mail.example.org; Tue, 1 Jul 2025 10:00:00 +0000\r\n")
		b.WriteString("Subject: quarterly report\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n")
		for i := 0; i < 40; i++ {
			if i%7 == 0 {
				b.WriteString(".leading dot line in the text part\r\n")
			}
			b.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod\r\n")
		}
		b.WriteString("--x\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		for i := 0; i < 400; i++ {
			b.WriteString("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n")
		}
		b.WriteString("--x--\r\n")
	}
	w, want := stuff([]byte(b.String()))
	return w, len(want)
}

func BenchmarkDotReader(b *testing.B) {
	wire, _ := benchCorpus()
	b.SetBytes(int64(len(wire)))
	buf := make([]byte, 32<<10)
	br := bufio.NewReaderSize(nil, readBufferSize)
	for b.Loop() {
		br.Reset(onlyReader{bytes.NewReader(wire)})
		if _, err := io.CopyBuffer(io.Discard, onlyReader{newDotReader(br)}, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlainCopy is the floor: the same bytes through the same bufio
// size with io.Copy and no unstuffing.
func BenchmarkPlainCopy(b *testing.B) {
	wire, _ := benchCorpus()
	b.SetBytes(int64(len(wire)))
	buf := make([]byte, 32<<10)
	br := bufio.NewReaderSize(nil, readBufferSize)
	for b.Loop() {
		br.Reset(onlyReader{bytes.NewReader(wire)})
		if _, err := io.CopyBuffer(io.Discard, onlyReader{br}, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRetrLoopback streams the corpus through a real Client over
// loopback TCP; BenchmarkRawLoopback is the wire floor for the same bytes.
func BenchmarkRetrLoopback(b *testing.B) { benchLoopback(b, true) }

// BenchmarkRawLoopback copies the same bytes over loopback without POP3.
func BenchmarkRawLoopback(b *testing.B) { benchLoopback(b, false) }

func benchLoopback(b *testing.B, pop bool) {
	wire, _ := benchCorpus()
	conn, _ := serve(b, func(s *srv) {
		if pop {
			s.send("+OK ready")
		}
		for {
			if pop {
				if _, ok := s.readLine(); !ok {
					return
				}
				s.send("+OK")
			} else if _, err := s.br.ReadByte(); err != nil {
				return
			}
			s.sendRaw(wire)
		}
	})
	defer conn.Close()
	b.SetBytes(int64(len(wire)))
	buf := make([]byte, 32<<10)
	if !pop {
		for b.Loop() {
			_, _ = conn.Write([]byte{1})
			if _, err := io.CopyBuffer(io.Discard, io.LimitReader(conn, int64(len(wire))), buf); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	ctx := b.Context()
	c, err := NewClient(ctx, conn, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		body, err := c.Retr(ctx, 1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, onlyReader{body}, buf); err != nil {
			b.Fatal(err)
		}
		body.Close()
	}
}
