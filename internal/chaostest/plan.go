package chaostest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Kind is one way the proxy perturbs a server's answers.
type Kind int

// The kinds of perturbation. Each applies to the answers it makes sense
// for (a body fault to an answer that carries a message body, a listing
// fault to a listing); [Plan] says which kinds a run uses.
const (
	// Drop closes the connection after a random number of the answer's
	// bytes (possibly none, possibly in the middle of a body).
	Drop Kind = iota + 1
	// Truncate shortens a message body: POP3 ends the body early with a
	// well-formed terminator; IMAP announces and sends a shorter literal
	// (RFC822.SIZE in the same response is left as the server said).
	Truncate
	// Lengthen adds bytes to a message body, framed correctly.
	Lengthen
	// LieSize changes a size: POP3 LIST (one line or the listing) and
	// STAT, IMAP RFC822.SIZE in any FETCH response.
	LieSize
	// LieCount changes a count: POP3 STAT, or a listing line for a message
	// that does not exist; IMAP EXISTS (off by a little, or 2^32-1) and
	// STATUS MESSAGES or UIDNEXT.
	LieCount
	// Repeat sends a listing line (POP3) or an untagged FETCH response
	// (IMAP) twice.
	Repeat
	// Reorder swaps two listing lines (POP3), or shuffles the items of a
	// FETCH response or swaps it with the response that follows (IMAP).
	Reorder
	// Garbage puts a line that is neither a status nor data before the
	// answer (POP3), or an untagged response no client knows (IMAP).
	Garbage
	// Bye ends the session instead of answering: "* BYE" (IMAP) or
	// "-ERR" (POP3), then the connection is closed. The command was
	// passed on to the server.
	Bye
	// Blank puts blank lines or stray line feeds before the answer.
	Blank
	// NUL puts NUL bytes in a line outside any message body.
	NUL
	// BareLF ends lines with LF alone: the status and listing lines
	// (POP3, and a message body's lines, which changes its size), the
	// response's lines outside literals (IMAP).
	BareLF
	// EightBit puts octets above 0x7F in a line outside any message body
	// (a POP3 UIDL among them).
	EightBit
	// LongLine sends a line of Plan.LongLine bytes before the answer.
	LongLine
	// HugeLiteral announces a literal of 2^40 octets (IMAP; in a FETCH
	// with a body, the body's own literal, followed by Plan.HugeStream
	// bytes and a close) or a size of 2^64-1 (POP3 LIST or STAT).
	HugeLiteral
	// Stall pauses Plan.Stall before the answer.
	Stall
	// SlowLoris sends the answer one byte every Plan.Trickle: the whole
	// answer, or for long enough to outlast Plan.Stall and then the rest
	// at once.
	SlowLoris
	// Refuse answers a command with an error without passing it on: IMAP
	// NO or BAD, POP3 -ERR.
	Refuse
	// LoseAnswer passes the command on but replaces the server's
	// successful answer with an error, as a connection that loses it
	// would make it look: the server did act.
	LoseAnswer
	// OtherBody sends another message's body (one of Plan.Bodies, of
	// another length) in place of the one asked for, the server's
	// metadata unchanged.
	OtherBody
	// UIDValidity changes every UIDVALIDITY the server reports, from this
	// answer on, for the rest of the proxy's life (IMAP).
	UIDValidity
	// RecycleUIDL gives one message of a UIDL listing the UIDL of another
	// (POP3), in this session only.
	RecycleUIDL
	// Withhold leaves out an untagged FETCH response (IMAP) or a listing
	// line (POP3): a message the server holds but does not mention.
	Withhold

	numKinds = int(Withhold)
)

var kindNames = [...]string{"", "drop", "truncate", "lengthen", "lie-size", "lie-count", "repeat", "reorder",
	"garbage", "bye", "blank", "nul", "bare-lf", "8bit", "long-line", "huge-literal", "stall", "slow-loris",
	"refuse", "lose-answer", "other-body", "uidvalidity", "recycle-uidl", "withhold"}

