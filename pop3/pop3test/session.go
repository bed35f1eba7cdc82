package pop3test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// maxLine bounds a command line (SASL responses with OAuth tokens included).
const maxLine = 16 << 10

var errTooLong = errors.New("command line too long")

// errClose ends the session without further answer.
var errClose = errors.New("close session")

type msgEntry struct {
	id      mailaccess.ID
	uid     string
	size    int64
	deleted bool
}

type session struct {
	s         *Server
	conn      net.Conn
	id        int
	br        *bufio.Reader
	bw        *bufio.Writer
	isTLS     bool
	user      string // after USER
	authed    string // after login: the locked user
	timestamp string
	msgs      []msgEntry
	utf8      bool // the client sent UTF8 (RFC 6856)
	commands  int  // commands since login, for Options.DropAfter
}

func newSession(s *Server, c net.Conn, id int) *session {
	ss := &session{s: s, conn: c, id: id}
	ss.br = bufio.NewReaderSize(c, 32<<10)
	ss.bw = bufio.NewWriterSize(c, 32<<10)
	return ss
}

func (ss *session) ctx() context.Context { return ss.s.ctx }

func (ss *session) run() {
	defer func() {
		if ss.authed != "" {
			ss.s.unlock(ss.authed)
		}
	}()
	if ss.s.opts.ImplicitTLS {
		tc := tls.Server(ss.conn, ss.s.tlsCfg)
		_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.HandshakeContext(ss.ctx()); err != nil {
			return
		}
		_ = tc.SetDeadline(time.Time{})
		ss.setConn(tc)
	}
	if !ss.s.opts.NoAPOP {
		ss.timestamp = fmt.Sprintf("<%d.%d.%d@pop3test>", os.Getpid(), ss.id, time.Now().UnixNano())
	}
	if f := ss.s.fault(GreetingCommand, ""); f != nil {
		if ss.applyFault(f, "") != nil {
			return
		}
	} else {
		greet := "pop3test ready"
		if ss.timestamp != "" {
			greet += " " + ss.timestamp
		}
		if ss.ok(greet) != nil {
			return
		}
	}
	for {
		if ss.br.Buffered() == 0 {
			if ss.bw.Flush() != nil {
				return
			}
		}
		line, err := ss.readLine()
		if err != nil {
			if errors.Is(err, errTooLong) {
				_ = ss.errf("line too long")
				_ = ss.bw.Flush()
			}
			return
		}
		if err := ss.command(line); err != nil {
			_ = ss.bw.Flush()
			return
		}
	}
}

func (ss *session) setConn(c net.Conn) {
	ss.conn = c
	ss.isTLS = true
	ss.br = bufio.NewReaderSize(c, 32<<10)
	ss.bw = bufio.NewWriterSize(c, 32<<10)
}

// readLine reads one line without its CRLF, bounded by maxLine.
func (ss *session) readLine() (string, error) {
	var buf []byte
	for {
		frag, err := ss.br.ReadSlice('\n')
		if len(buf)+len(frag) > maxLine {
			return "", errTooLong
		}
		buf = append(buf, frag...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return "", err
	}
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	buf = bytes.TrimSuffix(buf, []byte("\r"))
	return string(buf), nil
}

func (ss *session) delay() {
	if d := ss.s.opts.Latency; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ss.ctx().Done():
		}
	}
}

// beforeStatus writes Options.BeforeStatus (blank lines, stray LFs).
func (ss *session) beforeStatus() {
	if b := ss.s.opts.BeforeStatus; b != "" {
		ss.bw.WriteString(b)
	}
}

func (ss *session) ok(text string) error {
	ss.delay()
	ss.beforeStatus()
	if text == "" {
		_, err := ss.bw.WriteString("+OK\r\n")
		return err
	}
	_, err := ss.bw.WriteString("+OK " + text + "\r\n")
	return err
}

