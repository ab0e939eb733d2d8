// Package ratelimittest is the behaviour suite every otpd.RateLimiter must
// pass: the in-process one and the ones kept in shared stores.
package ratelimittest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

// NewFunc returns a fresh limiter for one test, with no counts. Calling
// the returned open function again gives another handle on the same counts
// (for a shared store: another node), or the same limiter where there is
// only one.
type NewFunc func(t *testing.T) (open func() otpd.RateLimiter)

// base is the start of a fixed window of every period the tests use.
var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func perMinute(n int) otpd.RateLimit    { return otpd.RateLimit{N: n, Per: time.Minute} }
func per10Minutes(n int) otpd.RateLimit { return otpd.RateLimit{N: n, Per: 10 * time.Minute} }

// Run runs the suite.
func Run(t *testing.T, newLimiter NewFunc) {
	ctx := context.Background()
	take := func(t *testing.T, l otpd.RateLimiter, at time.Time, hits ...otpd.RateHit) time.Duration {
		t.Helper()
		wait, err := l.Take(ctx, at, hits)
		require.NoError(t, err)
		return wait
	}

	t.Run("TakeUpToTheLimit", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)()
		h := otpd.RateHit{Key: "dst:a", Limit: per10Minutes(5)}
		at := base.Add(time.Minute)
		for i := range 5 {
			require.Zero(t, take(t, l, at.Add(time.Duration(i)*time.Second), h), "event %d", i+1)
		}
		wait := take(t, l, at.Add(5*time.Second), h)
		require.Positive(t, wait)
		require.LessOrEqual(t, wait, 10*time.Minute)
	})

	t.Run("WaitIsEnough", func(t *testing.T) {
		t.Parallel()
		type ago struct {
			before time.Duration // how long before now
			n      int
		}
		for _, tc := range []struct {
			name   string
			limit  otpd.RateLimit
			events []ago
		}{
			{"all just now", perMinute(3), []ago{{0, 3}}},
			{"spread over the period", perMinute(3), []ago{{50 * time.Second, 1}, {30 * time.Second, 1}, {time.Second, 1}}},
			{"oldest must go first", per10Minutes(10), []ago{{9 * time.Minute, 4}, {5 * time.Minute, 4}, {time.Minute, 2}}},
			{"several slots must go", per10Minutes(4), []ago{{8 * time.Minute, 1}, {7 * time.Minute, 1}, {3 * time.Minute, 4}}},
			{"past the limit", per10Minutes(2), []ago{{5 * time.Minute, 5}}},
			{"older than the period", perMinute(1), []ago{{2 * time.Minute, 5}, {10 * time.Second, 1}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				l := newLimiter(t)()
				h := otpd.RateHit{Key: "k:" + tc.name, Limit: tc.limit}
				now := base.Add(3*time.Hour + 7*time.Second)
				for _, e := range tc.events {
					require.NoError(t, l.Add(ctx, now.Add(-e.before), repeat(h, e.n)))
				}
				wait, err := l.Wait(ctx, now, []otpd.RateHit{h})
				require.NoError(t, err)
				require.Positive(t, wait)
				require.LessOrEqual(t, wait, tc.limit.Per, "no event counts for longer than the period")
				if wait > time.Millisecond {
					require.Positive(t, take(t, l, now.Add(wait-time.Millisecond), h), "a millisecond early is refused")
				}
				require.Zero(t, take(t, l, now.Add(wait), h), "the wait given is enough")
			})
		}
	})

	t.Run("AllOrNothing", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)()
		tight := otpd.RateHit{Key: "ip:x", Limit: per10Minutes(1)}
		loose := otpd.RateHit{Key: "svc:x", Limit: per10Minutes(3)}
		at := base.Add(time.Minute)
		require.Zero(t, take(t, l, at, tight, loose))
		require.Positive(t, take(t, l, at, loose, tight), "the tight limit refuses both")
		// The refused take counted nothing against the loose limit.
		require.Zero(t, take(t, l, at, loose))
		require.Zero(t, take(t, l, at, loose))
		require.Positive(t, take(t, l, at, loose))
	})

	t.Run("WaitCountsNothingAddCountsAlways", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)()
		h := otpd.RateHit{Key: "fail:x", Limit: per10Minutes(2)}
		at := base.Add(time.Minute)
		for range 5 {
			wait, err := l.Wait(ctx, at, []otpd.RateHit{h})
			require.NoError(t, err)
			require.Zero(t, wait)
		}
		for range 3 {
			require.NoError(t, l.Add(ctx, at, []otpd.RateHit{h}))
		}
		wait, err := l.Wait(ctx, at, []otpd.RateHit{h})
		require.NoError(t, err)
		require.Positive(t, wait, "Add counts past the limit")
	})

	t.Run("SlidesAndRecovers", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)()
		h := otpd.RateHit{Key: "dst:b", Limit: perMinute(4)}
		at := base.Add(50 * time.Second)
		for range 4 {
			require.Zero(t, take(t, l, at, h))
		}
		// Just past the window's edge the last minute's events still count:
		// a plain fixed window would let four more through here.
		require.Positive(t, take(t, l, at.Add(15*time.Second), h))
		// Two periods later nothing of it is left.
		for range 4 {
			require.Zero(t, take(t, l, at.Add(2*time.Minute), h))
		}
	})

	t.Run("KeysAndPeriodsAreSeparate", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)()
		at := base.Add(time.Minute)
		a := otpd.RateHit{Key: "dst:a", Limit: per10Minutes(1)}
		b := otpd.RateHit{Key: "dst:b", Limit: per10Minutes(1)}
		aHour := otpd.RateHit{Key: "dst:a", Limit: otpd.RateLimit{N: 1, Per: time.Hour}}
		require.Zero(t, take(t, l, at, a))
		require.Zero(t, take(t, l, at, b))
		require.Zero(t, take(t, l, at, aHour))
		require.Positive(t, take(t, l, at, a))
	})

	t.Run("OffAndEmpty", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)()
		off := otpd.RateHit{Key: "svc:off", Limit: otpd.NoLimit}
		unset := otpd.RateHit{Key: "svc:unset"}
		for range 100 {
			require.Zero(t, take(t, l, base, off, unset))
		}
		require.Zero(t, take(t, l, base))
	})

	t.Run("SharedAndConcurrent", func(t *testing.T) {
		t.Parallel()
		open := newLimiter(t)
		nodes := []otpd.RateLimiter{open(), open()}
		h := otpd.RateHit{Key: "dst:shared", Limit: per10Minutes(20)}
		other := otpd.RateHit{Key: "prefix:shared", Limit: per10Minutes(1000)}
		at := base.Add(time.Minute)
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Go(func() {
				wait, err := nodes[i%2].Take(ctx, at, []otpd.RateHit{other, h})
				if err != nil {
					panic(fmt.Sprintf("take: %v", err))
				}
				if wait == 0 {
					admitted.Add(1)
				}
			})
		}
		wg.Wait()
		require.EqualValues(t, 20, admitted.Load(), "exactly the limit is admitted, across nodes")
	})
}

func repeat(h otpd.RateHit, n int) []otpd.RateHit {
	out := make([]otpd.RateHit, n)
	for i := range out {
		out[i] = h
	}
	return out
}
