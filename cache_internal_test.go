package otpd

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a clock the lru tests move by hand.
type fakeClock struct{ t atomic.Pointer[time.Time] }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c.t.Store(&now)
	return c
}

func (c *fakeClock) now() time.Time      { return *c.t.Load() }
func (c *fakeClock) add(d time.Duration) { t := c.now().Add(d); c.t.Store(&t) }

// countingFetch returns id's value and counts its calls.
type countingFetch struct{ n atomic.Int64 }

func (f *countingFetch) fetch(_ context.Context, id string) (string, error) {
	f.n.Add(1)
	if id == "missing" {
		return "", ErrNotFound
	}
	return "v:" + id, nil
}

func newTestLRU(max int, ttl time.Duration) (*lru[string], *fakeClock) {
	c := newLRU[string](max, ttl)
	clk := newFakeClock()
	c.now = clk.now
	return c, clk
}

func TestLRUExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		after time.Duration // how long after the read the second load comes
		reads int64         // reads of the store in all
	}{
		{"within the TTL", 2*time.Second - time.Nanosecond, 1},
		{"at the TTL", 2 * time.Second, 2},
		{"after the TTL", time.Hour, 2},
		{"clock moved back", -time.Second, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, clk := newTestLRU(10, 2*time.Second)
			var f countingFetch
			for range 2 {
				v, err := c.load(t.Context(), "a", f.fetch)
				require.NoError(t, err)
				require.Equal(t, "v:a", v)
				clk.add(tt.after)
			}
			require.Equal(t, tt.reads, f.n.Load())
		})
	}
}

func TestLRUMissesAreNotKept(t *testing.T) {
	t.Parallel()
	c, _ := newTestLRU(10, time.Hour)
	var f countingFetch
	for range 3 {
		_, err := c.load(t.Context(), "missing", f.fetch)
		require.ErrorIs(t, err, ErrNotFound)
	}
	require.EqualValues(t, 3, f.n.Load())
	require.Zero(t, c.len())
}

func TestLRUDisabled(t *testing.T) {
	t.Parallel()
	for _, ttl := range []time.Duration{0, -1} {
		c, _ := newTestLRU(10, ttl)
		var f countingFetch
		for range 3 {
			_, err := c.load(t.Context(), "a", f.fetch)
			require.NoError(t, err)
		}
		require.EqualValues(t, 3, f.n.Load(), "ttl %v", ttl)
		require.Zero(t, c.len())
	}
}

// TestLRUBound: the cache never holds more than its bound, and what makes
// room is the least recently used entry.
func TestLRUBound(t *testing.T) {
	t.Parallel()
	const max = 100
	c, _ := newTestLRU(max, time.Hour)
	var f countingFetch
	for i := range 10 * max {
		_, err := c.load(t.Context(), fmt.Sprint(i), f.fetch)
		require.NoError(t, err)
		require.LessOrEqual(t, c.len(), max)
		if i >= 1 {
			// Entry 0 is used again after every other, so it stays.
			_, err = c.load(t.Context(), "0", f.fetch)
			require.NoError(t, err)
		}
	}
	require.Equal(t, max, c.len())
	_, _, ok := c.get("0")
	require.True(t, ok, "the entry used most often stays")
	_, _, ok = c.get("1")
	require.False(t, ok, "an entry not used for longest went")
	_, _, ok = c.get(fmt.Sprint(10*max - 1))
	require.True(t, ok, "the newest entry stays")
}

// TestLRURemoveDuringRead: a value read from the store before a change
// was invalidated is not kept, or the change would be undone for a TTL.
func TestLRURemoveDuringRead(t *testing.T) {
	t.Parallel()
	c, _ := newTestLRU(10, time.Hour)
	tests := []struct {
		name   string
		remove func()
	}{
		{"that key", func() { c.removeKey("a") }},
		{"another key", func() { c.removeKey("b") }},
		{"matching", func() { c.remove(func(k, _ string) bool { return k == "a" }) }},
		{"everything", func() { c.remove(nil) }},
	}
	for _, tt := range tests {
		v, err := c.load(t.Context(), "a", func(context.Context, string) (string, error) {
			tt.remove() // the change lands while the read is under way
			return "old", nil
		})
		require.NoError(t, err)
		require.Equal(t, "old", v, tt.name)
		_, _, ok := c.get("a")
		require.False(t, ok, "%s: the read that raced a removal is not kept", tt.name)
	}
}

func TestLRUReplaceKeepsAge(t *testing.T) {
	t.Parallel()
	c, clk := newTestLRU(10, 2*time.Second)
	var f countingFetch
	_, err := c.load(t.Context(), "a", f.fetch)
	require.NoError(t, err)
	clk.add(time.Second)
	c.replace("a", func(v string) string { return v + "+" })
	c.replace("absent", func(string) string { t.Fatal("replace called fn for an absent key"); return "" })
	v, _, ok := c.get("a")
	require.True(t, ok)
	require.Equal(t, "v:a+", v)
	clk.add(time.Second)
	_, _, ok = c.get("a")
	require.False(t, ok, "a replaced entry expires when the one it replaced would have")
}

// TestLRUConcurrent runs loads, removals and replacements at once, for the
// race detector, and checks the bound holds throughout.
func TestLRUConcurrent(t *testing.T) {
	t.Parallel()
	const max = 16
	c := newLRU[string](max, time.Hour)
	var f countingFetch
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := fmt.Sprint((g*7 + i) % 40)
				switch i % 10 {
				case 0:
					c.removeKey(id)
				case 1:
					c.remove(func(k, _ string) bool { return k == id })
				case 2:
					c.replace(id, func(v string) string { return v })
				default:
					v, err := c.load(context.Background(), id, f.fetch)
					if err != nil || v != "v:"+id {
						t.Errorf("load %s = %q, %v", id, v, err)
						return
					}
				}
				if n := c.len(); n > max {
					t.Errorf("%d entries, more than %d", n, max)
					return
				}
			}
		})
	}
	wg.Wait()
}

// The pending destination keys are bounded: past maxPendingKeys the oldest
// are forgotten.
func TestPendingKeysAreBounded(t *testing.T) {
	t.Parallel()
	p := newPendingKeys()
	now := time.Now()
	v := func(i int) *Verification {
		return &Verification{ID: fmt.Sprint("ver_", i), ServiceID: "svc_1", ToKey: fmt.Sprint("tk_", i), ExpiresAt: now.Add(time.Minute)}
	}
	for i := range maxPendingKeys + 1 {
		p.put(v(i))
	}
	require.LessOrEqual(t, len(p.m.cur)+len(p.m.old), maxPendingKeys)
	_, ok := p.get("svc_1", "ver_0", now)
	require.False(t, ok, "the oldest is forgotten")
	k, ok := p.get("svc_1", fmt.Sprint("ver_", maxPendingKeys), now)
	require.True(t, ok)
	require.Equal(t, fmt.Sprint("tk_", maxPendingKeys), k)
	p.clear()
	_, ok = p.get("svc_1", fmt.Sprint("ver_", maxPendingKeys), now)
	require.False(t, ok, "cleared")
}
