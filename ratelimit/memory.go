package ratelimit

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/otpd/otpd"
)

// Memory is an in-process [otpd.RateLimiter]. Its counts live only as long
// as the process and are not shared: it is the limiter of a single node.
// Memory stays bounded by the keys active within the last period of their
// limit; older ones are dropped as they are found stale.
type Memory struct {
	seed   maphash.Seed
	shards [64]memoryShard
}

type memoryShard struct {
	mu      sync.Mutex
	buckets map[bucketKey]*bucket
	ops     int
}

type bucketKey struct {
	key string
	per time.Duration
}

// bucket holds a key's counts in a ring: slot s is at counts[s%Slots].
type bucket struct {
	last   int64 // the newest slot counted
	counts [Slots]int64
}

var _ otpd.RateLimiter = (*Memory)(nil)

// NewMemory returns an empty in-process limiter.
func NewMemory() *Memory {
	m := &Memory{seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].buckets = map[bucketKey]*bucket{}
	}
	return m
}

// Take counts one event against every hit if each has room, or none.
func (m *Memory) Take(_ context.Context, now time.Time, hits []otpd.RateHit) (time.Duration, error) {
	return m.apply(now, hits, true, false), nil
}

// Wait returns how long until every hit has room, counting nothing.
func (m *Memory) Wait(_ context.Context, now time.Time, hits []otpd.RateHit) (time.Duration, error) {
	return m.apply(now, hits, false, false), nil
}

// Add counts one event against every hit, with room or not.
func (m *Memory) Add(_ context.Context, now time.Time, hits []otpd.RateHit) error {
	m.apply(now, hits, true, true)
	return nil
}

// apply locks the shards of every hit (in shard order, so two calls never
// wait on each other in a cycle), then decides and counts.
func (m *Memory) apply(now time.Time, hits []otpd.RateHit, count, always bool) time.Duration {
	live := make([]otpd.RateHit, 0, len(hits))
	for _, h := range hits {
		if !h.Limit.Off() {
			live = append(live, h)
		}
	}
	if len(live) == 0 {
		return 0
	}
	idx := make([]int, len(live))
	for i, h := range live {
		idx[i] = int(maphash.String(m.seed, h.Key) % uint64(len(m.shards)))
	}
	locked := slices.Clone(idx)
	slices.Sort(locked)
	locked = slices.Compact(locked)
	for _, i := range locked {
		m.shards[i].mu.Lock()
	}
	defer func() {
		for _, i := range locked {
			m.shards[i].mu.Unlock()
		}
	}()

	bs := make([]*bucket, len(live))
	var wait time.Duration
	var scratch [Slots]SlotCount
	for i, h := range live {
		bs[i] = m.shards[idx[i]].bucket(h, now)
		wait = max(wait, WaitFor(h.Limit, now, bs[i].slots(scratch[:0])))
	}
	if count && (always || wait == 0) {
		for i, b := range bs {
			b.counts[Slot(live[i].Limit, now)%Slots]++
		}
	}
	return wait
}

// slots appends the bucket's counts as SlotCounts.
func (b *bucket) slots(out []SlotCount) []SlotCount {
	for s := b.last - (Slots - 1); s <= b.last; s++ {
		if n := b.counts[s%Slots]; n > 0 {
			out = append(out, SlotCount{Slot: s, Count: n})
		}
	}
	return out
}

// bucket returns the counts of h's key with the slots that ended before
// now's period cleared.
func (s *memoryShard) bucket(h otpd.RateHit, now time.Time) *bucket {
	s.ops++
	if s.ops%1024 == 0 {
		s.evict(now)
	}
	k := bucketKey{h.Key, h.Limit.Per}
	cur := Slot(h.Limit, now)
	b := s.buckets[k]
	if b == nil {
		b = &bucket{last: cur}
		s.buckets[k] = b
		return b
	}
	// Clear the slots the ring reuses between the last one counted and
	// now; a clock that went back keeps counting into the newest slot.
	for sl := b.last + 1; sl <= cur && sl <= b.last+Slots; sl++ {
		b.counts[sl%Slots] = 0
	}
	if cur > b.last {
		b.last = cur
	}
	return b
}

// evict drops buckets whose every slot is over.
func (s *memoryShard) evict(now time.Time) {
	for k, b := range s.buckets {
		if Slot(otpd.RateLimit{N: 1, Per: k.per}, now)-b.last >= Slots {
			delete(s.buckets, k)
		}
	}
}

// Len returns the number of keys the limiter holds counts for, for tests
// and metrics.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		m.shards[i].mu.Lock()
		n += len(m.shards[i].buckets)
		m.shards[i].mu.Unlock()
	}
	return n
}