func (ss *session) errf(format string, args ...any) error {
	ss.delay()
	ss.beforeStatus()
	_, err := ss.bw.WriteString("-ERR " + fmt.Sprintf(format, args...) + "\r\n")
	return err
}

// multiline writes lines followed by the terminator (lines must not start
// with a dot).
func (ss *session) multiline(status string, lines []string) error {
	if err := ss.ok(status); err != nil {
		return err
	}
	for _, l := range lines {
		ss.bw.WriteString(l)
		ss.bw.WriteString("\r\n")
	}
	_, err := ss.bw.WriteString(".\r\n")
	return err
}

func redactCommand(verb, args string) string {
	switch verb {
	case "PASS":
		return "PASS REDACTED"
	case "APOP":
		name, _, _ := strings.Cut(args, " ")
		return "APOP " + name + " REDACTED"
	case "AUTH":
		mech, rest, _ := strings.Cut(args, " ")
		if rest != "" {
			return "AUTH " + mech + " REDACTED"
		}
	}
	if args == "" {
		return verb
	}
	return verb + " " + args
}

func (ss *session) command(line string) error {
	verb, args, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	ss.s.record(ss.id, redactCommand(verb, args))
	if o := &ss.s.opts; ss.authed != "" && o.DropAfter > 0 {
		if ss.commands++; ss.commands > o.DropAfter {
			if o.DropText != "" {
				ss.errf("%s", o.DropText)
			}
			return errClose
		}
	}
	if f := ss.s.fault(verb, args); f != nil {
		return ss.applyFault(f, args)
	}
	if verb == "UTF8" {
		return ss.utf8Cmd()
	}
	if ss.authed == "" {
		switch verb {
		case "CAPA":
			return ss.capa()
		case "STLS":
			return ss.stls()
		case "USER":
			return ss.userCmd(args)
		case "PASS":
			return ss.pass(args)
		case "APOP":
			return ss.apop(args)
		case "AUTH":
			return ss.auth(args)
		case "QUIT":
			ss.ok("pop3test signing off")
			return errClose
		}
		return ss.errf("unknown command or not allowed before login: %s", sanitize(verb))
	}
	switch verb {
	case "CAPA":
		return ss.capa()
	case "STAT":
		n, size := 0, int64(0)
		for _, m := range ss.msgs {
			if !m.deleted {
				n++
				size += m.size + ss.s.opts.SizeDelta
			}
		}
		return ss.ok(fmt.Sprintf("%d %d", n, size))
	case "LIST":
		return ss.list(args)
	case "UIDL":
		if ss.s.opts.NoUIDL {
			return ss.errf("UIDL not supported")
		}
		return ss.uidl(args)
	case "RETR":
		n, err := ss.msgArg(args)
		if err != nil {
			return ss.errf("%v", err)
		}
		return ss.retr(n, -1, nil)
	case "TOP":
		if ss.s.opts.NoTOP {
			return ss.errf("TOP not supported")
		}
		a, b, _ := strings.Cut(args, " ")
		n, err := ss.msgArg(a)
		if err != nil {
			return ss.errf("%v", err)
		}
		k, err := strconv.Atoi(b)
		if err != nil || k < 0 {
			return ss.errf("TOP needs a non-negative line count")
		}
		return ss.retr(n, k, nil)
	case "DELE":
		n, err := ss.msgArg(args)
		if err != nil {
			return ss.errf("%v", err)
		}
		ss.msgs[n-1].deleted = true
		return ss.ok(fmt.Sprintf("message %d deleted", n))
	case "NOOP":
		return ss.ok("")
	case "RSET":
		for i := range ss.msgs {
			ss.msgs[i].deleted = false
		}
		return ss.ok(fmt.Sprintf("maildrop has %d messages", len(ss.msgs)))
	case "QUIT":
		return ss.quit()
	}
	return ss.errf("unknown command: %s", sanitize(verb))
}

