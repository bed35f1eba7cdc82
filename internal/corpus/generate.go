package corpus

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"iter"
	"math/rand/v2"
	"strings"
	"time"
)

// Kind is the shape of a generated message.
type Kind int

// The kinds of generated message and their sizes (whole message, headers
// included).
const (
	// KindPlain is a text/plain message of PlainMin to PlainMax bytes.
	KindPlain Kind = iota
	// KindHTML is a multipart/alternative (text/plain + text/html) message
	// of HTMLMin to HTMLMax bytes.
	KindHTML
	// KindAttachment is a multipart/mixed message with a base64
	// attachment, of AttachmentMin to AttachmentMax bytes.
	KindAttachment
)

// Size bounds, in bytes, of each Kind of generated message.
const (
	PlainMin      = 2 * 1024
	PlainMax      = 10 * 1024
	HTMLMin       = 20 * 1024
	HTMLMax       = 80 * 1024
	AttachmentMin = 150 * 1024
	AttachmentMax = 750 * 1024
)

// Bounds returns the inclusive size range of messages of kind k.
func (k Kind) Bounds() (lo, hi int) {
	switch k {
	case KindHTML:
		return HTMLMin, HTMLMax
	case KindAttachment:
		return AttachmentMin, AttachmentMax
	default:
		return PlainMin, PlainMax
	}
}

// String returns "plain", "html" or "attachment".
func (k Kind) String() string {
	switch k {
	case KindHTML:
		return "html"
	case KindAttachment:
		return "attachment"
	default:
		return "plain"
	}
}

// Mix gives the relative weights of the kinds of generated message. The
// kinds are dealt in blocks of Plain+HTML+Attachment messages (reduced by
// their greatest common divisor) shuffled per block, so every full block
// holds exactly the requested proportions. The zero Mix means DefaultMix.
type Mix struct {
	Plain, HTML, Attachment int
}

// DefaultMix is realistic mail: 75% small plain text, 20% HTML, 5% with a
// large attachment. Blocks are 20 messages long (15/4/1).
var DefaultMix = Mix{Plain: 75, HTML: 20, Attachment: 5}

// Generate streams n realistic messages built from seed with DefaultMix.
// See Mix.Generate.
func Generate(seed int64, n int) iter.Seq[Message] {
	return DefaultMix.Generate(seed, n)
}

// Generate streams n messages named "gen-000000", "gen-000001", ...,
// each built only when the consumer asks for it. The same seed and index
// always give the same bytes; From, To, Subject, Date and Message-ID vary,
// and the Message-ID is unique per seed and index. Messages use CRLF.
func (m Mix) Generate(seed int64, n int) iter.Seq[Message] {
	return func(yield func(Message) bool) {
		for i := range n {
			if !yield(m.At(seed, i)) {
				return
			}
		}
	}
}

// At returns message number i (0-based) of the stream Generate(seed, ...)
// without building the ones before it.
func (m Mix) At(seed int64, i int) Message {
	k := m.KindAt(seed, i)
	r := rand.New(rand.NewPCG(uint64(seed)^0x6d61696c61636365, uint64(i)))
	return buildMessage(r, seed, i, k)
}

// KindAt returns the Kind of message number i of the stream for seed.
func (m Mix) KindAt(seed int64, i int) Kind {
	p, h, a := m.weights()
	block := p + h + a
	kinds := make([]Kind, 0, block)
	for range p {
		kinds = append(kinds, KindPlain)
	}
	for range h {
		kinds = append(kinds, KindHTML)
	}
	for range a {
		kinds = append(kinds, KindAttachment)
	}
	r := rand.New(rand.NewPCG(uint64(seed), uint64(i/block)^0x626c6f636b))
	r.Shuffle(len(kinds), func(x, y int) { kinds[x], kinds[y] = kinds[y], kinds[x] })
	return kinds[i%block]
}

