package maildir

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// stagedSuffix ends the tmp/ name of a staged (keyed) append, so that the
// files of a sync that died before publishing them can be told from other
// programs' tmp/ files and removed.
const stagedSuffix = ".staged"

// maxStagedFDs caps the unnamed staged files a Store holds open at once
// (each is an open descriptor until it is published). It is above the
// sync engine's batches of a 10,000-message folder (1,250), so that the
// appends staged while one batch is being published do not reach it.
const maxStagedFDs = 4096

// stagedFDCap is the cap for this process: maxStagedFDs, or a quarter of
// the RLIMIT_NOFILE soft limit when that is lower. Below 32 unnamed files
// are not worth their descriptors (every few appends would publish a
// batch): 0 turns them off.
func stagedFDCap() int {
	limit, ok := openFileLimit()
	if !ok {
		return maxStagedFDs
	}
	n := min(limit/4, maxStagedFDs)
	if n < 32 {
		return 0
	}
	return int(n)
}

// sweepStaged removes from every folder's tmp/ the staged files this Store
// is not holding: the leftovers of a sync that died before its Flush. The
// sync lock must be held (no other process is staging). Unnamed staged
// files need no sweep: a crash frees them.
func (s *Store) sweepStaged() error {
	s.mu.Lock()
	mine := make(map[string]bool, len(s.staged))
	for _, st := range s.staged {
		if st.tmp != "" {
			mine[st.tmp] = true
		}
	}
	s.mu.Unlock()
	dirs := []string{"."}
	ents, err := s.fsys.ReadDir(".")
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") && e.Name() != "." && e.Name() != ".." {
			dirs = append(dirs, e.Name())
		}
	}
	var errs []error
	for _, d := range dirs {
		tmp := join(d, "tmp")
		files, err := s.fsys.ReadDir(tmp)
		if err != nil {
			continue // not a Maildir folder, or no tmp/
		}
		for _, f := range files {
			p := join(tmp, f.Name())
			if strings.HasSuffix(f.Name(), stagedSuffix) && !mine[p] {
				if err := s.fsys.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// staged is a keyed append whose bytes are written but neither durable
// nor visible: Flush publishes it. The bytes are held either by an open
// unnamed file (file, from [TempFS.CreateTemp]) or by a named file in
// tmp/ (tmp).
type staged struct {
	dir  string    // folder directory
	ds   *dirState // its cache
	key  string    // the append key
	id   mailaccess.ID
	file File   // the open unnamed file, or nil
	tmp  string // else the path of the file in tmp/
	name string // its final "new/NAME" or "cur/NAME:2,INFO"
}

// stage writes a keyed append and records it as staged (see
// AppendWithKey). The caller has checked the key and marked it pending.
// The message goes to cur/ with info when cur is set, else to new/.
func (s *Store) stage(ctx context.Context, dir string, ds *dirState, key string, name func(size int64) string, cur bool, info string, now time.Time, r io.Reader, date time.Time) (mailaccess.ID, error) {
	f, tmp, err := s.openStaged(dir, now)
	if err != nil {
		return "", err
	}
	st := staged{dir: dir, ds: ds, key: key, tmp: tmp}
	if tmp == "" {
		st.file = f
	}
	size, err := io.Copy(f, ctxReader{ctx, r})
	if tmp == "" {
		// An unnamed file stays open until it is published; it has no
		// path, so its date is set through the descriptor.
		if err == nil && !date.IsZero() {
			err = setFileTimes(f, date)
		}
	} else {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil && !date.IsZero() {
			err = s.fsys.Chtimes(tmp, date, date)
		}
	}
	if err != nil {
		s.mu.Lock()
		s.discardLocked(st)
		s.mu.Unlock()
		return "", err
	}
	unique := name(size)
	st.id = mailaccess.ID(unique)
	st.name = join("new", unique)
	if cur {
		st.name = join("cur", unique+infoSep+info)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.discardLocked(st)
		return "", mailaccess.ErrClosed
	}
	ds.stage[key] = st.id
	s.staged = append(s.staged, st)
	return st.id, nil
}

// openStaged opens the file a keyed append is written to: an unnamed
// file in dir/tmp/ when the FS offers them (tmp is then ""), else a new
// named file tmp in dir/tmp/.
func (s *Store) openStaged(dir string, now time.Time) (f File, tmp string, err error) {
	tfs, ok, err := s.takeTempSlot()
	if err != nil {
		return nil, "", err
	}
	if ok {
		f, err := tfs.CreateTemp(join(dir, "tmp"), 0o600)
		if err == nil {
			return f, "", nil
		}
		s.mu.Lock()
		s.tempFDs--
		s.mu.Unlock()
		switch {
		case errors.Is(err, errors.ErrUnsupported) || errors.Is(err, syscall.EOPNOTSUPP) ||
			errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EINVAL):
			s.mu.Lock()
			s.noTemp = true
			s.mu.Unlock()
			s.log.Debug("maildir: no unnamed files here, staging in tmp/", "err", err)
		case errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE):
			s.log.Debug("maildir: out of descriptors, staging this message in tmp/", "err", err)
		default:
			return nil, "", err
		}
	}
	tmp = join(dir, "tmp", uniqueName(now, 0)+stagedSuffix)
	f, err = s.fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, "", err
	}
	return f, tmp, nil
}

