package otpd_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/ratelimit"
)

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want otpd.RateLimit
		str  string
		bad  bool
	}{
		{in: "5/10m", want: otpd.RateLimit{N: 5, Per: 10 * time.Minute}, str: "5/10m"},
		{in: " 20 / 1h ", want: otpd.RateLimit{N: 20, Per: time.Hour}, str: "20/1h"},
		{in: "3/m", want: otpd.RateLimit{N: 3, Per: time.Minute}, str: "3/1m"},
		{in: "100/1d", want: otpd.RateLimit{N: 100, Per: 24 * time.Hour}, str: "100/1d"},
		{in: "7/90s", want: otpd.RateLimit{N: 7, Per: 90 * time.Second}, str: "7/90s"},
		{in: "1/1h30m", want: otpd.RateLimit{N: 1, Per: 90 * time.Minute}, str: "1/90m"},
		{in: "off", want: otpd.NoLimit, str: "off"},
		{in: "0", want: otpd.NoLimit, str: "off"},
		{in: "", want: otpd.RateLimit{}, str: ""},
		{in: "5", bad: true},
		{in: "0/1m", bad: true},
		{in: "-1/1m", bad: true},
		{in: "5/0s", bad: true},
		{in: "5/500ms", bad: true},
		{in: "5/32d", bad: true},
		{in: "five/1m", bad: true},
		{in: "5/1x", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := otpd.ParseRateLimit(tc.in)
			if tc.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.str, got.String())
			back, err := otpd.ParseRateLimit(got.String())
			require.NoError(t, err)
			require.Equal(t, got, back, "String reads back")
		})
	}
}

func TestLimitsOrAndNamed(t *testing.T) {
	t.Parallel()
	own := otpd.Limits{Destination: otpd.RateLimit{N: 2, Per: time.Minute}, Country: otpd.NoLimit}
	got := own.Or(otpd.DefaultLimits())
	require.Equal(t, own.Destination, got.Destination, "set limits win")
	require.Equal(t, otpd.NoLimit, got.Country, "off is set, not unset")
	require.Equal(t, otpd.DefaultLimits().ClientIP, got.ClientIP, "unset limits take the default")
	require.Equal(t, map[string]otpd.RateLimit{"destination": own.Destination, "country": otpd.NoLimit}, own.Named())
	back, err := otpd.LimitsFromNamed(own.Named())
	require.NoError(t, err)
	require.Equal(t, own, back)
	_, err = otpd.LimitsFromNamed(map[string]otpd.RateLimit{"per_moon": {N: 1, Per: time.Hour}})
	require.ErrorIs(t, err, otpd.ErrInvalid)
}

// limited is an engine whose every limit is off but the given ones.
func limited(t *testing.T, limits otpd.Limits, mutate ...func(*otpd.Service)) *testBundle {
	t.Helper()
	all := otpd.Limits{Destination: otpd.NoLimit, ClientIP: otpd.NoLimit, Service: otpd.NoLimit,
		Prefix: otpd.NoLimit, Country: otpd.NoLimit, FailedChecks: otpd.NoLimit}
	return setupWith(t, func(c *otpd.Config) {
		c.Limiter = ratelimit.NewMemory()
		c.Limits = limits.Or(all)
	}, mutate...)
}

func TestStartRateLimits(t *testing.T) {
	t.Parallel()
	per := func(n int) otpd.RateLimit { return otpd.RateLimit{N: n, Per: 10 * time.Minute} }
	tests := []struct {
		name   string
		limits otpd.Limits
		// req returns the i-th request; the limit is 2, so the third of
		// requests is refused while other is still let through.
		req     func(i int) otpd.StartRequest
		other   otpd.StartRequest
		subject string
	}{
		{
			name:    "destination",
			limits:  otpd.Limits{Destination: per(2)},
			req:     func(int) otpd.StartRequest { return otpd.StartRequest{To: "+447700900123"} },
			other:   otpd.StartRequest{To: "+447700900124"},
			subject: "for this destination (2/10m)",
		},
		{
			name:   "client ip",
			limits: otpd.Limits{ClientIP: per(2)},
			req: func(i int) otpd.StartRequest {
				return otpd.StartRequest{To: fmt.Sprintf("+44770090%04d", i), ClientIP: "203.0.113.7"}
			},
			other:   otpd.StartRequest{To: "+447700909999", ClientIP: "203.0.113.8"},
			subject: "from this client_ip",
		},
		{
			name:    "prefix",
			limits:  otpd.Limits{Prefix: per(2)},
			req:     func(i int) otpd.StartRequest { return otpd.StartRequest{To: fmt.Sprintf("+44770090%04d", i)} },
			other:   otpd.StartRequest{To: "+447700910000"},
			subject: "to this number range",
		},
		{
			name:    "country",
			limits:  otpd.Limits{Country: per(2)},
			req:     func(i int) otpd.StartRequest { return otpd.StartRequest{To: fmt.Sprintf("+4915112345%03d", i)} },
			other:   otpd.StartRequest{To: "+447700900123"},
			subject: "to this country",
		},
		{
			name:    "service",
			limits:  otpd.Limits{Service: per(2)},
			req:     func(i int) otpd.StartRequest { return otpd.StartRequest{To: fmt.Sprintf("+44770090%04d", i)} },
			subject: "for this service",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := limited(t, tc.limits)
			ctx := context.Background()
			for i := range 2 {
				_, err := b.engine.Start(ctx, b.svc.ID, tc.req(i))
				require.NoError(t, err)
			}
			b.clock.add(time.Minute)
			_, err := b.engine.Start(ctx, b.svc.ID, tc.req(2))
			oe := requireKind(t, err, otpd.ErrRateLimited)
			require.Contains(t, oe.Detail, tc.subject)
			require.Positive(t, oe.RetryAfter)
			require.LessOrEqual(t, oe.RetryAfter, 10*time.Minute)
			if tc.other.To != "" {
				_, err = b.engine.Start(ctx, b.svc.ID, tc.other)
				require.NoError(t, err, "other traffic is not limited")
			}
			// It recovers after the wait it gave.
			b.clock.add(oe.RetryAfter)
			_, err = b.engine.Start(ctx, b.svc.ID, tc.req(3))
			require.NoError(t, err)
		})
	}
}

