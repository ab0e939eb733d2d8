package sqlite

import (
	"sync"

	"github.com/otpd/otpd"
)

// Recent reads.
//
// The engine often reads a verification just before it updates it: a
// check reads it for the failed-check cap, the dispatcher reads it to send
// its message and then records the outcome. Each UpdateVerification would
// load it again. So GetVerification leaves a copy of what it read, with its
// version, for the next UpdateVerification of that verification to start
// from instead of loading. That is safe whatever happened meanwhile: the
// update writes only if the version is still the one of the copy, and runs
// again under the write lock otherwise — a stale copy costs a retry, never
// a lost write.
//
// The copies hold personal data (destinations) in memory, so there are few
// of them, each is taken by the first update, and every deletion of
// verifications (erasure, purge, a deleted service) drops them all.

// maxRecent bounds the copies kept; past it they are all dropped.
const maxRecent = 1024

type recentReads struct {
	mu  sync.Mutex
	m   map[string]recentRead
	gen uint64 // moved by drop: a read begun before it keeps no copy
}

type recentRead struct {
	v       *otpd.Verification
	version int64
}

func recentKey(serviceID, id string) string { return serviceID + "/" + id }

// begin returns the generation to give put for a read about to begin.
func (r *recentReads) begin() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen
}

// put keeps a copy of v, read at version, unless a drop came after the read
// began (gen, from begin): it may have deleted the verification.
func (r *recentReads) put(v *otpd.Verification, version int64, gen uint64) {
	c := recentRead{v: v.Clone(), version: version}
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen != r.gen {
		return
	}
	if r.m == nil || len(r.m) >= maxRecent {
		r.m = make(map[string]recentRead)
	}
	r.m[recentKey(v.ServiceID, v.ID)] = c
}

// take returns and forgets the copy of a verification, if there is one.
func (r *recentReads) take(serviceID, id string) (*otpd.Verification, int64, bool) {
	k := recentKey(serviceID, id)
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.m[k]
	if ok {
		delete(r.m, k)
	}
	return c.v, c.version, ok
}

// drop forgets every copy.
func (r *recentReads) drop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m = nil
	r.gen++
}
