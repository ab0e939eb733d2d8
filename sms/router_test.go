package sms_test

import (
	"context"
	"errors"
	"sync"
	"testing"

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
