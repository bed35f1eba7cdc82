package main

import (
	"io"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/mailaccess/go-mailaccess/fleet"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

// progress shows one bar per account being synced (mpb), removed when
// the account's sync ends.
type progress struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[string]*mpb.Bar
}

func newProgress(w io.Writer) *progress {
	return &progress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithAutoRefresh()), bars: map[string]*mpb.Bar{}}
}

func (p *progress) hooks() fleet.Hooks {
	return fleet.Hooks{
		SyncStart: func(acct string, _ int64) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.bars[acct] = p.p.AddBar(0,
				mpb.BarRemoveOnComplete(),
				mpb.PrependDecorators(decor.Name(acct, decor.WC{C: decor.DindentRight | decor.DextraSpace})),
				mpb.AppendDecorators(decor.CountersNoUnit("%d / %d messages")),
			)
		},
		Progress: func(acct string, pr mailsync.Progress) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if b := p.bars[acct]; b != nil {
				b.SetTotal(int64(pr.MessagesTotal), false)
				b.SetCurrent(int64(pr.Messages))
			}
		},
		SyncEnd: func(acct string, _ int64, _ *mailaccess.SyncReport, _ error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if b := p.bars[acct]; b != nil {
				b.Abort(true)
				delete(p.bars, acct)
			}
		},
	}
}

// wait stops the display once every bar is gone.
func (p *progress) wait() {
	p.mu.Lock()
	for _, b := range p.bars {
		b.Abort(true)
	}
	p.mu.Unlock()
	p.p.Wait()
}
