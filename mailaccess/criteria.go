package mailaccess

import (
	"fmt"
	"math"
	"strings"
)

// And returns criteria that match the messages matching every one of cs.
// With no argument it matches every message.
func And(cs ...Criteria) Criteria { return Criteria{And: cs} }

// Or returns criteria that match the messages matching at least one of
// cs. With no argument it matches no message (an OR of nothing is false),
// so an Or built from an empty list never selects a whole folder by
// mistake.
func Or(cs ...Criteria) Criteria {
	if len(cs) == 0 {
		return Not(Criteria{})
	}
	return Criteria{Or: cs}
}

// Not returns criteria that match the messages c does not match.
func Not(c Criteria) Criteria { return Criteria{Not: []Criteria{c}} }

// IsZero reports whether c is the zero Criteria, which matches every
// message (an empty Or, And or Not list counts as absent).
func (c Criteria) IsZero() bool {
	return c.From == "" && c.To == "" && c.Cc == "" && c.Subject == "" && c.Body == "" && c.Text == "" &&
		c.Since.IsZero() && c.Before.IsZero() && len(c.WithFlags) == 0 && len(c.WithoutFlags) == 0 &&
		c.Larger == 0 && c.Smaller == 0 && c.MinUID == 0 && c.MaxUID == 0 && len(c.Header) == 0 &&
		len(c.And) == 0 && len(c.Or) == 0 && len(c.Not) == 0
}

// MaxCriteriaDepth bounds how deeply And, Or and Not may nest in one
// Criteria (IMAP servers limit the nesting of a SEARCH command too).
const MaxCriteriaDepth = 32

// Validate checks c the way every driver does before searching, so that
// a Criteria is refused alike everywhere: no CR, LF or NUL in a string
// (they would end an IMAP command), header names that are non-empty and
// hold no space or colon, sizes between 0 and 4 GiB (what IMAP can
// express), no nesting deeper than [MaxCriteriaDepth]. Its errors wrap
// [ErrInvalid] and name the offending criterion.
func (c Criteria) Validate() error {
	return c.validate(1)
}

func (c Criteria) validate(depth int) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("search criteria: %s: %w", fmt.Sprintf(format, args...), ErrInvalid)
	}
	if depth > MaxCriteriaDepth {
		return bad("And, Or and Not nested deeper than %d", MaxCriteriaDepth)
	}
	for name, v := range map[string]string{"From": c.From, "To": c.To, "Cc": c.Cc, "Subject": c.Subject, "Body": c.Body, "Text": c.Text} {
		if strings.ContainsAny(v, "\r\n\x00") {
			return bad("%s contains CR, LF or NUL", name)
		}
	}
	for k, v := range c.Header {
		if k == "" || strings.ContainsAny(k, " \t:\r\n\x00") {
			return bad("header name %q is empty or holds a space, colon, CR, LF or NUL", truncate(k, 40))
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return bad("the value for header %s contains CR, LF or NUL", k)
		}
	}
	for _, f := range append(append([]Flag{}, c.WithFlags...), c.WithoutFlags...) {
		if f == "" || strings.ContainsAny(string(f), " ()[]{}\"%*\r\n\x00") {
			return bad("flag %q is empty or holds a space, bracket, quote, wildcard, CR, LF or NUL", truncate(string(f), 40))
		}
	}
	if c.Larger < 0 || c.Smaller < 0 || c.Larger > math.MaxUint32 || c.Smaller > math.MaxUint32 {
		return bad("Larger and Smaller must be between 0 and %d", uint32(math.MaxUint32))
	}
	for _, list := range [][]Criteria{c.And, c.Or, c.Not} {
		for _, sub := range list {
			if err := sub.validate(depth + 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// SortBy names what [Mailbox.Sort] orders messages by: the sort keys of
// IMAP SORT (RFC 5256), with its meanings.
type SortBy string

// The sort criteria.
const (
	// SortArrival orders by internal date (when the store received the
	// message; unknown on POP3, where every message ties).
	SortArrival SortBy = "arrival"
	// SortDate orders by the Date header, in UTC; a message without a
	// valid Date counts with its internal date.
	SortDate SortBy = "date"
	// SortFrom orders by the local part ("ann" of ann@example.com) of the
	// first From address, case-insensitively; none sorts first.
	SortFrom SortBy = "from"
	// SortTo orders as SortFrom by the first To address.
	SortTo SortBy = "to"
	// SortCc orders as SortFrom by the first Cc address.
	SortCc SortBy = "cc"
	// SortSubject orders by base subject, case-insensitively: the decoded
	// Subject without "Re:", "Fw:", "Fwd:" and "[list]" prefixes and
	// "(fwd)" trailers (RFC 5256 section 2.1), so a thread sorts together.
	SortSubject SortBy = "subject"
	// SortSize orders by size in bytes.
	SortSize SortBy = "size"
)

// SortKey is one key of [Mailbox.Sort]: what to order by, ascending
// unless Reverse.
type SortKey struct {
	By      SortBy
	Reverse bool
}

// String returns the key as IMAP writes it, in lower case: "date" or
// "reverse date".
func (k SortKey) String() string {
	if k.Reverse {
		return "reverse " + string(k.By)
	}
	return string(k.By)
}

// Validate reports an error wrapping [ErrInvalid] if k.By is not one of
// the SortBy constants.
func (k SortKey) Validate() error {
	switch k.By {
	case SortArrival, SortDate, SortFrom, SortTo, SortCc, SortSubject, SortSize:
		return nil
	}
	return fmt.Errorf("sort key %q (want arrival, date, from, to, cc, subject or size): %w", truncate(string(k.By), 40), ErrInvalid)
}
