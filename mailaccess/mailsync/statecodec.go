package mailsync

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// The per-message part of a folder's state (see [folderState]) is kept in
// two kinds of records, both plain text, one line per message or change:
//
//   - the base: every recorded message, sorted by source ID, written whole
//     when the journal is compacted. A line is the fields of a [stateMsg]
//     separated by tabs (see appendEntry). Sorted lines let a lookup find a
//     message by binary search in the record's bytes, decoding only its
//     line, so a pass that touches a few messages of a large folder never
//     decodes the rest.
//   - journal segments: the changes saved since the base was written, in
//     order: "p" and an entry (a message recorded or replaced), "f", a
//     source ID and flags (the recorded flags changed), "d" and a source ID
//     (a record dropped).
//
// Each record starts with a line naming its kind, the codec version, the
// base generation it belongs to and, for the base its number of lines, for
// a segment its position, so that a record from another generation (left
// by an interrupted compaction, under a key that is reused) is never taken
// for the one the head refers to.

const (
	codecVersion = 1
	baseMagic    = "mailsync-base"
	journalMagic = "mailsync-journal"
	// entryFields is the number of tab-separated fields of an entry line.
	entryFields = 11
)

// errCorrupt is wrapped by the errors of state records that do not decode.
var errCorrupt = errors.New("sync state record is corrupt")

// appendEscaped appends s with backslash, tab, newline, carriage return
// and space escaped, so that a field never contains a separator.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case ' ':
			b = append(b, '\\', 's')
		default:
			b = append(b, c)
		}
	}
	return b
}

// unescape reverses appendEscaped.
func unescape(f []byte) (string, error) {
	if bytes.IndexByte(f, '\\') < 0 {
		return string(f), nil
	}
	out := make([]byte, 0, len(f))
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i++; i == len(f) {
			return "", fmt.Errorf("%w: field ends in an escape", errCorrupt)
		}
		switch f[i] {
		case '\\':
			out = append(out, '\\')
		case 't':
			out = append(out, '\t')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 's':
			out = append(out, ' ')
		default:
			return "", fmt.Errorf("%w: unknown escape \\%c", errCorrupt, f[i])
		}
	}
	return string(out), nil
}

// appendUint appends n in decimal, or nothing for 0.
func appendUint(b []byte, n uint64) []byte {
	if n == 0 {
		return b
	}
	return strconv.AppendUint(b, n, 10)
}

// appendInt appends n in decimal, or nothing for 0.
func appendInt(b []byte, n int64) []byte {
	if n == 0 {
		return b
	}
	return strconv.AppendInt(b, n, 10)
}

// appendEntry appends the line of m, without its newline: source ID,
// destination ID, size, first seen, flags (space-separated), Message-ID,
// marks ("x" deleted, "p" pending, "r" re-identified), generation, header
// print, listed size, UID. Empty and zero fields are empty.
func appendEntry(b []byte, m *stateMsg) []byte {
	b = appendEscaped(b, string(m.Src))
	b = append(b, '\t')
	b = appendEscaped(b, string(m.Dst))
	b = append(b, '\t')
	b = appendInt(b, m.Size)
	b = append(b, '\t')
	b = appendInt(b, m.First)
	b = append(b, '\t')
	b = appendFlags(b, m.Flags)
	b = append(b, '\t')
	b = appendEscaped(b, m.MsgID)
	b = append(b, '\t')
	if m.Deleted {
		b = append(b, 'x')
	}
	if m.Pending {
		b = append(b, 'p')
	}
	if m.Reident {
		b = append(b, 'r')
	}
	b = append(b, '\t')
	b = appendInt(b, int64(m.Gen))
	b = append(b, '\t')
	b = appendEscaped(b, m.Print)
	b = append(b, '\t')
	b = appendInt(b, m.Listed)
	b = append(b, '\t')
	b = appendUint(b, uint64(m.UID))
	return b
}

func appendFlags(b []byte, flags []string) []byte {
	for i, f := range flags {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendEscaped(b, f)
	}
	return b
}

