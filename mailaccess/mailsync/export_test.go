package mailsync

import (
	"context"
	"encoding/json"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// TestEntry is one entry of a folder's state, for tests in package
// mailsync_test.
type TestEntry struct {
	Src, Dst         string
	Size             int64
	Flags            []string
	Deleted, Pending bool
	Print            string
	UID              uint32
}

// TestState is a folder's state as tests see it.
type TestState struct {
	Version     int
	Mode        string
	UIDValidity uint32
	Clean, Open bool
	Msgs        []TestEntry
}

// LoadStateForTest loads a folder's whole state as the engine does.
func LoadStateForTest(ctx context.Context, ss StateStore, account, folder string) (TestState, error) {
	head, _, err := readHead(ctx, ss, account, folder)
	if err != nil || head == nil {
		return TestState{}, err
	}
	st, err := loadState(ctx, ss, account, folder)
	if err != nil {
		return TestState{}, err
	}
	ts := TestState{Version: head.Version, Mode: string(st.Mode), UIDValidity: st.UIDValidity, Clean: st.Clean, Open: st.Open}
	for _, m := range st.Msgs {
		ts.Msgs = append(ts.Msgs, TestEntry{Src: string(m.Src), Dst: string(m.Dst), Size: m.Size, Flags: m.Flags,
			Deleted: m.Deleted, Pending: m.Pending, Print: m.Print, UID: m.UID})
	}
	return ts, nil
}

// EditStateForTest loads a folder's state, lets edit change every entry
// (returning false drops it), and saves it whole.
func EditStateForTest(ctx context.Context, ss StateStore, account, folder string, edit func(e *TestEntry) bool) error {
	st, err := loadState(ctx, ss, account, folder)
	if err != nil {
		return err
	}
	var msgs []stateMsg
	for _, m := range st.Msgs {
		e := TestEntry{Src: string(m.Src), Dst: string(m.Dst), Size: m.Size, Flags: m.Flags,
			Deleted: m.Deleted, Pending: m.Pending, Print: m.Print, UID: m.UID}
		if !edit(&e) {
			continue
		}
		m.Src, m.Dst, m.Size, m.Flags, m.Deleted, m.Pending, m.Print, m.UID = idOf(e.Src), idOf(e.Dst), e.Size, e.Flags, e.Deleted, e.Pending, e.Print, e.UID
		msgs = append(msgs, m)
	}
	st.replaceAll(msgs)
	return st.save(ctx, ss)
}

// WriteLegacyStateForTest rewrites a folder's state as a record of an
// older version (1 or 2): one JSON object, every message in "msgs", each
// source ID mapped by src.
func WriteLegacyStateForTest(ctx context.Context, ss StateStore, account, folder string, version int, src func(string) string) error {
	st, err := loadState(ctx, ss, account, folder)
	if err != nil {
		return err
	}
	// The fields of a version 2 record, in its order ("msgs" last).
	type v2 struct {
		Version     int        `json:"v"`
		Account     string     `json:"account"`
		Folder      string     `json:"folder"`
		Dest        string     `json:"dest"`
		Mode        idMode     `json:"mode"`
		UIDValidity uint32     `json:"uidvalidity,omitempty"`
		UIDNext     uint32     `json:"uidnext,omitempty"`
		ModSeq      uint64     `json:"modseq,omitempty"`
		Count       int        `json:"count"`
		Clean       bool       `json:"clean,omitempty"`
		Msgs        []stateMsg `json:"msgs"`
	}
	rec := v2{Version: version, Account: st.Account, Folder: st.Folder, Dest: st.Dest, Mode: st.Mode,
		UIDValidity: st.UIDValidity, UIDNext: st.UIDNext, ModSeq: st.ModSeq, Count: st.Count, Clean: st.Clean}
	for _, m := range st.Msgs {
		m.Src, m.UID = idOf(src(string(m.Src))), 0
		rec.Msgs = append(rec.Msgs, m)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return ss.Save(ctx, stateKey(account, folder), b)
}

func idOf(s string) mailaccess.ID { return mailaccess.ID(s) }
