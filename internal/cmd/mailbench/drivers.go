package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

// newSync is mailsync.New when the sync engine is built in (see
// engine.go); nil otherwise, and the sync jobs are skipped.
var newSync func(src, dst mailaccess.Mailbox, opts *mailsync.Options) (mailaccess.Sync, error)

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

// readAll lists the INBOX and streams every body to io.Discard with
// driver.OpenAll.
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
	// driver.OpenAll: the driver's batch read (both drivers have one),
	// else one Open per message.
	ids := make([]mailaccess.ID, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID()
	}
	err = driver.OpenAll(ctx, mb, mailaccess.Inbox, ids, func(id mailaccess.ID, r io.Reader) error {
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
	s, err := newSync(src, dst, &mailsync.Options{})
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

// makeIMAPID is imap.MakeID when the imap driver is built in (see
// engine.go): the Fetch job builds the IDs of the messages it selects.
var makeIMAPID func(uidValidity, uid uint32) mailaccess.ID

// fetchSelected reads the messages at UIDs uids of the INBOX through the
// everyday API's Fetch (headers with the metadata, then each body to
// io.Discard) and checks that exactly those came back, in that order.
func fetchSelected(ctx context.Context, proto, addr, user, pass string, uids []uint32) (childResult, error) {
	var res childResult
	if makeIMAPID == nil || proto != "imap" {
		return res, errors.New("the fetch jobs need the imap driver")
	}
	mb, err := openSource(ctx, proto, addr, user, pass)
	if err != nil {
		return res, err
	}
	defer mb.Close()
	st, err := mb.Status(ctx, mailaccess.Inbox)
	if err != nil {
		return res, err
	}
	ids := make([]mailaccess.ID, len(uids))
	for i, u := range uids {
		ids[i] = makeIMAPID(st.UIDValidity, u)
	}
	var got []mailaccess.ID
	err = readMessages(ctx, mb.Fetch(ctx, mailaccess.Inbox, ids, &mailaccess.FetchOptions{Headers: true}), &res, &got)
	if err != nil {
		return res, fmt.Errorf("fetch: %w", err)
	}
	if !slices.Equal(got, ids) {
		return res, fmt.Errorf("fetch returned %v, want %v", got, ids)
	}
	return res, mb.Close()
}

// fetchUnseen reads the unseen messages of the INBOX through FetchMatching
// (headers with the metadata, then each body to io.Discard) and checks
// that they are the messages at UIDs uids.
func fetchUnseen(ctx context.Context, proto, addr, user, pass string, uids []uint32) (childResult, error) {
	var res childResult
	mb, err := openSource(ctx, proto, addr, user, pass)
	if err != nil {
		return res, err
	}
	defer mb.Close()
	var got []mailaccess.ID
	seq := mb.FetchMatching(ctx, mailaccess.Inbox, mailaccess.Criteria{WithoutFlags: []mailaccess.Flag{mailaccess.FlagSeen}}, &mailaccess.FetchOptions{Headers: true})
	var gotUIDs []uint32
	err = readMessages(ctx, func(yield func(mailaccess.Message, error) bool) {
		for m, err := range seq {
			if m != nil {
				gotUIDs = append(gotUIDs, m.Info().UID)
			}
			if !yield(m, err) {
				return
			}
		}
	}, &res, &got)
	if err != nil {
		return res, fmt.Errorf("fetch matching: %w", err)
	}
	if !slices.Equal(gotUIDs, uids) {
		return res, fmt.Errorf("the unseen messages have UIDs %v, want %v", gotUIDs, uids)
	}
	return res, mb.Close()
}

// readMessages reads every message of seq (its header must have come with
// it, then its body), counting them in res and their IDs in ids.
func readMessages(ctx context.Context, seq iter.Seq2[mailaccess.Message, error], res *childResult, ids *[]mailaccess.ID) error {
	for m, err := range seq {
		if err != nil {
			return err
		}
		if m.Header().IsZero() {
			return fmt.Errorf("message %s came without its header", m.ID())
		}
		rc, err := m.Open(ctx)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
		res.Messages++
		res.Bytes += n
		*ids = append(*ids, m.ID())
	}
	return nil
}