func parseFlags(f []byte) ([]string, error) {
	if len(f) == 0 {
		return nil, nil
	}
	var out []string
	for part := range bytes.SplitSeq(f, []byte{' '}) {
		s, err := unescape(part)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// fieldNum parses a decimal field; empty is 0.
func fieldNum(f []byte) (int64, error) {
	if len(f) == 0 {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(f), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: number %q", errCorrupt, f)
	}
	return n, nil
}

// splitFields splits a line at tabs into fs, which must have room for
// exactly as many fields as the line has.
func splitFields(line []byte, fs [][]byte) bool {
	for i := range fs {
		if i == len(fs)-1 {
			if bytes.IndexByte(line, '\t') >= 0 {
				return false
			}
			fs[i] = line
			return true
		}
		j := bytes.IndexByte(line, '\t')
		if j < 0 {
			return false
		}
		fs[i], line = line[:j], line[j+1:]
	}
	return true
}

// parseEntry decodes a line written by appendEntry.
func parseEntry(line []byte) (stateMsg, error) {
	var fs [entryFields][]byte
	if !splitFields(line, fs[:]) {
		return stateMsg{}, fmt.Errorf("%w: an entry without %d fields", errCorrupt, entryFields)
	}
	var m stateMsg
	var err error
	str := func(f []byte) string {
		s, e := unescape(f)
		err = errors.Join(err, e)
		return s
	}
	num := func(f []byte) int64 {
		n, e := fieldNum(f)
		err = errors.Join(err, e)
		return n
	}
	m.Src = mailaccess.ID(str(fs[0]))
	m.Dst = mailaccess.ID(str(fs[1]))
	m.Size = num(fs[2])
	m.First = num(fs[3])
	flags, ferr := parseFlags(fs[4])
	err = errors.Join(err, ferr)
	m.Flags = flags
	m.MsgID = str(fs[5])
	for _, c := range fs[6] {
		switch c {
		case 'x':
			m.Deleted = true
		case 'p':
			m.Pending = true
		case 'r':
			m.Reident = true
		default:
			err = errors.Join(err, fmt.Errorf("%w: unknown mark %q", errCorrupt, c))
		}
	}
	m.Gen = int(num(fs[7]))
	m.Print = str(fs[8])
	m.Listed = num(fs[9])
	uid := num(fs[10])
	if uid < 0 || uid > 1<<32-1 {
		err = errors.Join(err, fmt.Errorf("%w: UID %d", errCorrupt, uid))
	}
	m.UID = uint32(uid)
	if m.Src == "" {
		err = errors.Join(err, fmt.Errorf("%w: an entry without a source ID", errCorrupt))
	}
	return m, err
}

// entrySrc returns the source ID field of an entry line, unescaped.
func entrySrc(line []byte) (string, error) {
	i := bytes.IndexByte(line, '\t')
	if i < 0 {
		return "", fmt.Errorf("%w: an entry without fields", errCorrupt)
	}
	return unescape(line[:i])
}

// lineCounts reads the marks and UID of an entry line: what the head
// counts (see [counts]).
func lineCounts(line []byte) (deleted, pending bool, uid uint32, err error) {
	var fs [entryFields][]byte
	if !splitFields(line, fs[:]) {
		return false, false, 0, fmt.Errorf("%w: an entry without %d fields", errCorrupt, entryFields)
	}
	deleted = bytes.IndexByte(fs[6], 'x') >= 0
	pending = bytes.IndexByte(fs[6], 'p') >= 0
	n, err := fieldNum(fs[10])
	return deleted, pending, uint32(n), err
}

// recordHeader is the first line of a base or journal record.
func recordHeader(magic string, gen uint64, n int) []byte {
	return fmt.Appendf(nil, "%s %d %d %d\n", magic, codecVersion, gen, n)
}

// parseHeader checks the first line of a record and returns the rest and
// its count (base: lines; segment: position).
func parseHeader(b []byte, magic string, gen uint64) (body []byte, n int, err error) {
	line, body, ok := bytes.Cut(b, []byte{'\n'})
	if !ok {
		return nil, 0, fmt.Errorf("%w: no header line", errCorrupt)
	}
	f := strings.Fields(string(line))
	if len(f) != 4 || f[0] != magic {
		return nil, 0, fmt.Errorf("%w: header %q is not a %s record", errCorrupt, line, magic)
	}
	if v, err := strconv.Atoi(f[1]); err != nil || v != codecVersion {
		return nil, 0, fmt.Errorf("%w: %s record of codec version %q, want %d", errCorrupt, magic, f[1], codecVersion)
	}
	g, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil || g != gen {
		return nil, 0, fmt.Errorf("%w: %s record of generation %s, want %d (a record of an interrupted compaction)", errCorrupt, magic, f[2], gen)
	}
	n, err = strconv.Atoi(f[3])
	if err != nil || n < 0 {
		return nil, 0, fmt.Errorf("%w: %s record header %q", errCorrupt, magic, line)
	}
	return body, n, nil
}

// lines yields the lines of a record body (each without its newline).
func lines(body []byte) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(body) > 0 {
			line, rest, _ := bytes.Cut(body, []byte{'\n'})
			if !yield(line) {
				return
			}
			body = rest
		}
	}
}

