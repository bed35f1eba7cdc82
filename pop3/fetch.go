package pop3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"sync"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailmime"
)

// Fetch yields the messages ids, in the order of ids, from the session's
// cached LIST/UIDL (no command for the metadata), with the headers
// fetched by pipelined "TOP n 0" batches of opts.BatchSize (default 256)
// when opts.Headers asks. POP3 has no part trees: with opts.Structure each
// message is downloaded (RETR) as it is yielded and parsed, and kept as
// the last message read, so that OpenPart of the same message in the loop
// body costs no second download. IDs that are not in the maildrop are
// skipped.
func (m *Mailbox) Fetch(ctx context.Context, folder string, ids []mailaccess.ID, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		if err := checkFolder(folder); err != nil {
			yield(nil, opErr("fetch", folder, err))
			return
		}
		ids, err := driver.UniqueIDs(ids)
		if err != nil {
			yield(nil, opErr("fetch", folder, err))
			return
		}
		var o mailaccess.FetchOptions
		if opts != nil {
			o = *opts
		}
		infos, err := m.lookup(ctx, ids)
		if err != nil {
			yield(nil, opErr("fetch", folder, err))
			return
		}
		batch := o.BatchSize
		if batch <= 0 {
			batch = defaultBatch
		}
		for len(infos) > 0 {
			chunk := infos[:min(batch, len(infos))]
			infos = infos[len(chunk):]
			if o.Headers {
				if err := m.fillHeaders(ctx, chunk); err != nil {
					yield(nil, opErr("fetch", folder, err))
					return
				}
			}
			for _, info := range chunk {
				if info.ID == "" { // deleted meanwhile
					continue
				}
				if folder != "" {
					info.Folder = folder
				}
				if o.Structure {
					st, err := m.Structure(ctx, folder, info.ID)
					if errors.Is(err, mailaccess.ErrNotFound) {
						continue
					}
					if err != nil {
						yield(nil, err)
						return
					}
					info.Structure = st
				}
				if !yield(driver.NewMessage(m, info), nil) {
					return
				}
			}
		}
	}
}

// lookup returns the metadata of the messages ids that are in the
// session's listing, in that order.
func (m *Mailbox) lookup(ctx context.Context, ids []mailaccess.ID) ([]mailaccess.MessageInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.checkLocked()
	s, err := m.sessionLocked(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]mailaccess.MessageInfo, 0, len(ids))
	for _, id := range ids {
		num, err := s.resolve(ctx, id)
		if errors.Is(err, mailaccess.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		e := s.entries[num-1]
		out = append(out, mailaccess.MessageInfo{ID: s.idOf(e), Folder: mailaccess.Inbox, Size: e.size})
	}
	return out, nil
}

// FetchMatching checks every message of the maildrop here: POP3 has no
// search. Criteria on the size cost nothing (LIST); criteria on the header
// cost a pipelined TOP per message; Body and Text criteria download the
// messages they cannot rule out from the header. See driver.FetchMatching.
func (m *Mailbox) FetchMatching(ctx context.Context, folder string, c mailaccess.Criteria, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return driver.FetchMatching(ctx, m, folder, c, opts)
}

// Structure downloads the message (RETR: POP3 cannot describe a message
// without sending it) and parses its part tree. The message is kept as the
// last message read (see OpenPart).
func (m *Mailbox) Structure(ctx context.Context, folder string, id mailaccess.ID) (*mailaccess.PartInfo, error) {
	sp, err := m.spooled(ctx, folder, id)
	if err != nil {
		return nil, opErr("structure", folder, err)
	}
	defer sp.release()
	st, err := mailmime.ParseStructure(sp.reader(), nil)
	return st, opErr("structure", folder, err)
}

// OpenPart returns one part of a message decoded. POP3 retrieves whole
// messages only, so the message is downloaded (RETR) unless it is the last
// one Structure, OpenPart or Fetch with Structure read: that one is kept
// (in memory up to 1 MiB, beyond in a temporary file removed when another
// message replaces it or the Mailbox closes), so reading the text and the
// attachments of one message costs one download.
func (m *Mailbox) OpenPart(ctx context.Context, folder string, id mailaccess.ID, part []int, opts *mailaccess.PartOptions) (io.ReadCloser, error) {
	if len(part) == 0 {
		return nil, opErr("open part", folder, fmt.Errorf("empty part path (Open reads the whole message): %w", mailaccess.ErrInvalid))
	}
	sp, err := m.spooled(ctx, folder, id)
	if err != nil {
		return nil, opErr("open part", folder, err)
	}
	r, err := mailmime.ReadPart(sp.reader(), part, opts, nil)
	if err != nil {
		sp.release()
		return nil, opErr("open part", folder, err)
	}
	return &spoolReader{r: r, sp: sp}, nil
}

