package pop3

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	gopop3 "github.com/knadh/go-pop3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailaccess/go-mailaccess/internal/corpus"
	"github.com/mailaccess/go-mailaccess/internal/dovecottest"
	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/pop3/pop3test"
)

// The tests in this file keep the README's note on github.com/knadh/go-pop3
// ("Dependency notes") true: they show the defects that note gives as the
// reason go-pop3 is not our wire client, on the same messages our driver
// returns byte-exact. When a go-pop3 release fixes one, they fail and say
// so: update the README note, then these tests.

// goPOP3LineBuffer is the size of the bufio.Reader go-pop3 v1.0.0 reads
// server lines with (bufio's default). It ignores ReadLine's isPrefix, so
// a longer line reaches the caller cut into pieces of this size, each
// followed by a CRLF of go-pop3's own.
const goPOP3LineBuffer = 4096

// goPOP3Defects names the README's defects of go-pop3 that msg (CRLF line
// ends, as a server delivers it) triggers, or returns nil.
func goPOP3Defects(msg []byte) []string {
	var dot, long bool
	for line := range bytes.Lines(msg) {
		line = bytes.TrimSuffix(line, []byte("\r\n"))
		dot = dot || bytes.HasPrefix(line, []byte("."))
		long = long || len(line) > goPOP3LineBuffer-1 // the stuffed line may gain a byte
	}
	var out []string
	if dot {
		out = append(out, "it never undoes dot-stuffing")
	}
	if long {
		out = append(out, "it inserts a CRLF into every line over 4 KiB")
	}
	return out
}

// goPOP3Expected is what the README says go-pop3 v1.0.0's RetrRaw makes of
// msg (CRLF line ends): a line beginning with "." keeps the second "." the
// server stuffed in front of it, and a line longer than 4096 bytes (as
// sent, stuffing included) gets a CRLF after every 4096 bytes.
func goPOP3Expected(msg []byte) []byte {
	var out []byte
	for line := range bytes.Lines(msg) {
		line = bytes.TrimSuffix(line, []byte("\r\n"))
		if bytes.HasPrefix(line, []byte(".")) {
			line = append([]byte("."), line...)
		}
		for len(line) > goPOP3LineBuffer {
			out = append(append(out, line[:goPOP3LineBuffer]...), "\r\n"...)
			line = line[goPOP3LineBuffer:]
		}
		out = append(append(out, line...), "\r\n"...)
	}
	return out
}

func TestGoPOP3ExpectedModel(t *testing.T) {
	assert.Equal(t, "S: x\r\n\r\n..x\r\n...\r\nplain\r\n", string(goPOP3Expected([]byte("S: x\r\n\r\n.x\r\n..\r\nplain\r\n"))))
	long := strings.Repeat("a", 2*goPOP3LineBuffer+10)
	assert.Equal(t, long[:4096]+"\r\n"+long[4096:8192]+"\r\n"+long[8192:]+"\r\n", string(goPOP3Expected([]byte(long+"\r\n"))))
	exact := strings.Repeat("b", goPOP3LineBuffer)
	assert.Equal(t, exact+"\r\n", string(goPOP3Expected([]byte(exact+"\r\n"))), "a line of exactly 4096 bytes fits the buffer")
	assert.Empty(t, goPOP3Defects([]byte("Subject: s\r\n\r\nbody . with dots.\r\n")))
	assert.Len(t, goPOP3Defects([]byte("S: s\r\n\r\n."+long+"\r\n")), 2)
}

// goPOP3Version returns the go-pop3 version the module requires, for the
// failure messages (a test binary records no dependency versions).
func goPOP3Version() string {
	if b, err := os.ReadFile("../go.mod"); err == nil {
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/knadh/go-pop3" {
				return f[1]
			}
		}
	}
	return "(version unknown)"
}

// goPOP3Dialer bounds a whole go-pop3 session, which sets no deadline of
// its own, so a stuck exchange fails the test instead of hanging it.
type goPOP3Dialer struct{}