// weights returns the block composition of m, reduced by the GCD.
func (m Mix) weights() (p, h, a int) {
	p, h, a = max(m.Plain, 0), max(m.HTML, 0), max(m.Attachment, 0)
	if p+h+a == 0 {
		p, h, a = DefaultMix.Plain, DefaultMix.HTML, DefaultMix.Attachment
	}
	g := gcd(gcd(p, h), a)
	return p / g, h / g, a / g
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

var (
	firstNames = []string{"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
		"Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Yuki"}
	lastNames = []string{"Smith", "Jones", "Garcia", "Rossi", "Dubois", "Tanaka", "Kowalski",
		"Nguyen", "Andersson", "O'Brien", "Silva", "Novak", "Khan", "Schmidt"}
	domains = []string{"example.com", "example.org", "example.net", "mail.example.com", "corp.example.org"}
	words   = strings.Fields(`the of and to in is that for it as with was on be by this are from at or
		have an they which one you were all we there can been has more if will would their what so
		about up out them these into some could time only other new like then than first any
		meeting report project budget schedule review deadline customer release server mailbox
		message folder invoice quarter update draft proposal team office travel lunch coffee
		agenda minutes contract support ticket network backup storage migration archive`)
	subjects = []string{"Quarterly report", "Meeting notes", "Project update", "Lunch on Friday",
		"Invoice %d", "Your ticket #%d", "Release plan", "Travel itinerary", "Budget review",
		"Weekly summary", "Server migration", "Backup status", "Draft proposal v%d", "Question about the contract"}
	prefixes = []string{"", "", "", "Re: ", "Fwd: ", "RE: Re: "}
	zones    = []int{0, 1, 2, -5, -8, 9, 5, -3}
	attach   = []struct{ name, ctype string }{
		{"report.pdf", "application/pdf"}, {"photo.jpg", "image/jpeg"},
		{"archive.zip", "application/zip"}, {"data.bin", "application/octet-stream"},
	}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func address(r *rand.Rand) string {
	f, l := pick(r, firstNames), pick(r, lastNames)
	local := strings.ToLower(f) + "." + strings.ToLower(strings.NewReplacer("'", "").Replace(l))
	display := f + " " + l
	if strings.ContainsRune(l, '\'') {
		display = `"` + display + `"`
	}
	return display + " <" + local + "@" + pick(r, domains) + ">"
}

// headers writes the common header block (without the blank line).
func headers(b *bytes.Buffer, r *rand.Rand, seed int64, i int, subject string) {
	date := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(5*365*86400)) * time.Second)
	date = date.In(time.FixedZone("", pick(r, zones)*3600))
	fmt.Fprintf(b, "Return-Path: <bounce-%d@%s>\r\n", r.IntN(100000), pick(r, domains))
	fmt.Fprintf(b, "From: %s\r\n", address(r))
	fmt.Fprintf(b, "To: %s\r\n", address(r))
	if r.IntN(4) == 0 {
		fmt.Fprintf(b, "Cc: %s\r\n", address(r))
	}
	fmt.Fprintf(b, "Subject: %s\r\n", subject)
	fmt.Fprintf(b, "Date: %s\r\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(b, "Message-ID: <gen-%d-%d.%08x@%s>\r\n", seed, i, r.Uint32(), pick(r, domains))
	b.WriteString("MIME-Version: 1.0\r\n")
}

func makeSubject(r *rand.Rand) string {
	s := pick(r, subjects)
	if strings.Contains(s, "%d") {
		s = fmt.Sprintf(s, r.IntN(10000))
	}
	return pick(r, prefixes) + s
}

// sentence returns one capitalised sentence of plain words.
func sentence(r *rand.Rand) string {
	n := 6 + r.IntN(14)
	ws := make([]string, n)
	for j := range ws {
		ws[j] = pick(r, words)
	}
	ws[0] = strings.ToUpper(ws[0][:1]) + ws[0][1:]
	return strings.Join(ws, " ") + "."
}

// paragraph returns a paragraph's text wrapped at 72 columns, as lines.
func paragraph(r *rand.Rand) []string {
	n := 2 + r.IntN(6)
	var ws []string
	for range n {
		ws = append(ws, strings.Fields(sentence(r))...)
	}
	return wrapWords(ws, 72)
}

func wrapWords(ws []string, width int) []string {
	var lines []string
	var cur strings.Builder
	for _, w := range ws {
		if cur.Len() > 0 && cur.Len()+1+len(w) > width {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(w)
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// target picks a size in [lo+lowSlack, hi-highSlack].
func target(r *rand.Rand, k Kind, lowSlack, highSlack int) int {
	lo, hi := k.Bounds()
	lo, hi = lo+lowSlack, hi-highSlack
	return lo + r.IntN(hi-lo+1)
}

func buildMessage(r *rand.Rand, seed int64, i int, k Kind) Message {
	subject := makeSubject(r)
	var b bytes.Buffer
	headers(&b, r, seed, i, subject)
	switch k {
	case KindPlain:
		want := target(r, k, 0, 200)
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
		b.WriteString("Hi,\r\n\r\n")
		for b.Len() < want {
			for _, l := range paragraph(r) {
				b.WriteString(l + "\r\n")
				if b.Len() >= want {
					break
				}
			}
			b.WriteString("\r\n")
		}
	case KindHTML:
		want := target(r, k, 0, 4096)
		boundary := fmt.Sprintf("alt-%016x", r.Uint64())
		b.WriteString("Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n")
		var plain, html bytes.Buffer
		html.WriteString("<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"><title>" + subject + "</title></head>\r\n<body>\r\n")
		for b.Len()+plain.Len()+html.Len()+300 < want {
			p := paragraph(r)
			for _, l := range p {
				plain.WriteString(l + "\r\n")
			}
			plain.WriteString("\r\n")
			style := pick(r, []string{"", " style=\"margin:0 0 1em 0;color:#333333;font-family:Arial,Helvetica,sans-serif\"", " class=\"body-text\""})
			html.WriteString("<p" + style + ">\r\n")
			for _, l := range p {
				if r.IntN(8) == 0 {
					l = "<b>" + l + "</b>"
				} else if r.IntN(12) == 0 {
					l = "<a href=\"https://www.example.com/" + pick(r, words) + "\">" + l + "</a>"
				}
				html.WriteString(l + "\r\n")
			}
			html.WriteString("</p>\r\n")
		}
		html.WriteString("</body></html>\r\n")
		b.WriteString("--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
		b.Write(plain.Bytes())
		b.WriteString("--" + boundary + "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
		b.Write(html.Bytes())
		b.WriteString("--" + boundary + "--\r\n")
	case KindAttachment:
		want := target(r, k, 1024, 1024)
		boundary := fmt.Sprintf("mixed-%016x", r.Uint64())
		a := pick(r, attach)
		b.WriteString("Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n")
		b.WriteString("--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
		b.WriteString("Please find the file attached.\r\n\r\n")
		for _, l := range paragraph(r) {
			b.WriteString(l + "\r\n")
		}
		b.WriteString("\r\n--" + boundary + "\r\n")
		fmt.Fprintf(&b, "Content-Type: %s; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", a.ctype, a.name, a.name)
		closing := "--" + boundary + "--\r\n"
		lines := (want - b.Len() - len(closing)) / 78
		var seedBytes [32]byte
		for j := range 4 {
			v := r.Uint64()
			for k := range 8 {
				seedBytes[j*8+k] = byte(v >> (8 * k))
			}
		}
		src := rand.NewChaCha8(seedBytes)
		var raw [57]byte
		var enc [76]byte
		for range lines {
			_, _ = src.Read(raw[:])
			base64.StdEncoding.Encode(enc[:], raw[:])
			b.Write(enc[:])
			b.WriteString("\r\n")
		}
		b.WriteString(closing)
	}
	return Message{Name: fmt.Sprintf("gen-%06d", i), Raw: b.Bytes(), Subject: subject}
}
