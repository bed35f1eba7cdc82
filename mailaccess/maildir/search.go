package maildir

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Search scans the folder's files and returns the IDs that match c, in
// ascending order. Flags, size and date are checked from the directory
// entry; header criteria read the header; Body and Text read the file.
// Maildir has no numeric UIDs, so a non-zero MinUID or MaxUID matches
// nothing.
func (s *Store) Search(ctx context.Context, folder string, c mailaccess.Criteria) ([]mailaccess.ID, error) {
	if err := s.begin(ctx); err != nil {
		return nil, opErr("search", folder, err)
	}
	dir, err := s.folder(folder)
	if err != nil {
		return nil, opErr("search", folder, err)
	}
	ents, kw, err := s.entries(dir)
	if err != nil {
		return nil, opErr("search", folder, err)
	}
	if c.MinUID != 0 || c.MaxUID != 0 {
		return []mailaccess.ID{}, nil
	}
	needHeader := c.From != "" || c.To != "" || c.Cc != "" || c.Subject != "" || len(c.Header) > 0
	out := []mailaccess.ID{}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, opErr("search", folder, err)
		}
		mi, ok, err := s.info(folder, e, kw, needHeader)
		if err != nil {
			return nil, opErr("search", folder, err)
		}
		if !ok || !matchMeta(mi, c) || (needHeader && !matchHeader(mi.Header, c)) {
			continue
		}
		if c.Body != "" || c.Text != "" {
			ok, err := s.matchContent(e.path, c)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, opErr("search", folder, err)
			}
			if !ok {
				continue
			}
		}
		out = append(out, e.id)
	}
	return out, nil
}

func hasFlag(flags []mailaccess.Flag, f mailaccess.Flag) bool {
	return slices.ContainsFunc(flags, func(g mailaccess.Flag) bool { return strings.EqualFold(string(f), string(g)) })
}

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func matchMeta(mi mailaccess.MessageInfo, c mailaccess.Criteria) bool {
	for _, f := range c.WithFlags {
		if !hasFlag(mi.Flags, f) {
			return false
		}
	}
	for _, f := range c.WithoutFlags {
		if hasFlag(mi.Flags, f) {
			return false
		}
	}
	if c.Larger > 0 && mi.Size <= c.Larger || c.Smaller > 0 && mi.Size >= c.Smaller {
		return false
	}
	if !c.Since.IsZero() && day(mi.InternalDate).Before(day(c.Since)) {
		return false
	}
	if !c.Before.IsZero() && !day(mi.InternalDate).Before(day(c.Before)) {
		return false
	}
	return true
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func fieldMatches(h mailaccess.Header, key, sub string) bool {
	for _, v := range h.Values(key) {
		if containsFold(v, sub) {
			return true
		}
	}
	return containsFold(h.Text(key), sub)
}

func matchHeader(h mailaccess.Header, c mailaccess.Criteria) bool {
	for _, kv := range [][2]string{{"From", c.From}, {"To", c.To}, {"Cc", c.Cc}, {"Subject", c.Subject}} {
		if kv[1] != "" && !fieldMatches(h, kv[0], kv[1]) {
			return false
		}
	}
	for k, v := range c.Header {
		if !h.Has(k) || (v != "" && !fieldMatches(h, k, v)) {
			return false
		}
	}
	return true
}

// matchContent checks Body (in the body) and Text (anywhere) by streaming
// the file with a bounded window.
func (s *Store) matchContent(p string, c mailaccess.Criteria) (bool, error) {
	f, err := s.fsys.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var headerText bytes.Buffer
	// Read the header block (bounded) line by line.
	for headerText.Len() <= mailaccess.MaxHeaderBytes {
		line, err := br.ReadSlice('\n')
		headerText.Write(line)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			break
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 && !errors.Is(err, bufio.ErrBufferFull) {
			break
		}
	}
	textFound := c.Text == "" || bytes.Contains(bytes.ToLower(headerText.Bytes()), []byte(strings.ToLower(c.Text)))
	needles := map[string]*bool{}
	bodyFound := c.Body == ""
	if !bodyFound {
		needles[strings.ToLower(c.Body)] = &bodyFound
	}
	if !textFound {
		needles[strings.ToLower(c.Text)] = &textFound
	}
	if len(needles) > 0 {
		if err := scanFor(br, needles); err != nil {
			return false, err
		}
	}
	return bodyFound && textFound, nil
}

// scanFor streams r in chunks, keeping an overlap so a needle across two
// chunks is found, and sets each needle's flag when it appears.
func scanFor(r io.Reader, needles map[string]*bool) error {
	longest := 0
	for n := range needles {
		longest = max(longest, len(n))
	}
	buf := make([]byte, 0, 64<<10+longest)
	chunk := make([]byte, 64<<10)
	for {
		n, err := r.Read(chunk)
		buf = append(buf, bytes.ToLower(chunk[:n])...)
		all := true
		for needle, found := range needles {
			if !*found && bytes.Contains(buf, []byte(needle)) {
				*found = true
			}
			all = all && *found
		}
		if all {
			return nil
		}
		if keep := longest - 1; len(buf) > keep {
			buf = append(buf[:0], buf[len(buf)-keep:]...)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Watch polls the folder (a Maildir has no push) every
// WatchOptions.PollInterval (default 1 minute) and reports new, removed
// and re-flagged messages.
func (s *Store) Watch(ctx context.Context, folder string, opts *mailaccess.WatchOptions) iter.Seq2[mailaccess.Event, error] {
	return func(yield func(mailaccess.Event, error) bool) {
		interval := time.Minute
		if opts != nil && opts.PollInterval > 0 {
			interval = opts.PollInterval
		}
		snap := func() (map[mailaccess.ID]string, error) {
			if err := s.begin(ctx); err != nil {
				return nil, err
			}
			dir, err := s.folder(folder)
			if err != nil {
				return nil, err
			}
			ents, _, err := s.entries(dir)
			if err != nil {
				return nil, err
			}
			m := make(map[mailaccess.ID]string, len(ents))
			for _, e := range ents {
				m[e.id] = e.info
			}
			return m, nil
		}
		prev, err := snap()
		if err != nil {
			yield(mailaccess.Event{}, opErr("watch", folder, err))
			return
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				yield(mailaccess.Event{}, ctx.Err())
				return
			case <-t.C:
			}
			cur, err := snap()
			if err != nil {
				if ctx.Err() != nil {
					yield(mailaccess.Event{}, ctx.Err())
				} else {
					yield(mailaccess.Event{}, opErr("watch", folder, err))
				}
				return
			}
			var added, gone, changed []mailaccess.ID
			for id, info := range cur {
				if old, ok := prev[id]; !ok {
					added = append(added, id)
				} else if old != info {
					changed = append(changed, id)
				}
			}
			for id := range prev {
				if _, ok := cur[id]; !ok {
					gone = append(gone, id)
				}
			}
			prev = cur
			for _, ev := range []struct {
				k   mailaccess.EventKind
				ids []mailaccess.ID
			}{{mailaccess.EventExpunge, gone}, {mailaccess.EventNew, added}, {mailaccess.EventFlags, changed}} {
				if len(ev.ids) == 0 {
					continue
				}
				slices.Sort(ev.ids)
				if !yield(mailaccess.Event{Kind: ev.k, Folder: folder, IDs: ev.ids, Count: len(cur)}, nil) {
					return
				}
			}
		}
	}
}