// searchBase finds the line of source ID src in a base body (lines
// sorted by source ID) by binary search; ok is false if there is none.
func searchBase(body []byte, src string) (line []byte, ok bool, err error) {
	lo, hi := 0, len(body)
	for lo < hi {
		mid := lo + (hi-lo)/2
		s := lo + bytes.LastIndexByte(body[lo:mid], '\n') + 1
		e := bytes.IndexByte(body[s:], '\n')
		if e < 0 {
			e = len(body)
		} else {
			e += s
		}
		k, err := entrySrc(body[s:e])
		if err != nil {
			return nil, false, err
		}
		switch c := strings.Compare(k, src); {
		case c == 0:
			return body[s:e], true, nil
		case c < 0:
			lo = e + 1
		default:
			hi = s
		}
	}
	return nil, false, nil
}

// opKind is the kind of a journal line.
type opKind byte

const (
	opPut   opKind = 'p' // an entry recorded or replaced
	opFlags opKind = 'f' // the recorded flags of an entry changed
	opDrop  opKind = 'd' // an entry dropped
)

// stateOp is one change of a folder's records, as a journal line.
type stateOp struct {
	kind  opKind
	m     stateMsg      // opPut
	src   mailaccess.ID // opFlags, opDrop
	flags []string      // opFlags
}

func (op *stateOp) key() mailaccess.ID {
	if op.kind == opPut {
		return op.m.Src
	}
	return op.src
}

// appendOp appends the journal line of op, with its newline.
func appendOp(b []byte, op *stateOp) []byte {
	b = append(b, byte(op.kind), '\t')
	switch op.kind {
	case opPut:
		b = appendEntry(b, &op.m)
	case opFlags:
		b = appendEscaped(b, string(op.src))
		b = append(b, '\t')
		b = appendFlags(b, op.flags)
	case opDrop:
		b = appendEscaped(b, string(op.src))
	}
	return append(b, '\n')
}

// opSrc returns the source ID a journal line is about, unescaped, without
// decoding the rest of it.
func opSrc(line []byte) (string, error) {
	kind, rest, ok := bytes.Cut(line, []byte{'\t'})
	if !ok || len(kind) != 1 {
		return "", fmt.Errorf("%w: journal line %.40q", errCorrupt, line)
	}
	if i := bytes.IndexByte(rest, '\t'); i >= 0 {
		rest = rest[:i]
	}
	return unescape(rest)
}

// parseOp decodes a journal line.
func parseOp(line []byte) (stateOp, error) {
	kind, rest, ok := bytes.Cut(line, []byte{'\t'})
	if !ok || len(kind) != 1 {
		return stateOp{}, fmt.Errorf("%w: journal line %.40q", errCorrupt, line)
	}
	op := stateOp{kind: opKind(kind[0])}
	var err error
	switch op.kind {
	case opPut:
		op.m, err = parseEntry(rest)
	case opFlags:
		var fs [2][]byte
		if !splitFields(rest, fs[:]) {
			return stateOp{}, fmt.Errorf("%w: flags line %.40q", errCorrupt, line)
		}
		var src string
		src, err = unescape(fs[0])
		op.src = mailaccess.ID(src)
		if err == nil {
			op.flags, err = parseFlags(fs[1])
		}
	case opDrop:
		var src string
		src, err = unescape(rest)
		op.src = mailaccess.ID(src)
	default:
		err = fmt.Errorf("%w: journal line of kind %q", errCorrupt, kind)
	}
	if err == nil && op.key() == "" {
		err = fmt.Errorf("%w: journal line without a source ID", errCorrupt)
	}
	return op, err
}
