package pop3test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pythonPoplib drives the server with Python's poplib: login, STAT, UIDL,
// RETR of every message, written out raw so the test compares bytes.
const pythonPoplib = `
import poplib, sys, os
mode, port, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == "stls":
    import ssl
    ctx = ssl.create_default_context(cafile=sys.argv[4])
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    p.stls(context=ctx)
else:
    p = poplib.POP3("127.0.0.1", port, timeout=20)
p.user("user")
p.pass_("pass")
count, size = p.stat()
resp, uidls, _ = p.uidl()
with open(os.path.join(outdir, "uidl"), "wb") as f:
    f.write(b"\n".join(uidls))
with open(os.path.join(outdir, "stat"), "w") as f:
    f.write("%d %d" % (count, size))
for i in range(1, count + 1):
    resp, lines, octets = p.retr(i)
    with open(os.path.join(outdir, "msg%d" % i), "wb") as f:
        f.write(b"\r\n".join(lines) + b"\r\n")
p.dele(1)
p.quit()
`

func interopMessages() []string {
	return []string{
		msgDots,
		msgPlain,
		"Subject: long\r\n\r\n" + strings.Repeat("a", 20000) + "\r\n.\r\n..\r\n",
	}
}

func TestInteropPythonPoplib(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: cannot check interoperability with poplib")
	}
	for _, mode := range []string{"plain", "stls"} {
		t.Run(mode, func(t *testing.T) {
			msgs := interopMessages()
			mb := newMemBox(msgs...)
			s := Start(t, mb, nil)
			dir := t.TempDir()
			args := []string{"-c", pythonPoplib, mode, strconv.Itoa(s.Port()), dir}
			if mode == "stls" {
				ca := filepath.Join(dir, "ca.pem")
				require.NoError(t, os.WriteFile(ca, s.CertPEM(), 0o600))
				args = append(args, ca)
			}
			// poplib refuses lines over 2048 bytes by default (_MAXLINE); raise it.
			args[1] = "import poplib; poplib._MAXLINE = 1 << 20\n" + args[1]
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, py, args...).CombinedOutput()
			require.NoError(t, err, "poplib: %s", out)

			stat, err := os.ReadFile(filepath.Join(dir, "stat"))
			require.NoError(t, err)
			total := 0
			for _, m := range msgs {
				total += len(m)
			}
			assert.Equal(t, strconv.Itoa(len(msgs))+" "+strconv.Itoa(total), string(stat))
			uidl, err := os.ReadFile(filepath.Join(dir, "uidl"))
			require.NoError(t, err)
			assert.Equal(t, "1 m1\n2 m2\n3 m3", string(uidl))
			for i, m := range msgs {
				got, err := os.ReadFile(filepath.Join(dir, "msg"+strconv.Itoa(i+1)))
				require.NoError(t, err)
				assert.Equal(t, m, string(got), "message %d byte-exact through poplib", i+1)
			}
			assert.False(t, mb.has("m1"), "poplib's DELE 1 + QUIT applied")
			assert.Contains(t, s.Commands(), "PASS REDACTED")
		})
	}
}

func TestInteropMpop(t *testing.T) {
	mpop, err := exec.LookPath("mpop")
	if err != nil {
		t.Skip("mpop not installed: cannot check interoperability with it")
	}
	msgs := interopMessages()
	mb := newMemBox(msgs...)
	s := Start(t, mb, nil)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, s.CertPEM(), 0o600))
	mdir := filepath.Join(dir, "Maildir")
	for _, sub := range []string{"new", "cur", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(mdir, sub), 0o700))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mpop, "--quiet",
		"--host=127.0.0.1", "--port="+strconv.Itoa(s.Port()),
		"--tls=on", "--tls-starttls=on", "--tls-trust-file="+ca,
		"--auth=user", "--user=user", "--passwordeval=echo pass",
		"--delivery=maildir,"+mdir, "--keep=off",
		"--uidls-file="+filepath.Join(dir, "uidls"), "--received-header=off")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "mpop: %s", out)

	entries, err := os.ReadDir(filepath.Join(mdir, "new"))
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(mdir, "new", e.Name()))
		require.NoError(t, err)
		got = append(got, string(b))
	}
	// mpop stores messages with LF line ends: compare after normalising.
	var want []string
	for _, m := range msgs {
		want = append(want, strings.ReplaceAll(m, "\r\n", "\n"))
	}
	assert.ElementsMatch(t, want, got, "mpop received every message intact")
	assert.Equal(t, 0, mb.count(), "mpop deleted (--keep=off) and its QUIT applied it")
	assert.Contains(t, s.Commands(), "STLS")
}
