package chaostest

import (
	"testing"

	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

// FuzzChaos runs the sync property (see runSync) with plans the fuzzer
// chooses: a seed, a mask of the kinds to draw from, the server and the
// retention. Each input costs a sync or two, so fuzz for minutes:
//
//	go test -run '^$' -fuzz FuzzChaos -fuzztime 10m ./internal/chaostest/
//
// Without -fuzz it runs the corpus below (and testdata/fuzz), as a test.
func FuzzChaos(f *testing.F) {
	for i, r := range regressions {
		f.Add(r.seed, uint32(0), uint8(i), i%2 == 0)
	}
	f.Add(uint64(1), uint32(1<<uint(Drop-1)|1<<uint(Truncate-1)), uint8(1), true)
	ts := targets()
	f.Fuzz(func(t *testing.T, seed uint64, mask uint32, server uint8, deleteAfter bool) {
		var ks []Kind
		for _, k := range AllKinds() {
			if mask&(1<<uint(k-1)) != 0 {
				ks = append(ks, k)
			}
		}
		if len(ks) == 0 {
			ks = AllKinds()
		}
		ret := mailsync.Retention{Policy: mailsync.KeepOnServer}
		if deleteAfter {
			ret.Policy = mailsync.DeleteAfterDownload
		}
		runSync(t, ts[int(server)%len(ts)], ret, withTimes(RandomPlan(seed, ks)))
	})
}