// takeTempSlot reserves one of the Store's descriptors for an unnamed
// staged file, and returns the FS to create it with; ok is false when the
// message is to be staged under a name. When every slot is taken it first
// publishes the staged batch (which closes their files). Publishing early
// is safe: a keyed message is found by its key after a crash, and the
// sync engine records it only after its own Flush. If the slots are still
// taken after that (by appends being written), or if a publish is already
// running (a Flush, or another append's early publish), the message gets a
// name rather than waiting for that publish's file-system syncs.
func (s *Store) takeTempSlot() (tfs TempFS, ok bool, err error) {
	tfs, ok = s.fsys.(TempFS)
	if !ok {
		return nil, false, nil
	}
	for published := false; ; published = true {
		s.mu.Lock()
		switch {
		case s.noTemp || s.tempCap <= 0:
			s.mu.Unlock()
			return nil, false, nil
		case s.tempFDs < s.tempCap:
			s.tempFDs++
			s.mu.Unlock()
			return tfs, true, nil
		}
		s.mu.Unlock()
		if published || !s.flushMu.TryLock() {
			return nil, false, nil
		}
		s.mu.Lock()
		full := s.tempFDs >= s.tempCap
		s.mu.Unlock()
		if full {
			s.log.Debug("maildir: staged descriptors at their cap, publishing the batch early")
			err = s.publishStaged()
		}
		s.flushMu.Unlock()
		if err != nil {
			return nil, false, err
		}
	}
}

// discardLocked drops a staged file that will not be published: an
// unnamed file is closed (and so gone), a named one removed. s.mu held.
func (s *Store) discardLocked(st staged) {
	if st.file != nil {
		st.file.Close()
		s.tempFDs--
		return
	}
	if st.tmp != "" {
		s.fsys.Remove(st.tmp)
	}
}

// publishStaged makes the staged appends durable and visible, a batch at a
// time: one file-system sync for the data of every staged file (syncfs(2)
// on Linux; one fsync per file, in parallel, elsewhere), then each file is
// linked (unnamed files) or renamed (named ones) into new/ or cur/, whose
// directories are marked dirty for the directory sync that follows in
// Flush. A message's bytes are thus durable before its name appears, and
// the whole batch costs a few syncs instead of one per message. Linking
// changes the file's inode (its link count) after the data sync, so a
// second file-system sync follows the links; a rename changes only
// directories. On error the entries not yet published are kept, so a
// later Flush retries them. The caller holds s.flushMu.
func (s *Store) publishStaged() error {
	s.mu.Lock()
	batch := s.staged
	s.staged = nil
	s.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	restore := func(from int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			// Close ran meanwhile: what it could not see is discarded here.
			for _, st := range batch[from:] {
				s.discardLocked(st)
			}
			return
		}
		s.staged = append(batch[from:], s.staged...)
	}
	if err := s.syncData(batch); err != nil {
		restore(0)
		return err
	}
	var linked []File
	var err error
	for i, st := range batch {
		dst := join(st.dir, st.name)
		if st.file != nil {
			tfs, _ := s.fsys.(TempFS) // the file came from it
			err = tfs.LinkTemp(st.file, dst)
		} else {
			err = s.fsys.Rename(st.tmp, dst)
		}
		if err != nil {
			restore(i)
			break
		}
		if st.file != nil {
			linked = append(linked, st.file)
		}
		s.mu.Lock()
		st.ds.files[st.id] = st.name
		st.ds.keys[st.key] = st.id
		delete(st.ds.stage, st.key)
		s.dirty[join(st.dir, st.name[:3])] = true
		s.mu.Unlock()
	}
	if len(linked) > 0 {
		err = errors.Join(err, s.syncFiles(linked))
		for _, f := range linked {
			f.Close()
		}
		s.mu.Lock()
		s.tempFDs -= len(linked)
		s.mu.Unlock()
	}
	return err
}

// syncData makes the bytes of the staged files durable.
func (s *Store) syncData(batch []staged) error {
	return s.syncAll(len(batch), func(i int) error {
		st := batch[i]
		if st.file != nil {
			return st.file.Sync()
		}
		f, err := s.fsys.OpenFile(st.tmp, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// syncFiles makes open files durable, their inodes included.
func (s *Store) syncFiles(files []File) error {
	return s.syncAll(len(files), func(i int) error { return files[i].Sync() })
}

// syncAll syncs the file system holding the store or, where there is no
// such call, runs fsync(i) for every i < n, many at a time so that the
// waits overlap.
func (s *Store) syncAll(n int, fsync func(i int) error) error {
	err := s.fsys.SyncFS()
	if !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, 32)
	)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fsync(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
