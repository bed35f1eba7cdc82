package chaostest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Protocol is the protocol a proxy frames.
type Protocol int

// Protocols.
const (
	POP3 Protocol = iota + 1
	IMAP
)

// Proxy relays connections from its address to a plaintext POP3 or IMAP
// server, perturbing the server's answers by its Plan.
type Proxy struct {
	// Addr is the loopback "host:port" clients connect to.
	Addr string

	proto    Protocol
	upstream string
	plan     Plan
	ln       net.Listener
	calm     atomic.Bool
	uvShift  atomic.Uint32 // added to every UIDVALIDITY (IMAP)
	done     chan struct{}
	once     sync.Once
	wg       sync.WaitGroup

	mu       sync.Mutex
	sessions int
	fired    int
	events   []Event
	conns    map[net.Conn]struct{}
}

// Start listens on a loopback port and relays each connection to
// upstream, a plaintext server of protocol proto, perturbed by plan.
// Close it when done.
func Start(proto Protocol, upstream string, plan Plan) (*Proxy, error) {
	if proto != POP3 && proto != IMAP {
		return nil, fmt.Errorf("chaostest: unknown protocol %d", proto)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), proto: proto, upstream: upstream, plan: plan.withDefaults(), ln: ln,
		done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Calm stops new faults: from now on answers are relayed unchanged
// (except that a UIDVALIDITY change, once made, stays in force: the
// server's folder is not going back), for the clean run after a chaotic
// one.
func (p *Proxy) Calm() { p.calm.Store(true) }

// Excite starts the faults again after Calm (the UIDVALIDITY change, if
// one was made, stayed in force).
func (p *Proxy) Excite() { p.calm.Store(false) }

// Events returns the faults injected so far, in order.
func (p *Proxy) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

// Fired reports whether a fault of kind k was injected.
func (p *Proxy) Fired(k Kind) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.events {
		if e.Kind == k {
			return true
		}
	}
	return false
}

// Close stops the proxy, closes its connections and waits for them.
func (p *Proxy) Close() error {
	p.once.Do(func() {
		close(p.done)
		p.ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return nil
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.sessions++
		n := p.sessions
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		s := &session{p: p, n: n, client: c, up: up,
			rng:  rand.New(rand.NewPCG(p.plan.Seed, uint64(2*n))),
			crng: rand.New(rand.NewPCG(p.plan.Seed, uint64(2*n+1)))}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if p.proto == POP3 {
				s.runPOP3()
			} else {
				s.runIMAP()
			}
			c.Close()
			up.Close()
			p.mu.Lock()
			delete(p.conns, c)
			delete(p.conns, up)
			p.mu.Unlock()
		}()
	}
}

// session is one client connection and its upstream connection.
type session struct {
	p      *Proxy
	n      int
	client net.Conn
	up     net.Conn

	mu      sync.Mutex // the generators, the counters
	rng     *rand.Rand // for the answers, drawn in the order they come
	crng    *rand.Rand // for the commands (Refuse), in the order they come
	answers int
	fired   int

	wmu sync.Mutex // whole answers to the client
}

// errClosed ends a session's relay.
var errClosed = errors.New("chaostest: session closed")

// decide picks, for the next answer, a fault among the kinds that apply
// (in the plan and in applicable), or 0. It numbers the answer.
func (s *session) decide(applicable func(Kind) bool) (Kind, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := s.answers
	s.answers++
	return s.pick(s.rng, applicable), idx
}

// decideCommand picks a fault for a command the client sent (Refuse):
// from a generator of its own, so that the order in which commands and
// answers cross in the proxy does not change the draws.
func (s *session) decideCommand(applicable func(Kind) bool) Kind {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pick(s.crng, applicable)
}