func sanitize(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// msgArg parses a message number that names an existing, undeleted message.
func (ss *session) msgArg(a string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(a))
	if err != nil || n < 1 {
		return 0, errors.New("invalid message number")
	}
	if n > len(ss.msgs) {
		return 0, errors.New("no such message")
	}
	if ss.msgs[n-1].deleted {
		return 0, errors.New("message is deleted")
	}
	return n, nil
}

func (ss *session) capa() error {
	o := &ss.s.opts
	if o.NoCAPA {
		return ss.errf("unknown command: CAPA")
	}
	lines := []string{"RESP-CODES", "AUTH-RESP-CODE"}
	if !o.NoTOP {
		lines = append(lines, "TOP")
	}
	if !o.NoUIDL {
		lines = append(lines, "UIDL")
	}
	if !o.NoPipelining {
		lines = append(lines, "PIPELINING")
	}
	if o.UTF8 && (ss.authed != "" || !o.UTF8AfterLogin) {
		lines = append(lines, "UTF8 USER")
	}
	if ss.authed == "" {
		if !o.NoUser {
			lines = append(lines, "USER")
		}
		if mechs := ss.mechs(); len(mechs) > 0 {
			lines = append(lines, "SASL "+strings.Join(mechs, " "))
		}
		if !o.NoSTLS && !ss.isTLS {
			lines = append(lines, "STLS")
		}
	}
	lines = append(lines, "EXPIRE NEVER", "IMPLEMENTATION pop3test")
	return ss.multiline("capability list follows", lines)
}

func (ss *session) mechs() []string {
	if ss.s.opts.SASL != nil {
		return ss.s.opts.SASL
	}
	return []string{"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"}
}

func (ss *session) stls() error {
	if ss.s.opts.NoSTLS {
		return ss.errf("unknown command: STLS")
	}
	if ss.isTLS {
		return ss.errf("TLS already active")
	}
	if err := ss.ok("begin TLS negotiation"); err != nil {
		return err
	}
	if err := ss.bw.Flush(); err != nil {
		return err
	}
	// Anything the client pipelined after STLS is discarded (RFC 2595
	// forbids it; keeping it would allow plaintext command injection).
	tc := tls.Server(ss.conn, ss.s.tlsCfg)
	_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.HandshakeContext(ss.ctx()); err != nil {
		return errClose
	}
	_ = tc.SetDeadline(time.Time{})
	ss.setConn(tc)
	return nil
}

func (ss *session) tlsRequired() bool { return ss.s.opts.RequireTLS && !ss.isTLS }

func (ss *session) userCmd(name string) error {
	if ss.s.opts.NoUser {
		return ss.errf("USER not supported")
	}
	if ss.tlsRequired() {
		return ss.errf("[AUTH] TLS required: use STLS first")
	}
	if name == "" {
		return ss.errf("USER needs a name")
	}
	if err := ss.checkUTF8Arg(name); err != nil {
		return err
	}
	ss.user = name
	return ss.ok("send PASS")
}

func (ss *session) pass(pw string) error {
	if ss.s.opts.NoUser {
		return ss.errf("PASS not supported")
	}
	if ss.tlsRequired() {
		return ss.errf("[AUTH] TLS required: use STLS first")
	}
	if ss.user == "" {
		return ss.errf("USER first")
	}
	if err := ss.checkUTF8Arg(pw); err != nil {
		return err
	}
	user := ss.user
	ss.user = ""
	want, ok := ss.s.users[user]
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(pw)) != 1 {
		return ss.errf("[AUTH] invalid user name or password")
	}
	return ss.login(user)
}

func (ss *session) apop(args string) error {
	if ss.s.opts.NoAPOP || ss.timestamp == "" {
		return ss.errf("APOP not supported")
	}
	if ss.tlsRequired() {
		return ss.errf("[AUTH] TLS required: use STLS first")
	}
	user, digest, _ := strings.Cut(args, " ")
	if err := ss.checkUTF8Arg(user); err != nil {
		return err
	}
	want, ok := ss.s.users[user]
	sum := md5.Sum([]byte(ss.timestamp + want))
	if !ok || subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(digest))) != 1 {
		return ss.errf("[AUTH] APOP authentication failed")
	}
	return ss.login(user)
}

