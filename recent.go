package otpd

import (
	"sync"
	"time"
)

// What the engine remembers of recent verifications, to spare reads of the
// store on the hot path: the destination keys of pending verifications
// (for checks), and the refs of sent messages (for their receipts). Both
// are bounded, hold no destination, and are dropped by an erasure.

// Pending destination keys.
//
// With a rate limiter a check first applies the destination's cap on wrong
// codes, and for that it needs the verification's destination key (ToKey)
// before it locks the verification — a limiter that keeps its counts in
// the store needs a connection of its own, which it must not wait for
// while the update holds one. Reading the verification for that was a
// seventh of a check's CPU. So the engine remembers the key of each
// verification it started, until the verification expires or this engine
// closes it, and reads the verification only when it does not know it.
//
// What is kept is the destination key — a keyed hash, not the destination
// — with the ids of the verification and its service. A verification
// closed by another node (PostgreSQL) or process is still taken for
// pending here until it expires: a check of it from a destination over its
// cap is then refused with 429 rather than 409, and otherwise answered as
// closed by the update as before.

// maxPendingKeys bounds the keys remembered: a minute of starts at a
// thousand a second, which is how long people take to type a code. About
// 150 bytes each.
const maxPendingKeys = 64 << 10

// Sent refs.
//
// A delivery receipt names its message by the channel's ref, which the
// store maps back to the message (FindMessageByRef). The engine that sent
// the message knows the mapping already: it remembers the refs of what it
// sent, until the receipt for each comes or the bound pushes it out, and a
// receipt that arrives on the node that sent the message needs no look-up.
// Refs are the SMSC's or provider's message ids, not personal data.

// maxSentRefs bounds the refs remembered: half a minute of sends at a
// thousand a second, longer than most receipts take. About 200 bytes each.
const maxSentRefs = 32 << 10

// sentRefs are the messages of refs this engine recorded, by qualified ref.
type sentRefs struct{ m *memo[string, ClaimedMessage] }

func newSentRefs() sentRefs { return sentRefs{m: newMemo[string, ClaimedMessage](maxSentRefs / 2)} }

func (r *sentRefs) put(refs []string, cm ClaimedMessage) {
	cm = ClaimedMessage{ServiceID: cm.ServiceID, VerificationID: cm.VerificationID, MessageID: cm.MessageID}
	for _, ref := range refs {
		r.m.put(ref, cm)
	}
}

// take returns the message of ref, and forgets it: a part's receipt comes
// once.
func (r *sentRefs) take(ref string) (ClaimedMessage, bool) {
	cm, ok := r.m.get(ref)
	if ok {
		r.m.forget(ref)
	}
	return cm, ok
}

// clear forgets every ref (an erasure).
func (r *sentRefs) clear() { r.m.clear() }

// pendingKeys are the destination keys of pending verifications, by
// verification id.
type pendingKeys struct{ m *memo[string, pendingKey] }

func newPendingKeys() pendingKeys {
	return pendingKeys{m: newMemo[string, pendingKey](maxPendingKeys / 2)}
}

type pendingKey struct {
	serviceID string
	toKey     string
	expiresAt time.Time
}

// put remembers v's destination key while v is pending.
func (p *pendingKeys) put(v *Verification) {
	p.m.put(v.ID, pendingKey{serviceID: v.ServiceID, toKey: v.ToKey, expiresAt: v.ExpiresAt})
}

// get returns the destination key of a verification of the service that
// this engine started and has not seen closed, if it has not expired at
// now.
func (p *pendingKeys) get(serviceID, id string, now time.Time) (string, bool) {
	k, ok := p.m.get(id)
	if !ok || k.serviceID != serviceID || !now.Before(k.expiresAt) {
		return "", false
	}
	return k.toKey, true
}

// forget drops a verification that closed.
func (p *pendingKeys) forget(id string) { p.m.forget(id) }

// clear drops every key: an erasure's destination must not outlive it
// here, even as a hash.
func (p *pendingKeys) clear() { p.m.clear() }

// memo is a bounded map of recent entries, in two generations of at most
// size entries each: puts go to the current one; when it is full it
// becomes the older and the older is forgotten. An entry found in the older
// generation moves to the current one, so entries in use outlive a
// turnover. The pending keys, the sent refs and the parsed phone numbers
// (destination.go) are kept in one each.
type memo[K comparable, V any] struct {
	size     int
	mu       sync.Mutex
	cur, old map[K]V
}

func newMemo[K comparable, V any](size int) *memo[K, V] {
	return &memo[K, V]{size: size, cur: make(map[K]V)}
}

func (m *memo[K, V]) put(k K, v V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(k, v)
}

func (m *memo[K, V]) putLocked(k K, v V) {
	if len(m.cur) >= m.size {
		m.old, m.cur = m.cur, make(map[K]V, m.size)
	}
	delete(m.old, k)
	m.cur[k] = v
}

func (m *memo[K, V]) get(k K) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.cur[k]; ok {
		return v, true
	}
	v, ok := m.old[k]
	if ok {
		m.putLocked(k, v)
	}
	return v, ok
}

func (m *memo[K, V]) forget(k K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.cur, k)
	delete(m.old, k)
}

func (m *memo[K, V]) clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur, m.old = make(map[K]V), nil
}
