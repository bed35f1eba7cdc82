package maildir

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// keywordsFile is Dovecot's keyword table: lines "N NAME" giving the
// keyword of the info letter 'a'+N (N from 0 to 25).
const keywordsFile = "dovecot-keywords"

// loadKeywordsLocked reads a folder's keyword table.
func (s *Store) loadKeywordsLocked(dir string, ds *dirState) error {
	f, err := s.fsys.Open(join(dir, keywordsFile))
	if errors.Is(err, fs.ErrNotExist) {
		ds.kw, ds.kwOK = nil, true
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	kw := make([]string, 0, 26)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		num, name, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 0 || n > 25 || name == "" {
			continue // tolerate junk
		}
		for len(kw) <= n {
			kw = append(kw, "")
		}
		kw[n] = name
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", keywordsFile, err)
	}
	ds.kw, ds.kwOK = kw, true
	return nil
}

// keywordLocked returns the letter of keyword k in a folder, adding it to
// the table (written atomically) if it is new.
func (s *Store) keywordLocked(dir string, ds *dirState, k string) (byte, error) {
	for i, name := range ds.kw {
		if strings.EqualFold(name, k) {
			return byte('a' + i), nil
		}
	}
	n := len(ds.kw)
	for i, name := range ds.kw {
		if name == "" {
			n = i
			break
		}
	}
	if n >= 26 {
		return 0, fmt.Errorf("keyword %q: a Maildir folder holds at most 26 keywords: %w", k, mailaccess.ErrInvalid)
	}
	kw := append([]string(nil), ds.kw...)
	for len(kw) <= n {
		kw = append(kw, "")
	}
	kw[n] = k
	var b strings.Builder
	for i, name := range kw {
		if name != "" {
			fmt.Fprintf(&b, "%d %s\n", i, name)
		}
	}
	if err := s.writeFileAtomic(join(dir, keywordsFile), []byte(b.String()), false); err != nil {
		return 0, err
	}
	ds.kw = kw
	return byte('a' + n), nil
}