type spoolReader struct {
	r    io.Reader
	sp   *spool
	once sync.Once
}

func (s *spoolReader) Read(p []byte) (int, error) { return s.r.Read(p) }

func (s *spoolReader) Close() error {
	s.once.Do(s.sp.release)
	return nil
}

// spoolMemory is how much of a message the part cache keeps in memory;
// the rest goes to a temporary file.
const spoolMemory = 1 << 20

// spool is a downloaded message kept for Structure and OpenPart. It is
// shared by the readers of it (refs) and freed when the last one is done
// and the cache no longer holds it.
type spool struct {
	sess *session // the session the message was read in
	id   mailaccess.ID
	mem  []byte
	file *os.File
	size int64

	mu   sync.Mutex
	refs int // the cache's reference counts as one
}

func (sp *spool) reader() io.Reader {
	if sp.file == nil {
		return bytes.NewReader(sp.mem)
	}
	return io.MultiReader(bytes.NewReader(sp.mem), io.NewSectionReader(sp.file, 0, sp.size-int64(len(sp.mem))))
}

func (sp *spool) acquire() {
	sp.mu.Lock()
	sp.refs++
	sp.mu.Unlock()
}

func (sp *spool) release() {
	sp.mu.Lock()
	sp.refs--
	free := sp.refs == 0
	sp.mu.Unlock()
	if free && sp.file != nil {
		sp.file.Close()
		os.Remove(sp.file.Name())
	}
}

// spooled returns the message id, downloaded once and kept, with a
// reference the caller releases.
func (m *Mailbox) spooled(ctx context.Context, folder string, id mailaccess.ID) (*spool, error) {
	if err := checkFolder(folder); err != nil {
		return nil, err
	}
	m.cacheMu.Lock()
	if sp := m.cache; sp != nil && sp.id == id && m.cached(ctx, sp) {
		sp.acquire()
		m.cacheMu.Unlock()
		return sp, nil
	}
	m.cacheMu.Unlock()
	rc, err := m.Open(ctx, folder, id, nil)
	if err != nil {
		return nil, err
	}
	// The reader holds the session lock until it is closed: the session
	// read here is the one the message comes from.
	sp := &spool{id: id, sess: m.sess, refs: 1}
	err = sp.fill(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		sp.release()
		return nil, err
	}
	sp.acquire() // the caller's reference
	m.cacheMu.Lock()
	old := m.cache
	m.cache = sp
	m.cacheMu.Unlock()
	if old != nil {
		old.release()
	}
	return sp, nil
}

// fill reads the message: memory first, then a temporary file.
func (sp *spool) fill(r io.Reader) error {
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, r, spoolMemory+1)
	if err != nil && err != io.EOF {
		return err
	}
	if n <= spoolMemory {
		sp.mem, sp.size = buf.Bytes(), n
		return nil
	}
	sp.mem = buf.Bytes()[:spoolMemory]
	f, err := os.CreateTemp("", "mailaccess-pop3-*")
	if err != nil {
		return fmt.Errorf("spool the message for its parts: %w", err)
	}
	sp.file = f
	rest, err := io.Copy(f, io.MultiReader(bytes.NewReader(buf.Bytes()[spoolMemory:]), r))
	sp.size = int64(spoolMemory) + rest
	if err != nil {
		return err
	}
	return nil
}

// cached reports whether the kept message sp is still message sp.id of
// the current session (not deleted, no new session since). It takes the
// session lock only if it is free: a busy session counts as a miss (the
// message is downloaded again), so that a caller holding a message
// reader never waits for itself.
func (m *Mailbox) cached(ctx context.Context, sp *spool) bool {
	if !m.mu.TryLock() {
		return false
	}
	defer m.mu.Unlock()
	if m.sess == nil || m.sess != sp.sess || !m.sess.listed {
		return false
	}
	_, err := m.sess.resolve(ctx, sp.id)
	return err == nil
}

// dropCache frees the kept message (at Close).
func (m *Mailbox) dropCache() {
	m.cacheMu.Lock()
	old := m.cache
	m.cache = nil
	m.cacheMu.Unlock()
	if old != nil {
		old.release()
	}
}
