package otpd

import (
	"sync"
	"time"
)

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

// pendingKeys holds the keys in two generations of maps, like the
// SQLite store's recent copies: the older is forgotten when the newer is
// full.
type pendingKeys struct {
	mu       sync.Mutex
	cur, old map[string]pendingKey
}

type pendingKey struct {
	serviceID string
	toKey     string
	expiresAt time.Time
}

// put remembers v's destination key while v is pending.
func (p *pendingKeys) put(v *Verification) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		p.cur = make(map[string]pendingKey)
	}
	if len(p.cur) >= maxPendingKeys/2 {
		p.old, p.cur = p.cur, make(map[string]pendingKey, len(p.cur))
	}
	p.cur[v.ID] = pendingKey{serviceID: v.ServiceID, toKey: v.ToKey, expiresAt: v.ExpiresAt}
}

// get returns the destination key of a verification of the service that
// this engine started and has not seen closed, if it has not expired at
// now.
func (p *pendingKeys) get(serviceID, id string, now time.Time) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k, ok := p.cur[id]
	if !ok {
		k, ok = p.old[id]
	}
	if !ok || k.serviceID != serviceID || !now.Before(k.expiresAt) {
		return "", false
	}
	return k.toKey, true
}

// forget drops a verification that closed.
func (p *pendingKeys) forget(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.cur, id)
	delete(p.old, id)
}

// clear drops every key: an erasure's destination must not outlive it
// here, even as a hash.
func (p *pendingKeys) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur, p.old = nil, nil
}
