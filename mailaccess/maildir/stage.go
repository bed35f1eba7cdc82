package maildir

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// stagedSuffix ends the tmp/ name of a staged (keyed) append, so that the
// files of a sync that died before publishing them can be told from other
// programs' tmp/ files and removed.
const stagedSuffix = ".staged"

// sweepStaged removes from every folder's tmp/ the staged files this Store
// is not holding: the leftovers of a sync that died before its Flush. The
// sync lock must be held (no other process is staging).
func (s *Store) sweepStaged() error {
	s.mu.Lock()
	mine := make(map[string]bool, len(s.staged))
	for _, st := range s.staged {
		mine[st.tmp] = true
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

// staged is a keyed append whose bytes are in tmp/ but not yet durable nor
// visible: Flush publishes it.
type staged struct {
	dir  string    // folder directory
	ds   *dirState // its cache
	key  string    // the append key
	id   mailaccess.ID
	tmp  string // path of the file in tmp/
	name string // its final "new/NAME" or "cur/NAME:2,INFO"
}

// publishStaged makes the staged appends durable and visible, a batch at a
// time: one file-system sync for the data of every staged file (syncfs(2)
// on Linux; one fsync per file, in parallel, elsewhere), then the renames
// into new/ or cur/, whose directories are marked dirty for the directory
// sync that follows in Flush. A message's bytes are thus durable before its
// name appears outside tmp/, and the whole batch costs two syncs instead of
// one per message. On error the staged entries are kept, so a later Flush
// retries them.
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
		s.staged = append(batch[from:], s.staged...)
		s.mu.Unlock()
	}
	if err := s.syncData(batch); err != nil {
		restore(0)
		return err
	}
	for i, st := range batch {
		if err := s.fsys.Rename(st.tmp, join(st.dir, st.name)); err != nil {
			restore(i)
			return err
		}
		s.mu.Lock()
		st.ds.files[st.id] = st.name
		st.ds.keys[st.key] = st.id
		delete(st.ds.stage, st.key)
		s.dirty[join(st.dir, st.name[:3])] = true
		s.mu.Unlock()
	}
	return nil
}

// syncData makes the bytes of the staged files durable.
func (s *Store) syncData(batch []staged) error {
	err := s.fsys.SyncFS()
	if !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	// No syncfs: fsync each file, many at a time so the waits overlap.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, 32)
	)
	for _, st := range batch {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f, err := s.fsys.OpenFile(st.tmp, os.O_WRONLY, 0)
			if err == nil {
				err = f.Sync()
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