func TestServiceLimitsOverrideServerDefaults(t *testing.T) {
	t.Parallel()
	b := limited(t, otpd.Limits{Destination: otpd.RateLimit{N: 1, Per: time.Hour}}, func(s *otpd.Service) {
		s.Limits.Destination = otpd.RateLimit{N: 3, Per: time.Hour}
	})
	ctx := context.Background()
	for range 3 {
		_, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
		require.NoError(t, err)
	}
	_, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	requireKind(t, err, otpd.ErrRateLimited)

	// Off for the service, though the server limits it.
	_, err = b.engine.UpdateService(ctx, b.svc.ID, func(s *otpd.Service) error {
		s.Limits.Destination = otpd.NoLimit
		return nil
	})
	require.NoError(t, err)
	_, err = b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
}

func TestResendCountsAgainstLimits(t *testing.T) {
	t.Parallel()
	b := limited(t, otpd.Limits{Destination: otpd.RateLimit{N: 2, Per: time.Hour}}, func(s *otpd.Service) {
		s.Policy.ResendCooldown = 0
	})
	ctx := context.Background()
	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	_, err = b.engine.Resend(ctx, b.svc.ID, v.ID, "")
	require.NoError(t, err)
	_, err = b.engine.Resend(ctx, b.svc.ID, v.ID, "")
	requireKind(t, err, otpd.ErrRateLimited)
	got, err := b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Len(t, got.Messages, 2, "the refused resend queued nothing")
}

func TestFailedChecksCapAcrossVerifications(t *testing.T) {
	t.Parallel()
	b := limited(t, otpd.Limits{FailedChecks: otpd.RateLimit{N: 3, Per: time.Hour}}, func(s *otpd.Service) {
		s.Policy.TTL = 3 * time.Hour
	})
	ctx := context.Background()
	to := "+447700900123"
	v1, code1 := b.start(t, otpd.StartRequest{To: to})
	for range 3 {
		res, err := b.engine.Check(ctx, b.svc.ID, v1.ID, wrong(code1), nil)
		require.NoError(t, err)
		require.False(t, res.Valid)
	}
	// Over the cap even the right code is not compared, and no attempt is used.
	_, err := b.engine.Check(ctx, b.svc.ID, v1.ID, code1, nil)
	oe := requireKind(t, err, otpd.ErrRateLimited)
	require.Contains(t, oe.Detail, "wrong codes")
	got, err := b.engine.GetVerification(ctx, b.svc.ID, v1.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.StatusPending, got.Status)
	require.Equal(t, 2, got.AttemptsRemaining())

	// A new verification does not reset the count.
	v2, code2 := b.start(t, otpd.StartRequest{To: to})
	_, err = b.engine.Check(ctx, b.svc.ID, v2.ID, code2, nil)
	requireKind(t, err, otpd.ErrRateLimited)
	_, err = b.engine.CheckDestination(ctx, b.svc.ID, to, code2, nil)
	requireKind(t, err, otpd.ErrRateLimited)

	// Another destination is unaffected.
	v3, code3 := b.start(t, otpd.StartRequest{To: "+447700900124"})
	res, err := b.engine.Check(ctx, b.svc.ID, v3.ID, code3, nil)
	require.NoError(t, err)
	require.True(t, res.Valid)

	// After the wait the right code works.
	b.clock.add(oe.RetryAfter)
	res, err = b.engine.Check(ctx, b.svc.ID, v2.ID, code2, nil)
	require.NoError(t, err)
	require.True(t, res.Valid)
}

