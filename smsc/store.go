package smsc

import (
	"cmp"
	"context"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/otpd/otpd/gsm"
	"github.com/otpd/otpd/smpp"
)

// partialTTL is how long the parts of a concatenated message wait for the
// rest before they are forgotten.
const partialTTL = 10 * time.Minute

// Message is one whole message as the SMSC received it: a single submit,
// or the parts of a concatenated one put back together.
type Message struct {
	// To is the destination: "+" and digits for an international number,
	// the digits as sent otherwise.
	To string
	// From is the source address: "+" and digits for an international
	// number, as sent otherwise (an alphanumeric sender id).
	From string
	// Text is the decoded text. Text that did not decode in its
	// data_coding is "[undecodable <coding>] <hex>"; binary data
	// "[binary data_coding 0xNN] <hex>".
	Text string
	// Parts is the number of submits the message came in.
	Parts int
	// MessageIDs are the ids the submits were answered with, in part
	// order.
	MessageIDs []string
	// DataCoding is the data_coding of the (first) submit.
	DataCoding smpp.DataCoding
	// CreatedAt is when the message was complete, UTC, to the millisecond.
	CreatedAt time.Time
	// SystemID is the system_id of the bind it came on.
	SystemID string
	// State is what its receipts report: delivered, or undeliverable by
	// Faults.UndeliverablePrefixes.
	State smpp.MessageState
	// Duplicate is set when a message with the same To and Text was
	// already stored.
	Duplicate bool

	seq uint64 // arrival order, for WaitFor
}

// submitted is one accepted submit, for the store.
type submitted struct {
	id, systemID, to, from string
	dc                     smpp.DataCoding
	state                  smpp.MessageState
	at                     time.Time
	content                content
}

// concatKey groups the parts of one concatenated message: a handset joins
// parts by sender and reference; the bind's system_id keeps two clients'
// references apart, and the total and reference width tell a reused
// reference from a new message.
type concatKey struct {
	systemID, from, to string
	ref                uint16
	ref16              bool
	total              int
}

type partial struct {
	first time.Time
	parts map[int]submitted // by sequence number
}

// store holds the messages. Server.mu guards it.
type store struct {
	msgs     ring
	seq      uint64 // messages ever stored; never reset, for WaitFor
	changed  chan struct{}
	seen     map[string]int // to + "\x00" + text → stored messages, for duplicates
	partials map[concatKey]*partial
}

func (st *store) init(capacity int) {
	st.msgs.capacity = capacity
	st.changed = make(chan struct{})
	st.reset()
}

func (st *store) reset() {
	st.msgs.reset()
	st.seen = map[string]int{}
	st.partials = map[concatKey]*partial{}
}

// add takes one accepted submit and returns the message it completed, if
// it did.
func (st *store) add(stats *Stats, s submitted) (Message, bool) {
	if !s.content.multi {
		return st.put(stats, []submitted{s}), true
	}
	for k, p := range st.partials {
		if s.at.Sub(p.first) > partialTTL {
			delete(st.partials, k)
		}
	}
	c := s.content.concat
	key := concatKey{systemID: s.systemID, from: s.from, to: s.to, ref: c.Ref, ref16: c.Ref16, total: c.Total}
	p := st.partials[key]
	if p == nil {
		p = &partial{first: s.at, parts: map[int]submitted{}}
		st.partials[key] = p
	}
	// A part sent again (its answer was lost) replaces the first copy.
	p.parts[c.Seq] = s
	if len(p.parts) < c.Total {
		return Message{}, false
	}
	delete(st.partials, key)
	parts := make([]submitted, 0, len(p.parts))
	for _, sp := range p.parts {
		parts = append(parts, sp)
	}
	slices.SortFunc(parts, func(a, b submitted) int { return cmp.Compare(a.content.concat.Seq, b.content.concat.Seq) })
	return st.put(stats, parts), true
}

