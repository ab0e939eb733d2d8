package loadtest_test

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/loadtest"
)

func TestHistogramQuantilesWithinPrecision(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		gen  func(r *rand.Rand) time.Duration
	}{
		{"small exact values", func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(200)) }},
		{"uniform microseconds to milliseconds", func(r *rand.Rand) time.Duration {
			return time.Duration(r.Int64N(int64(20*time.Millisecond))) + time.Microsecond
		}},
		{"long tail", func(r *rand.Rand) time.Duration {
			return time.Duration(r.ExpFloat64() * float64(2*time.Millisecond))
		}},
		{"hours", func(r *rand.Rand) time.Duration { return time.Duration(r.Int64N(int64(5 * time.Hour))) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(1, 2))
			h := loadtest.NewHistogram()
			vals := make([]time.Duration, 20000)
			for i := range vals {
				vals[i] = tt.gen(r)
				h.Record(vals[i])
			}
			slices.Sort(vals)
			require.Equal(t, uint64(len(vals)), h.Count())
			require.Equal(t, vals[len(vals)-1], h.Max())
			for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
				rank := max(int(float64(len(vals))*q+0.999999), 1)
				exact := vals[rank-1]
				got := h.Quantile(q)
				require.GreaterOrEqual(t, got, exact, "q=%v: a quantile errs on the slow side", q)
				require.LessOrEqual(t, float64(got-exact), float64(exact)/128+1, "q=%v: got %v, exact %v", q, got, exact)
			}
		})
	}
}

func TestHistogramEmptyNegativeAndMerge(t *testing.T) {
	t.Parallel()
	h := loadtest.NewHistogram()
	require.Zero(t, h.Quantile(0.99))
	require.Zero(t, h.Mean())
	h.Record(-time.Second)
	require.Equal(t, time.Duration(0), h.Max(), "a negative duration counts as zero")

	a, b := loadtest.NewHistogram(), loadtest.NewHistogram()
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	a.Merge(b)
	require.Equal(t, uint64(2), a.Count())
	require.Equal(t, 3*time.Millisecond, a.Max())
	require.Equal(t, 2*time.Millisecond, a.Mean())
}

func TestHistogramConcurrentRecord(t *testing.T) {
	t.Parallel()
	h := loadtest.NewHistogram()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				h.Record(time.Duration(w*1000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	require.Equal(t, uint64(8000), h.Count())
	require.Equal(t, 7999*time.Microsecond, h.Max())
}
