package sms_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/sms"
)

// fakeRoute is a route's channel whose answers the test scripts.
type fakeRoute struct {
	mu    sync.Mutex
	err   error
	down  bool
	sends int
}

func (f *fakeRoute) Send(context.Context, *otpd.Outbound) (otpd.SendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends++
	if f.err != nil {
		return otpd.SendResult{}, f.err
	}
	return otpd.SendResult{ProviderID: "id1", Refs: []string{"id1", "id2"}}, nil
}

func (f *fakeRoute) Ready(context.Context) error {
	if f.down {
		return errors.New("unbound")
	}
	return nil
}

func names(rs []*sms.Route) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}

func TestCandidates(t *testing.T) {
	t.Parallel()
	r, err := sms.NewRouter([]*sms.Route{
		{Name: "default", Channel: &fakeRoute{}},
		{Name: "uk-b", Prefixes: []string{"+44"}, Priority: 2, Channel: &fakeRoute{}},
		{Name: "uk-a", Prefixes: []string{"+44"}, Priority: 1, Channel: &fakeRoute{}},
		{Name: "uk-mobile", Prefixes: []string{"+447", "+3538"}, Channel: &fakeRoute{}},
		{Name: "us", Prefixes: []string{"+1"}, Channel: &fakeRoute{}},
	})
	require.NoError(t, err)
	for to, want := range map[string][]string{
		"+447700900123":  {"uk-mobile", "uk-a", "uk-b", "default"},
		"+442071838750":  {"uk-a", "uk-b", "default"},
		"+14155552671":   {"us", "default"},
		"+4915123456789": {"default"},
	} {
		require.Equal(t, want, names(r.Candidates(to)), to)
	}
}

func TestNewRouterValidates(t *testing.T) {
	t.Parallel()
	for _, routes := range [][]*sms.Route{
		nil,
		{{Name: "", Channel: &fakeRoute{}}},
		{{Name: "a", Channel: &fakeRoute{}}, {Name: "a", Channel: &fakeRoute{}}},
		{{Name: "a"}},
		{{Name: "a", Prefixes: []string{"44"}, Channel: &fakeRoute{}}},
		{{Name: "a", Prefixes: []string{"+4x"}, Channel: &fakeRoute{}}},
	} {
		_, err := sms.NewRouter(routes)
		require.Error(t, err)
	}
}

func TestSendFailsOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msg := &otpd.Outbound{To: "+447700900123"}
	primary, secondary, down := &fakeRoute{}, &fakeRoute{}, &fakeRoute{down: true}
	r, err := sms.NewRouter([]*sms.Route{
		{Name: "down", Prefixes: []string{"+447"}, Channel: down},
		{Name: "primary", Prefixes: []string{"+44"}, Priority: 1, Channel: primary},
		{Name: "secondary", Prefixes: []string{"+44"}, Priority: 2, Channel: secondary},
	})
	require.NoError(t, err)

	res, err := r.Send(ctx, msg)
	require.NoError(t, err)
	require.Equal(t, "primary:id1", res.ProviderID, "a route that is down is skipped")
	require.Equal(t, []string{"primary:id1", "primary:id2"}, res.Refs, "refs are qualified by route")
	require.Zero(t, down.sends)

	primary.err = errors.New("throttled") // temporary
	res, err = r.Send(ctx, msg)
	require.NoError(t, err)
	require.Equal(t, "secondary:id1", res.ProviderID, "a temporary refusal fails over")

	secondary.err = errors.New("bind lost")
	_, err = r.Send(ctx, msg)
	require.Error(t, err)
	require.False(t, otpd.IsPermanent(err), "when every route fails temporarily the message is retried later")

	primary.err = &otpd.SendError{Permanent: true, Code: "0x0000000B", Err: errors.New("invalid destination")}
	before := secondary.sends
	_, err = r.Send(ctx, msg)
	require.True(t, otpd.IsPermanent(err))
	require.ErrorContains(t, err, "0x0000000B")
	require.Equal(t, before, secondary.sends, "a permanent refusal is not tried elsewhere")

	ready := r.RouteReadiness(ctx)
	require.Error(t, ready["down"])
	require.NoError(t, ready["primary"])

	h := r.Health(ctx)
	require.Len(t, h, 3)
	require.False(t, h[0].Ready)
	require.Equal(t, uint64(1), h[1].Sent)
	require.Equal(t, uint64(3), h[1].Failed)
	require.Greater(t, h[1].ErrorRate, 0.0)
}

