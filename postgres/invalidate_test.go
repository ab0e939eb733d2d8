package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/postgres"
)

// engineOn returns an engine on s whose cache keeps entries for an hour, so
// that a change it sees came from an invalidation, not the TTL.
func engineOn(t *testing.T, s *postgres.Store) *otpd.Engine {
	t.Helper()
	e, err := otpd.NewEngine(otpd.Config{
		Store:    s,
		Keyring:  otpd.NewKeyring(time.Now()),
		Channels: map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: nopChannel{}},
		Renderer: message.New(),
		CacheTTL: time.Hour,
	})
	require.NoError(t, err)
	return e
}

// nopChannel lets starts queue SMS; nothing here delivers them.
type nopChannel struct{}

func (nopChannel) Send(context.Context, *otpd.Outbound) (otpd.SendResult, error) {
	return otpd.SendResult{}, nil
}

func (nopChannel) Ready(context.Context) error { return nil }

// eventually polls cond until it holds, and returns how long that took; the
// test fails after a second.
func eventually(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	require.Eventually(t, cond, time.Second, 2*time.Millisecond, what)
	return time.Since(start)
}

// TestTwoNodesInvalidate: what node a changes, node b stops using from its
// cache within a second (milliseconds, in practice), with an hour's TTL.
func TestTwoNodesInvalidate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	listen(t, b)
	ea, eb := engineOn(t, a), engineOn(t, b)

	svc, err := ea.CreateService(ctx, &otpd.Service{Name: "Acme", Policy: otpd.DefaultPolicy(), Channels: []otpd.ChannelName{otpd.ChannelSMS}})
	require.NoError(t, err)
	k, secret, err := ea.CreateKey(ctx, svc.ID, "backend")
	require.NoError(t, err)
	codeLength := func() int {
		v, err := eb.Start(ctx, svc.ID, otpd.StartRequest{To: "+447700900123"})
		require.NoError(t, err)
		return v.CodeLength
	}
	_, err = eb.Authenticate(ctx, secret)
	require.NoError(t, err)
	require.Equal(t, 6, codeLength())

	// A revoked key.
	require.NoError(t, ea.RevokeKey(ctx, svc.ID, k.ID))
	took := eventually(t, "node b refuses the key node a revoked", func() bool {
		_, err := eb.Authenticate(ctx, secret)
		return err != nil
	})
	t.Logf("revocation seen by the other node after %v", took)

	// An updated service.
	_, err = ea.UpdateService(ctx, svc.ID, func(s *otpd.Service) error { s.Policy.CodeLength = 8; return nil })
	require.NoError(t, err)
	took = eventually(t, "node b starts with the policy node a set", func() bool { return codeLength() == 8 })
	t.Logf("service update seen by the other node after %v", took)

	// A deleted service takes its keys with it.
	_, secret, err = ea.CreateKey(ctx, svc.ID, "other")
	require.NoError(t, err)
	_, err = eb.Authenticate(ctx, secret)
	require.NoError(t, err)
	require.NoError(t, ea.DeleteService(ctx, svc.ID))
	eventually(t, "node b refuses a key of the service node a deleted", func() bool {
		_, err := eb.Authenticate(ctx, secret)
		return err != nil
	})
}

// TestInvalidationPayloads: the cache channel carries a kind and an id,
// nothing else, and only for changes that happened.
func TestInvalidationPayloads(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := newSchema(t)
	s := openStore(t, schema)
	raw := newRawListenerOn(t, schema, "otpd_cache_")
	e := engineOn(t, s)
	svc, err := e.CreateService(ctx, &otpd.Service{Name: "Acme", Policy: otpd.DefaultPolicy(), Channels: []otpd.ChannelName{otpd.ChannelSMS}})
	require.NoError(t, err)
	k, _, err := e.CreateKey(ctx, svc.ID, "backend")
	require.NoError(t, err)

	require.ErrorIs(t, s.DeleteKey(ctx, svc.ID, "key_none"), otpd.ErrNotFound)
	require.NoError(t, s.DeleteKey(ctx, svc.ID, k.ID))
	require.Equal(t, "key:"+k.ID, raw.next(t), "creating notifies nobody, a delete of nothing neither")
	_, err = e.UpdateService(ctx, svc.ID, func(s *otpd.Service) error { s.Name = "Acme Bank"; return nil })
	require.NoError(t, err)
	require.Equal(t, "service:"+svc.ID, raw.next(t))
	require.NoError(t, s.DeleteService(ctx, svc.ID))
	require.Equal(t, "service:"+svc.ID, raw.next(t))
}

// TestListenInvalidatesAllWhenItStarts: changes made while no listener ran
// were not heard, so each start of listening drops everything.
func TestListenInvalidatesAllWhenItStarts(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openStore(t, newSchema(t))
	got, kept := make(chan otpd.Invalidation, 16), make(chan otpd.Invalidation, 16)
	cancel := s.SubscribeInvalidations(func(inv otpd.Invalidation) { got <- inv })
	s.SubscribeInvalidations(func(inv otpd.Invalidation) { kept <- inv })
	listen(t, s)
	for _, c := range []chan otpd.Invalidation{got, kept} {
		select {
		case inv := <-c:
			require.Equal(t, otpd.Invalidation{Kind: otpd.InvalidateAll}, inv)
		case <-time.After(waitFor):
			t.Fatal("no invalidation when Listen started")
		}
	}

	cancel()
	svc := &otpd.Service{ID: otpd.NewID(otpd.PrefixService, time.Now()), Name: "Acme", Policy: otpd.DefaultPolicy(),
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	require.NoError(t, s.CreateService(ctx, svc))
	require.NoError(t, s.DeleteService(ctx, svc.ID))
	select {
	case inv := <-kept:
		require.Equal(t, otpd.Invalidation{Kind: otpd.InvalidateService, ID: svc.ID}, inv)
	case <-time.After(waitFor):
		t.Fatal("no invalidation for a deleted service")
	}
	require.Empty(t, got, "a canceled subscription is told nothing")
}
