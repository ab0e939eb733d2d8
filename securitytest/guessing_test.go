package securitytest_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// TestGuessingIsBoundedByAttemptLimits spreads 10,000 wrong guesses over
// 200 verifications, from 16 attackers at once: the server compares at
// most max_check_attempts codes of each, and none is approved.
func TestGuessingIsBoundedByAttemptLimits(t *testing.T) {
	t.Parallel()
	const (
		verifications = 200
		guesses       = 10_000
		maxAttempts   = 5
	)
	b := setup(t, client.CreateServiceParams{CodeLength: 8, MaxCheckAttempts: maxAttempts,
		// Many numbers in one range from one test: the range and IP
		// limits are not what this test is about.
		RateLimits: map[string]string{client.LimitPrefix: "off", client.LimitService: "off"}})
	ctx := t.Context()
	vids := make([]string, verifications)
	for i := range vids {
		v, err := b.key.StartVerification(ctx, b.svc.ID, client.StartParams{To: fmt.Sprintf("+4477009%05d", i)})
		require.NoError(t, err)
		vids[i] = v.ID
	}

	var compared, approved, closed, limited atomic.Int64
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for g := w; g < guesses; g += 16 {
				guess := fmt.Sprintf("%08d", rand.IntN(100_000_000))
				res, err := b.key.CheckVerification(ctx, b.svc.ID, vids[g%verifications], client.CheckParams{Code: guess})
				switch {
				case err == nil && res.Valid:
					approved.Add(1)
				case err == nil:
					compared.Add(1)
				default:
					var code string
					if ae := apiError(t, err); ae != nil {
						code = ae.Code
					}
					switch code {
					case client.CodeVerificationClosed:
						closed.Add(1)
					case client.CodeRateLimited:
						limited.Add(1)
					default:
						t.Errorf("guess %d: %v", g, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d guesses: %d compared and wrong, %d approved, %d refused as closed, %d rate limited",
		guesses, compared.Load(), approved.Load(), closed.Load(), limited.Load())
	require.Zero(t, approved.Load(), "no guess approved a verification")
	require.LessOrEqual(t, compared.Load()+approved.Load(), int64(verifications*maxAttempts),
		"at most max_check_attempts codes of each verification are compared")
	require.EqualValues(t, guesses, compared.Load()+closed.Load()+limited.Load())
}

// TestFailureCapAcrossVerifications: wrong codes count per destination, so
// starting new verifications buys no more guesses; the right code is
// refused too while the cap holds, and works after it.
func TestFailureCapAcrossVerifications(t *testing.T) {
	t.Parallel()
	b := setup(t, client.CreateServiceParams{MaxCheckAttempts: 3, TTLSeconds: 3600, ResendCooldownSeconds: new(0),
		RateLimits: map[string]string{client.LimitFailedChecks: "6/4s"}})
	ctx := t.Context()
	to := "+447700900555"
	wrong := 0
	for n := 1; n <= 2; n++ {
		v, err := b.key.StartVerification(ctx, b.svc.ID, client.StartParams{To: to})
		require.NoError(t, err)
		b.code(t, to, n)
		for range 3 {
			res, err := b.key.CheckVerification(ctx, b.svc.ID, v.ID, client.CheckParams{Code: "00000000"})
			require.NoError(t, err)
			require.False(t, res.Valid)
			wrong++
		}
	}
	require.Equal(t, 6, wrong)
	v, err := b.key.StartVerification(ctx, b.svc.ID, client.StartParams{To: to})
	require.NoError(t, err)
	code := b.code(t, to, 3)
	_, err = b.key.CheckVerification(ctx, b.svc.ID, v.ID, client.CheckParams{Code: code})
	ae := apiError(t, err)
	require.Equal(t, client.CodeRateLimited, ae.Code, "a new verification does not reset the cap")
	require.Positive(t, ae.RetryAfter)
	_, err = b.key.CheckByDestination(ctx, b.svc.ID, client.CheckByDestinationParams{To: to, Code: code})
	require.Equal(t, client.CodeRateLimited, apiError(t, err).Code)

	waitFor(t, ae.RetryAfter)
	res, err := b.key.CheckVerification(ctx, b.svc.ID, v.ID, client.CheckParams{Code: code})
	require.NoError(t, err)
	require.True(t, res.Valid, "after the wait the right code works, and no attempt was used meanwhile")
}
