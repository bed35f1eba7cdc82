package mailmime

import (
	"mime"
	"strings"
	"unicode/utf8"
)

// maxFilename is the longest name most file systems accept, in bytes.
const maxFilename = 255

// SafeFilename returns a version of an attachment's file name (as sent,
// already decoded) that a program can use as the name of a file in a
// directory of its choice on any common system: only the last path
// element is kept (RFC 6266: "../../x" and `..\x` become "x"), NUL and
// other control characters and the characters Windows forbids (<>:"/\|?*)
// become '_', leading and trailing spaces and trailing dots are removed, a
// name of dots only ("." or "..") becomes "_", a Windows device name (CON,
// NUL, COM1...) gets a '_' prefix, and the result is cut to 255 bytes
// keeping a short extension. A name that is empty stays "" (the part has
// no name: the program chooses one).
func SafeFilename(name string) string {
	if name == "" {
		return ""
	}
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`<>:"|?*`, r) {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimRight(strings.TrimSpace(name), ". ")
	if strings.Trim(name, ".") == "" {
		return "_"
	}
	if reservedName(name) {
		name = "_" + name
	}
	if len(name) > maxFilename {
		ext := ""
		if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= 16 {
			ext = name[i:]
		}
		keep := maxFilename - len(ext)
		for keep > 0 && !utf8.RuneStart(name[keep]) {
			keep--
		}
		name = name[:keep] + ext
	}
	return name
}

// reservedName reports whether name (with any extension) is a Windows
// device name.
func reservedName(name string) bool {
	base := name
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	switch strings.ToUpper(strings.TrimSpace(base)) {
	case "CON", "PRN", "AUX", "NUL",
		"COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		return true
	}
	return false
}

// decodeFilename decodes a file name parameter as sent: mime.ParseMediaType
// has already undone RFC 2231; many mailers still put RFC 2047 words in
// quoted file names.
func decodeFilename(s string) string {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "=?") {
		if d, err := (&mime.WordDecoder{CharsetReader: charsetReader}).DecodeHeader(s); err == nil {
			s = d
		}
	}
	return s
}
