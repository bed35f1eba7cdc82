package imap

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
	"github.com/mailaccess/go-mailaccess/mailaccess/mailmime"
)

// Structure asks the server for the message's BODYSTRUCTURE (UID FETCH uid
// BODYSTRUCTURE: the body is not sent) and returns it as a part tree.
//
// Servers send broken BODYSTRUCTUREs: Gmail describes a nested multipart
// that reuses its parent's boundary without a subtype, and an attached
// message whose body is base64 without its envelope; Exchange sends a
// disposition as a bare string ("inline") or as (NIL NIL), and a
// Content-Description where a multipart's disposition belongs; Domino
// sends an attached message with an empty body "()"; others send NIL
// parameter values or a multipart described as a single part. go-imap
// cannot parse most of these, and drops the connection. Whenever the
// description cannot be used, the driver reads the message instead
// (BODY.PEEK[], streamed through package mailmime, ParseStructure) and
// says so in the root's PartInfo.Problem: Structure fails only if the
// message cannot be read either.
func (m *Mailbox) Structure(ctx context.Context, folder string, id mailaccess.ID) (*mailaccess.PartInfo, error) {
	folder, err := m.folderName(folder)
	if err != nil {
		return nil, m.opErr("structure", folder, err)
	}
	epoch, uids, err := fetchUIDs([]mailaccess.ID{id})
	if err != nil {
		return nil, m.opErr("structure", folder, err)
	}
	var (
		bs    imap.BodyStructure
		found bool
		sent  bool
	)
	err = m.do(ctx, "structure", folder, selRead, func(c *conn) error {
		if err := checkFetchEpoch(c, epoch); err != nil {
			return err
		}
		sent = true
		cmd := startFetchCmd(c, imap.UIDSetNum(uids[0]), &imap.FetchOptions{UID: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true}})
		defer cmd.Close()
		for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
			var uid imap.UID
			var got imap.BodyStructure
			for item := fm.Next(); item != nil; item = fm.Next() {
				switch it := item.(type) {
				case imapclient.FetchItemDataUID:
					uid = it.UID
				case imapclient.FetchItemDataBodyStructure:
					got = it.BodyStructure
				}
			}
			if uid == uids[0] {
				found, bs = true, got
			}
		}
		return cmd.Close()
	})
	switch {
	case err != nil && sent && retryable(ctx, err):
		return m.structureByReading(ctx, folder, id, fmt.Sprintf("the server's BODYSTRUCTURE could not be read (%v)", cause(err)))
	case err != nil:
		return nil, err
	case !found:
		return nil, m.opErr("structure", folder, fmt.Errorf("message %s: %w", id, mailaccess.ErrNotFound))
	case bs == nil:
		return m.structureByReading(ctx, folder, id, "the server sent no BODYSTRUCTURE")
	}
	p, problem := structureOf(bs)
	if problem != "" {
		return m.structureByReading(ctx, folder, id, problem)
	}
	m.described.note(folder, epoch, uids[0], p)
	return p, nil
}

// structureByReading describes the message by reading it, noting why.
func (m *Mailbox) structureByReading(ctx context.Context, folder string, id mailaccess.ID, why string) (*mailaccess.PartInfo, error) {
	m.cfg.Log().Warn("imap: BODYSTRUCTURE unusable; reading the message to describe it", "folder", folder, "id", id, "why", why)
	p, err := driver.StructureByReading(ctx, m, folder, id)
	if err != nil {
		return nil, m.opErr("structure", folder, err)
	}
	p.Problem = joinProblem(why+": the structure was read from the message", p.Problem)
	return p, nil
}

