package imap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/mailaccess/go-mailaccess/internal/wirecheck"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// Search runs UID SEARCH and returns IDs carrying the UIDVALIDITY of the
// selection the search ran under. Criteria with non-ASCII text are sent
// with CHARSET UTF-8 (IMAP4rev1; with UTF8=ACCEPT enabled, as UTF-8
// without CHARSET). If the server answers NO [BADCHARSET], Search
// sends only the ASCII criteria and checks the non-ASCII ones itself on the
// candidates: header criteria on the fetched headers (decoded), Body and
// Text on each candidate's decoded text parts (streamed).
func (m *Mailbox) Search(ctx context.Context, folder string, c mailaccess.Criteria) ([]mailaccess.ID, error) {
	folder, err := m.folderName(folder)
	if err != nil {
		return nil, m.opErr("search", folder, err)
	}
	if err := checkCriteria(c); err != nil {
		return nil, m.opErr("search", folder, err)
	}
	with, err := m.checkFlags(c.WithFlags)
	if err != nil {
		return nil, m.opErr("search", folder, err)
	}
	without, err := m.checkFlags(c.WithoutFlags)
	if err != nil {
		return nil, m.opErr("search", folder, err)
	}
	var (
		uids     []imap.UID
		fallback bool
		epoch    uint32
	)
	err = m.do(ctx, "search", folder, selRead, func(cn *conn) error {
		epoch = cn.sel.UIDValidity
		d, err := cn.c.UIDSearch(toSearch(c, with, without, true), nil).Wait()
		var ie *imap.Error
		if err != nil && errors.As(err, &ie) && ie.Code == imap.ResponseCodeBadCharset && !criteriaASCII(c) {
			fallback = true
			d, err = cn.c.UIDSearch(toSearch(c, with, without, false), nil).Wait()
		}
		if err != nil {
			return err
		}
		uids, err = m.searchUIDs(folder, d, cn.numMessages())
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(uids)
	uids = slices.Compact(uids)
	if fallback {
		if uids, err = m.filterClientSide(ctx, folder, epoch, uids, c); err != nil {
			return nil, err
		}
	}
	out := make([]mailaccess.ID, 0, len(uids))
	for _, u := range uids {
		if (c.MinUID != 0 && uint32(u) < c.MinUID) || (c.MaxUID != 0 && uint32(u) > c.MaxUID) {
			continue
		}
		out = append(out, MakeID(epoch, uint32(u)))
	}
	return out, nil
}

func checkCriteria(c mailaccess.Criteria) error {
	for _, s := range []string{c.From, c.To, c.Cc, c.Subject, c.Body, c.Text} {
		if err := wirecheck.Check("search string", s); err != nil {
			return err
		}
	}
	for k, v := range c.Header {
		if err := wirecheck.Check("search header name", k); err != nil {
			return err
		}
		if k == "" || strings.ContainsAny(k, " :") {
			return fmt.Errorf("search header name %q: %w", truncate(k, 40), mailaccess.ErrInvalid)
		}
		if err := wirecheck.Check("search string", v); err != nil {
			return err
		}
	}
	if c.Larger < 0 || c.Smaller < 0 || c.Larger > math.MaxUint32 || c.Smaller > math.MaxUint32 {
		return fmt.Errorf("size bound out of range: %w", mailaccess.ErrInvalid)
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func criteriaASCII(c mailaccess.Criteria) bool {
	for _, s := range []string{c.From, c.To, c.Cc, c.Subject, c.Body, c.Text} {
		if !isASCII(s) {
			return false
		}
	}
	for _, v := range c.Header {
		if !isASCII(v) {
			return false
		}
	}
	return true
}

// toSearch maps c; with nonASCII false, string criteria that are not ASCII
// are left out (for the BADCHARSET fallback).
func toSearch(c mailaccess.Criteria, with, without []imap.Flag, nonASCII bool) *imap.SearchCriteria {
	sc := &imap.SearchCriteria{Since: c.Since, Before: c.Before, Flag: with, NotFlag: without, Larger: c.Larger, Smaller: c.Smaller}
	keep := func(s string) bool { return s != "" && (nonASCII || isASCII(s)) }
	for _, h := range [][2]string{{"From", c.From}, {"To", c.To}, {"Cc", c.Cc}, {"Subject", c.Subject}} {
		if keep(h[1]) {
			sc.Header = append(sc.Header, imap.SearchCriteriaHeaderField{Key: h[0], Value: h[1]})
		}
	}
	keys := make([]string, 0, len(c.Header))
	for k := range c.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if v := c.Header[k]; v == "" || keep(v) {
			sc.Header = append(sc.Header, imap.SearchCriteriaHeaderField{Key: k, Value: v})
		}
	}
	if keep(c.Body) {
		sc.Body = []string{c.Body}
	}
	if keep(c.Text) {
		sc.Text = []string{c.Text}
	}
	if c.MinUID != 0 || c.MaxUID != 0 {
		lo, hi := max(c.MinUID, 1), c.MaxUID
		if hi == 0 {
			hi = math.MaxUint32 // not "*": "n:*" matches the last message even below n
		}
		var set imap.UIDSet
		if lo <= hi {
			set.AddRange(imap.UID(lo), imap.UID(hi))
		} else {
			set.AddNum(imap.UID(math.MaxUint32))
		}
		sc.UID = []imap.UIDSet{set}
	}
	return sc
}

// filterClientSide keeps the candidates that match the non-ASCII string
// criteria of c (the server checked the rest), with the evaluator every
// driver without server-side search uses (driver.Match): header criteria
// on the fetched header, Body and Text on each candidate's decoded text
// parts, streamed.
func (m *Mailbox) filterClientSide(ctx context.Context, folder string, epoch uint32, uids []imap.UID, c mailaccess.Criteria) ([]imap.UID, error) {
	var local mailaccess.Criteria
	nonASCII := func(s string) string {
		if isASCII(s) {
			return ""
		}
		return s
	}
	local.From, local.To, local.Cc, local.Subject = nonASCII(c.From), nonASCII(c.To), nonASCII(c.Cc), nonASCII(c.Subject)
	local.Body, local.Text = nonASCII(c.Body), nonASCII(c.Text)
	for k, v := range c.Header {
		if v != "" && !isASCII(v) {
			if local.Header == nil {
				local.Header = map[string]string{}
			}
			local.Header[k] = v
		}
	}
	headerOnly := local.Body == "" && local.Text == ""
	var out []imap.UID
	for _, u := range uids {
		if err := ctx.Err(); err != nil {
			return nil, m.opErr("search", folder, err)
		}
		cand := driver.Candidate{Info: mailaccess.MessageInfo{UID: uint32(u)}}
		if headerOnly {
			h, err := m.FetchHeader(ctx, folder, MakeID(epoch, uint32(u)))
			if errors.Is(err, mailaccess.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			cand.Info.Header = h
		} else {
			cand.Open = func() (io.ReadCloser, error) { return m.Open(ctx, folder, MakeID(epoch, uint32(u)), nil) }
		}
		ok, err := driver.Match(local, cand)
		if errors.Is(err, mailaccess.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, m.opErr("search", folder, err)
		}
		if ok {
			out = append(out, u)
		}
	}
	return out, nil
}
