package corpus

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// largeLine is the length of one base64 line of a Large message: 76
// characters (57 raw bytes) plus CRLF.
const largeLine = 78

// Large returns one well-formed message (multipart/mixed: a short
// text/plain part and an application/octet-stream attachment in base64)
// of exactly LargeSize(size) bytes, which is size itself unless size is
// below the smallest possible such message. The bytes are produced on the
// fly in constant memory, so sizes of hundreds of megabytes are fine, and
// they depend only on seed and size. Lines end with CRLF.
func Large(seed int64, size int64) io.Reader {
	avail := LargeSize(size) - largeMin
	prefix, suffix := largeParts(seed, int(avail%largeLine))
	var key [32]byte
	for j := range 4 {
		v := uint64(seed)*0x9e3779b97f4a7c15 + uint64(j)*0xbf58476d1ce4e5b9
		for k := range 8 {
			key[j*8+k] = byte(v >> (8 * k))
		}
	}
	return &largeReader{
		pending: prefix,
		suffix:  suffix,
		lines:   avail / largeLine,
		src:     rand.NewChaCha8(key),
	}
}

// LargeSize returns the exact length of the message Large(seed, size)
// produces for any seed: max(size, the smallest Large message).
func LargeSize(size int64) int64 {
	return max(size, largeMin)
}

// largeMin is the length of a Large message without attachment lines.
var largeMin = func() int64 {
	p, s := largeParts(0, 0)
	return int64(len(p) + len(s))
}()

// largeParts builds the fixed bytes before and after the attachment's
// base64 lines. Their length does not depend on seed; pad (0..77) extra
// bytes are added to the text part so the total can hit any size.
func largeParts(seed int64, pad int) (prefix, suffix []byte) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x6c61726765))
	date := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(3*365*86400)) * time.Second)
	boundary := fmt.Sprintf("large-%016x", uint64(seed))
	var b bytes.Buffer
	b.WriteString("From: Large Sender <large@example.org>\r\n")
	b.WriteString("To: Test User <test@example.com>\r\n")
	fmt.Fprintf(&b, "Subject: Large message %016x\r\n", uint64(seed))
	fmt.Fprintf(&b, "Date: %s\r\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <large-%016x@corpus.example.org>\r\n", uint64(seed))
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n")
	b.WriteString("--" + boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	b.WriteString("This message carries a large generated attachment.\r\n")
	b.WriteString("Padding: " + strings.Repeat("x", pad) + "\r\n\r\n")
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString("Content-Type: application/octet-stream; name=\"large.bin\"\r\n")
	b.WriteString("Content-Disposition: attachment; filename=\"large.bin\"\r\n")
	b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
	return b.Bytes(), []byte("--" + boundary + "--\r\n")
}

// largeReader streams prefix, lines base64 lines of random data, suffix.
type largeReader struct {
	pending []byte
	suffix  []byte
	lines   int64
	src     *rand.ChaCha8
	raw     [57]byte
	line    [largeLine]byte
}

// Read implements io.Reader.
func (l *largeReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(l.pending) == 0 {
			switch {
			case l.lines > 0:
				l.lines--
				_, _ = l.src.Read(l.raw[:])
				base64.StdEncoding.Encode(l.line[:76], l.raw[:])
				l.line[76], l.line[77] = '\r', '\n'
				l.pending = l.line[:]
			case l.suffix != nil:
				l.pending, l.suffix = l.suffix, nil
			default:
				if n == 0 {
					return 0, io.EOF
				}
				return n, nil
			}
		}
		c := copy(p[n:], l.pending)
		l.pending = l.pending[c:]
		n += c
	}
	return n, nil
}
