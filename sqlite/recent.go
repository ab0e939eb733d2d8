package sqlite

import (
	"sync"
	"time"

	"github.com/otpd/otpd"
)

// Recent copies.
//
// The engine updates a verification several times in a few seconds, and
// reads it before most updates: the dispatcher records the send's outcome
// right after the start created it, the receipt comes a moment later, the
// check reads it for the failed-check cap and then updates it. Each
// UpdateVerification would load it again. So the store keeps a copy of the
// verification, with its version, from whatever last touched it in this
// process — a GetVerification, the create, an update — for the next
// UpdateVerification of that verification to start from instead of
// loading. That is safe whatever happened meanwhile: the update writes only
// if the version is still the one of the copy, and runs again under the
// write lock otherwise — a stale copy costs a retry, never a lost write.
// Reads never answer from a copy: another process may have written the
// file.
//
// The copies hold personal data (destinations) in memory, so there are few
// of them: the oldest are forgotten past maxRecent, and every deletion of
// verifications (erasure, purge, a deleted service) drops them all.

// maxRecent bounds the copies kept: about a few seconds of verifications
// at a thousand a second, which is when their next update comes.
const maxRecent = 4096

// recentReads holds the copies in two generations of maps: puts go to the
// newer; when it holds maxRecent/2 copies the older is forgotten and the
// newer becomes the older. A copy lives for maxRecent/2 to maxRecent puts.
type recentReads struct {
	mu       sync.Mutex
	cur, old map[string]recentRead
	gen      uint64 // moved by drop: a read begun before it keeps no copy
}

type recentRead struct {
	v       *otpd.Verification
	version int64
}

func recentKey(serviceID, id string) string { return serviceID + "/" + id }

// begin returns the generation to give put for a read or write about to
// begin.
func (r *recentReads) begin() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen
}

// put keeps a copy of v, as read or written at version, unless a drop came
// after the read or write began (gen, from begin): it may have deleted the
// verification. The copy is what a read would return: times in the
// store's precision, without the events and leases and refs a read does
// not load.
func (r *recentReads) put(v *otpd.Verification, version int64, gen uint64) {
	c := recentRead{v: asRead(v), version: version}
	k := recentKey(v.ServiceID, v.ID)
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen != r.gen {
		return
	}
	if r.cur == nil {
		r.cur = make(map[string]recentRead)
	}
	if len(r.cur) >= maxRecent/2 {
		r.old, r.cur = r.cur, make(map[string]recentRead)
	}
	delete(r.old, k)
	r.cur[k] = c
}

// take returns a copy of the copy of a verification, if there is one, for
// the caller to change. The copy stays: two updates that race both start
// from it, and the one whose version moved starts again from the copy the
// winner left, instead of loading.
func (r *recentReads) take(serviceID, id string) (*otpd.Verification, int64, bool) {
	k := recentKey(serviceID, id)
	r.mu.Lock()
	c, ok := r.cur[k]
	if !ok {
		c, ok = r.old[k]
	}
	r.mu.Unlock()
	if !ok {
		return nil, 0, false
	}
	return c.v.Clone(), c.version, true
}

// stale forgets the copy of a verification if it is at version or older:
// an update from it found the version moved, so a newer write came from
// elsewhere (another process) or has not left its copy yet.
func (r *recentReads) stale(serviceID, id string, version int64) {
	k := recentKey(serviceID, id)
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.cur[k]; ok && c.version <= version {
		delete(r.cur, k)
	}
	if c, ok := r.old[k]; ok && c.version <= version {
		delete(r.old, k)
	}
}

// drop forgets every copy.
func (r *recentReads) drop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur, r.old = nil, nil
	r.gen++
}

// asRead returns a copy of v as loadVerification would read it back.
func asRead(v *otpd.Verification) *otpd.Verification {
	c := v.Clone()
	c.Events = nil
	c.CreatedAt = truncate(c.CreatedAt)
	c.UpdatedAt = truncate(c.UpdatedAt)
	c.ExpiresAt = truncate(c.ExpiresAt)
	c.LastSentAt = truncate(c.LastSentAt)
	for _, m := range c.Messages {
		if m.VerificationID == "" {
			m.VerificationID = v.ID
		}
		m.Refs = nil
		m.LeaseUntil = time.Time{}
		m.NextAttemptAt = truncate(m.NextAttemptAt)
		m.CreatedAt = truncate(m.CreatedAt)
		m.UpdatedAt = truncate(m.UpdatedAt)
		m.FallbackAt = truncate(m.FallbackAt)
	}
	return c
}
