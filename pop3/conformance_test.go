package pop3

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// pop3testHarness runs the conformance suite against pop3test backed by
// the fake, with the given server switches.
func pop3testHarness(opts pop3test.Options) conformance.Harness {
	var mu sync.Mutex
	type env struct {
		fake *mailtest.Mailbox
		srv  *pop3test.Server
	}
	envs := map[mailaccess.Mailbox]env{}
	remember := func(mb mailaccess.Mailbox, e env) {
		mu.Lock()
		envs[mb] = e
		mu.Unlock()
	}
	lookup := func(mb mailaccess.Mailbox) env {
		mu.Lock()
		defer mu.Unlock()
		return envs[mb]
	}
	return conformance.Harness{
		Open: func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
			fake := mailtest.New(mailtest.ProfilePOP3)
			for _, m := range msgs {
				fake.Add(mailaccess.Inbox, m)
			}
			o := opts
			srv := pop3test.Start(t, fake, &o)
			mb, err := Dial(context.Background(), srv.Config("user", "pass"))
			require.NoError(t, err)
			remember(mb, env{fake, srv})
			return mb
		},
		Reopen: func(t testing.TB, old mailaccess.Mailbox) mailaccess.Mailbox {
			e := lookup(old)
			mb, err := Dial(context.Background(), e.srv.Config("user", "pass"))
			require.NoError(t, err)
			remember(mb, e)
			return mb
		},
		Deliver: func(t testing.TB, mb mailaccess.Mailbox, raw []byte) {
			lookup(mb).fake.Add(mailaccess.Inbox, raw)
		},
	}
}

func TestConformancePOP3Test(t *testing.T) {
	variants := map[string]pop3test.Options{
		"full":          {},
		"no-uidl":       {NoUIDL: true},
		"no-pipelining": {NoPipelining: true},
		"no-top":        {NoTOP: true},
		"implicit-tls":  {ImplicitTLS: true},
	}
	for name, opts := range variants {
		t.Run(name, func(t *testing.T) {
			conformance.TestMailbox(t, pop3testHarness(opts))
		})
	}
}

// dovecotHarness runs the suite against a private Dovecot over POP3 with
// STLS (implicit false) or POP3S.
func dovecotHarness(dc *dovecottest.Server, implicit bool) conformance.Harness {
	var mu sync.Mutex
	users := map[mailaccess.Mailbox]string{}
	cfgFor := func(user string) mailaccess.Config {
		addr := dc.POP3Addr
		scheme := "pop3"
		if implicit {
			addr, scheme = dc.POP3SAddr, "pop3s"
		}
		cfg, err := mailaccess.ParseURL(scheme + "://" + addr)
		if err != nil {
			panic(err)
		}
		cfg.User, cfg.Password, cfg.TLSConfig = user, "pw", dc.TLSConfig()
		return cfg
	}
	return conformance.Harness{
		Open: func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
			user := "conf" + itoa(int(dovecotUsers.Add(1)))
			require.NoError(t, dc.AddUser(user, "pw", msgs))
			mb := dialDovecot(t, cfgFor(user))
			mu.Lock()
			users[mb] = user
			mu.Unlock()
			return mb
		},
		Reopen: func(t testing.TB, old mailaccess.Mailbox) mailaccess.Mailbox {
			mu.Lock()
			user := users[old]
			mu.Unlock()
			mb, err := Dial(context.Background(), cfgFor(user))
			require.NoError(t, err)
			mu.Lock()
			users[mb] = user
			mu.Unlock()
			return mb
		},
		Deliver: func(t testing.TB, mb mailaccess.Mailbox, raw []byte) {
			mu.Lock()
			user := users[mb]
			mu.Unlock()
			require.NoError(t, dc.AddMessages(user, [][]byte{raw}))
		},
		Normalize: corpus.Normalize,
	}
}

var dovecotUsers atomic.Int64

// dialDovecot dials a Dovecot test user. (dovecottest keeps one passwd
// file per user, so a user can log in as soon as AddUser returns.)
func dialDovecot(t testing.TB, cfg mailaccess.Config) *Mailbox {
	t.Helper()
	mb, err := Dial(context.Background(), cfg)
	require.NoError(t, err)
	return mb
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestConformanceDovecot(t *testing.T) {
	dc := dovecottest.Start(t, nil)
	t.Run("pop3+stls", func(t *testing.T) { conformance.TestMailbox(t, dovecotHarness(dc, false)) })
	t.Run("pop3s", func(t *testing.T) { conformance.TestMailbox(t, dovecotHarness(dc, true)) })
}