// String returns the kind's name, such as "slow-loris".
func (k Kind) String() string {
	if k > 0 && int(k) <= numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// AllKinds lists every kind.
func AllKinds() []Kind {
	out := make([]Kind, numKinds)
	for i := range out {
		out[i] = Kind(i + 1)
	}
	return out
}

// ParseKinds reads a comma-separated list of kind names.
func ParseKinds(s string) ([]Kind, error) {
	var out []Kind
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		found := false
		for _, k := range AllKinds() {
			if k.String() == f {
				out = append(out, k)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("chaostest: unknown kind %q", f)
		}
	}
	return out, nil
}

// Plan is what a proxy does to the answers it relays. The zero Plan
// relays everything unchanged.
type Plan struct {
	// Seed makes the run reproducible: session n of a proxy draws its
	// decisions from a generator seeded with (Seed, n), so the same
	// client behaviour meets the same faults.
	Seed uint64
	// Kinds are the perturbations used; an answer is perturbed with
	// probability Rate by one of the kinds that apply to it.
	Kinds []Kind
	Rate  float64
	// MaxPerSession and MaxTotal bound how many faults fire in one
	// session and in the proxy's life (0: no bound), so that a client
	// that retries can make progress.
	MaxPerSession, MaxTotal int
	// Stall is how long Stall pauses and SlowLoris trickles: more than
	// the client's command timeout. Trickle is SlowLoris's pause between
	// bytes. Defaults 1.5s and 20ms.
	Stall, Trickle time.Duration
	// LongLine is the length of a LongLine line (default 16 MiB, beyond
	// the drivers' default line limits); HugeStream is how many bytes a
	// HugeLiteral body sends before the proxy closes (default 4 MiB).
	LongLine, HugeStream int64
	// Bodies are message bodies OtherBody may send instead of the one
	// asked for (it picks one whose length differs).
	Bodies [][]byte
}

// RandomPlan draws a plan from seed: one to three kinds out of kinds, a
// rate, and budgets small enough that a client that retries finishes.
func RandomPlan(seed uint64, kinds []Kind) Plan {
	r := rand.New(rand.NewPCG(seed, 0x6368616f73)) // "chaos"
	p := Plan{Seed: seed}
	n := 1 + r.IntN(3)
	for _, i := range r.Perm(len(kinds))[:min(n, len(kinds))] {
		p.Kinds = append(p.Kinds, kinds[i])
	}
	p.Rate = []float64{0.05, 0.1, 0.2, 0.4}[r.IntN(4)]
	p.MaxPerSession = 1 + r.IntN(2)
	p.MaxTotal = 2 + r.IntN(5)
	return p
}

// String describes the plan in one line, for test logs.
func (p Plan) String() string {
	names := make([]string, len(p.Kinds))
	for i, k := range p.Kinds {
		names[i] = k.String()
	}
	return fmt.Sprintf("seed %d: %s at rate %.2f (at most %d a session, %d in all)",
		p.Seed, strings.Join(names, ","), p.Rate, p.MaxPerSession, p.MaxTotal)
}

func (p Plan) withDefaults() Plan {
	if p.Stall <= 0 {
		p.Stall = 1500 * time.Millisecond
	}
	if p.Trickle <= 0 {
		p.Trickle = 20 * time.Millisecond
	}
	if p.LongLine <= 0 {
		p.LongLine = 16 << 20
	}
	if p.HugeStream <= 0 {
		p.HugeStream = 4 << 20
	}
	return p
}

// has reports whether the plan uses kind k.
func (p *Plan) has(k Kind) bool {
	for _, x := range p.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Event is one fault the proxy injected.
type Event struct {
	Session int // connections numbered from 1 in accept order
	Answer  int // answers of the session numbered from 0 (the greeting)
	Kind    Kind
	Detail  string
}

func (e Event) String() string {
	return fmt.Sprintf("session %d answer %d: %s: %s", e.Session, e.Answer, e.Kind, e.Detail)
}