func TestSendWithoutRoute(t *testing.T) {
	t.Parallel()
	r, err := sms.NewRouter([]*sms.Route{{Name: "us", Prefixes: []string{"+1"}, Channel: &fakeRoute{}}})
	require.NoError(t, err)
	_, err = r.Send(context.Background(), &otpd.Outbound{To: "+447700900123"})
	require.True(t, otpd.IsPermanent(err))
	require.NoError(t, r.Ready(context.Background()), "one ready route makes the router ready")
}

func TestReadyWhenEveryRouteIsDown(t *testing.T) {
	t.Parallel()
	r, err := sms.NewRouter([]*sms.Route{
		{Name: "a", Channel: &fakeRoute{down: true}},
		{Name: "b", Channel: &fakeRoute{down: true}},
	})
	require.NoError(t, err)
	err = r.Ready(context.Background())
	require.ErrorContains(t, err, "route a")
	require.ErrorContains(t, err, "route b")
	_, err = r.Send(context.Background(), &otpd.Outbound{To: "+447700900123"})
	require.Error(t, err)
	require.False(t, otpd.IsPermanent(err))
}

// scriptedRoute is a route's channel whose Send the test writes; it
// records the deadline each call was given.
type scriptedRoute struct {
	send func(ctx context.Context) (otpd.SendResult, error)

	mu        sync.Mutex
	deadlines []time.Duration // time left at the call; -1 for none
}

func (s *scriptedRoute) Send(ctx context.Context, _ *otpd.Outbound) (otpd.SendResult, error) {
	left := time.Duration(-1)
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	s.mu.Lock()
	s.deadlines = append(s.deadlines, left)
	s.mu.Unlock()
	return s.send(ctx)
}

func (s *scriptedRoute) Ready(context.Context) error { return nil }

func (s *scriptedRoute) calls() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.deadlines...)
}

// stuck never answers: it holds the send until its context ends, as a
// transmitter does whose SMSC throttles every submit_sm.
func stuck(ctx context.Context) (otpd.SendResult, error) {
	<-ctx.Done()
	return otpd.SendResult{}, fmt.Errorf("smpp: submit_sm: throttled: %w", ctx.Err())
}

func accepts(context.Context) (otpd.SendResult, error) {
	return otpd.SendResult{ProviderID: "m1", Refs: []string{"m1"}}, nil
}

// routerOf builds a router over the routes for +44, tried in the order
// given, with the share floor lowered to minShare.
func routerOf(t *testing.T, minShare time.Duration, routes ...*scriptedRoute) *sms.Router {
	t.Helper()
	var rs []*sms.Route
	for i, r := range routes {
		rs = append(rs, &sms.Route{Name: fmt.Sprintf("r%d", i+1), Prefixes: []string{"+44"}, Priority: i, Channel: r})
	}
	router, err := sms.NewRouter(rs)
	require.NoError(t, err)
	router.SetMinShare(minShare)
	return router
}

