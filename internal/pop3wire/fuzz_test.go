package pop3wire

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

func FuzzStatusLine(f *testing.F) {
	for _, s := range []string{"+OK", "-ERR [IN-USE] x", "+ Zm9v", "-ERR [", "+OKAY", "-ERR [A/B/C] t"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		st, err := parseStatus(line)
		if err != nil {
			return
		}
		if st.kind != statusOK && st.kind != statusErr && st.kind != statusCont {
			t.Fatalf("bad kind %d", st.kind)
		}
		if len(st.code) > maxCodeLength {
			t.Fatalf("code too long")
		}
		e := &Error{Code: st.code, Text: sanitize(st.text)}
		_ = e.Error()
		if len(e.Text) > maxErrText*3 {
			t.Fatalf("text not bounded: %d", len(e.Text))
		}
		for _, c := range []byte(e.Text) {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("control char in %q", e.Text)
			}
		}
	})
}

func FuzzMultiline(f *testing.F) {
	for _, s := range []string{"1 120\r\n2 200\r\n.\r\n", "1 abc\r\n.\r\n", "..\r\n.\r\n", "garbage", "1 99999999999999999999\r\n.\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func([]byte) error{
			func(l []byte) error { _, err := parseListLine(l); return err },
			func(l []byte) error {
				u, err := parseUIDLLine(l)
				if err == nil && (len(u.UID) < 1 || len(u.UID) > 70 || u.Num <= 0) {
					t.Fatalf("invalid UID accepted: %+v", u)
				}
				return err
			},
			func(l []byte) error { var c Capabilities; c.parseCapaLine(l); return nil },
		} {
			br := bufio.NewReaderSize(bytes.NewReader(data), 16)
			_ = readMultiline(br, parse)
		}
	})
}

func FuzzDotUnstuff(f *testing.F) {
	for _, s := range []string{"", ".", "..", ".\r\n", "a\r\n.\r\nb", "a\n.\n", "\r\n.\r", ".x\r\n..y\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		wire, want := stuff(data)
		for _, size := range []int{16, 4096} {
			br := bufio.NewReaderSize(bytes.NewReader(wire), size)
			got, err := io.ReadAll(newDotReader(br))
			if err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("size %d: round trip mismatch:\n got %q\nwant %q", size, got, want)
			}
			if br.Buffered() != 0 {
				t.Fatalf("read past terminator")
			}
		}
	})
}