// login enters the TRANSACTION state for an authenticated user.
func (ss *session) login(user string) error {
	if e := ss.s.opts.LoginError; e != "" {
		return ss.errf("%s", e)
	}
	if !ss.s.lock(user) {
		return ss.errf("[IN-USE] maildrop of %s is locked by another session", sanitize(user))
	}
	var msgs []msgEntry
	for m, err := range ss.s.mb.List(ss.ctx(), mailaccess.Inbox, nil) {
		if err != nil {
			ss.s.unlock(user)
			return ss.errf("[SYS/TEMP] cannot read maildrop")
		}
		uid := string(m.ID())
		if ss.s.opts.IDs != nil {
			uid = ss.s.opts.IDs(m.ID())
		}
		size := m.Size()
		if ss.s.opts.LFSizes {
			if size, err = ss.lfSize(m.ID()); err != nil {
				ss.s.unlock(user)
				return ss.errf("[SYS/TEMP] cannot read maildrop")
			}
		}
		msgs = append(msgs, msgEntry{id: m.ID(), uid: uid, size: size})
	}
	ss.msgs = msgs
	ss.authed = user
	return ss.ok(fmt.Sprintf("%s has %d messages", sanitize(user), len(msgs)))
}

// lfSize is the size of message id with CRLF counted as one octet
// (Options.LFSizes).
func (ss *session) lfSize(id mailaccess.ID) (int64, error) {
	rc, err := ss.s.mb.Open(ss.ctx(), mailaccess.Inbox, id, nil)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return int64(len(b) - bytes.Count(b, []byte("\r\n"))), err
}

func (ss *session) auth(args string) error {
	mechs := ss.mechs()
	if args == "" {
		return ss.multiline("SASL mechanisms follow", mechs)
	}
	if ss.tlsRequired() {
		return ss.errf("[AUTH] TLS required: use STLS first")
	}
	mech, ir, hasIR := strings.Cut(args, " ")
	mech = strings.ToUpper(mech)
	if !slices.Contains(mechs, mech) {
		return ss.errf("unsupported SASL mechanism %s", sanitize(mech))
	}
	// next returns the next client response, decoded.
	first := true
	next := func(challenge string) ([]byte, error) {
		var line string
		if first && hasIR {
			line = ir
		} else {
			if err := ss.plainWrite("+ " + challenge + "\r\n"); err != nil {
				return nil, err
			}
			l, err := ss.readLine()
			if err != nil {
				return nil, err
			}
			ss.s.record(ss.id, "REDACTED")
			line = l
		}
		first = false
		if line == "*" {
			return nil, errCancelled
		}
		if line == "=" {
			return []byte{}, nil
		}
		b, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return nil, errBadBase64
		}
		return b, nil
	}
	user, err := ss.sasl(mech, next)
	switch {
	case errors.Is(err, errCancelled):
		return ss.errf("authentication cancelled")
	case errors.Is(err, errBadBase64):
		return ss.errf("invalid base64 in SASL response")
	case errors.Is(err, errAuthFailed):
		return ss.errf("[AUTH] authentication failed")
	case err != nil:
		return err
	}
	return ss.login(user)
}

var (
	errCancelled  = errors.New("cancelled")
	errBadBase64  = errors.New("bad base64")
	errAuthFailed = errors.New("auth failed")
)

func (ss *session) plainWrite(s string) error {
	ss.delay()
	ss.beforeStatus()
	if _, err := ss.bw.WriteString(s); err != nil {
		return err
	}
	return ss.bw.Flush()
}

func (ss *session) checkPassword(user, pw string) bool {
	want, ok := ss.s.users[user]
	return ok && subtle.ConstantTimeCompare([]byte(want), []byte(pw)) == 1
}

func (ss *session) checkToken(user, tok string) bool {
	want, ok := ss.s.opts.Tokens[user]
	return ok && want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(tok)) == 1
}

