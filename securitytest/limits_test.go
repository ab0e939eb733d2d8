package securitytest_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// TestEveryLimitTriggersAndRecovers sets each start limit of a service to
// two per three seconds: the third start is refused with 429 and a
// Retry-After, other traffic still passes, and after the wait it works.
func TestEveryLimitTriggersAndRecovers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		limit string
		// req returns the i-th start that the limit counts together.
		req   func(i int) client.StartParams
		other client.StartParams // not counted with them
	}{
		{client.LimitDestination, func(int) client.StartParams { return client.StartParams{To: "+447700900123"} },
			client.StartParams{To: "+447700900124"}},
		{client.LimitClientIP, func(i int) client.StartParams {
			return client.StartParams{To: fmt.Sprintf("+44770090%04d", i), ClientIP: "203.0.113.9"}
		}, client.StartParams{To: "+447700909999", ClientIP: "203.0.113.10"}},
		{client.LimitPrefix, func(i int) client.StartParams { return client.StartParams{To: fmt.Sprintf("+44770090%04d", i)} },
			client.StartParams{To: "+447700910000"}},
		{client.LimitCountry, func(i int) client.StartParams { return client.StartParams{To: fmt.Sprintf("+4915112345%03d", i)} },
			client.StartParams{To: "+447700900200"}},
		{client.LimitService, func(i int) client.StartParams { return client.StartParams{To: fmt.Sprintf("+44770090%04d", i)} },
			client.StartParams{}},
	}
	for _, tc := range tests {
		t.Run(tc.limit, func(t *testing.T) {
			t.Parallel()
			b := setup(t, client.CreateServiceParams{RateLimits: map[string]string{tc.limit: "2/3s"}})
			ctx := t.Context()
			for i := range 2 {
				_, err := b.key.StartVerification(ctx, b.svc.ID, tc.req(i))
				require.NoError(t, err)
			}
			_, err := b.key.StartVerification(ctx, b.svc.ID, tc.req(2))
			ae := apiError(t, err)
			require.Equal(t, 429, ae.HTTPStatus)
			require.Equal(t, client.CodeRateLimited, ae.Code)
			require.Positive(t, ae.RetryAfter)
			require.LessOrEqual(t, ae.RetryAfter, 4*time.Second, "Retry-After is whole seconds, rounded up")
			if tc.other.To != "" {
				_, err := b.key.StartVerification(ctx, b.svc.ID, tc.other)
				require.NoError(t, err, "traffic the limit does not count passes")
			}
			waitFor(t, ae.RetryAfter)
			_, err = b.key.StartVerification(ctx, b.svc.ID, tc.req(3))
			require.NoError(t, err, "it recovers after the wait it gave")
		})
	}
}

// TestResendWaitGrows: each resend waits twice as long as the one before.
func TestResendWaitGrows(t *testing.T) {
	t.Parallel()
	b := setup(t, client.CreateServiceParams{ResendCooldownSeconds: new(1), MaxSends: 5})
	ctx := t.Context()
	v, err := b.key.StartVerification(ctx, b.svc.ID, client.StartParams{To: "+447700900777"})
	require.NoError(t, err)
	var waits []string
	for range 3 {
		_, err := b.key.ResendVerification(ctx, b.svc.ID, v.ID, "")
		ae := apiError(t, err)
		require.Equal(t, client.CodeRateLimited, ae.Code)
		waits = append(waits, strconv.Itoa(int(ae.RetryAfter.Round(time.Second).Seconds())))
		waitFor(t, ae.RetryAfter)
		_, err = b.key.ResendVerification(ctx, b.svc.ID, v.ID, "")
		require.NoError(t, err)
	}
	t.Logf("resend waits (s): %v", waits)
	require.Equal(t, []string{"1", "2", "4"}, waits)
}
