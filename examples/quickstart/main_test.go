package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The quickstart is the README's first command: it must run with nothing
// installed and show both protocols, the decoded message, the syncs and
// the offline read.
func TestQuickstartRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	require.NoError(t, run(ctx, &out))
	s := out.String()
	t.Log(s)
	assert.Contains(t, s, "capabilities: uid|headers|delete|deferred-delete")
	assert.Regexp(t, `capabilities: folders\|uid\|flags`, s)
	assert.NotContains(t, s, demoPassword, "the password is never printed")
	for _, subject := range []string{"Printer on floor 3 is jammed again", "Your weekly digest — 5 new articles", "Undelivered Mail Returned to Sender"} {
		assert.Equal(t, 2, strings.Count(s, subject), "listed side by side, then read offline: %s", subject)
	}
	assert.Equal(t, 3, strings.Count(s, "Factura nº 2026-117"), "listed, shown decoded, read offline")
	assert.Contains(t, s, "José Muñoz <billing@supplier.example>")
	assert.Contains(t, s, "Attachment: factura-2026-117.pdf (application/pdf")
	assert.Contains(t, s, "(errors.Is ErrUnsupported: true)")
	assert.Contains(t, s, "POP3 search subject~factura OR body~jammed: [1 3]", "POP3 searches locally")
	// IMAP IDs carry the folder's UIDVALIDITY: "<uidvalidity>.<uid>".
	assert.Regexp(t, `IMAP search subject~factura OR body~jammed: \[\d+\.1 \d+\.3\]`, s, "the same result as the IMAP server's")
	assert.Equal(t, 2, strings.Count(s, "first run:  1 folders: 4 new"), "both protocols synced every message")
	assert.Equal(t, 2, strings.Count(s, "second run: 1 folders: 0 new"), "resyncs transfer nothing")
}
