package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readDir reports what os.ReadDir does (names and types), for every kind
// of entry, across several getdents buffers, without a stat per entry.
func TestReadDirTypes(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "cur")
	require.NoError(t, os.Mkdir(sub, 0o700))
	for i := range 2500 { // more than one 64 KiB getdents buffer
		require.NoError(t, os.WriteFile(filepath.Join(sub, fmt.Sprintf("m%05d", i)), nil, 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(sub, "adir"), 0o700))
	require.NoError(t, os.Symlink("nowhere", filepath.Join(sub, "alink")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(sub, "afifo"), 0o600))

	root, err := os.OpenRoot(dir)
	require.NoError(t, err)
	defer root.Close()
	d, err := root.Open("cur")
	require.NoError(t, err)
	defer d.Close()
	got, err := readDir(root, "cur", d)
	require.NoError(t, err)
	want, err := os.ReadDir(sub)
	require.NoError(t, err)
	type ent struct {
		name string
		typ  os.FileMode
	}
	norm := func(es []os.DirEntry) []ent {
		var out []ent
		for _, e := range es {
			out = append(out, ent{e.Name(), e.Type()})
		}
		slices.SortFunc(out, func(a, b ent) int { return strings.Compare(a.name, b.name) })
		return out
	}
	assert.Equal(t, norm(want), norm(got))
	for _, e := range got {
		if e.Name() == "adir" {
			assert.True(t, e.IsDir())
			fi, err := e.Info()
			require.NoError(t, err)
			assert.True(t, fi.IsDir())
		}
	}
}
