package mailaccess

import (
	"fmt"
	"math/bits"
	"strings"
)

// Capability is a set of things a [Mailbox] can do, as typed bit flags.
//
// A Mailbox reports its capabilities with [Mailbox.Capabilities]; the value
// reflects the server actually connected (an IMAP server without MOVE does
// not report [CapMove]). Calling an operation whose capability is absent
// returns an [*UnsupportedError], which matches [errors.ErrUnsupported].
//
// The bit values are stable: they may be stored or compared across versions.
// New capabilities are only ever added at new bits.
type Capability uint64

// The capabilities. The comment of each gives its name as used by
// [Capability.String] and [ParseCapability], and what it means.
const (
	// CapFolders ("folders"): more than one folder; Folders lists them.
	// Without it the only folder is "INBOX".
	CapFolders Capability = 1 << 0
	// CapUID ("uid"): message IDs are stable across sessions (IMAP UIDs
	// within one UIDVALIDITY, POP3 UIDL, Maildir unique names). Without it
	// IDs are valid only for the current session.
	CapUID Capability = 1 << 1
	// CapFlags ("flags"): the system flags (\Seen, \Answered, \Flagged,
	// \Draft, \Deleted) are kept by the store and can be changed with
	// SetFlags.
	CapFlags Capability = 1 << 2
	// CapKeywords ("keywords"): arbitrary keywords ($Forwarded, $Junk, user
	// words) can be stored as flags.
	CapKeywords Capability = 1 << 3
	// CapHeaders ("headers"): the header of a message can be fetched without
	// its body (IMAP BODY.PEEK[HEADER], POP3 TOP n 0), by FetchHeader and
	// by Fetch and List with headers.
	CapHeaders Capability = 1 << 4
	// CapPartial ("partial"): one MIME part or a byte range of a message can
	// be fetched without the rest (OpenOptions.Part, Offset, Length), and
	// a message's structure is known without its body: Structure and
	// OpenPart move only the description (IMAP BODYSTRUCTURE) and the
	// part. Without it Structure and OpenPart work too, by reading the
	// message.
	CapPartial Capability = 1 << 5
	// CapSearch ("search"): Search runs on the server (or store) without
	// downloading messages, and FetchMatching fetches only what matched.
	// Without it Search is unsupported and FetchMatching checks every
	// message itself, reading headers and bodies where the criteria need
	// them (POP3).
	CapSearch Capability = 1 << 6
	// CapPush ("push"): Watch is told of new mail by the server (IMAP IDLE).
	// Without it Watch polls.
	CapPush Capability = 1 << 7
	// CapDelete ("delete"): messages can be deleted.
	CapDelete Capability = 1 << 8
	// CapAppend ("append"): messages can be added with Append.
	CapAppend Capability = 1 << 9
	// CapMove ("move"): messages can be moved between folders atomically by
	// the server. Move may still work without it, emulated by copy and
	// delete; see the driver's documentation.
	CapMove Capability = 1 << 10
	// CapCopy ("copy"): messages can be copied between folders.
	CapCopy Capability = 1 << 11
	// CapChanges ("changes"): cheap change detection. Status reports a
	// modification sequence (IMAP CONDSTORE HIGHESTMODSEQ) and List can
	// return only messages changed since one (ListOptions.ChangedSince).
	CapChanges Capability = 1 << 12
	// CapOffline ("offline"): the mailbox is a local store that works
	// without a network.
	CapOffline Capability = 1 << 13
	// CapDeferredDelete ("deferred-delete"): Delete only marks messages; the
	// deletion takes effect at Commit (POP3 applies DELE at QUIT). Closing
	// without Commit, an error or a dropped connection discards the marks.
	CapDeferredDelete Capability = 1 << 14
	// CapManageFolders ("manage-folders"): folders can be created, renamed
	// and deleted ([CreateFolder], [RenameFolder], [DeleteFolder]).
	CapManageFolders Capability = 1 << 15

	// AllCapabilities is every capability this version of the package
	// defines.
	AllCapabilities Capability = 1<<len(capNames) - 1
)

// capNames lists the capability names in bit order.
var capNames = [...]string{
	"folders",
	"uid",
	"flags",
	"keywords",
	"headers",
	"partial",
	"search",
	"push",
	"delete",
	"append",
	"move",
	"copy",
	"changes",
	"offline",
	"deferred-delete",
	"manage-folders",
}

// Has reports whether c includes every capability in want.
func (c Capability) Has(want Capability) bool { return c&want == want }

// Missing returns the capabilities in want that c lacks.
func (c Capability) Missing(want Capability) Capability { return want &^ c }

// String returns the names of the capabilities in c joined by "|", in bit
// order, e.g. "folders|uid|push". Unknown bits are written in hex. The zero
// value is "none".
func (c Capability) String() string {
	if c == 0 {
		return "none"
	}
	var b strings.Builder
	for i, name := range capNames {
		if c&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(name)
		}
	}
	if rest := c &^ AllCapabilities; rest != 0 {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		fmt.Fprintf(&b, "0x%x", uint64(rest))
	}
	return b.String()
}

// Count returns how many capabilities c holds.
func (c Capability) Count() int { return bits.OnesCount64(uint64(c)) }

// ParseCapability parses names separated by "|", "," or spaces (as written
// by [Capability.String]) into a Capability. "none" and the empty string are
// the zero value. An unknown name is an error that names it.
func ParseCapability(s string) (Capability, error) {
	var c Capability
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == ',' || r == ' ' }) {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "none" {
			continue
		}
		found := false
		for i, name := range capNames {
			if name == f {
				c |= 1 << i
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("mailaccess: unknown capability %q (known: %s)", f, strings.Join(capNames[:], ", "))
		}
	}
	return c, nil
}

// MarshalText implements [encoding.TextMarshaler] using [Capability.String].
func (c Capability) MarshalText() ([]byte, error) {
	if c&^AllCapabilities != 0 {
		return nil, fmt.Errorf("mailaccess: capability has unknown bits 0x%x", uint64(c&^AllCapabilities))
	}
	return []byte(c.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler] using [ParseCapability].
func (c *Capability) UnmarshalText(b []byte) error {
	v, err := ParseCapability(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}
