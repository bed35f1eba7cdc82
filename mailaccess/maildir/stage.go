package maildir

import (
	"errors"
	"os"
	"sync"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

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
