package mailsync_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
)

func TestParseRetention(t *testing.T) {
	for in, want := range map[string]mailsync.Retention{
		"":               {Policy: mailsync.KeepOnServer},
		"never":          {Policy: mailsync.KeepOnServer},
		"after-download": {Policy: mailsync.DeleteAfterDownload},
		"after=720h":     {Policy: mailsync.DeleteAfterAge, MaxAge: 720 * time.Hour},
	} {
		got, err := mailsync.ParseRetention(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		again, err := mailsync.ParseRetention(got.String())
		require.NoError(t, err)
		assert.Equal(t, got, again)
	}
	for _, bad := range []string{"after=", "after=-1h", "sometimes"} {
		_, err := mailsync.ParseRetention(bad)
		assert.ErrorIs(t, err, mailaccess.ErrInvalid, bad)
	}
}
