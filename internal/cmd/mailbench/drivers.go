package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
)

// newSync is mailaccess.NewSync when the sync engine is built in (see
// engine.go); nil otherwise, and the sync jobs are skipped.
var newSync func(src, dst mailaccess.Mailbox, opts *mailaccess.SyncOptions) (mailaccess.Sync, error)

// driverMissing says why the mailaccess driver for proto cannot be used, or
// returns "".
func driverMissing(proto string) string {
	if !slices.Contains(mailaccess.Schemes(), proto) {
		return proto + " driver not available"
	}
	return ""
}

// syncMissing says why the sync engine cannot be used, or returns "".
func syncMissing() string {
	if newSync == nil {
		return "sync engine not available"
	}
	return ""
}

// openSource opens the user's mailbox through the registry over plaintext.
func openSource(ctx context.Context, proto, addr, user, pass string) (mailaccess.Mailbox, error) {
	if why := driverMissing(proto); why != "" {
		return nil, errors.New(why)
	}
	cfg, err := mailaccess.ParseURL(fmt.Sprintf("%s://%s@%s/?tls=%s", proto, user, addr, mailaccess.TLSInsecurePlaintext))
	if err != nil {
		return nil, err
	}
	cfg.Password = mailaccess.Secret(pass)
	return mailaccess.Open(ctx, cfg)
}

// batchOpener is the batch read both drivers offer (pipelined RETR for
// POP3, one UID FETCH per batch for IMAP).
type batchOpener interface {
	OpenAll(ctx context.Context, folder string, ids []mailaccess.ID, fn func(id mailaccess.ID, r io.Reader) error) error
}

// readAll lists the INBOX and streams every body to io.Discard: with the
// driver's OpenAll when it has one, else one Open per message.
func readAll(ctx context.Context, proto, addr, user, pass string) (childResult, error) {
	var res childResult
	mb, err := openSource(ctx, proto, addr, user, pass)
	if err != nil {
		return res, err
	}
	defer mb.Close()
	var msgs []mailaccess.Message
	for m, err := range mb.List(ctx, mailaccess.Inbox, nil) {
		if err != nil {
			return res, fmt.Errorf("list: %w", err)
		}
		msgs = append(msgs, m)
	}
	if bo, ok := mb.(batchOpener); ok {
		ids := make([]mailaccess.ID, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID()
		}
		err := bo.OpenAll(ctx, mailaccess.Inbox, ids, func(id mailaccess.ID, r io.Reader) error {
			n, err := io.Copy(io.Discard, r)
			res.Bytes += n
			res.Messages++
			return err
		})
		if err != nil {
			return res, fmt.Errorf("read: %w", err)
		}
		return res, mb.Close()
	}
	for _, m := range msgs {
		r, err := m.Open(ctx)
		if err != nil {
			return res, fmt.Errorf("open %s: %w", m.ID(), err)
		}
		n, err := io.Copy(io.Discard, r)
		cerr := r.Close()
		if err == nil {
			err = cerr
		}
		if err != nil {
			return res, fmt.Errorf("read %s: %w", m.ID(), err)
		}
		res.Bytes += n
		res.Messages++
	}
	return res, mb.Close()
}

// listAll lists the INBOX (metadata only) and counts the messages.
func listAll(ctx context.Context, proto, addr, user, pass string) (childResult, error) {
	var res childResult
	mb, err := openSource(ctx, proto, addr, user, pass)
	if err != nil {
		return res, err
	}
	defer mb.Close()
	for m, err := range mb.List(ctx, mailaccess.Inbox, nil) {
		if err != nil {
			return res, fmt.Errorf("list: %w", err)
		}
		res.Messages++
		res.Bytes += m.Size()
	}
	return res, mb.Close()
}

// syncInto syncs the user's INBOX into the Maildir at dir (created if
// missing) and reports the messages stored by this run.
func syncInto(ctx context.Context, proto, addr, user, pass, dir string) (childResult, error) {
	var res childResult
	if why := syncMissing(); why != "" {
		return res, errors.New(why)
	}
	src, err := openSource(ctx, proto, addr, user, pass)
	if err != nil {
		return res, err
	}
	defer src.Close()
	dst, err := maildir.Open(dir, nil)
	if err != nil {
		return res, err
	}
	defer dst.Close()
	s, err := newSync(src, dst, &mailaccess.SyncOptions{})
	if err != nil {
		return res, err
	}
	rep, err := s.Run(ctx)
	if err != nil {
		return res, fmt.Errorf("sync: %w", err)
	}
	t := rep.Total()
	if len(t.Errors) > 0 {
		return res, fmt.Errorf("sync reported %d errors, first: %s", len(t.Errors), t.Errors[0])
	}
	res.Messages, res.Bytes, res.Updated = t.New, t.Bytes, t.Updated
	if err := dst.Flush(ctx); err != nil {
		return res, err
	}
	if err := dst.Close(); err != nil {
		return res, err
	}
	return res, src.Close()
}
