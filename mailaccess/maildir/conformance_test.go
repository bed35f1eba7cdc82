package maildir_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/maildir"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest/conformance"
)

func TestConformance(t *testing.T) {
	conformance.TestMailbox(t, conformance.Harness{
		Open: func(t testing.TB, msgs [][]byte) mailaccess.Mailbox {
			st, err := maildir.Open(t.TempDir(), nil)
			require.NoError(t, err)
			for _, m := range msgs {
				_, err := st.Append(context.Background(), "INBOX", bytes.NewReader(m), nil)
				require.NoError(t, err)
			}
			return st
		},
		Reopen: func(t testing.TB, mb mailaccess.Mailbox) mailaccess.Mailbox {
			var st *maildir.Store
			require.True(t, mb.As(&st))
			st2, err := maildir.Open(st.Path(), nil)
			require.NoError(t, err)
			return st2
		},
		Deliver: func(t testing.TB, mb mailaccess.Mailbox, raw []byte) {
			var st *maildir.Store
			require.True(t, mb.As(&st))
			mda, err := maildir.Open(st.Path(), nil) // another process, as an MDA
			require.NoError(t, err)
			defer mda.Close()
			_, err = mda.Append(context.Background(), "INBOX", bytes.NewReader(raw), nil)
			require.NoError(t, err)
		},
	})
}