// put stores the message the parts make.
func (st *store) put(stats *Stats, parts []submitted) Message {
	last := parts[len(parts)-1]
	gparts := make([]gsm.Part, len(parts))
	ids := make([]string, len(parts))
	for i, p := range parts {
		gparts[i] = p.content.part
		if !p.content.multi {
			gparts[i] = gsm.Part{Text: p.content.part.Text} // a UDH without concatenation (ports...)
		}
		ids[i] = p.id
	}
	text, ok := decodeText(parts[0].dc, gparts)
	if !ok {
		stats.Undecodable++
	}
	m := Message{
		To:         last.to,
		From:       last.from,
		Text:       text,
		Parts:      len(parts),
		MessageIDs: ids,
		DataCoding: parts[0].dc,
		CreatedAt:  last.at.Truncate(time.Millisecond),
		SystemID:   last.systemID,
		State:      last.state,
	}
	key := m.To + "\x00" + m.Text
	if st.seen[key] > 0 {
		m.Duplicate = true
		stats.Duplicates++
	}
	st.seen[key]++
	stats.Messages++
	st.seq++
	m.seq = st.seq
	if old, evicted := st.msgs.push(m); evicted {
		if k := old.To + "\x00" + old.Text; st.seen[k] <= 1 {
			delete(st.seen, k)
		} else {
			st.seen[k]--
		}
	}
	close(st.changed)
	st.changed = make(chan struct{})
	return m
}

// Messages returns the stored messages to a destination, oldest first; all
// of them when to is empty. to matches with or without its leading "+"
// (which an unescaped query string turns into a space).
func (s *Server) Messages(to string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Message{}
	for m := range s.store.msgs.all() {
		if matchTo(m.To, to) {
			m.MessageIDs = slices.Clone(m.MessageIDs)
			out = append(out, m)
		}
	}
	return out
}

func matchTo(stored, q string) bool {
	q = strings.TrimSpace(q)
	return q == "" || strings.TrimPrefix(stored, "+") == strings.TrimPrefix(q, "+")
}

// WaitFor returns the oldest message, already stored or still to come, for
// which match is true, or ctx's error. Tests and tools wait with it instead
// of sleeping. match runs with the server's lock held: it must not call the
// Server.
func (s *Server) WaitFor(ctx context.Context, match func(Message) bool) (Message, error) {
	s.mu.Lock()
	checked := uint64(0)
	for {
		// Only the messages stored since the last look are new, and
		// they are the newest: skip the rest rather than test them again.
		for m := range s.store.msgs.newest(s.store.seq - checked) {
			if m.seq > checked && match(m) {
				s.mu.Unlock()
				m.MessageIDs = slices.Clone(m.MessageIDs)
				return m, nil
			}
		}
		checked = s.store.seq
		ch := s.store.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-ch:
		}
		s.mu.Lock()
	}
}

// To matches the messages to a destination, as Messages does.
func To(to string) func(Message) bool {
	return func(m Message) bool { return matchTo(m.To, to) }
}

// ring holds the newest messages, at most capacity of them, oldest first
// from head. A full ring overwrites its oldest message in place: dropping
// it from the front of a slice instead would move every other message, an
// O(capacity) copy under the server's lock for each submit.
type ring struct {
	capacity int
	buf      []Message // grows to capacity, then is reused
	head     int       // the oldest message, once buf is full
}

func (r *ring) reset() {
	r.buf, r.head = nil, 0
}

// push adds m as the newest message and returns the oldest one if it had
// to make room for it.
func (r *ring) push(m Message) (evicted Message, ok bool) {
	if len(r.buf) < r.capacity {
		// Grown on demand: a large capacity costs nothing until used.
		r.buf = append(r.buf, m)
		return Message{}, false
	}
	evicted = r.buf[r.head]
	r.buf[r.head] = m
	r.head = (r.head + 1) % len(r.buf)
	return evicted, true
}

// all yields every message, oldest first.
func (r *ring) all() iter.Seq[Message] { return r.newest(uint64(len(r.buf))) }

// newest yields the newest n messages (all of them when there are fewer),
// oldest first.
func (r *ring) newest(n uint64) iter.Seq[Message] {
	return func(yield func(Message) bool) {
		size := len(r.buf)
		skip := 0
		if n < uint64(size) {
			skip = size - int(n)
		}
		for i := skip; i < size; i++ {
			if !yield(r.buf[(r.head+i)%size]) {
				return
			}
		}
	}
}