// pick draws from rng a fault among the kinds that apply, within the
// budgets, or 0. s.mu is held.
func (s *session) pick(rng *rand.Rand, applicable func(Kind) bool) Kind {
	p := s.p
	if p.calm.Load() || len(p.plan.Kinds) == 0 {
		return 0
	}
	var cands []Kind
	for _, k := range p.plan.Kinds {
		if applicable(k) {
			cands = append(cands, k)
		}
	}
	roll := rng.Float64()
	pick := 0
	if len(cands) > 0 {
		pick = rng.IntN(len(cands))
	}
	if len(cands) == 0 || roll >= p.plan.Rate {
		return 0
	}
	if p.plan.MaxPerSession > 0 && s.fired >= p.plan.MaxPerSession {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.plan.MaxTotal > 0 && p.fired >= p.plan.MaxTotal {
		return 0
	}
	p.fired++
	s.fired++
	return cands[pick]
}

// intn draws from the session's generator.
func (s *session) intn(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 1 {
		return 0
	}
	return s.rng.IntN(n)
}

// cintn draws from the command side's generator.
func (s *session) cintn(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 1 {
		return 0
	}
	return s.crng.IntN(n)
}

// record notes an injected fault.
func (s *session) record(idx int, k Kind, format string, args ...any) {
	s.p.mu.Lock()
	s.p.events = append(s.p.events, Event{Session: s.n, Answer: idx, Kind: k, Detail: fmt.Sprintf(format, args...)})
	s.p.mu.Unlock()
}

// sleep waits d or until the proxy closes; false means it closed.
func (s *session) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.p.done:
		return false
	}
}

// deliver writes one whole answer to the client, as the fault k (Drop,
// Stall, SlowLoris, or none) says.
func (s *session) deliver(b []byte, k Kind, idx int) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	switch k {
	case Drop:
		cut := s.intn(len(b) + 1)
		s.record(idx, k, "closed after %d of %d bytes", cut, len(b))
		s.client.Write(b[:cut])
		return errClosed
	case Stall:
		s.record(idx, k, "paused %s", s.p.plan.Stall)
		if !s.sleep(s.p.plan.Stall) {
			return errClosed
		}
	case SlowLoris:
		n := int(s.p.plan.Stall/s.p.plan.Trickle) + 1
		if s.intn(2) == 0 {
			n = len(b) // the whole answer: a body that takes forever
		}
		s.record(idx, k, "trickled %d of %d bytes, one every %s", min(n, len(b)), len(b), s.p.plan.Trickle)
		for i := 0; i < len(b) && i < n; i++ {
			if _, err := s.client.Write(b[i : i+1]); err != nil {
				return errClosed
			}
			if !s.sleep(s.p.plan.Trickle) {
				return errClosed
			}
		}
		b = b[min(n, len(b)):]
	}
	if _, err := s.client.Write(b); err != nil {
		return errClosed
	}
	return nil
}

// writeLong writes a line of n bytes of filler, without holding it in
// memory, followed by CRLF.
func (s *session) writeLong(prefix string, n int64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := s.client.Write([]byte(prefix)); err != nil {
		return errClosed
	}
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = 'a' + byte(i%26)
	}
	for n > 0 {
		m := min(n, int64(len(chunk)))
		if _, err := s.client.Write(chunk[:m]); err != nil {
			return errClosed
		}
		n -= m
	}
	if _, err := s.client.Write([]byte("\r\n")); err != nil {
		return errClosed
	}
	return nil
}

// otherBody returns a body of the plan's that is not body (by length).
func (s *session) otherBody(body []byte) []byte {
	var cands [][]byte
	for _, b := range s.p.plan.Bodies {
		if len(b) != len(body) {
			cands = append(cands, b)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return cands[s.intn(len(cands))]
}

// injections are the kinds that put something before an answer,
// whatever it is.
func injection(k Kind) bool {
	switch k {
	case Drop, Garbage, Bye, Blank, NUL, BareLF, EightBit, LongLine, Stall, SlowLoris:
		return true
	}
	return false
}
