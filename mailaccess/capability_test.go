package mailaccess

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCapabilityBitsAreStable(t *testing.T) {
	// These values are documented as stable; changing one breaks stored
	// configurations.
	want := map[Capability]uint64{
		CapFolders: 1, CapUID: 2, CapFlags: 4, CapKeywords: 8, CapHeaders: 16,
		CapPartial: 32, CapSearch: 64, CapPush: 128, CapDelete: 256, CapAppend: 512,
		CapMove: 1024, CapCopy: 2048, CapChanges: 4096, CapOffline: 8192,
		CapDeferredDelete: 16384, CapManageFolders: 32768, CapSort: 65536,
	}
	for c, v := range want {
		assert.Equal(t, v, uint64(c), c.String())
	}
	assert.Equal(t, len(capNames), AllCapabilities.Count())
}

func TestCapabilityString(t *testing.T) {
	assert.Equal(t, "none", Capability(0).String())
	assert.Equal(t, "folders|uid|push", (CapPush | CapFolders | CapUID).String())
	assert.Equal(t, "uid|0x100000000", (CapUID | 1<<32).String())
	assert.Equal(t, "search|sort", (CapSort | CapSearch).String())
	c, err := ParseCapability("sort|search")
	require.NoError(t, err)
	assert.Equal(t, CapSort|CapSearch, c)
}

func TestCapabilityHasMissing(t *testing.T) {
	c := CapFolders | CapUID
	assert.True(t, c.Has(CapUID))
	assert.True(t, c.Has(CapUID|CapFolders))
	assert.False(t, c.Has(CapUID|CapPush))
	assert.Equal(t, CapPush, c.Missing(CapUID|CapPush))
	assert.True(t, c.Has(0))
}

func TestParseCapabilityRoundTrip(t *testing.T) {
	for c := Capability(1); c <= AllCapabilities; c = c<<1 | 1 {
		got, err := ParseCapability(c.String())
		require.NoError(t, err)
		assert.Equal(t, c, got)
	}
	got, err := ParseCapability(" Folders, uid | PUSH ")
	require.NoError(t, err)
	assert.Equal(t, CapFolders|CapUID|CapPush, got)
	got, err = ParseCapability("none")
	require.NoError(t, err)
	assert.Zero(t, got)

	_, err = ParseCapability("folders|teleport")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"teleport"`)
}

func TestCapabilityJSON(t *testing.T) {
	b, err := json.Marshal(struct{ C Capability }{CapSearch | CapMove})
	require.NoError(t, err)
	assert.JSONEq(t, `{"C":"search|move"}`, string(b))
	var v struct{ C Capability }
	require.NoError(t, json.Unmarshal([]byte(`{"C":"append|copy"}`), &v))
	assert.Equal(t, CapAppend|CapCopy, v.C)
	assert.Error(t, json.Unmarshal([]byte(`{"C":"bogus"}`), &v))
}

func TestUnsupportedErrorMatchesErrUnsupported(t *testing.T) {
	err := error(&UnsupportedError{Op: "search", Protocol: "pop3", Missing: CapSearch})
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	wrapped := &OpError{Op: "search", Protocol: "pop3", Folder: "INBOX", Err: err}
	assert.ErrorIs(t, wrapped, errors.ErrUnsupported)
	assert.Equal(t, "pop3: search: not supported (missing capability search)", err.Error())
	var ue *UnsupportedError
	require.ErrorAs(t, fmt.Errorf("ctx: %w", wrapped), &ue)
	assert.Equal(t, CapSearch, ue.Missing)
}

func TestOpErrorMessage(t *testing.T) {
	err := &OpError{Op: "open", Protocol: "imap", Folder: "My Folder", Err: ErrNotFound}
	assert.Equal(t, `imap: open "My Folder": not found`, err.Error())
	assert.ErrorIs(t, err, ErrNotFound)
}
