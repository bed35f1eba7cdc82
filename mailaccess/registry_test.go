package mailaccess_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	. "github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// stubMailbox is only what the registry needs: capabilities and Close.
type stubMailbox struct {
	Mailbox
	caps   Capability
	closed bool
}

func (s *stubMailbox) Capabilities() Capability { return s.caps }
func (s *stubMailbox) Close() error             { s.closed = true; return nil }
func (s *stubMailbox) As(target any) bool       { return false }
func (s *stubMailbox) Open(ctx context.Context, folder string, id ID, o *OpenOptions) (io.ReadCloser, error) {
	return nil, ErrNotFound
}
func (s *stubMailbox) List(ctx context.Context, folder string, o *ListOptions) iter.Seq2[Message, error] {
	return nil
}

func TestRegistryOpenChecksCapabilities(t *testing.T) {
	var last *stubMailbox
	var gotCfg Config
	driver.Register(driver.Scheme{Name: "regtest", Options: []string{"x"}, Open: func(ctx context.Context, cfg Config) (Mailbox, error) {
		gotCfg = cfg
		last = &stubMailbox{caps: CapUID | CapHeaders}
		return last, nil
	}})
	assert.Contains(t, Schemes(), "regtest")
	assert.Panics(t, func() {
		driver.Register(driver.Scheme{Name: "regtest", Open: func(context.Context, Config) (Mailbox, error) { return nil, nil }})
	})
	assert.Panics(t, func() { driver.Register(driver.Scheme{Name: "regtest-nil"}) })

	mb, err := OpenURL(context.Background(), "regtest://host/INBOX?opt.x=1", CapUID)
	require.NoError(t, err)
	assert.Equal(t, CapUID|CapHeaders, mb.Capabilities())
	assert.Equal(t, "host", gotCfg.Host)
	assert.Equal(t, "1", gotCfg.Options["x"])

	_, err = OpenURL(context.Background(), "regtest://host/?require=uid", CapSearch, CapPush)
	require.Error(t, err)
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	var ue *UnsupportedError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, CapSearch|CapPush, ue.Missing)
	assert.True(t, last.closed, "a mailbox that lacks required capabilities is closed")

	_, err = Open(context.Background(), Config{Scheme: "nosuch"})
	assert.ErrorContains(t, err, `no driver for scheme "nosuch"`)
	_, err = Open(context.Background(), Config{})
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestHelpersOnMailboxWithoutOptionalInterfaces(t *testing.T) {
	mb := &stubMailbox{caps: CapUID}
	ctx := context.Background()
	assert.NoError(t, Commit(ctx, mb), "nothing is pending on an immediate-delete mailbox")
	assert.NoError(t, driver.Flush(ctx, mb))
	err := CreateFolder(ctx, mb, "x")
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	var ue *UnsupportedError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, CapManageFolders, ue.Missing)
	assert.ErrorIs(t, RenameFolder(ctx, mb, "x", "y"), errors.ErrUnsupported)
	assert.ErrorIs(t, DeleteFolder(ctx, mb, "x"), errors.ErrUnsupported)
}

// The Config is validated once on each path to the driver: OpenURL parses
// without validating and Open validates; the driver's Open is not asked to
// validate again. A scheme registered in a test has its URL form, port and
// options honoured with no change to package mailaccess.
func TestConfigValidatedOnceOnTheWayToTheDriver(t *testing.T) {
	validations := 0
	opened := 0
	driver.Register(driver.Scheme{
		Name: "oncetest", Form: driver.FormNetwork, DefaultPort: 4321, Options: []string{"level"},
		Validate: func(cfg Config) error {
			validations++
			if cfg.Options["level"] == "bad" {
				return fmt.Errorf("opt.level %q: want a number: %w", cfg.Options["level"], ErrInvalid)
			}
			return nil
		},
		Open: func(ctx context.Context, cfg Config) (Mailbox, error) {
			opened++
			assert.Equal(t, "4321", driver.NewConfig(cfg).Addr()[len("h:"):], "the registered default port")
			return &stubMailbox{}, nil
		},
	})
	_, err := OpenURL(context.Background(), "oncetest://u@h/INBOX?opt.level=3")
	require.NoError(t, err)
	assert.Equal(t, 1, validations, "OpenURL validates once")
	assert.Equal(t, 1, opened)

	validations = 0
	cfg, err := ParseURL("oncetest://u@h/INBOX?opt.level=3")
	require.NoError(t, err)
	assert.Equal(t, 1, validations, "ParseURL validates once")
	_, err = Open(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, 2, validations, "and Open once more: each entry point validates once")

	_, err = ParseURL("oncetest://u@h?opt.level=bad")
	assert.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "opt.level")
	_, err = ParseURL("oncetest://u@h?opt.other=1")
	assert.ErrorContains(t, err, `unknown option "opt.other" (the oncetest driver knows: level)`)
}