// sasl runs one SASL exchange and returns the authenticated user.
func (ss *session) sasl(mech string, next func(challenge string) ([]byte, error)) (string, error) {
	switch mech {
	case "PLAIN":
		b, err := next("")
		if err != nil {
			return "", err
		}
		parts := strings.Split(string(b), "\x00")
		if len(parts) != 3 || (parts[0] != "" && parts[0] != parts[1]) || !ss.checkPassword(parts[1], parts[2]) {
			return "", errAuthFailed
		}
		return parts[1], nil
	case "LOGIN":
		u, err := next(base64.StdEncoding.EncodeToString([]byte("Username:")))
		if err != nil {
			return "", err
		}
		p, err := next(base64.StdEncoding.EncodeToString([]byte("Password:")))
		if err != nil {
			return "", err
		}
		if !ss.checkPassword(string(u), string(p)) {
			return "", errAuthFailed
		}
		return string(u), nil
	case "XOAUTH2":
		b, err := next("")
		if err != nil {
			return "", err
		}
		var user, tok string
		for _, f := range strings.Split(string(b), "\x01") {
			if v, ok := strings.CutPrefix(f, "user="); ok {
				user = v
			} else if v, ok := strings.CutPrefix(f, "auth=Bearer "); ok {
				tok = v
			}
		}
		if !ss.checkToken(user, tok) {
			// Google/Microsoft style: a JSON error as a challenge, the
			// client answers with an empty response, then the failure.
			js := `{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`
			if _, err := next(base64.StdEncoding.EncodeToString([]byte(js))); err != nil && !errors.Is(err, errCancelled) {
				return "", err
			}
			return "", errAuthFailed
		}
		return user, nil
	case "OAUTHBEARER":
		b, err := next("")
		if err != nil {
			return "", err
		}
		gs2, rest, _ := strings.Cut(string(b), "\x01")
		var user, tok string
		for _, f := range strings.Split(gs2, ",") {
			if v, ok := strings.CutPrefix(f, "a="); ok {
				user = v
			}
		}
		for _, f := range strings.Split(rest, "\x01") {
			if v, ok := strings.CutPrefix(f, "auth=Bearer "); ok {
				tok = v
			}
		}
		if !ss.checkToken(user, tok) {
			js := `{"status":"invalid_token","scope":"mail"}`
			if _, err := next(base64.StdEncoding.EncodeToString([]byte(js))); err != nil && !errors.Is(err, errCancelled) {
				return "", err
			}
			return "", errAuthFailed
		}
		return user, nil
	}
	return "", errAuthFailed
}

func (ss *session) list(args string) error {
	if args != "" {
		n, err := ss.msgArg(args)
		if err != nil {
			return ss.errf("%v", err)
		}
		return ss.ok(fmt.Sprintf("%d %d", n, ss.msgs[n-1].size+ss.s.opts.SizeDelta))
	}
	if err := ss.ok("scan listing follows"); err != nil {
		return err
	}
	var b []byte
	for i, m := range ss.msgs {
		if m.deleted {
			continue
		}
		b = strconv.AppendInt(b[:0], int64(i+1), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, m.size+ss.s.opts.SizeDelta, 10)
		b = append(b, '\r', '\n')
		if _, err := ss.bw.Write(b); err != nil {
			return err
		}
	}
	_, err := ss.bw.WriteString(".\r\n")
	return err
}

func (ss *session) uidl(args string) error {
	if args != "" {
		n, err := ss.msgArg(args)
		if err != nil {
			return ss.errf("%v", err)
		}
		return ss.ok(fmt.Sprintf("%d %s", n, ss.msgs[n-1].uid))
	}
	if err := ss.ok("unique-id listing follows"); err != nil {
		return err
	}
	for i, m := range ss.msgs {
		if m.deleted {
			continue
		}
		ss.bw.WriteString(strconv.Itoa(i + 1))
		ss.bw.WriteByte(' ')
		ss.bw.WriteString(m.uid)
		if _, err := ss.bw.WriteString("\r\n"); err != nil {
			return err
		}
	}
	_, err := ss.bw.WriteString(".\r\n")
	return err
}

