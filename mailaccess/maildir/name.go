package maildir

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// The info separator of a Maildir file name: "unique:2,FLAGS".
const infoSep = ":2,"

// systemLetters maps the Maildir flag letters to flags, in ASCII order.
var systemLetters = []struct {
	letter byte
	flag   mailaccess.Flag
}{
	{'D', mailaccess.FlagDraft},
	{'F', mailaccess.FlagFlagged},
	{'P', mailaccess.FlagForwarded},
	{'R', mailaccess.FlagAnswered},
	{'S', mailaccess.FlagSeen},
	{'T', mailaccess.FlagDeleted},
}

func letterOf(f mailaccess.Flag) (byte, bool) {
	for _, s := range systemLetters {
		if strings.EqualFold(string(s.flag), string(f)) {
			return s.letter, true
		}
	}
	return 0, false
}

// splitName splits a file name into its unique part (the ID) and its
// info flags ("" if the name has no ":2," part).
func splitName(name string) (id, info string) {
	if i := strings.Index(name, infoSep); i >= 0 {
		return name[:i], name[i+len(infoSep):]
	}
	// Other experimental infos (":1,...") are kept as part of neither.
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[:i], ""
	}
	return name, ""
}

// sizeFromName returns the S=NNN size written in a unique name, if any.
func sizeFromName(id string) (int64, bool) {
	for _, part := range strings.Split(id, ",")[1:] {
		if v, ok := strings.CutPrefix(part, "S="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil && n >= 0
		}
	}
	return 0, false
}

// keyFromName returns the caller key of a name made by AppendWithKey,
// "SECONDS.KKEY.HOST...", or by AppendWithKeyAt,
// "SECONDS.M<µs>Q<pos>KKEY.HOST...".
func keyFromName(id string) (string, bool) {
	parts := strings.SplitN(id, ".", 3)
	if len(parts) < 3 {
		return "", false
	}
	p := parts[1]
	if rest, ok := strings.CutPrefix(p, "M"); ok {
		digits := func(s string) int { return len(s) - len(strings.TrimLeft(s, "0123456789")) }
		us := digits(rest)
		if us == 0 || !strings.HasPrefix(rest[us:], "Q") {
			return "", false
		}
		rest = rest[us+1:]
		pos := digits(rest)
		if pos == 0 {
			return "", false
		}
		p = rest[pos:]
	}
	if len(p) < 2 || p[0] != 'K' {
		return "", false
	}
	return p[1:], true
}

// validKey reports whether a caller key can be placed in a file name.
func validKey(key string) bool {
	if key == "" || len(key) > 128 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

var (
	hostName = sanitizeHost()
	counter  atomic.Uint64
	pid      = os.Getpid()
)

func sanitizeHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	// The Maildir convention: "/" and ":" are written as octal escapes.
	return strings.NewReplacer("/", `\057`, ":", `\072`, "\x00", "").Replace(h)
}

// uniqueName returns a collision-free unique name: seconds, then
// M<microseconds>P<pid>Q<counter>R<random>, then the host, then the size.
// The counter rules out collisions within this process, the pid between
// processes of one host, the random part between pid reuse and hosts with
// the same name.
func uniqueName(now time.Time, size int64) string {
	var rnd [8]byte
	rand.Read(rnd[:])
	return fmt.Sprintf("%d.M%06dP%dQ%06dR%s.%s,S=%d", now.Unix(), now.Nanosecond()/1000, pid,
		counter.Add(1), hex.EncodeToString(rnd[:]), hostName, size)
}

// keyedName is the unique name of an AppendWithKey message.
func keyedName(now time.Time, key string, size int64) string {
	return fmt.Sprintf("%d.K%s.%s,S=%d", now.Unix(), key, hostName, size)
}

// orderedName is the unique name of an AppendWithKeyAt message: the
// sequence's start (seconds, then microseconds) and the position, fixed
// width, before the key, so that names sort by start, then position.
func orderedName(start time.Time, pos int, key string, size int64) string {
	return fmt.Sprintf("%d.M%06dQ%010dK%s.%s,S=%d", start.Unix(), start.Nanosecond()/1000, pos, key, hostName, size)
}

// validateFolder checks a folder name and returns the directory (relative
// to the root, "." for INBOX) that holds it.
func folderDir(name string) (string, error) {
	if strings.EqualFold(name, mailaccess.Inbox) || name == "" {
		return ".", nil
	}
	bad := ""
	switch {
	case strings.Contains(name, ".."):
		bad = `".."`
	case strings.ContainsAny(name, "/\\"):
		bad = `"/" or "\"`
	case strings.ContainsRune(name, 0):
		bad = "NUL"
	case strings.HasPrefix(name, "."), strings.HasSuffix(name, "."):
		bad = `a leading or trailing "."`
	case strings.ContainsAny(name, "\r\n"):
		bad = "CR or LF"
	case len(name) > 200:
		bad = "more than 200 bytes"
	}
	if bad != "" {
		return "", &mailaccess.OpError{Op: "folder", Protocol: "maildir", Folder: name,
			Err: fmt.Errorf("folder name contains %s: %w", bad, mailaccess.ErrInvalid)}
	}
	if strings.HasPrefix(strings.ToUpper(name), "INBOX.") {
		// Dovecot's Maildir++ names children of INBOX without the prefix.
		name = name[len("INBOX."):]
	}
	return "." + name, nil
}

// folderName is the inverse of folderDir for a root entry ".Name".
func folderName(dir string) string { return strings.TrimPrefix(dir, ".") }

// flagsFromInfo decodes the info letters into flags; kw maps the letters
// a–z to keywords.
func flagsFromInfo(info string, kw []string) []mailaccess.Flag {
	var flags []mailaccess.Flag
	for i := 0; i < len(info); i++ {
		c := info[i]
		if c >= 'a' && c <= 'z' {
			if n := int(c - 'a'); n < len(kw) && kw[n] != "" {
				flags = append(flags, mailaccess.Flag(kw[n]))
			}
			continue
		}
		for _, s := range systemLetters {
			if s.letter == c {
				flags = append(flags, s.flag)
			}
		}
	}
	return flags
}

// infoFromFlags encodes flags as sorted info letters. keyword returns the
// letter of a keyword, allocating one if needed.
func infoFromFlags(flags []mailaccess.Flag, keyword func(string) (byte, error)) (string, error) {
	var letters []byte
	for _, f := range flags {
		if strings.EqualFold(string(f), `\Recent`) {
			continue
		}
		if l, ok := letterOf(f); ok {
			letters = append(letters, l)
			continue
		}
		if f.IsSystem() || f == "" || strings.ContainsAny(string(f), " \t\r\n\x00()[]{}%*\"\\") {
			return "", fmt.Errorf("flag %q cannot be stored: %w", f, mailaccess.ErrInvalid)
		}
		l, err := keyword(string(f))
		if err != nil {
			return "", err
		}
		letters = append(letters, l)
	}
	slices.Sort(letters)
	return string(slices.Compact(letters)), nil
}

func join(dir string, elem ...string) string { return path.Join(append([]string{dir}, elem...)...) }
