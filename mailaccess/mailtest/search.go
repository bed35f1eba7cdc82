package mailtest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Search returns the IDs of the messages matching every non-zero field of
// c, in UID order. Needs CapSearch. Strings match case-insensitively as
// substrings of decoded header values (From, To, Cc, Subject, Header) or
// of the body, raw or with its text parts decoded (Body; Text also looks
// at the whole header).
func (m *Mailbox) Search(ctx context.Context, folder string, c mailaccess.Criteria) ([]mailaccess.ID, error) {
	if err := m.begin(ctx, OpSearch, folder, mailaccess.CapSearch); err != nil {
		return nil, err
	}
	msgs, err := m.snapshot(folder, nil)
	if err != nil {
		return nil, opErr(OpSearch, folder, err)
	}
	ids := []mailaccess.ID{}
	for _, s := range msgs {
		if err := ctx.Err(); err != nil {
			return nil, opErr(OpSearch, folder, err)
		}
		var uid uint32
		if u, ok := parseID(s.info.ID); ok {
			uid = u
		}
		if matches(c, s.raw, s.info, uid) {
			ids = append(ids, s.info.ID)
		}
	}
	return ids, nil
}

func day(t time.Time) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// matches reports whether the message raw with metadata info matches c.
// It is also used by the conformance suite to compute expected results.
func matches(c mailaccess.Criteria, raw []byte, info mailaccess.MessageInfo, uid uint32) bool {
	size := int64(len(raw))
	if c.Larger > 0 && size <= c.Larger {
		return false
	}
	if c.Smaller > 0 && size >= c.Smaller {
		return false
	}
	if c.MinUID > 0 && uid < c.MinUID {
		return false
	}
	if c.MaxUID > 0 && uid > c.MaxUID {
		return false
	}
	if !c.Since.IsZero() && day(info.InternalDate.UTC()).Before(day(c.Since)) {
		return false
	}
	if !c.Before.IsZero() && !day(info.InternalDate.UTC()).Before(day(c.Before)) {
		return false
	}
	for _, f := range c.WithFlags {
		if !containsFlag(info.Flags, f) {
			return false
		}
	}
	for _, f := range c.WithoutFlags {
		if containsFlag(info.Flags, f) {
			return false
		}
	}
	hdrRaw, bodyRaw := splitEntity(raw)
	h, _ := mailaccess.ParseHeader(bytes.NewReader(hdrRaw))
	field := func(key, sub string) bool {
		for _, v := range h.Values(key) {
			if containsFold(mailaccess.HeaderFromFields(key, v).Text(key), sub) || containsFold(v, sub) {
				return true
			}
		}
		return false
	}
	for key, sub := range map[string]string{"From": c.From, "To": c.To, "Cc": c.Cc, "Subject": c.Subject} {
		if sub != "" && !field(key, sub) {
			return false
		}
	}
	for key, sub := range c.Header {
		if !h.Has(key) || (sub != "" && !field(key, sub)) {
			return false
		}
	}
	if c.Body != "" && !bodyContains(raw, bodyRaw, c.Body) {
		return false
	}
	if c.Text != "" {
		inHeader := false
		for k, v := range h.Fields() {
			if containsFold(k, c.Text) || field(k, c.Text) || containsFold(v, c.Text) {
				inHeader = true
				break
			}
		}
		if !inHeader && !bodyContains(raw, bodyRaw, c.Text) {
			return false
		}
	}
	return true
}

// bodyContains looks for sub in the raw body, then in the decoded text of
// each part.
func bodyContains(raw, body []byte, sub string) bool {
	if containsFold(string(body), sub) {
		return true
	}
	found := false
	_, _ = mailaccess.Walk(bytes.NewReader(raw), func(p *mailaccess.Part) error {
		b, _ := io.ReadAll(io.LimitReader(p.Body, 64<<20))
		if containsFold(string(b), sub) {
			found = true
			return mailaccess.ErrSkipRest
		}
		return nil
	})
	return found
}