// retr sends message n whole (lines < 0) or its header and the first lines
// body lines (TOP). A drop fault cuts it after drop.After bytes.
func (ss *session) retr(n, lines int, drop *Fault) error {
	m := ss.msgs[n-1]
	rc, err := ss.s.mb.Open(ss.ctx(), mailaccess.Inbox, m.id, nil)
	if err != nil {
		if errors.Is(err, mailaccess.ErrNotFound) {
			return ss.errf("no such message: it was removed")
		}
		return ss.errf("[SYS/TEMP] cannot read message")
	}
	defer rc.Close()
	var src io.Reader = rc
	if ss.s.opts.UTF8 && !ss.utf8 {
		br := bufio.NewReaderSize(rc, maxDowngradeHeader)
		if header8bit(br) {
			src = strings.NewReader(downgradeNotice)
		} else {
			src = br
		}
	}
	if ss.s.opts.XUIDL {
		whole, err := io.ReadAll(src)
		if err != nil {
			return errClose
		}
		src = bytes.NewReader(insertXUIDL(whole, m.uid))
	}
	if f := ss.s.opts.Footer; f != "" && lines < 0 {
		src = io.MultiReader(src, strings.NewReader(f))
	}
	if err := ss.ok(fmt.Sprintf("%d octets", m.size+ss.s.opts.SizeDelta)); err != nil {
		return err
	}
	var w io.Writer = ss.bw
	if drop != nil {
		w = &cutWriter{w: ss.bw, left: drop.After}
	}
	dw := &dotWriter{w: w, atLineStart: true}
	var dst io.Writer = dw
	if lines >= 0 {
		dst = &topWriter{w: dw, lines: lines, inHeader: true}
	}
	buf := make([]byte, 32<<10)
	_, err = io.CopyBuffer(dst, onlyReader{src}, buf)
	if err != nil && !errors.Is(err, errTopDone) {
		if errors.Is(err, errCut) {
			_ = ss.bw.Flush()
			return errClose
		}
		// The backing store failed mid-message, or the client went away:
		// there is no way to report it in POP3 but closing.
		return errClose
	}
	if !dw.atLineStart {
		if _, err := w.Write([]byte("\r\n")); err != nil {
			return closeOnCut(ss, err)
		}
	}
	if _, err := w.Write([]byte(".\r\n")); err != nil {
		return closeOnCut(ss, err)
	}
	return nil
}

// insertXUIDL returns msg with the field "X-UIDL: uid" added as the last
// line of its header, unless the header has an X-UIDL field already
// (Options.XUIDL).
func insertXUIDL(msg []byte, uid string) []byte {
	end := len(msg)
	lineEnd := "\r\n"
	for i := 0; i < len(msg); {
		j := bytes.IndexByte(msg[i:], '\n')
		if j < 0 {
			break
		}
		line := msg[i : i+j+1]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			end = i
			if !bytes.HasSuffix(line, []byte("\r\n")) {
				lineEnd = "\n"
			}
			break
		}
		if len(line) >= 7 && strings.EqualFold(string(line[:7]), "X-UIDL:") {
			return msg
		}
		i += j + 1
	}
	out := make([]byte, 0, len(msg)+len(uid)+10)
	out = append(out, msg[:end]...)
	out = append(out, "X-UIDL: "+uid+lineEnd...)
	return append(out, msg[end:]...)
}

func closeOnCut(ss *session, err error) error {
	if errors.Is(err, errCut) {
		_ = ss.bw.Flush()
	}
	return errClose
}

// onlyReader hides WriterTo/ReaderFrom so CopyBuffer uses our buffer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

var errCut = errors.New("connection cut by fault")

