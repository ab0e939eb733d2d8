package otpd_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/message"
)

// guardCall is what the engine told a fake guard.
type guardCall struct {
	op        string // screen, started, approved
	serviceID string
	to        string
	at        time.Time
}

// fakeGuard records the engine's calls and refuses what block says.
type fakeGuard struct {
	mu    sync.Mutex
	calls []guardCall
	block func(otpd.Destination) bool
}

func (g *fakeGuard) record(c guardCall) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, c)
}

func (g *fakeGuard) Screen(_ context.Context, svc *otpd.Service, dest otpd.Destination, now time.Time) error {
	g.record(guardCall{"screen", svc.ID, dest.Address, now})
	if g.block != nil && g.block(dest) {
		return &otpd.Error{Kind: otpd.ErrDestinationBlocked, Param: "to", Detail: "numbers starting " + dest.Prefix() + "… are blocked"}
	}
	return nil
}

func (g *fakeGuard) Started(serviceID string, dest otpd.Destination, at time.Time) {
	g.record(guardCall{"started", serviceID, dest.Address, at})
}

func (g *fakeGuard) Approved(serviceID string, dest otpd.Destination, createdAt time.Time) {
	g.record(guardCall{"approved", serviceID, dest.Address, createdAt})
}

func (g *fakeGuard) ops() []guardCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]guardCall(nil), g.calls...)
}

// The engine screens a start before it creates anything, counts it once
// created, and credits an approval to the verification's creation time.
func TestEngineFraudGuardHooks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	guard := &fakeGuard{block: func(d otpd.Destination) bool { return d.Prefix() == "+3712512" }}
	engine, err := otpd.NewEngine(otpd.Config{
		Store: b.store, Keyring: otpd.NewKeyring(b.clock.now()), Renderer: message.New(),
		Channels: map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: b.sms, otpd.ChannelEmail: b.email},
		Now:      b.clock.now, Guard: guard,
	})
	require.NoError(t, err)
	ctx := t.Context()
	created := b.clock.now()

	_, err = engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+37125121234"})
	oe := requireKind(t, err, otpd.ErrDestinationBlocked)
	require.Equal(t, "to", oe.Param)
	list, err := engine.ListVerifications(ctx, b.svc.ID, otpd.ListRequest{})
	require.NoError(t, err)
	require.Empty(t, list, "a refused start creates nothing")

	v, err := engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	m := v.Messages[0]
	require.NoError(t, engine.Deliver(ctx, otpd.ClaimedMessage{ServiceID: v.ServiceID, VerificationID: v.ID, MessageID: m.ID}))
	code := b.sms.last(t).Code
	b.clock.add(90 * time.Second)
	res, err := engine.Check(ctx, b.svc.ID, v.ID, wrong(code), nil)
	require.NoError(t, err)
	require.False(t, res.Valid)
	res, err = engine.Check(ctx, b.svc.ID, v.ID, code, nil)
	require.NoError(t, err)
	require.True(t, res.Valid)

	// E-mail is counted too (the guard ignores what it does not judge),
	// but not screened: the guard judges phone number ranges only.
	_, err = engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "ana@example.com", Channel: otpd.ChannelEmail})
	require.NoError(t, err)

	require.Equal(t, []guardCall{
		{"screen", b.svc.ID, "+37125121234", created},
		{"screen", b.svc.ID, "+447700900123", created},
		{"started", b.svc.ID, "+447700900123", created},
		{"approved", b.svc.ID, "+447700900123", created}, // a wrong code is not an approval
		{"started", b.svc.ID, "ana@example.com", created.Add(90 * time.Second)},
	}, guard.ops())
}

func TestBlockMatches(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	dest := func(to string) otpd.Destination {
		d, err := otpd.ParseDestination(to)
		require.NoError(t, err)
		return d
	}
	tests := []struct {
		name    string
		block   otpd.Block
		to      string
		matches bool
	}{
		{"prefix", otpd.Block{Scope: otpd.ScopePrefix, Key: "+3712512"}, "+37125121234", true},
		{"shorter prefix", otpd.Block{Scope: otpd.ScopePrefix, Key: "+371"}, "+37125121234", true},
		{"other prefix", otpd.Block{Scope: otpd.ScopePrefix, Key: "+3712513"}, "+37125121234", false},
		{"country", otpd.Block{Scope: otpd.ScopeCountry, Key: "LV"}, "+37125121234", true},
		{"other country", otpd.Block{Scope: otpd.ScopeCountry, Key: "GB"}, "+37125121234", false},
		{"e-mail", otpd.Block{Scope: otpd.ScopePrefix, Key: "+"}, "ana@example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.matches, tt.block.Matches(dest(tt.to)))
		})
	}
	b := otpd.Block{CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	require.True(t, b.ActiveAt(now))
	require.False(t, b.ActiveAt(now.Add(time.Hour)))
	require.Equal(t, now.Add(time.Hour), b.EndedAt())
	b.LiftedAt = now.Add(time.Minute)
	require.False(t, b.ActiveAt(now.Add(2*time.Minute)))
	require.Equal(t, now.Add(time.Minute), b.EndedAt())
}