// A route that stalls gets its share of the send's time and no more: the
// next route gets the rest, and the last route everything that remains.
func TestSendSharesTheDeadline(t *testing.T) {
	t.Parallel()
	const total = 900 * time.Millisecond
	tests := []struct {
		name     string
		minShare time.Duration
		// wantFirst is the time the first route is given.
		wantFirst time.Duration
	}{
		{"a third each among three", 10 * time.Millisecond, total / 3},
		{"at least the floor", 400 * time.Millisecond, 400 * time.Millisecond},
		{"never past the send's deadline", 5 * time.Second, total},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			first, second, last := &scriptedRoute{send: stuck}, &scriptedRoute{send: stuck}, &scriptedRoute{send: accepts}
			r := routerOf(t, tt.minShare, first, second, last)
			ctx, cancel := context.WithTimeout(context.Background(), total)
			defer cancel()
			start := time.Now()
			res, err := r.Send(ctx, &otpd.Outbound{To: "+447700900123"})
			if tt.wantFirst >= total {
				require.Error(t, err, "the first route had all the time and used it")
				require.Empty(t, second.calls())
				require.Empty(t, last.calls())
				return
			}
			require.NoError(t, err)
			require.Equal(t, "r3:m1", res.ProviderID)
			require.Less(t, time.Since(start), total)

			tolerance := 100 * time.Millisecond // -race on a loaded machine
			require.InDelta(t, tt.wantFirst, first.calls()[0], float64(tolerance))
			require.Len(t, second.calls(), 1)
			// The second of the two left gets half of what remains, or the floor.
			wantSecond := max((total-tt.wantFirst)/2, tt.minShare)
			wantSecond = min(wantSecond, total-tt.wantFirst)
			require.InDelta(t, wantSecond, second.calls()[0], float64(tolerance))
			require.InDelta(t, total-tt.wantFirst-wantSecond, last.calls()[0], float64(tolerance), "the last route gets what remains")
		})
	}
}

// Without a deadline every route but the last is still bounded, and the
// last is not.
func TestSendWithoutDeadline(t *testing.T) {
	t.Parallel()
	first, last := &scriptedRoute{send: func(context.Context) (otpd.SendResult, error) {
		return otpd.SendResult{}, errors.New("bind lost")
	}}, &scriptedRoute{send: accepts}
	r := routerOf(t, time.Second, first, last)
	_, err := r.Send(context.Background(), &otpd.Outbound{To: "+447700900123"})
	require.NoError(t, err)
	require.InDelta(t, sms.NoDeadlineShare, first.calls()[0], float64(time.Second))
	require.Equal(t, []time.Duration{-1}, last.calls())
}

// A route whose outcome is unknown — it wrote the request, then its share
// ran out — hands the message on all the same (at least once), and says
// what happened when no route takes it.
func TestSendAfterMaybeAccepted(t *testing.T) {
	t.Parallel()
	maybe := func(ctx context.Context) (otpd.SendResult, error) {
		<-ctx.Done()
		return otpd.SendResult{}, fmt.Errorf("%w: smpp: submit_sm seq 7: sent, gave up waiting for the response: %w", sms.ErrMaybeAccepted, ctx.Err())
	}
	first, second := &scriptedRoute{send: maybe}, &scriptedRoute{send: accepts}
	r := routerOf(t, 10*time.Millisecond, first, second)
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	res, err := r.Send(ctx, &otpd.Outbound{To: "+447700900123"})
	require.NoError(t, err)
	require.Equal(t, "r2:m1", res.ProviderID, "the route that answered names the message")

	second.send = func(context.Context) (otpd.SendResult, error) {
		return otpd.SendResult{}, &otpd.SendError{Code: "0x00000008", Err: errors.New("ESME_RSYSERR")}
	}
	ctx, cancel = context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	_, err = r.Send(ctx, &otpd.Outbound{To: "+447700900123"})
	require.Error(t, err)
	require.False(t, otpd.IsPermanent(err))
	require.ErrorIs(t, err, sms.ErrMaybeAccepted)
	require.ErrorContains(t, err, "route r1: gave up after")
	require.ErrorContains(t, err, "its share of the send's time")
	require.ErrorContains(t, err, "may have accepted the message")
	require.ErrorContains(t, err, "route r2: ESME_RSYSERR")
}

