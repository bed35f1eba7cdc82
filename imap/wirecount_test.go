package imap

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
)

// wireCounter counts what crosses the connections of a Mailbox dialled
// with its hooks: bytes read from the server, FETCH responses among them,
// and the UID FETCH commands the client wrote.
type wireCounter struct {
	read     atomic.Int64
	written  atomic.Int64
	mu       sync.Mutex
	fetches  int // "* n FETCH (" responses
	commands int // "UID FETCH" commands
	rtail    []byte
	wtail    []byte
}

func (w *wireCounter) hooks() hooks {
	return hooks{wrapConn: func(c net.Conn) net.Conn { return &countedConn{Conn: c, w: w} }}
}

type wireCount struct {
	Read, Written     int64
	Fetches, Commands int
}

func (w *wireCounter) snapshot() wireCount {
	w.mu.Lock()
	defer w.mu.Unlock()
	return wireCount{Read: w.read.Load(), Written: w.written.Load(), Fetches: w.fetches, Commands: w.commands}
}

func (a wireCount) minus(b wireCount) wireCount {
	return wireCount{Read: a.Read - b.Read, Written: a.Written - b.Written, Fetches: a.Fetches - b.Fetches, Commands: a.Commands - b.Commands}
}

// count adds the occurrences of pat in tail+p, keeping a tail so that a
// pattern across two reads is counted once.
func count(tail *[]byte, p, pat []byte) int {
	buf := append(*tail, p...)
	n := bytes.Count(buf, pat)
	keep := min(len(buf), len(pat)-1)
	*tail = append((*tail)[:0], buf[len(buf)-keep:]...)
	return n
}

type countedConn struct {
	net.Conn
	w *wireCounter
}

var (
	patFetch    = []byte(" FETCH (")
	patUIDFetch = []byte(" UID FETCH ")
)

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.read.Add(int64(n))
	c.w.mu.Lock()
	c.w.fetches += count(&c.w.rtail, p[:n], patFetch)
	c.w.mu.Unlock()
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.w.written.Add(int64(n))
	c.w.mu.Lock()
	c.w.commands += count(&c.w.wtail, p[:n], patUIDFetch)
	c.w.mu.Unlock()
	return n, err
}