// cutWriter passes left bytes, then fails.
type cutWriter struct {
	w    io.Writer
	left int64
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= c.left {
		n, err := c.w.Write(p)
		c.left -= int64(n)
		return n, err
	}
	n, err := c.w.Write(p[:c.left])
	c.left -= int64(n)
	if err != nil {
		return n, err
	}
	return n, errCut
}

// dotWriter dot-stuffs a stream: a '.' at the start of a line (after any
// LF) is doubled. Line ends are passed through unchanged.
type dotWriter struct {
	w           io.Writer
	atLineStart bool
}

func (d *dotWriter) Write(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		if d.atLineStart && p[0] == '.' {
			if _, err := d.w.Write([]byte{'.'}); err != nil {
				return total, err
			}
		}
		seg := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			seg = p[:i+1]
			d.atLineStart = true
		} else {
			d.atLineStart = false
		}
		n, err := d.w.Write(seg)
		total += n
		if err != nil {
			return total, err
		}
		p = p[len(seg):]
	}
	return total, nil
}

var errTopDone = errors.New("top done")

// topWriter passes the header, the blank line and then lines body lines.
type topWriter struct {
	w        io.Writer
	lines    int
	inHeader bool
	lineLen  int  // bytes of the current line so far
	firstCR  bool // the current line starts with CR
	done     bool
}

func (t *topWriter) Write(p []byte) (int, error) {
	if t.done {
		return 0, errTopDone
	}
	if !t.inHeader && t.lines == 0 {
		t.done = true
		return 0, errTopDone
	}
	total := 0
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if t.lineLen == 0 && p[0] == '\r' {
				t.firstCR = true
			}
			t.lineLen += len(p)
			n, err := t.w.Write(p)
			return total + n, err
		}
		seg := p[:i+1]
		if t.lineLen == 0 && seg[0] == '\r' {
			t.firstCR = true
		}
		content := t.lineLen + len(seg) - 1 // bytes before the LF
		blank := content == 0 || (content == 1 && t.firstCR)
		n, err := t.w.Write(seg)
		total += n
		if err != nil {
			return total, err
		}
		p = p[len(seg):]
		t.lineLen, t.firstCR = 0, false
		if t.inHeader {
			if blank {
				t.inHeader = false
				if t.lines == 0 {
					t.done = true
					return total, errTopDone
				}
			}
			continue
		}
		t.lines--
		if t.lines == 0 {
			t.done = true
			return total, errTopDone
		}
	}
	return total, nil
}

func (ss *session) quit() error {
	var ids []mailaccess.ID
	for _, m := range ss.msgs {
		if m.deleted {
			ids = append(ids, m.id)
		}
	}
	user := ss.authed
	var err error
	if len(ids) > 0 {
		err = ss.s.mb.Delete(ss.ctx(), mailaccess.Inbox, ids...)
		if err == nil {
			err = mailaccess.Commit(ss.ctx(), ss.s.mb)
		}
		if err == nil {
			ss.s.mu.Lock()
			ss.s.commits++
			ss.s.mu.Unlock()
		}
	}
	// Release the maildrop before answering, so a client that reconnects
	// as soon as it reads the answer is not told the maildrop is in use.
	ss.authed = ""
	ss.s.unlock(user)
	if err != nil {
		ss.errf("[SYS/PERM] some deleted messages not removed")
		return errClose
	}
	ss.ok(fmt.Sprintf("pop3test signing off (%d messages deleted)", len(ids)))
	return errClose
}

