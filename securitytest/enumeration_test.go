package securitytest_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// TestCheckByDestinationDoesNotTellHistory measures check-by-destination
// with a wrong code for a destination that has a pending verification and
// for one that has none, interleaved, and compares the medians. The
// answers differ in status (200 valid:false and 404, as the contract
// says) but the work — the look-up, the hashing of the code, the count
// against the destination's failure cap — is the same, so the time must
// not be a clearer tell than the status a business already hides or not.
func TestCheckByDestinationDoesNotTellHistory(t *testing.T) {
	t.Parallel()
	const samples = 120
	b := setup(t, client.CreateServiceParams{MaxCheckAttempts: 20, TTLSeconds: 3600,
		RateLimits: map[string]string{client.LimitFailedChecks: "off", client.LimitDestination: "off"}})
	ctx := t.Context()
	const known, unknown = "+447700900901", "+447700900902"
	var withHistory, without []time.Duration
	for i := range samples {
		if i%15 == 0 { // a fresh verification before the attempts run out
			_, err := b.key.StartVerification(ctx, b.svc.ID, client.StartParams{To: known})
			require.NoError(t, err)
		}
		start := time.Now()
		res, err := b.key.CheckByDestination(ctx, b.svc.ID, client.CheckByDestinationParams{To: known, Code: "000000"})
		withHistory = append(withHistory, time.Since(start))
		require.NoError(t, err)
		require.False(t, res.Valid)

		start = time.Now()
		_, err = b.key.CheckByDestination(ctx, b.svc.ID, client.CheckByDestinationParams{To: unknown, Code: "000000"})
		without = append(without, time.Since(start))
		require.Equal(t, client.CodeNotFound, apiError(t, err).Code)
	}
	median := func(d []time.Duration) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)/2]
	}
	a, c := median(withHistory), median(without)
	t.Logf("check-by-destination median: %v with a pending verification, %v without (difference %v)", a, c, a-c)
	diff := a - c
	if diff < 0 {
		diff = -diff
	}
	// The difference is the durable write of the used attempt, which a
	// destination with nothing pending has no row for (docs/SECURITY.md,
	// Enumeration, says so and gives the figures). The bound catches what
	// would be a clear tell on any machine — a scan, a sleep, an extra
	// round trip per history entry — without failing on a loaded one.
	require.Less(t, diff, 50*time.Millisecond, "the answer's timing tells whether a destination has a verification")
}
