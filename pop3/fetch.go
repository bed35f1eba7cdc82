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
			if !m.yieldInfos(ctx, "fetch", folder, chunk, &o, yield) {
				return
			}
		}
	}
}

// yieldInfos completes infos as o asks and yields them, in order; false
// means stop. With o.Headers the messages without a header get theirs
// from one pipelined TOP batch (headers already read are kept); without
// it headers are dropped. With o.Structure each message is downloaded and
// parsed (see Structure). Messages gone meanwhile are skipped.
func (m *Mailbox) yieldInfos(ctx context.Context, op, folder string, infos []mailaccess.MessageInfo, o *mailaccess.FetchOptions, yield func(mailaccess.Message, error) bool) bool {
	if o.Headers {
		var missing []mailaccess.MessageInfo
		var at []int
		for i := range infos {
			if infos[i].Header.IsZero() {
				missing = append(missing, infos[i])
				at = append(at, i)
			}
		}
		if len(missing) > 0 {
			if err := m.fillHeaders(ctx, missing); err != nil {
				yield(nil, opErr(op, folder, err))
				return false
			}
			for j, i := range at {
				infos[i].ID, infos[i].Header = missing[j].ID, missing[j].Header
			}
		}
	}
	for _, info := range infos {
		if info.ID == "" { // deleted meanwhile
			continue
		}
		if !o.Headers {
			info.Header = mailaccess.Header{}
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
				return false
			}
			info.Structure = st
		}
		if !yield(driver.NewMessage(m, info), nil) {
			return false
		}
	}
	return true
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

// FetchMatching evaluates c here, as Search does (POP3 has no search:
// driver.FilterMessages, the meaning every driver gives a Criteria), and
// yields the matches as it goes, a chunk of opts.BatchSize messages
// (default 256) of the session's listing at a time, reading no more than
// c needs: the sizes of LIST decide what they can; the headers of the
// messages still undecided come from pipelined "TOP n 0" (with TOP); the
// bodies of those still undecided are downloaded with pipelined RETR,
// each read no further than needed. Since and Before compare the Date
// header (POP3 has no internal date). With opts.Headers the headers read
// to decide are handed out, and only the matches decided without one get
// a TOP; with opts.Structure each match is downloaded as Fetch does. c is
// validated before anything is sent.
func (m *Mailbox) FetchMatching(ctx context.Context, folder string, c mailaccess.Criteria, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		const op = "fetch matching"
		if err := checkFolder(folder); err != nil {
			yield(nil, opErr(op, folder, err))
			return
		}
		if err := c.Validate(); err != nil {
			yield(nil, opErr(op, folder, err))
			return
		}
		var o mailaccess.FetchOptions
		if opts != nil {
			o = *opts
		}
		infos, err := m.snapshot(ctx)
		if err != nil {
			yield(nil, opErr(op, folder, err))
			return
		}
		batch := o.BatchSize
		if batch <= 0 {
			batch = defaultBatch
		}
		src := m.source(folder)
		for len(infos) > 0 {
			chunk := infos[:min(batch, len(infos))]
			infos = infos[len(chunk):]
			matched, err := driver.FilterMessages(ctx, c, chunk, src)
			if err != nil {
				yield(nil, opErr(op, folder, err))
				return
			}
			if !m.yieldInfos(ctx, op, folder, matched, &o, yield) {
				return
			}
		}
	}
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
