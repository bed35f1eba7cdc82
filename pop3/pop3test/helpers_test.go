package pop3test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"iter"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

// memBox is a minimal Mailbox for these tests: one INBOX, IDs "m1", "m2",
// ..., immediate deletes. (The full fake lives in mailaccess/mailtest.)
type memBox struct {
	mu      sync.Mutex
	ids     []mailaccess.ID
	data    map[mailaccess.ID][]byte
	next    int
	deletes [][]mailaccess.ID
}

func newMemBox(msgs ...string) *memBox {
	m := &memBox{data: map[mailaccess.ID][]byte{}}
	for _, s := range msgs {
		m.add([]byte(s))
	}
	return m
}

func (m *memBox) add(b []byte) mailaccess.ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	id := mailaccess.ID(fmt.Sprintf("m%d", m.next))
	m.ids = append(m.ids, id)
	m.data[id] = b
	return id
}

func (m *memBox) has(id mailaccess.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.data[id]
	return ok
}

func (m *memBox) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.ids)
}

func (m *memBox) Capabilities() mailaccess.Capability {
	return mailaccess.CapUID | mailaccess.CapDelete
}
func (m *memBox) Folders(context.Context) ([]mailaccess.Folder, error) {
	return []mailaccess.Folder{{Name: mailaccess.Inbox}}, nil
}
func (m *memBox) Status(context.Context, string) (mailaccess.FolderStatus, error) {
	return mailaccess.FolderStatus{Name: mailaccess.Inbox, Messages: m.count()}, nil
}
func (m *memBox) List(ctx context.Context, folder string, _ *mailaccess.ListOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		m.mu.Lock()
		var infos []mailaccess.MessageInfo
		for _, id := range m.ids {
			infos = append(infos, mailaccess.MessageInfo{ID: id, Folder: folder, Size: int64(len(m.data[id]))})
		}
		m.mu.Unlock()
		for _, in := range infos {
			if !yield(driver.NewMessage(m, in), nil) {
				return
			}
		}
	}
}
func (m *memBox) Open(_ context.Context, _ string, id mailaccess.ID, _ *mailaccess.OpenOptions) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.data[id]
	if !ok {
		return nil, mailaccess.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}
func (m *memBox) FetchHeader(ctx context.Context, f string, id mailaccess.ID) (mailaccess.Header, error) {
	rc, err := m.Open(ctx, f, id, nil)
	if err != nil {
		return mailaccess.Header{}, err
	}
	return mailaccess.ParseHeader(rc)
}
func (m *memBox) SetFlags(context.Context, string, []mailaccess.ID, mailaccess.FlagOp, ...mailaccess.Flag) error {
	return driver.Unsupported("memtest", "set flags", mailaccess.CapFlags)
}
func (m *memBox) Delete(_ context.Context, _ string, ids ...mailaccess.ID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deletes = append(m.deletes, ids)
	for _, id := range ids {
		delete(m.data, id)
		for i, x := range m.ids {
			if x == id {
				m.ids = append(m.ids[:i], m.ids[i+1:]...)
				break
			}
		}
	}
	return nil
}
func (m *memBox) Append(context.Context, string, io.Reader, *mailaccess.AppendOptions) (mailaccess.ID, error) {
	return "", driver.Unsupported("memtest", "append", mailaccess.CapAppend)
}
func (m *memBox) Move(context.Context, string, []mailaccess.ID, string) ([]mailaccess.ID, error) {
	return nil, driver.Unsupported("memtest", "move", mailaccess.CapMove)
}
func (m *memBox) Copy(context.Context, string, []mailaccess.ID, string) ([]mailaccess.ID, error) {
	return nil, driver.Unsupported("memtest", "copy", mailaccess.CapCopy)
}
func (m *memBox) Search(context.Context, string, mailaccess.Criteria) ([]mailaccess.ID, error) {
	return nil, driver.Unsupported("memtest", "search", mailaccess.CapSearch)
}
func (m *memBox) Sort(context.Context, string, mailaccess.Criteria, ...mailaccess.SortKey) ([]mailaccess.ID, error) {
	return nil, driver.Unsupported("memtest", "sort", mailaccess.CapSort)
}

// The reading methods, built from the ones above as any Mailbox can.
func (m *memBox) Fetch(ctx context.Context, folder string, ids []mailaccess.ID, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return driver.FetchFromList(ctx, m, folder, ids, opts)
}
func (m *memBox) FetchMatching(ctx context.Context, folder string, c mailaccess.Criteria, opts *mailaccess.FetchOptions) iter.Seq2[mailaccess.Message, error] {
	return driver.FetchMatching(ctx, m, folder, c, opts)
}
func (m *memBox) Structure(ctx context.Context, folder string, id mailaccess.ID) (*mailaccess.PartInfo, error) {
	return driver.StructureByReading(ctx, m, folder, id)
}
func (m *memBox) OpenPart(ctx context.Context, folder string, id mailaccess.ID, part []int, opts *mailaccess.PartOptions) (io.ReadCloser, error) {
	return driver.OpenPartByReading(ctx, m, folder, id, part, opts)
}
func (m *memBox) Watch(context.Context, string, *mailaccess.WatchOptions) iter.Seq2[mailaccess.Event, error] {
	return func(yield func(mailaccess.Event, error) bool) {
		yield(mailaccess.Event{}, driver.Unsupported("memtest", "watch", mailaccess.CapPush))
	}
}
func (m *memBox) As(any) bool  { return false }
func (m *memBox) Close() error { return nil }

// rawClient speaks POP3 by hand so the server is tested independently of
// any client library.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t *testing.T, s *Server) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	rc := &rawClient{t: t, conn: c, br: bufio.NewReader(c)}
	if s.opts.ImplicitTLS {
		tc := tls.Client(c, &tls.Config{RootCAs: s.CertPool(), ServerName: "127.0.0.1"})
		require.NoError(t, tc.Handshake())
		rc.conn, rc.br = tc, bufio.NewReader(tc)
	}
	return rc
}

func (c *rawClient) send(lines ...string) {
	c.t.Helper()
	_, err := io.WriteString(c.conn, strings.Join(lines, "\r\n")+"\r\n")
	require.NoError(c.t, err)
}

func (c *rawClient) line() string {
	c.t.Helper()
	l, err := c.br.ReadString('\n')
	require.NoError(c.t, err)
	return strings.TrimRight(l, "\r\n")
}

// multi reads a multi-line body after its status line, undoing stuffing.
func (c *rawClient) multi() []byte {
	c.t.Helper()
	var out []byte
	for {
		l, err := c.br.ReadString('\n')
		require.NoError(c.t, err)
		if l == ".\r\n" {
			return out
		}
		out = append(out, strings.TrimPrefix(l, ".")...)
	}
}

func (c *rawClient) cmd(line string) string {
	c.t.Helper()
	c.send(line)
	return c.line()
}

func (c *rawClient) login(user, pass string) {
	c.t.Helper()
	require.True(c.t, strings.HasPrefix(c.line(), "+OK"), "greeting")
	require.True(c.t, strings.HasPrefix(c.cmd("USER "+user), "+OK"))
	st := c.cmd("PASS " + pass)
	require.True(c.t, strings.HasPrefix(st, "+OK"), st)
}

// testCtx bounds a wait of a test (the failure case only).
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
