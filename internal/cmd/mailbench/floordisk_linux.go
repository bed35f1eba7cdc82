//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// floorDiskUnsupported says why floor-disk cannot run here: it can.
const floorDiskUnsupported = ""

// floorDiskWriters is how many goroutines write the unnamed files at
// once: as many as the sync engine's default concurrency. Creating an
// inode can wait for the file system to read its inode tables, so more
// writers than CPUs overlap those waits.
const floorDiskWriters = 32

// floorDiskMinBatch is the fewest messages a commit makes durable while
// more are being written: the sync engine's default BatchSize.
const floorDiskMinBatch = 256

// floorDisk is the physical floor of a durable sync: it writes msgs into a
// fresh Maildir at dir from memory, with no network and no parsing, made
// durable the way mailaccess/maildir and the sync engine make a sync's
// messages durable on Linux. floorDiskWriters writers put each message in
// an unnamed O_TMPFILE file in tmp/; meanwhile one committer takes every
// file written so far (at least floorDiskMinBatch, but for the last
// batch), makes their data durable with one syncfs(2), gives each its name
// in cur/ with linkat(2), and makes the inodes the links changed durable
// with a second syncfs; an fsync of cur/ and of the Maildir ends the run.
// Committing in the background while the next files are written, in
// batches that grow when the disk is the slower of the two, lets the
// CPU's copying and the disk's writing overlap, as in a sync. It writes no
// sync state and sets no file times: what it measures is the data.
func floorDisk(ctx context.Context, dir string, msgs [][]byte) (childResult, error) {
	var res childResult
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return res, err
		}
	}
	root, err := os.Open(dir)
	if err != nil {
		return res, err
	}
	defer root.Close()
	cur, err := os.Open(filepath.Join(dir, "cur"))
	if err != nil {
		return res, err
	}
	defer cur.Close()
	tmp := filepath.Join(dir, "tmp")
	now := time.Now().Unix()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Every unnamed file is an open descriptor until its batch is
	// committed: slots bounds them.
	slots := make(chan struct{}, floorDiskOpenFiles())
	minBatch := min(floorDiskMinBatch, cap(slots))
	var (
		mu          sync.Mutex
		cond        = sync.NewCond(&mu)
		ready       []unnamedFile // written, not yet committed
		writeErr    error
		writersDone bool
	)
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range msgs {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case next <- i:
			case <-ctx.Done():
				<-slots
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range min(floorDiskWriters, len(msgs)) {
		wg.Go(func() {
			for i := range next {
				f, err := writeUnnamed(tmp, msgs[i])
				mu.Lock()
				if err != nil {
					if writeErr == nil {
						writeErr = err
					}
					cancel()
				} else {
					ready = append(ready, unnamedFile{i, f})
					cond.Signal()
				}
				mu.Unlock()
				if err != nil {
					<-slots
				}
			}
		})
	}
	go func() {
		wg.Wait()
		mu.Lock()
		writersDone = true
		cond.Signal()
		mu.Unlock()
	}()

	var commitErr error
	for {
		mu.Lock()
		for len(ready) < minBatch && !writersDone {
			cond.Wait()
		}
		batch, finished := ready, writersDone
		ready = nil
		mu.Unlock()
		if len(batch) > 0 && commitErr == nil {
			commitErr = commitUnnamed(root, cur, batch, func(i int) string {
				return fmt.Sprintf("%d.F%07d.floor,S=%d:2,S", now, i, len(msgs[i]))
			})
			if commitErr != nil {
				cancel()
			}
		}
		for _, w := range batch {
			w.f.Close()
			<-slots
			res.Messages++
			res.Bytes += int64(len(msgs[w.i]))
		}
		if finished && len(batch) == 0 {
			break
		}
	}
	if err := errors.Join(commitErr, writeErr, ctx.Err()); err != nil {
		return childResult{}, err
	}
	if err := cur.Sync(); err != nil {
		return res, fmt.Errorf("fsync %s: %w", cur.Name(), err)
	}
	if err := root.Sync(); err != nil {
		return res, fmt.Errorf("fsync %s: %w", root.Name(), err)
	}
	return res, nil
}

// unnamedFile is message i written to the open O_TMPFILE file f.
type unnamedFile struct {
	i int
	f *os.File
}

// floorDiskOpenFiles is how many unnamed files floor-disk holds open at
// most: the descriptor limit less a margin for the process's others.
func floorDiskOpenFiles() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	const margin = 64
	return max(1, int(min(rl.Cur, 1<<20))-margin)
}

// writeUnnamed writes m into a new O_TMPFILE file in dir and returns it,
// open.
func writeUnnamed(dir string, m []byte) (*os.File, error) {
	f, err := os.OpenFile(dir, os.O_WRONLY|unix.O_TMPFILE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("unnamed file in %s: %w", dir, err)
	}
	if _, err := f.Write(m); err != nil {
		f.Close()
		return nil, fmt.Errorf("unnamed file in %s: %w", dir, err)
	}
	return f, nil
}

// commitUnnamed makes a batch of unnamed files durable under their names
// (name(i) for message i) in cur: one syncfs for their data, a link each,
// one syncfs for the inodes the links changed.
func commitUnnamed(root, cur *os.File, batch []unnamedFile, name func(i int) string) error {
	if err := syncFS(root); err != nil {
		return err
	}
	for _, u := range batch {
		if err := linkUnnamed(u.f, cur, name(u.i)); err != nil {
			return err
		}
	}
	return syncFS(root)
}

// linkUnnamed gives the O_TMPFILE file f the name name in directory d:
// linkat(2) with AT_EMPTY_PATH, or, where that needs a capability the
// process lacks, through its /proc/self/fd link.
func linkUnnamed(f *os.File, d *os.File, name string) error {
	fd, dirfd := int(f.Fd()), int(d.Fd())
	err := unix.Linkat(fd, "", dirfd, name, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) {
		err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dirfd, name, unix.AT_SYMLINK_FOLLOW)
	}
	if err != nil {
		return &os.LinkError{Op: "linkat", Old: "(unnamed file)", New: filepath.Join(d.Name(), name), Err: err}
	}
	return nil
}

// syncFS runs syncfs(2) on the file system holding d.
func syncFS(d *os.File) error {
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", d.Name(), err)
	}
	return nil
}