// applyFault replaces the answer to a command by f's misbehaviour.
func (ss *session) applyFault(f *Fault, args string) error {
	switch f.Action {
	case FaultDrop:
		verb := strings.ToUpper(f.Command)
		if ss.authed != "" && (verb == "RETR" || verb == "TOP") {
			a, b, _ := strings.Cut(args, " ")
			n, err := ss.msgArg(a)
			if err == nil {
				k := -1
				if verb == "TOP" {
					k, _ = strconv.Atoi(b)
				}
				ss.retr(n, k, f)
			}
		}
		_ = ss.bw.Flush()
		return errClose
	case FaultGarbage:
		t := f.Text
		if t == "" {
			t = "GARBAGE \x01\x02 this is neither +OK nor -ERR"
		}
		ss.delay()
		_, err := ss.bw.WriteString(t + "\r\n")
		return err
	case FaultEndlessLine:
		ss.delay()
		ss.bw.WriteString("+OK ")
		return ss.endless([]byte(strings.Repeat("x", 16<<10)))
	case FaultEndlessBody:
		ss.delay()
		ss.bw.WriteString("+OK here it comes\r\n")
		return ss.endless([]byte(strings.Repeat("this body never ends\r\n", 700)))
	case FaultError:
		return ss.errf("%s", f.Text)
	case FaultEndlessListing:
		ss.delay()
		return ss.endlessListing(strings.ToUpper(f.Command), f)
	}
	return nil
}

// endless writes chunk until the connection fails or the server closes.
func (ss *session) endless(chunk []byte) error {
	for ss.ctx().Err() == nil {
		if _, err := ss.bw.Write(chunk); err != nil {
			return errClose
		}
	}
	return errClose
}

// maxDowngradeHeader bounds the header examined for 8-bit bytes.
const maxDowngradeHeader = 64 << 10

// downgradeNotice replaces a message with an internationalised header for a
// session that did not enable UTF8 (Options.UTF8).
const downgradeNotice = "Subject: message not displayed\r\n\r\n" +
	"This message has a header in UTF-8; use a client that sends UTF8 (RFC 6856).\r\n"

// header8bit reports whether the header at the start of br (up to the first
// blank line, or maxDowngradeHeader bytes) has a byte above 0x7F. It only
// peeks: br still yields the whole message.
func header8bit(br *bufio.Reader) bool {
	b, _ := br.Peek(maxDowngradeHeader)
	if i := bytes.Index(b, []byte("\n\r\n")); i >= 0 {
		b = b[:i]
	} else if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		b = b[:i]
	}
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// utf8Cmd handles UTF8 (RFC 6856), accepted before and after login.
func (ss *session) utf8Cmd() error {
	if !ss.s.opts.UTF8 {
		return ss.errf("unknown command: UTF8")
	}
	ss.utf8 = true
	return ss.ok("UTF-8 mode enabled")
}

// checkUTF8Arg refuses a USER, PASS or APOP argument with bytes above 0x7F
// before UTF8 on a server that offers UTF8 (Options.UTF8).
func (ss *session) checkUTF8Arg(arg string) error {
	if !ss.s.opts.UTF8 || ss.utf8 {
		return nil
	}
	for i := 0; i < len(arg); i++ {
		if arg[i] >= 0x80 {
			return ss.errf("[AUTH] UTF-8 in a user name or password needs the UTF8 command first")
		}
	}
	return nil
}

// endlessListing answers "+OK" and then listing lines for verb forever
// (FaultEndlessListing), flushing each line when f.Interval is set.
func (ss *session) endlessListing(verb string, f *Fault) error {
	if err := ss.ok("listing follows"); err != nil {
		return errClose
	}
	var b []byte
	for i := 1; ss.ctx().Err() == nil; i++ {
		b = b[:0]
		switch verb {
		case "LIST":
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, " 1000"...)
		case "UIDL":
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, " u"...)
			b = strconv.AppendInt(b, int64(i), 10)
		default:
			b = append(b, "X-CAPA-"...)
			b = strconv.AppendInt(b, int64(i), 10)
		}
		b = append(b, '\r', '\n')
		if f.Interval > 0 {
			t := time.NewTimer(f.Interval)
			select {
			case <-t.C:
			case <-ss.ctx().Done():
				t.Stop()
				return errClose
			}
		}
		if _, err := ss.bw.Write(b); err != nil {
			return errClose
		}
		if f.Interval > 0 && ss.bw.Flush() != nil {
			return errClose
		}
	}
	return errClose
}
