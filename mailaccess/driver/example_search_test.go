package driver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// A store without server-side search evaluates each message with Match;
// it opens the message only for what the metadata cannot decide.
func ExampleMatch() {
	raw := "Subject: =?UTF-8?Q?Caf=C3=A9?= menu\r\nContent-Transfer-Encoding: base64\r\n\r\ndG9kYXk6IHNvdXA=\r\n"
	cand := driver.Candidate{
		Info: mailaccess.MessageInfo{Size: int64(len(raw))},
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(raw)), nil },
	}
	for _, c := range []mailaccess.Criteria{
		{Subject: "cafe"}, // the encoded word decoded, the accent folded
		{Body: "soup"},    // the base64 body decoded
		mailaccess.Not(mailaccess.Criteria{Body: "soup"}),
		{Larger: 1 << 20, Body: "soup"}, // the size decides without reading
	} {
		ok, err := driver.Match(c, cand)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ok)
	}
	// Output:
	// true
	// true
	// false
	// false
}

// A driver that reads many messages per exchange (POP3 pipelining, IMAP
// batches) searches with Filter: it asks its Source for headers, then
// bodies, only for the messages still undecided.
func ExampleFilter() {
	raws := map[mailaccess.ID]string{
		"a": "Subject: invoice 7\r\n\r\nplease pay\r\n",
		"b": "Subject: hello\r\n\r\nplease pay\r\n",
	}
	infos := []mailaccess.MessageInfo{{ID: "a", Size: 40}, {ID: "b", Size: 36}}
	src := driver.Source{
		Headers: func(ctx context.Context, batch []mailaccess.MessageInfo) error {
			for i := range batch {
				h, err := mailaccess.ParseHeader(strings.NewReader(raws[batch[i].ID]))
				if err != nil {
					return err
				}
				batch[i].Header = h
			}
			return nil
		},
		Bodies: func(ctx context.Context, ids []mailaccess.ID, fn func(mailaccess.ID, io.Reader) error) error {
			for _, id := range ids {
				fmt.Println("body of", id, "read")
				if err := fn(id, strings.NewReader(raws[id])); err != nil {
					return err
				}
			}
			return nil
		},
	}
	ids, err := driver.Filter(context.Background(), mailaccess.Criteria{Subject: "invoice", Body: "pay"}, infos, src)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ids)
	// Output:
	// body of a read
	// [a]
}

// FetchMatching on a store without search uses FilterMessages: the
// matches come back with the headers read to decide them (Since compares
// the Date header here, the messages having no internal date), so that
// handing them out with their headers costs nothing more.
func ExampleFilterMessages() {
	raws := map[mailaccess.ID]string{
		"a": "Subject: invoice 7\r\nDate: Sat, 10 Mar 2001 10:00:00 +0000\r\n\r\nplease pay\r\n",
		"b": "Subject: invoice 8\r\nDate: Wed, 15 Jun 2011 10:00:00 +0000\r\n\r\npaid\r\n",
		"c": "Subject: lunch\r\nDate: Thu, 16 Jun 2011 10:00:00 +0000\r\n\r\nat noon\r\n",
	}
	infos := []mailaccess.MessageInfo{{ID: "a", Size: 73}, {ID: "b", Size: 67}, {ID: "c", Size: 65}}
	src := driver.Source{
		Headers: func(ctx context.Context, batch []mailaccess.MessageInfo) error {
			for i := range batch {
				h, err := mailaccess.ParseHeader(strings.NewReader(raws[batch[i].ID]))
				if err != nil {
					return err
				}
				batch[i].Header = h
			}
			return nil
		},
		Bodies: func(ctx context.Context, ids []mailaccess.ID, fn func(mailaccess.ID, io.Reader) error) error {
			log.Fatal("no body is needed")
			return nil
		},
	}
	c := mailaccess.Criteria{
		Subject: "invoice",
		Or:      []mailaccess.Criteria{{Since: time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC)}, {Subject: "7"}},
	}
	matches, err := driver.FilterMessages(context.Background(), c, infos, src)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range matches {
		fmt.Println(m.ID, m.Header.Subject())
	}
	// Output:
	// a invoice 7
	// b invoice 8
}

// A driver whose server cannot sort adds the matching messages to a
// Sorter, in ascending ID order, and reads the order back.
func ExampleSorter() {
	s, err := driver.NewSorter(mailaccess.SortKey{By: mailaccess.SortSubject}, mailaccess.SortKey{By: mailaccess.SortSize, Reverse: true})
	if err != nil {
		log.Fatal(err)
	}
	for i, subject := range []string{"Re: budget", "[team] agenda", "budget"} {
		s.Add(mailaccess.MessageInfo{
			ID:     mailaccess.ID(fmt.Sprint(i + 1)),
			Size:   int64(100 * (i + 1)),
			Header: mailaccess.HeaderFromFields("Subject", subject),
		})
	}
	fmt.Println(s.IDs())
	// Output:
	// [2 3 1]
}

// A network driver refuses a Config without credentials before it
// connects.
func ExampleConfig_CheckCredentials() {
	cfg, err := mailaccess.ParseURL("imaps://alice@imap.example.com")
	if err != nil {
		log.Fatal(err)
	}
	// cfg.Password = mailaccess.Secret(os.Getenv("MAIL_PASSWORD")) was forgotten
	err = driver.NewConfig(cfg).CheckCredentials()
	fmt.Println(errors.Is(err, mailaccess.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true
	// no password for user "alice": set Config.Password (from the environment or a secret store; was the variable empty?) or Config.Token before connecting: invalid argument
}

// A driver's Close with deferred deletions it had to drop reports them.
func ExampleDeletesDiscarded() {
	err := &mailaccess.OpError{Op: "close", Protocol: "pop3", Err: driver.DeletesDiscarded(3)}
	fmt.Println(errors.Is(err, mailaccess.ErrDeletesDiscarded))
	fmt.Println(err)
	// Output:
	// true
	// pop3: close: 3 pending deletions dropped by Close without Commit, the messages are still there (call mailaccess.Commit before Close to apply deletions, or mailaccess.Rollback to drop them on purpose): pending deletions were discarded, nothing was deleted
}

// A network driver passes the errors of its TLS handshake through
// TLSError, which adds what to do.
func ExampleConfig_TLSError() {
	cfg, err := mailaccess.ParseURL("imaps://alice@imap.example.com")
	if err != nil {
		log.Fatal(err)
	}
	handshake := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	fmt.Println(driver.NewConfig(cfg).TLSError(handshake))
	// Output:
	// TLS handshake with imap.example.com:993 failed (the certificate is not signed by an authority this system trusts: if the server uses a private CA, trust it with ca_file=PATH (Config.CAFile)): tls: failed to verify certificate: x509: certificate signed by unknown authority
}

// A network driver that waited in vain for a greeting says why that may
// be.
func ExampleConfig_GreetingTimeout() {
	cfg, err := mailaccess.ParseURL("pop3://alice@pop.example.com:995")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(driver.NewConfig(cfg).GreetingTimeout(30*time.Second, context.DeadlineExceeded))
	// Output:
	// no greeting from pop.example.com:995 within 30s: the port may expect implicit TLS (use pop3s://, port 995): context deadline exceeded
}
