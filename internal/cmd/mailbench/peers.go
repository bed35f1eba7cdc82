package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
)

// mbsyncConfig is an mbsyncrc for isync 1.4 (SSLType; 1.5 renamed it
// TLSType but still reads SSLType) pulling INBOX into the Maildir dir with
// fsync on (FSync yes is the default; it is spelled out so a changed
// default cannot make the peer look faster than it is).
func mbsyncConfig(host, port, user, pass, dir string) string {
	return fmt.Sprintf(`FSync yes

IMAPAccount bench
Host %s
Port %s
User %s
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore bench-far
Account bench

MaildirStore bench-near
Inbox %s

Channel bench
Far :bench-far:
Near :bench-near:
Patterns INBOX
Create Near
SyncState *
`, host, port, user, pass, dir)
}

// mpopConfig is an mpoprc downloading the whole maildrop into the Maildir
// dir, keeping the mail on the server and remembering UIDLs in uidls.
func mpopConfig(host, port, user, pass, dir, uidls string) string {
	return fmt.Sprintf(`defaults

account bench
host %s
port %s
tls off
auth user
user %s
password %s
delivery maildir %s
keep on
only_new on
received_header off
uidls_file %s

account default : bench
`, host, port, user, pass, dir, uidls)
}

// runMbsync runs mbsync once (a full pull into the fresh dir, or a resync
// of an existing one) and checks the Maildir it leaves.
func (b *bench) runMbsync(ctx context.Context, j job, dir string, info mailboxInfo) (measurement, error) {
	host, port, err := net.SplitHostPort(b.srv.IMAPAddr)
	if err != nil {
		return measurement{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return measurement{}, err
	}
	rc := dir + ".mbsyncrc"
	if err := os.WriteFile(rc, []byte(mbsyncConfig(host, port, j.User, password, dir)), 0o600); err != nil {
		return measurement{}, err
	}
	before, _ := countMaildir(dir)
	cmd := exec.CommandContext(ctx, "mbsync", "-c", rc, "-q", "bench")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	m, err := timeCmd(cmd)
	if err != nil {
		return m, fmt.Errorf("mbsync: %w: %s", err, tail(out.String()))
	}
	return m, b.checkPeer(j, dir, before, info, &m, out.String())
}

// runMpop runs mpop once with a fresh (full download) or existing (resync)
// UIDL file and checks the Maildir it leaves.
func (b *bench) runMpop(ctx context.Context, j job, dir string, info mailboxInfo) (measurement, error) {
	host, port, err := net.SplitHostPort(b.srv.POP3Addr)
	if err != nil {
		return measurement{}, err
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return measurement{}, err
		}
	}
	rc := dir + ".mpoprc"
	uidls := dir + ".uidls"
	if err := os.WriteFile(rc, []byte(mpopConfig(host, port, j.User, password, dir, uidls)), 0o600); err != nil {
		return measurement{}, err
	}
	before, _ := countMaildir(dir)
	cmd := exec.CommandContext(ctx, "mpop", "-C", rc, "-q", "bench")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	m, err := timeCmd(cmd)
	if err != nil {
		return m, fmt.Errorf("mpop: %w: %s", err, tail(out.String()))
	}
	return m, b.checkPeer(j, dir, before, info, &m, out.String())
}

// checkPeer verifies the Maildir a peer left: a full run stored every
// message, a resync stored nothing more.
func (b *bench) checkPeer(j job, dir string, before int, info mailboxInfo, m *measurement, out string) error {
	after, size, err := maildirStats(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", j.Name, err)
	}
	switch {
	case j.CatchUp:
		return b.checkReplica(j, dir)
	case j.Kind == kindMbsyncIncr || j.Kind == kindMpopIncr:
		if after != info.Messages || after-before != scaleNew {
			return fmt.Errorf("%s: maildir went from %d to %d messages, want %d new, %d in all (output: %s)", j.Kind, before, after, scaleNew, info.Messages, tail(out))
		}
		m.Messages = after - before
		return b.checkReplica(j, dir)
	case j.Kind == kindMbsync || j.Kind == kindMpop:
		// The peers store Unix line endings: each CRLF becomes LF; mbsync
		// also adds an "X-TUID: <12 chars>" line (21 bytes) to each
		// message it stores in a Maildir, to find it again after a crash.
		want := info.LFBytes
		if j.Kind == kindMbsync {
			want += int64(info.Messages) * int64(len("X-TUID: 0123456789ab\n"))
		}
		if before != 0 || after != info.Messages || size != want {
			return fmt.Errorf("%s left %d messages of %d bytes in a maildir that held %d, want %d of %d bytes (output: %s)",
				j.Kind, after, size, before, info.Messages, want, tail(out))
		}
		m.Messages, m.Bytes = info.Messages, info.Bytes
	default:
		if after != before || after != info.Messages {
			return fmt.Errorf("%s: maildir went from %d to %d messages, want %d unchanged (output: %s)", j.Kind, before, after, info.Messages, tail(out))
		}
		if j.Replica != "" {
			return b.checkReplica(j, dir)
		}
	}
	return nil
}
