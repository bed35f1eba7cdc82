package maildir

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// Messages appended with AppendWithKeyAt are listed in the order of their
// positions, whatever order the appends were made and published in, and
// after those of an earlier sequence; the key alone still finds them.
func TestAppendWithKeyAtOrder(t *testing.T) {
	ctx := context.Background()
	st, err := Open(t.TempDir(), nil)
	require.NoError(t, err)
	defer st.Close()
	first := time.Now()
	second := first.Add(time.Millisecond)
	body := func(seq, pos int) string { return fmt.Sprintf("Subject: %d.%d\r\n\r\nx\r\n", seq, pos) }
	// The later sequence first, each in reverse order, published in
	// several batches.
	for _, seq := range []struct {
		n     int
		start time.Time
	}{{1, second}, {0, first}} {
		for pos := 11; pos >= 0; pos-- {
			key := fmt.Sprintf("k%d-%d", seq.n, pos)
			_, err := st.AppendWithKeyAt(ctx, mailaccess.Inbox, key, seq.start, pos, strings.NewReader(body(seq.n, pos)), nil)
			require.NoError(t, err)
			if pos%5 == 0 {
				require.NoError(t, st.Flush(ctx))
			}
		}
	}
	require.NoError(t, st.Flush(ctx))
	var got, want []string
	for seq := range 2 {
		for pos := range 12 {
			want = append(want, fmt.Sprintf("%d.%d", seq, pos))
		}
	}
	for m, err := range st.List(ctx, mailaccess.Inbox, &mailaccess.ListOptions{Headers: true}) {
		require.NoError(t, err)
		got = append(got, m.Header().Subject())
	}
	assert.Equal(t, want, got)

	id, ok, err := st.HasKey(ctx, mailaccess.Inbox, "k0-3")
	require.NoError(t, err)
	require.True(t, ok)
	again, err := st.AppendWithKeyAt(ctx, mailaccess.Inbox, "k0-3", time.Now(), 99, strings.NewReader("other"), nil)
	require.NoError(t, err)
	assert.Equal(t, id, again, "the key names the message stored, wherever it was placed")

	fresh, err := Open(st.Path(), nil)
	require.NoError(t, err)
	defer fresh.Close()
	id2, ok, err := fresh.HasKey(ctx, mailaccess.Inbox, "k1-11")
	require.NoError(t, err)
	assert.True(t, ok, "keys are read back from the names")
	assert.Contains(t, string(id2), "Q0000000011Kk1-11.")

	_, err = st.AppendWithKeyAt(ctx, mailaccess.Inbox, "neg", time.Now(), -1, strings.NewReader("x"), nil)
	assert.ErrorIs(t, err, mailaccess.ErrInvalid)
}

func TestKeyFromName(t *testing.T) {
	for name, want := range map[string]string{
		"1700000000.Kabc.host,S=3":                      "abc",
		"1700000000.M000123Q0000000007Kab-c_D.host,S=3": "ab-c_D",
		"1700000000.M000123P12Q000001R0a1b.host,S=3":    "",
		"1700000000.M12Q.host":                          "",
		"1700000000.MQ1Kabc.host":                       "",
		"1700000000.M1Q1K.host":                         "",
		"1700000000.host,S=3":                           "",
	} {
		got, ok := keyFromName(name)
		assert.Equal(t, want, got, name)
		assert.Equal(t, want != "", ok, name)
	}
}
