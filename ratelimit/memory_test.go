package ratelimit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/ratelimit"
	"github.com/otpd/otpd/ratelimit/ratelimittest"
)

func TestMemory(t *testing.T) {
	t.Parallel()
	ratelimittest.Run(t, func(t *testing.T) func() otpd.RateLimiter {
		m := ratelimit.NewMemory()
		return func() otpd.RateLimiter { return m }
	})
}

func TestMemoryForgetsStaleKeys(t *testing.T) {
	t.Parallel()
	m := ratelimit.NewMemory()
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	limit := otpd.RateLimit{N: 5, Per: time.Minute}
	for i := range 100_000 {
		_, err := m.Take(ctx, at.Add(time.Duration(i)*time.Millisecond), []otpd.RateHit{{Key: fmt.Sprint("dst:", i), Limit: limit}})
		require.NoError(t, err)
	}
	// 100 s of one new key a millisecond: only the last two minutes' keys
	// (at most) may still be held.
	require.LessOrEqual(t, m.Len(), 100_000)
	require.Less(t, m.Len(), 2*60_000+64*1024, "bounded by the keys of two periods")
}