func TestCheckDestinationWithoutHistoryCountsToo(t *testing.T) {
	t.Parallel()
	b := limited(t, otpd.Limits{FailedChecks: otpd.RateLimit{N: 2, Per: time.Hour}})
	ctx := context.Background()
	for range 2 {
		_, err := b.engine.CheckDestination(ctx, b.svc.ID, "+447700900123", "123456", nil)
		requireKind(t, err, otpd.ErrNotFound)
	}
	// The same answer as for a destination that has a verification.
	_, err := b.engine.CheckDestination(ctx, b.svc.ID, "+447700900123", "123456", nil)
	requireKind(t, err, otpd.ErrRateLimited)
}

func TestNumberTypeScreening(t *testing.T) {
	t.Parallel()
	tests := []struct {
		to      string
		typ     otpd.NumberType
		blocked bool
	}{
		{"+447911123456", otpd.NumberMobile, false},
		{"+14155552671", otpd.NumberFixedLineOrMobile, false},
		{"+447700900123", otpd.NumberUnknown, false},
		{"+442079460000", otpd.NumberFixedLine, true},
		{"+19005550123", otpd.NumberPremiumRate, true},
		{"+449090901234", otpd.NumberPremiumRate, true},
		{"+18005550123", otpd.NumberTollFree, true},
	}
	b := limited(t, otpd.Limits{})
	for _, tc := range tests {
		t.Run(tc.to, func(t *testing.T) {
			d, err := otpd.ParseDestination(tc.to)
			require.NoError(t, err)
			require.Equal(t, tc.typ, d.Type)
			_, err = b.engine.Start(context.Background(), b.svc.ID, otpd.StartRequest{To: tc.to, Channel: otpd.ChannelSMS})
			if tc.blocked {
				requireKind(t, err, otpd.ErrDestinationBlocked)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestNumberTypeReachable(t *testing.T) {
	t.Parallel()
	require.False(t, otpd.NumberFixedLine.Reachable(otpd.ChannelSMS))
	require.True(t, otpd.NumberFixedLine.Reachable(otpd.ChannelWhatsApp))
	for _, typ := range []otpd.NumberType{otpd.NumberPremiumRate, otpd.NumberSharedCost, otpd.NumberTollFree, otpd.NumberPager, otpd.NumberVoicemail, otpd.NumberUAN} {
		for _, c := range []otpd.ChannelName{otpd.ChannelSMS, otpd.ChannelWhatsApp, otpd.ChannelRCS} {
			require.False(t, typ.Reachable(c), "%s over %s", typ, c)
		}
	}
	for _, typ := range []otpd.NumberType{otpd.NumberMobile, otpd.NumberFixedLineOrMobile, otpd.NumberVoIP, otpd.NumberPersonal, otpd.NumberUnknown} {
		require.True(t, typ.Reachable(otpd.ChannelSMS), string(typ))
	}
}

// guardSpy is a FraudGuard that blocks one prefix and records what it is told.
type guardSpy struct {
	mu       sync.Mutex
	blocked  string
	started  []string
	approved []time.Time
}

func (g *guardSpy) Screen(_ context.Context, _ *otpd.Service, d otpd.Destination, _ time.Time) error {
	if d.Prefix() == g.blocked {
		return &otpd.Error{Kind: otpd.ErrDestinationBlocked, Param: "to", Detail: "blocked range"}
	}
	return nil
}

func (g *guardSpy) Started(_ string, d otpd.Destination, _ time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.started = append(g.started, d.Prefix())
}

func (g *guardSpy) Approved(_ string, _ otpd.Destination, createdAt time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.approved = append(g.approved, createdAt)
}

func TestEngineAsksTheFraudGuard(t *testing.T) {
	t.Parallel()
	g := &guardSpy{blocked: "+44770091"}
	b := setupWith(t, func(c *otpd.Config) { c.Guard = g })
	ctx := context.Background()
	_, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700910123"})
	requireKind(t, err, otpd.ErrDestinationBlocked)
	v, code := b.start(t, otpd.StartRequest{To: "+447700900123"})
	res, err := b.engine.Check(ctx, b.svc.ID, v.ID, code, nil)
	require.NoError(t, err)
	require.True(t, res.Valid)
	g.mu.Lock()
	defer g.mu.Unlock()
	require.Equal(t, []string{"+44770090"}, g.started, "only the start that was made")
	require.Equal(t, []time.Time{v.CreatedAt}, g.approved, "credited to when it started")
}

func TestSafeListValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		entry string
		ok    bool
	}{
		{"+4477009", true}, {"+447700900123", true}, {"+44", false}, {"4477009", false},
		{"+44 7700", false}, {"+0123", false}, {"+1234567890123456", false},
	} {
		s := &otpd.Service{Name: "A", Policy: otpd.DefaultPolicy(), SafeList: []string{tc.entry}}
		err := s.Validate()
		if tc.ok {
			require.NoError(t, err, tc.entry)
		} else {
			require.ErrorIs(t, err, otpd.ErrInvalid, tc.entry)
		}
	}
}
