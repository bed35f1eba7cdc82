package chaostest

import (
	"os"
	"path/filepath"
	"testing"
)

// dumpDir logs the files of a Maildir after a run (CHAOS_DUMP=1): the
// names of the messages, the content of the sync state.
func dumpDir(t *testing.T, dir string) {
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if filepath.Ext(p) == ".json" || filepath.Base(filepath.Dir(p)) != "new" && filepath.Base(filepath.Dir(p)) != "cur" {
			b, _ := os.ReadFile(p)
			if len(b) > 3000 {
				b = b[:3000]
			}
			t.Logf("%s: %s", rel, b)
		} else {
			t.Logf("%s", rel)
		}
		return nil
	})
}