func (goPOP3Dialer) Dial(network, addr string) (net.Conn, error) {
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// dialGoPOP3 logs in with go-pop3 over plaintext (it has no STLS).
func dialGoPOP3(t *testing.T, addr, user, pass string) *gopop3.Conn {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	c, err := gopop3.New(gopop3.Opt{Host: host, Port: p, Dialer: goPOP3Dialer{}}).NewConn()
	require.NoError(t, err)
	require.NoError(t, c.Auth(user, pass))
	return c
}

// TestGoPOP3StillCorruptsEdgeCases retrieves every message of the edge-case
// corpus through our driver and through go-pop3, from pop3test and from a
// real Dovecot. Ours must be byte-exact. go-pop3 must return exactly the
// messages the README names (edge-dot-*, edge-long-*) corrupted exactly as
// it says, and every other one intact; any other outcome means the README
// note is stale.
func TestGoPOP3StillCorruptsEdgeCases(t *testing.T) {
	edge := corpus.EdgeCases()
	var served []string // as a server delivers them: CRLF line ends
	for _, m := range edge {
		served = append(served, string(corpus.Normalize(m.Raw)))
	}
	servers := map[string]func(t *testing.T) (cfg mailaccess.Config, addr string){
		"pop3test": func(t *testing.T) (mailaccess.Config, string) {
			_, srv := fixture(t, nil, served...)
			return srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword), srv.Addr
		},
		"dovecot": func(t *testing.T) (mailaccess.Config, string) {
			dc := dovecottest.Start(t, nil)
			var raws [][]byte
			for _, m := range edge {
				raws = append(raws, m.Raw)
			}
			require.NoError(t, dc.AddUser("gopop3", "pw", raws))
			cfg, err := mailaccess.ParseURL("pop3://" + dc.POP3Addr)
			require.NoError(t, err)
			cfg.User, cfg.Password, cfg.TLSConfig = "gopop3", "pw", dc.TLSConfig()
			return cfg, dc.POP3Addr
		},
	}
	for _, name := range []string{"pop3test", "dovecot"} {
		t.Run(name, func(t *testing.T) {
			cfg, addr := servers[name](t)
			mb := dial(t, cfg)
			msgs := list(t, mb, nil)
			require.Len(t, msgs, len(edge))
			for i, m := range msgs {
				got := readAll(t, mb, m.ID())
				require.True(t, got == served[i], "%s: our driver must be byte-exact (%d vs %d bytes)", edge[i].Name, len(got), len(served[i]))
			}
			require.NoError(t, mb.Close())

			c := dialGoPOP3(t, addr, cfg.User, string(cfg.Password))
			defer c.Quit()
			var corrupted []string
			for i, m := range edge {
				raw, err := c.RetrRaw(i + 1)
				require.NoError(t, err, m.Name)
				got := raw.Bytes()
				want := []byte(served[i])
				defects := goPOP3Defects(want)
				switch {
				case len(defects) == 0:
					assert.True(t, bytes.Equal(want, got),
						"go-pop3 %s corrupts %s, which has neither a dot-leading nor a long line (%d bytes, want %d): "+
							"the README's dependency note misses a defect; update it and this test",
						goPOP3Version(), m.Name, len(got), len(want))
				case bytes.Equal(want, got):
					t.Errorf("go-pop3 %s now returns %s byte-exact, though the README says %s: "+
						"the bug is fixed; update the go-pop3 note under \"Dependency notes\" in README.md, then this test",
						goPOP3Version(), m.Name, strings.Join(defects, " and "))
				case !bytes.Equal(goPOP3Expected(want), got):
					t.Errorf("go-pop3 %s corrupts %s, but not as the README says (%s): got %d bytes, the README's account predicts %d; "+
						"update the go-pop3 note under \"Dependency notes\" in README.md, then this test",
						goPOP3Version(), m.Name, strings.Join(defects, " and "), len(got), len(goPOP3Expected(want)))
				default:
					corrupted = append(corrupted, m.Name)
					t.Logf("go-pop3 %s: %s corrupted as the README says (%s): %d bytes instead of %d",
						goPOP3Version(), m.Name, strings.Join(defects, "; "), len(got), len(want))
				}
			}
			// The README names these: the corpus must keep exercising both
			// defects, and go-pop3 must corrupt each of them.
			named := 0
			for _, m := range edge {
				if strings.HasPrefix(m.Name, "edge-dot-") || strings.HasPrefix(m.Name, "edge-long-") {
					named++
					assert.Contains(t, corrupted, m.Name, "the README names %s among the messages go-pop3 corrupts", m.Name)
				}
			}
			assert.GreaterOrEqual(t, named, 4, "the corpus lost the edge-dot-* and edge-long-* messages the README names")
			t.Logf("go-pop3 %s corrupted %d of the %d edge-case messages: %s",
				goPOP3Version(), len(corrupted), len(edge), strings.Join(corrupted, ", "))
		})
	}
}

// TestGoPOP3PanicsOnMalformedStat keeps the README's "a hostile server
// panics the client" true: a STAT answer without a size makes go-pop3
// index a field that is not there, where our driver returns ErrProtocol.
func TestGoPOP3PanicsOnMalformedStat(t *testing.T) {
	_, srv := fixture(t, &pop3test.Options{Faults: []pop3test.Fault{{Command: "STAT", Action: pop3test.FaultGarbage, Text: "+OK 3"}}}, testMsgs...)

	mb := dial(t, srv.Config(pop3test.DefaultUser, pop3test.DefaultPassword))
	_, err := mb.Status(context.Background(), mailaccess.Inbox)
	require.Error(t, err)
	assert.ErrorIs(t, err, mailaccess.ErrProtocol)
	require.NoError(t, mb.Close())

	c := dialGoPOP3(t, srv.Addr, pop3test.DefaultUser, pop3test.DefaultPassword)
	defer c.Quit()
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		_, _, err = c.Stat()
	}()
	if recovered == nil {
		t.Errorf("go-pop3 %s no longer panics on the STAT answer \"+OK 3\" (it returned err=%v): "+
			"update the go-pop3 note under \"Dependency notes\" in README.md, then this test", goPOP3Version(), err)
	} else {
		t.Logf("go-pop3 %s panicked, as the README says: %v", goPOP3Version(), recovered)
		assert.Contains(t, fmt.Sprint(recovered), "index out of range")
	}
}