// A permanent refusal is final even from a route that is not the last;
// the share only ends routes that run out of time.
func TestSendPermanentBeforeShareEnds(t *testing.T) {
	t.Parallel()
	first := &scriptedRoute{send: func(context.Context) (otpd.SendResult, error) {
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Code: "0x0000000B", Err: errors.New("ESME_RINVDSTADR")}
	}}
	second := &scriptedRoute{send: accepts}
	r := routerOf(t, 10*time.Millisecond, first, second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := r.Send(ctx, &otpd.Outbound{To: "+447700900123"})
	require.True(t, otpd.IsPermanent(err))
	require.Empty(t, second.calls())
}

// When the whole send's time is over, no further route is tried.
func TestSendStopsWhenTheSendEnds(t *testing.T) {
	t.Parallel()
	first, second := &scriptedRoute{send: stuck}, &scriptedRoute{send: accepts}
	r := routerOf(t, time.Hour, first, second) // the floor gives the first route everything
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := r.Send(ctx, &otpd.Outbound{To: "+447700900123"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, otpd.IsPermanent(err))
	require.Empty(t, second.calls())
}

// TrackWrite tells an HTTP route's failures apart: after the request was
// written the provider may have the message; before, it cannot.
func TestTrackWrite(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(release) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	for _, tt := range []struct {
		name, url string
		maybe     bool
	}{
		{"written, no answer", hanging.URL, true},
		{"connection refused", closed, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			ctx, unknown := sms.TrackWrite(ctx)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, tt.url, strings.NewReader("To=%2B447700900123"))
			require.NoError(t, err)
			_, err = http.DefaultClient.Do(req)
			require.Error(t, err)
			err = unknown(err)
			require.Equal(t, tt.maybe, errors.Is(err, sms.ErrMaybeAccepted), "%v", err)
			require.False(t, otpd.IsPermanent(err))
		})
	}
	_, unknown := sms.TrackWrite(context.Background())
	require.NoError(t, unknown(nil))
}

// latencyRoute is a fakeRoute whose sends take a scripted latency on the
// router's clock and fail as scripted. The test sends one at a time.
type latencyRoute struct {
	fakeRoute
	now     time.Time                 // the router's clock: each send moves it on by its latency
	latency func(i int) time.Duration // of the ith send, from 0
	errFor  func(i int) error
	i       int
}

func (r *latencyRoute) Send(ctx context.Context, msg *otpd.Outbound) (otpd.SendResult, error) {
	r.now = r.now.Add(r.latency(r.i))
	err := r.errFor(r.i)
	r.i++
	if err != nil {
		return otpd.SendResult{}, err
	}
	return r.fakeRoute.Send(ctx, msg)
}

// boundRoute is a fakeRoute that keeps binds.
type boundRoute struct {
	fakeRoute
	up, configured int
}

func (r *boundRoute) Binds() (up, configured int) { return r.up, r.configured }

