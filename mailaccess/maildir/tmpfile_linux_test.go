package maildir

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Both ways of linking an O_TMPFILE inode give it the name, with its
// bytes and the date set through the descriptor.
func TestLinkTempAtAndProcFallback(t *testing.T) {
	date := time.Date(2021, 2, 3, 4, 5, 6, 7000, time.UTC)
	for name, link := range map[string]func(fd, dirfd int, name string) error{
		"linkTempAt": linkTempAt,
		"linkProcFD": linkProcFD,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			f, err := os.OpenFile(dir, os.O_WRONLY|unix.O_TMPFILE, 0o600)
			if errors.Is(err, errors.ErrUnsupported) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
				t.Skipf("no O_TMPFILE under %s: %v", dir, err)
			}
			require.NoError(t, err)
			defer f.Close()
			_, err = f.WriteString("hello")
			require.NoError(t, err)
			require.NoError(t, setFileTimes(f, date))
			d, err := os.Open(dir)
			require.NoError(t, err)
			defer d.Close()
			require.NoError(t, link(int(f.Fd()), int(d.Fd()), "msg"))
			b, err := os.ReadFile(filepath.Join(dir, "msg"))
			require.NoError(t, err)
			assert.Equal(t, "hello", string(b))
			fi, err := os.Stat(filepath.Join(dir, "msg"))
			require.NoError(t, err)
			assert.True(t, fi.ModTime().Equal(date), "mtime %v", fi.ModTime())
			assert.ErrorIs(t, link(int(f.Fd()), int(d.Fd()), "msg"), unix.EEXIST, "an existing name is not replaced")
		})
	}
}
