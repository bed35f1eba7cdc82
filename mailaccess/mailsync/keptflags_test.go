package mailsync_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/imap"
	"github.com/mailaccess/go-mailaccess/imap/imaptest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailtest"
)

// A sync into an IMAP folder whose PERMANENTFLAGS lack \* (it keeps only
// the keywords it lists; GNU Mailutils' imap4d keeps none) stores every
// message, with the flags the folder keeps and without the others, and
// says which it left out, rather than failing the messages that carry a
// keyword (Append refuses it). With TwoWayFlags, a keyword the
// destination could not keep is not taken for one removed there: the
// source keeps it.
func TestSyncIntoFolderThatKeepsFewKeywords(t *testing.T) {
	for _, twoWay := range []bool{false, true} {
		t.Run(fmt.Sprintf("two-way=%v", twoWay), func(t *testing.T) {
			ctx := context.Background()
			src := mailtest.New(mailtest.ProfileIMAP)
			for i := range 6 {
				flags := []mailaccess.Flag{mailaccess.FlagSeen}
				if i%2 == 0 {
					flags = append(flags, "$Junk", "$Forwarded")
				}
				src.Add("INBOX", fmt.Appendf(nil, "Message-ID: <%d@kept>\r\nSubject: %d\r\n\r\nbody %d\r\n", i, i, i), flags...)
			}
			perm := []goimap.Flag{goimap.FlagSeen, goimap.FlagAnswered, goimap.FlagFlagged, goimap.FlagDeleted, goimap.FlagDraft, "$Forwarded"}
			srv := imaptest.Start(t, &imaptest.Options{Quirks: &imaptest.Quirks{PermanentFlags: perm}}, imaptest.User{Name: "u", Password: "pw"})
			dst, err := imap.Dial(ctx, srv.Config("u", "pw"))
			require.NoError(t, err)
			defer dst.Close()

			s, err := mailsync.New(src, dst, &mailsync.Options{State: &memState{}, Account: "kept", TwoWayFlags: twoWay})
			require.NoError(t, err)
			rep, err := s.Run(ctx)
			require.NoError(t, err)
			assert.Equal(t, 6, rep.Total().New)
			assert.Contains(t, strings.Join(rep.Total().Notes, "\n"), `does not keep the flags $Junk`)

			stored := 0
			for m, err := range dst.List(ctx, "INBOX", &mailaccess.ListOptions{Headers: true}) {
				require.NoError(t, err)
				stored++
				assert.True(t, m.HasFlag(mailaccess.FlagSeen), "kept flags are carried: %v", m.Flags())
				assert.False(t, m.HasFlag("$Junk"), "%v", m.Flags())
				if i, err := strconv.Atoi(m.Header().Get("Subject")); assert.NoError(t, err) && i%2 == 0 {
					assert.True(t, m.HasFlag("$Forwarded"), "a keyword the folder lists is kept: %v", m.Flags())
				}
			}
			assert.Equal(t, 6, stored, "every message is stored")

			rep, err = s.Run(ctx)
			require.NoError(t, err)
			assert.Zero(t, rep.Total().New)
			assert.Zero(t, rep.Total().Updated, "nothing changed on either side")
			junk := 0
			for _, m := range src.Messages("INBOX") {
				if slices.Contains(m.Flags, "$Junk") {
					junk++
				}
			}
			assert.Equal(t, 3, junk, "the source keeps the keywords the destination could not")
		})
	}
}