// Health reports, per route, its binds or reachability, and the error rate
// and latencies of its last sends.
func TestRouteHealth(t *testing.T) {
	t.Parallel()
	ms := func(i int) time.Duration { return time.Duration(i+1) * time.Millisecond }
	// failing returns errFor for sends that fail with err when fails(i).
	failing := func(err error, fails func(i int) bool) func(int) error {
		return func(i int) error {
			if fails(i) {
				return err
			}
			return nil
		}
	}
	temporary := errors.New("provider answered 503")
	permanent := &otpd.SendError{Permanent: true, Err: errors.New("invalid number")}
	never := func(int) bool { return false }
	smppRoute, err := sms.NewSMPPRoute(&recordingSubmitter{}, sms.SMPPOptions{})
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		channel otpd.Channel // when nil, a latencyRoute sending sends times
		sends   int
		latency func(i int) time.Duration
		errFor  func(i int) error
		want    sms.RouteHealth // Name, Err and LastErrorAt are checked apart
	}{{
		name:    "http route before its first send",
		channel: &fakeRoute{},
		want:    sms.RouteHealth{Ready: true, State: "unknown"},
	}, {
		name:  "http route whose last send had no answer",
		sends: 4, latency: ms, errFor: failing(temporary, func(i int) bool { return i == 3 }),
		want: sms.RouteHealth{Ready: true, State: "unreachable", Sent: 3, Failed: 1, Recent: 4, ErrorRate: 0.25,
			Latency: 2500 * time.Microsecond, LatencyP50: 2 * time.Millisecond, LatencyP99: 4 * time.Millisecond,
			LastError: temporary.Error()},
	}, {
		name:  "http route that refused a number for good is reachable",
		sends: 2, latency: ms, errFor: failing(permanent, func(i int) bool { return i == 1 }),
		want: sms.RouteHealth{Ready: true, State: "reachable", Sent: 1, Failed: 1, Recent: 2, ErrorRate: 0.5,
			Latency: 1500 * time.Microsecond, LatencyP50: time.Millisecond, LatencyP99: 2 * time.Millisecond,
			LastError: permanent.Error()},
	}, {
		name:  "percentiles over 100 sends of 1 to 100 ms",
		sends: 100, latency: ms, errFor: failing(nil, never),
		want: sms.RouteHealth{Ready: true, State: "reachable", Sent: 100, Recent: 100,
			Latency: 50500 * time.Microsecond, LatencyP50: 50 * time.Millisecond, LatencyP99: 99 * time.Millisecond},
	}, {
		name:  "failures older than the window no longer count",
		sends: 50 + sms.HealthWindow, latency: func(int) time.Duration { return time.Millisecond },
		errFor: failing(temporary, func(i int) bool { return i < 50 }),
		want: sms.RouteHealth{Ready: true, State: "reachable", Sent: sms.HealthWindow, Failed: 50, Recent: sms.HealthWindow,
			Latency: time.Millisecond, LatencyP50: time.Millisecond, LatencyP99: time.Millisecond, LastError: temporary.Error()},
	}, {
		name:    "smpp route with one bind of two up",
		channel: &boundRoute{up: 1, configured: 2},
		want:    sms.RouteHealth{Ready: true, State: "bound", Binds: 2, BindsUp: 1},
	}, {
		name:    "smpp route with no bind up",
		channel: &boundRoute{fakeRoute: fakeRoute{down: true}, configured: 3},
		want:    sms.RouteHealth{State: "unbound", Binds: 3},
	}, {
		name:    "smpp route over a submitter that does not count binds",
		channel: smppRoute,
		want:    sms.RouteHealth{Ready: true, State: "bound", Binds: 1, BindsUp: 1},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ch := tc.channel
			var lr *latencyRoute
			if ch == nil {
				lr = &latencyRoute{now: time.Unix(1_700_000_000, 0), latency: tc.latency, errFor: tc.errFor}
				ch = lr
			}
			r, err := sms.NewRouter([]*sms.Route{{Name: "r", Channel: ch}})
			require.NoError(t, err)
			if lr != nil {
				r.SetNow(func() time.Time { return lr.now })
			}
			for range tc.sends {
				_, _ = r.Send(t.Context(), &otpd.Outbound{To: "+447700900123"})
			}
			h := r.Health(t.Context())
			require.Len(t, h, 1)
			got := h[0]
			require.Equal(t, "r", got.Name)
			require.Equal(t, tc.want.Ready, got.Err == nil, "Err is set when the route is not ready")
			require.Equal(t, tc.want.LastError != "", !got.LastErrorAt.IsZero(), "LastErrorAt goes with LastError")
			got.Name, got.Err, got.LastErrorAt = "", nil, time.Time{}
			require.Equal(t, tc.want, got)
		})
	}
}
