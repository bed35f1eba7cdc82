package imap

import (
	"context"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// PermanentFlags is what a folder keeps of the flags set on its messages,
// as the server said when it selected the folder (the PERMANENTFLAGS
// response code, RFC 3501 section 7.1). A flag the folder does not keep
// would last only for the session (or be refused), so SetFlags and Append
// refuse it instead; see the package documentation.
type PermanentFlags struct {
	// Flags are the flags the server listed, system flags and keywords,
	// without \*.
	Flags []mailaccess.Flag
	// NewKeywords reports that the server listed \*: keywords the folder
	// does not hold yet can be created, and are kept.
	NewKeywords bool
	// Reported is false when the server sent no PERMANENTFLAGS: RFC 3501
	// then says every flag can be changed permanently, and Keeps reports
	// true for every flag.
	Reported bool
}

// Keeps reports whether the folder keeps f: always when the server sent
// no PERMANENTFLAGS or listed \* (a server that lets keywords be created
// keeps system flags too, listed or not), else when f is listed (flags
// compare without regard to case, as in IMAP).
func (p PermanentFlags) Keeps(f mailaccess.Flag) bool {
	// A server that lets keywords be created keeps system flags too,
	// whether it lists them or not (go-imap's imapmemserver lists only
	// the flags in use beside \*).
	if !p.Reported || p.NewKeywords {
		return true
	}
	for _, k := range p.Flags {
		if strings.EqualFold(string(k), string(f)) {
			return true
		}
	}
	return false
}

// keepsNewKeywords reports whether any keyword is kept.
func (p PermanentFlags) keepsNewKeywords() bool { return !p.Reported || p.NewKeywords }

// String lists the flags as the server did: "(\Seen \Deleted \*)", or
// "(none reported)".
func (p PermanentFlags) String() string {
	if !p.Reported {
		return "(none reported)"
	}
	parts := make([]string, 0, len(p.Flags)+1)
	for _, f := range p.Flags {
		parts = append(parts, string(f))
	}
	if p.NewKeywords {
		parts = append(parts, `\*`)
	}
	return "(" + strings.Join(parts, " ") + ")"
}

// permanentFlagsOf reads SELECT's answer; reported says whether the
// server sent the response code at all (go-imap gives nil for both
// "PERMANENTFLAGS ()" and none: the guard tells them apart).
func permanentFlagsOf(d *imap.SelectData, reported bool) PermanentFlags {
	p := PermanentFlags{Reported: reported}
	for _, f := range d.PermanentFlags {
		if f == imap.FlagWildcard {
			p.NewKeywords = true
			continue
		}
		p.Flags = append(p.Flags, mailaccess.Flag(f))
	}
	return p
}

// maxPermanentFlagsShown bounds how many of a folder's flags an error
// lists (a server may list thousands of keywords).
const maxPermanentFlagsShown = 20

// refuseUnkept returns an *mailaccess.UnsupportedError for op if the
// folder does not keep one of flags: a system flag missing from
// PERMANENTFLAGS names CapFlags, a keyword CapKeywords. It returns nil if
// every flag is kept.
func refuseUnkept(op, folder string, p PermanentFlags, flags []imap.Flag) error {
	var not []string
	missing := mailaccess.Capability(0)
	for _, f := range flags {
		mf := mailaccess.Flag(f)
		if p.Keeps(mf) {
			continue
		}
		not = append(not, string(f))
		if mf.IsSystem() {
			missing |= mailaccess.CapFlags
		} else {
			missing |= mailaccess.CapKeywords
		}
	}
	if len(not) == 0 {
		return nil
	}
	listed := p
	if len(listed.Flags) > maxPermanentFlagsShown {
		listed.Flags = append(listed.Flags[:maxPermanentFlagsShown:maxPermanentFlagsShown], "...")
	}
	why := ""
	if missing&mailaccess.CapKeywords != 0 {
		why = `, without \* for new keywords`
	}
	return &mailaccess.UnsupportedError{Op: op, Protocol: protocol, Missing: missing, Reason: fmt.Sprintf(
		"folder %q does not keep %s (its PERMANENTFLAGS are %s%s): the server would drop or refuse them; "+
			"leave them out (imap.Mailbox.PermanentFlags tells what a folder keeps)",
		truncate(folder, 80), strings.Join(not, " "), listed, why)}
}

// PermanentFlags returns the flags folder keeps, as the server reported
// them when it selected the folder (on a pooled connection; a folder
// already selected there is not selected again). It fails with
// [mailaccess.ErrNotFound] if the folder does not exist.
func (m *Mailbox) PermanentFlags(ctx context.Context, folder string) (PermanentFlags, error) {
	folder, err := m.folderName(folder)
	if err != nil {
		return PermanentFlags{}, m.opErr("permanent flags", folder, err)
	}
	var p PermanentFlags
	err = m.do(ctx, "permanent flags", folder, selRead, func(c *conn) error {
		p = c.perm
		return nil
	})
	p.Flags = append([]mailaccess.Flag(nil), p.Flags...)
	return p, err
}

// KeptFlags returns those of flags that folder keeps (its PERMANENTFLAGS;
// [driver.FlagKeeper]): the flags SetFlags and Append accept there. A
// folder this Mailbox never selected is selected first.
func (m *Mailbox) KeptFlags(ctx context.Context, folder string, flags []mailaccess.Flag) ([]mailaccess.Flag, error) {
	name, err := m.folderName(folder)
	if err != nil {
		return nil, m.opErr("permanent flags", name, err)
	}
	p, known := m.folderPerm(name)
	if !known {
		if p, err = m.PermanentFlags(ctx, folder); err != nil {
			return nil, err
		}
	}
	out := make([]mailaccess.Flag, 0, len(flags))
	for _, f := range flags {
		if p.Keeps(f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// folderPerm returns what the Mailbox last learnt of folder's permanent
// flags, from any connection's SELECT; ok is false if it was never
// selected.
func (m *Mailbox) folderPerm(folder string) (PermanentFlags, bool) {
	m.permMu.Lock()
	defer m.permMu.Unlock()
	p, ok := m.perm[folder]
	return p, ok
}

// notePerm records folder's permanent flags from a SELECT on c.
func (m *Mailbox) notePerm(c *conn, folder string, d *imap.SelectData, reported bool) {
	c.perm = permanentFlagsOf(d, reported)
	m.permMu.Lock()
	defer m.permMu.Unlock()
	if m.perm == nil {
		m.perm = map[string]PermanentFlags{}
	}
	m.perm[folder] = c.perm
}
