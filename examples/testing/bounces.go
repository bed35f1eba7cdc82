// Package bounces is an example of mail-processing code tested against the
// mailaccess fake: a bounce processor, as an email-marketing system runs, that
// finds delivery-failure reports in a mailbox, extracts the failed recipient
// addresses, and then marks the reports handled.
//
// The code works on any mailaccess.Mailbox. Where the mailbox keeps flags
// (IMAP, Maildir) a handled report is flagged \Seen and left alone; where it
// does not (POP3) the report is deleted and the deletion committed, so it is
// not processed twice. bounces_test.go shows how to test it with
// mailtest: against an IMAP-like and a POP3-like fake, with injected faults,
// and with the conformance suite run on a wrapper the program adds.
//
// Run its tests with:
//
//	go test ./examples/testing/
package bounces

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailmime"
)

// Result is what Process found.
type Result struct {
	// Failed holds the recipient addresses that bounced, sorted, unique.
	Failed []string
	// Reports is how many bounce reports were handled.
	Reports int
}

// Process scans folder for delivery-failure reports (multipart/report or a
// mailer-daemon sender), collects the failed recipients from their
// "Final-Recipient" lines, and marks each handled report: \Seen with
// CapFlags, otherwise deleted (and committed, for POP3). A message that
// cannot be read stops the run with an error before anything is marked, so
// no report is lost.
func Process(ctx context.Context, mb mailaccess.Mailbox, folder string) (Result, error) {
	var res Result
	var handled []mailaccess.ID
	useFlags := mb.Capabilities().Has(mailaccess.CapFlags)
	for msg, err := range mb.List(ctx, folder, &mailaccess.ListOptions{Headers: true}) {
		if err != nil {
			return res, fmt.Errorf("list %s: %w", folder, err)
		}
		if useFlags && msg.HasFlag(mailaccess.FlagSeen) {
			continue
		}
		if !isBounce(msg.Header()) {
			continue
		}
		addrs, err := failedRecipients(ctx, msg)
		if err != nil {
			return res, fmt.Errorf("read bounce %s: %w", msg.ID(), err)
		}
		res.Failed = append(res.Failed, addrs...)
		handled = append(handled, msg.ID())
	}
	slices.Sort(res.Failed)
	res.Failed = slices.Compact(res.Failed)
	res.Reports = len(handled)
	if len(handled) == 0 {
		return res, nil
	}
	if useFlags {
		return res, mb.SetFlags(ctx, folder, handled, mailaccess.AddFlags, mailaccess.FlagSeen)
	}
	if err := mb.Delete(ctx, folder, handled...); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return res, fmt.Errorf("cannot mark bounces handled on this mailbox (%s): %w", mb.Capabilities(), err)
		}
		return res, err
	}
	return res, mailaccess.Commit(ctx, mb)
}

func isBounce(h mailaccess.Header) bool {
	if strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "multipart/report") {
		return true
	}
	for _, a := range h.From() {
		if strings.HasPrefix(strings.ToLower(a.Addr), "mailer-daemon@") {
			return true
		}
	}
	return false
}

// failedRecipients streams the message and picks "Final-Recipient:
// rfc822; addr" lines (RFC 3464) from any part.
func failedRecipients(ctx context.Context, msg mailaccess.Message) ([]string, error) {
	body, err := msg.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	var out []string
	_, err = mailmime.Walk(body, func(p *mailmime.Part) error {
		if p.Kind == mailmime.PartHTML {
			return nil
		}
		sc := bufio.NewScanner(io.LimitReader(p.Body, 1<<20))
		for sc.Scan() {
			name, value, ok := strings.Cut(sc.Text(), ":")
			if !ok || !strings.EqualFold(strings.TrimSpace(name), "Final-Recipient") {
				continue
			}
			_, addr, _ := strings.Cut(value, ";")
			if a, err := mail.ParseAddress(strings.TrimSpace(addr)); err == nil {
				out = append(out, strings.ToLower(a.Address))
			}
		}
		return sc.Err()
	})
	return out, err
}
