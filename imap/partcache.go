package imap

import (
	"sync"

	"github.com/emersion/go-imap/v2"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// maxDescribed bounds the messages whose descriptions a Mailbox keeps.
const maxDescribed = 256

// partFacts is what OpenPart checks a part against: the server's size of
// the part in its transfer encoding and that encoding.
type partFacts struct {
	size     int64
	encoding string
}

type describedKey struct {
	folder string
	epoch  uint32
	uid    imap.UID
}

// described keeps the part facts of the messages whose BODYSTRUCTURE was
// read lately (by Structure or Fetch), so that OpenPart after either
// checks the part without asking the server to describe the message
// again. A message's structure never changes under one UIDVALIDITY, so an
// entry never goes stale; the oldest go first once maxDescribed are kept.
type described struct {
	mu    sync.Mutex
	m     map[describedKey]map[string]partFacts
	order []describedKey
}

// note records the leaf parts of a usable description.
func (d *described) note(folder string, epoch uint32, uid imap.UID, root *mailaccess.PartInfo) {
	if root == nil || root.Problem != "" {
		return
	}
	facts := map[string]partFacts{}
	for p := range root.All() {
		if !p.IsMultipart() {
			facts[mailaccess.PathString(p.Path)] = partFacts{size: p.Size, encoding: p.Encoding}
		}
	}
	k := describedKey{folder, epoch, uid}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[describedKey]map[string]partFacts{}
	}
	if _, ok := d.m[k]; !ok {
		d.order = append(d.order, k)
		if len(d.order) > maxDescribed {
			delete(d.m, d.order[0])
			d.order = d.order[1:]
		}
	}
	d.m[k] = facts
}

// lookup returns the facts of one part, if its message was described.
// known says whether the message was; a known message without the part
// has no leaf at that path.
func (d *described) lookup(folder string, epoch uint32, uid imap.UID, part []int) (f partFacts, ok, known bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	facts, known := d.m[describedKey{folder, epoch, uid}]
	if !known {
		return partFacts{}, false, false
	}
	f, ok = facts[mailaccess.PathString(part)]
	return f, ok, true
}
