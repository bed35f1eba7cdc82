//go:build !linux

package maildir

import (
	"io/fs"
	"os"
)

// readDir lists directory d, opened as name in root r.
func readDir(_ *os.Root, _ string, d *os.File) ([]fs.DirEntry, error) { return d.ReadDir(-1) }