// cause is the cause of an OpError, for quoting it in another message.
func cause(err error) error {
	var oe *mailaccess.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

func joinProblem(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

// structureOf converts a BODYSTRUCTURE into a part tree, described as
// package mailmime describes a message it parses. It returns a problem,
// and no tree, when the description makes no sense, so that the caller
// reads the message instead.
func structureOf(bs imap.BodyStructure) (*mailaccess.PartInfo, string) {
	conv := &bsConverter{}
	var path []int
	if _, ok := bs.(*imap.BodyStructureSinglePart); ok {
		path = []int{1}
	}
	p := conv.part(bs, path, true)
	if conv.problem != "" {
		return nil, conv.problem
	}
	return p, ""
}

type bsConverter struct {
	parts   int
	problem string
}

func (cv *bsConverter) fail(format string, args ...any) *mailaccess.PartInfo {
	if cv.problem == "" {
		cv.problem = "unusable BODYSTRUCTURE: " + fmt.Sprintf(format, args...)
	}
	return nil
}

func (cv *bsConverter) part(bs imap.BodyStructure, path []int, root bool) *mailaccess.PartInfo {
	if cv.parts++; cv.parts > mailmime.DefaultMaxParts {
		return cv.fail("more than %d parts", mailmime.DefaultMaxParts)
	}
	switch b := bs.(type) {
	case *imap.BodyStructureMultiPart:
		sub := strings.ToLower(strings.TrimSpace(b.Subtype))
		if sub == "" || len(b.Children) == 0 {
			return cv.fail("part %q: a multipart without subtype or parts", mailaccess.PathString(path))
		}
		var params map[string]string
		var disp *imap.BodyStructureDisposition
		if b.Extended != nil {
			params, disp = b.Extended.Params, b.Extended.Disposition
		}
		p := describe(path, "multipart", sub, params, disp, "", "", "")
		if len(path) >= mailmime.DefaultMaxDepth {
			p.Problem = fmt.Sprintf("multipart nested deeper than %d levels: not descended into", mailmime.DefaultMaxDepth)
			return p
		}
		for i, child := range b.Children {
			cp := cv.part(child, append(slices.Clone(path), i+1), false)
			if cp == nil {
				return nil
			}
			p.Parts = append(p.Parts, cp)
		}
		return p
	case *imap.BodyStructureSinglePart:
		typ := strings.ToLower(strings.TrimSpace(b.Type))
		sub := strings.ToLower(strings.TrimSpace(b.Subtype))
		switch {
		case typ == "" && sub == "":
			typ, sub = "text", "plain" // no Content-Type (some servers send "" "")
		case typ == "" || sub == "" || strings.ContainsAny(typ+sub, " /;\"()"):
			return cv.fail("part %q has the media type %q/%q", mailaccess.PathString(path), b.Type, b.Subtype)
		case typ == "multipart":
			return cv.fail("part %q: a multipart/%s described as a single part", mailaccess.PathString(path), sub)
		}
		var disp *imap.BodyStructureDisposition
		if b.Extended != nil {
			disp = b.Extended.Disposition
		}
		p := describe(path, typ, sub, b.Params, disp, b.Encoding, b.ID, b.Description)
		p.Size = int64(b.Size)
		return p
	}
	return cv.fail("part %q of unknown kind %T", mailaccess.PathString(path), bs)
}

// describe builds a part's description from BODYSTRUCTURE fields by
// writing them as the MIME header they came from and letting package
// mailmime describe that header: one normalisation (charset default,
// RFC 2231 parameters joined and decoded, file names made safe) for every
// driver.
func describe(path []int, typ, sub string, params map[string]string, disp *imap.BodyStructureDisposition, encoding, id, description string) *mailaccess.PartInfo {
	var kv []string
	ct := mime.FormatMediaType(typ+"/"+sub, params)
	if ct == "" {
		ct = mime.FormatMediaType(typ+"/"+sub, nil)
	}
	kv = append(kv, "Content-Type", ct)
	if encoding != "" {
		kv = append(kv, "Content-Transfer-Encoding", encoding)
	}
	if disp != nil && disp.Value != "" {
		d := mime.FormatMediaType(disp.Value, disp.Params)
		if d == "" {
			d = mime.FormatMediaType(disp.Value, nil)
		}
		kv = append(kv, "Content-Disposition", d)
	}
	if id != "" {
		kv = append(kv, "Content-Id", id)
	}
	if description != "" {
		kv = append(kv, "Content-Description", mime.QEncoding.Encode("utf-8", description))
	}
	p := mailmime.DescribePart(mailaccess.HeaderFromFields(kv...), path)
	if len(path) == 0 {
		p.Path = nil
	}
	return p
}
