package imap

import (
	"sync"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// FETCH responses whose UID comes after a literal.
//
// RFC 3501 lets a server send the items of a FETCH response in any order,
// and some real servers send "* 3 FETCH (BODY[] {n}\r\n... UID 17)". go-imap
// beta.8 matches a response to its UID FETCH command by the UID, and must
// hand the message on when the literal starts, before it has seen the UID:
// such a response goes to the unilateral-data handler, where it used to be
// dropped, so a FETCH of bodies completed with nothing delivered. The
// driver routes every FETCH response that reaches the unilateral handler of
// a pooled connection to the command running on it (a connection runs one
// call at a time), through a fetchStream that merges them with the ones
// go-imap matched. Responses of other origins arrive there too (flag
// changes made by other sessions); each reader keeps what it asked for.

// connSem is the per-connection state of the message layer.
type connSem struct {
	// sink receives the unilateral FETCH responses while a fetchStream
	// runs on the connection; nil otherwise.
	sink atomic.Pointer[fetchSink]

	mu sync.Mutex
	// expunges counts EXPUNGE responses seen on the connection.
	expunges uint64
	// seqs, if set, is kept in step with EXPUNGE responses.
	seqs *seqMap

	// Only the goroutine running the connection's call touches these:
	// utf8Tried is set once ENABLE UTF8=ACCEPT was considered; selectedNow
	// says the current call sent the SELECT (or EXAMINE) in force.
	utf8Tried   bool
	selectedNow bool
}

// expunge is called by go-imap's reader goroutine for each EXPUNGE
// response, in the order of the stream.
func (s *connSem) expunge(seq uint32) {
	s.mu.Lock()
	s.expunges++
	if s.seqs != nil {
		s.seqs.expunge(seq)
	}
	s.mu.Unlock()
}

// expungeCount returns how many EXPUNGE responses the connection has seen.
func (s *connSem) expungeCount() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expunges
}

// track makes m follow the EXPUNGE responses from now on (nil: stop).
func (s *connSem) track(m *seqMap) {
	s.mu.Lock()
	s.seqs = m
	s.mu.Unlock()
}

// lookup returns the UID at sequence number seq in the tracked map.
func (s *connSem) lookup(seq uint32) (imap.UID, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seqs == nil {
		return 0, false
	}
	u, ok := s.seqs.m[seq]
	return u, ok
}

// route hands a FETCH response that go-imap did not match to a command to
// the fetchStream running on the connection, and reports whether it did.
// It runs on a goroutine of its own (go-imap starts one per response).
func (s *connSem) route(msg *imapclient.FetchMessageData) bool {
	sink := s.sink.Load()
	if sink == nil {
		return false
	}
	select {
	case sink.ch <- msg:
		// The stream consumes the whole response.
	case <-sink.done:
		drainFetch(msg)
	}
	return true
}

// drainFetch consumes a FETCH response nobody wants (its literals too, or
// go-imap's reader would wait for them forever).
func drainFetch(msg *imapclient.FetchMessageData) {
	for msg.Next() != nil {
	}
}

// fetchSink is where a running fetchStream takes unmatched responses.
type fetchSink struct {
	ch   chan *imapclient.FetchMessageData
	done chan struct{}
}

// seqMap maps the sequence numbers of some messages to their UIDs and
// shifts them as EXPUNGE responses arrive.
type seqMap struct {
	m map[uint32]imap.UID
}

func (sm *seqMap) expunge(seq uint32) {
	next := make(map[uint32]imap.UID, len(sm.m))
	for s, u := range sm.m {
		switch {
		case s < seq:
			next[s] = u
		case s > seq:
			next[s-1] = u
		}
	}
	sm.m = next
}

// fetchStream yields the FETCH responses of one FETCH command, the
// matched ones and the ones go-imap routed to the unilateral handler, in
// the order the consumer takes them. What the consumer leaves of a
// response is drained by the next call to Next (or Close).
type fetchStream struct {
	c    *conn
	cmd  *imapclient.FetchCommand
	sink *fetchSink

	fromCmd chan *imapclient.FetchMessageData
	ack     chan struct{}
	pumping bool                         // a message from the command is out, not yet acked
	routed  *imapclient.FetchMessageData // the routed message last returned
	cmdDone bool
	closed  bool
	err     error // the command's result, once closed
}

// startFetch sends a FETCH (or UID FETCH) of set on c and returns its
// stream. The stream must be closed.
func startFetch(c *conn, set imap.NumSet, opts *imap.FetchOptions) *fetchStream {
	sink := &fetchSink{ch: make(chan *imapclient.FetchMessageData), done: make(chan struct{})}
	c.sem.sink.Store(sink)
	cmd := c.c.Fetch(set, opts)
	fs := &fetchStream{c: c, cmd: cmd, sink: sink,
		fromCmd: make(chan *imapclient.FetchMessageData), ack: make(chan struct{})}
	go func() {
		defer close(fs.fromCmd)
		for {
			fm := cmd.Next()
			if fm == nil {
				return
			}
			fs.fromCmd <- fm
			<-fs.ack // the consumer is done with fm: Next may discard it
		}
	}()
	return fs
}

// Next returns the next response, and whether it came through the
// unilateral handler; nil when the command has completed.
func (fs *fetchStream) Next() (fm *imapclient.FetchMessageData, routed bool) {
	if fs.pumping {
		fs.pumping = false
		fs.ack <- struct{}{} // go-imap's Next drains what is left of it
	}
	if fs.routed != nil {
		drainFetch(fs.routed)
		fs.routed = nil
	}
	if fs.cmdDone || fs.closed {
		return nil, false
	}
	select {
	case fm, ok := <-fs.fromCmd:
		if !ok {
			// A response routed to the sink that carries a literal is
			// taken before go-imap reads further, so none of this
			// command's is left behind once the command completed.
			fs.cmdDone = true
			return nil, false
		}
		fs.pumping = true
		return fm, false
	case fm := <-fs.sink.ch:
		fs.routed = fm
		return fm, true
	}
}

// Close waits for the command to complete and returns its result. The
// responses not yet taken are drained.
func (fs *fetchStream) Close() error {
	if fs.closed {
		return fs.err
	}
	for {
		if fm, _ := fs.Next(); fm == nil {
			break
		}
	}
	fs.closed = true
	fs.c.sem.sink.CompareAndSwap(fs.sink, nil)
	close(fs.sink.done)
	fs.err = fs.cmd.Close()
	return fs.err
}
