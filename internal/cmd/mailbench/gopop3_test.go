package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// goPOP3Server starts pop3test holding msgs.
func goPOP3Server(t *testing.T, opts *pop3test.Options, msgs ...string) *pop3test.Server {
	t.Helper()
	fake := mailtest.New(mailtest.ProfilePOP3)
	for _, m := range msgs {
		fake.Add(mailaccess.Inbox, []byte(m))
	}
	return pop3test.Start(t, fake, opts)
}

func TestReadGoPOP3ReadsEveryMessageOnce(t *testing.T) {
	msgs := []string{
		"Subject: one\r\n\r\nbody one\r\n",
		"Subject: two\r\n\r\n" + strings.Repeat("a line of the second body\r\n", 500),
		"Subject: three\r\n\r\nthree\r\n",
	}
	srv := goPOP3Server(t, nil, msgs...)
	res, err := readGoPOP3(context.Background(), srv.Addr, pop3test.DefaultUser, pop3test.DefaultPassword)
	require.NoError(t, err)
	assert.Equal(t, len(msgs), res.Messages)
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	assert.Equal(t, int64(total), res.Bytes)
	assert.Equal(t, []string{"USER user", "PASS REDACTED", "NOOP", "LIST", "UIDL", "RETR 1", "RETR 2", "RETR 3", "QUIT"},
		srv.Commands(), "one RETR per message, nothing deleted")
}

func TestReadGoPOP3EndsWithItsContext(t *testing.T) {
	srv := goPOP3Server(t, &pop3test.Options{Faults: []pop3test.Fault{{Command: "RETR", Action: pop3test.FaultEndlessBody}}},
		"Subject: s\r\n\r\nx\r\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once go-pop3 is stuck reading the endless body.
		for !slices.Contains(srv.Commands(), "RETR 1") {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := readGoPOP3(ctx, srv.Addr, pop3test.DefaultUser, pop3test.DefaultPassword)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestReadGoPOP3LoginFailure(t *testing.T) {
	srv := goPOP3Server(t, nil, "Subject: s\r\n\r\nx\r\n")
	_, err := readGoPOP3(context.Background(), srv.Addr, pop3test.DefaultUser, "wrong")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "go-pop3 login")
}
