package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"

	gopop3 "github.com/knadh/go-pop3"
)

// kindGoPOP3 is the naive-client baseline: the mailbox read through
// github.com/knadh/go-pop3, the way its API has a program do it.
const kindGoPOP3 = "gopop3"

// goPOP3Dialer gives go-pop3, which takes no context and sets no deadline,
// a connection that carries ctx's deadline and is closed when ctx ends.
type goPOP3Dialer struct {
	ctx  context.Context
	conn net.Conn
	stop func() bool
}

// Dial implements go-pop3's Dialer.
func (d *goPOP3Dialer) Dial(network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(d.ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := d.ctx.Deadline(); ok {
		if err := c.SetDeadline(dl); err != nil {
			c.Close()
			return nil, err
		}
	}
	d.conn = c
	d.stop = context.AfterFunc(d.ctx, func() { c.Close() })
	return c, nil
}

// close releases the connection, if one was made.
func (d *goPOP3Dialer) close() {
	if d.stop != nil {
		d.stop()
	}
	if d.conn != nil {
		d.conn.Close()
	}
}

// readGoPOP3 reads every message through go-pop3 v1.0.0: USER/PASS (and
// the NOOP its Auth adds), LIST and UIDL (what a program needs to know
// which messages it has, as our read-pop3 job's listing does), then one
// RETR per message, each answered before the next is sent (go-pop3 has no
// pipelining) and buffered whole in memory by go-pop3 before the caller
// sees it; the bytes go to io.Discard. The bytes counted are the ones
// go-pop3 hands back, so a message it altered (see the README's note on
// go-pop3) fails the job's byte check.
func readGoPOP3(ctx context.Context, addr, user, pass string) (res childResult, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return res, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return res, fmt.Errorf("go-pop3: port %q: %w", port, err)
	}
	d := &goPOP3Dialer{ctx: ctx}
	defer d.close()
	// An error caused by ctx ending (the connection closed under go-pop3)
	// is reported as ctx's.
	defer func() {
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (go-pop3: %v)", ctx.Err(), err)
		}
	}()
	c, err := gopop3.New(gopop3.Opt{Host: host, Port: p, Dialer: d}).NewConn()
	if err != nil {
		return res, fmt.Errorf("go-pop3 connect: %w", err)
	}
	if err := c.Auth(user, pass); err != nil {
		return res, fmt.Errorf("go-pop3 login: %w", err)
	}
	list, err := c.List(0)
	if err != nil {
		return res, fmt.Errorf("go-pop3 list: %w", err)
	}
	uids, err := c.Uidl(0)
	if err != nil {
		return res, fmt.Errorf("go-pop3 uidl: %w", err)
	}
	if len(uids) != len(list) {
		return res, fmt.Errorf("go-pop3: UIDL lists %d messages, LIST %d", len(uids), len(list))
	}
	for _, m := range list {
		body, err := c.RetrRaw(m.ID)
		if err != nil {
			return res, fmt.Errorf("go-pop3 retr %d: %w", m.ID, err)
		}
		n, err := io.Copy(io.Discard, body)
		if err != nil {
			return res, err
		}
		res.Bytes += n
		res.Messages++
	}
	if err := c.Quit(); err != nil {
		return res, fmt.Errorf("go-pop3 quit: %w", err)
	}
	return res, nil
}
