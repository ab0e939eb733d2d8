package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

// PersonalData is what WritePersonalData wrote: one of every kind of
// personal data a store keeps.
type PersonalData struct {
	Service      *otpd.Service
	Verification *otpd.Verification
	Event        *otpd.Event
	Device       *otpd.Device
	Idempotency  *otpd.IdempotencyRecord
	// Plain holds the values, in clear, that a store opened with a sealer
	// must never write: a test greps the store's files for them.
	Plain []string
}

// WritePersonalData writes a service (its webhook secret), a verification (destination, client IP), its
// event (whose payload repeats the destination), a push device (token) and
// a remembered API response (holding the destination), each with values
// unique to this call, and reads them back to check they come out whole.
func WritePersonalData(t *testing.T, s Store) PersonalData {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	tag := randomHex(4)
	to := fmt.Sprintf("+4477009%05d", int(now.UnixNano()%100000))
	p := PersonalData{Service: NewService(now)}
	require.NoError(t, s.CreateService(ctx, p.Service))

	v := NewVerification(p.Service, now)
	v.To = to
	v.ClientIP = "198.51.100." + fmt.Sprint(10+now.UnixNano()%200)
	v.FallbackTo = map[otpd.ChannelName]string{otpd.ChannelEmail: "ana." + tag + "@example.com"}
	p.Event = NewEvent(v, otpd.EventVerificationCreated, now)
	p.Event.Data = []byte(`{"id":"` + v.ID + `","to":"` + to + `","note":"event-` + tag + `"}`)
	v.Events = []*otpd.Event{p.Event}
	require.NoError(t, s.CreateVerification(ctx, v))
	v.Events = nil
	p.Verification = v

	p.Device = NewDevice(p.Service, now)
	p.Device.Token = "push-token-" + tag + randomHex(16)
	require.NoError(t, s.CreateDevice(ctx, p.Device))

	p.Idempotency = &otpd.IdempotencyRecord{Scope: p.Service.ID, Key: "idem-" + tag, RequestHash: randomBytes(32),
		CreatedAt: now, LockedUntil: now.Add(time.Minute)}
	_, err := s.ReserveIdempotencyKey(ctx, p.Idempotency)
	require.NoError(t, err)
	p.Idempotency.Completed, p.Idempotency.StatusCode = true, 201
	p.Idempotency.Body = []byte(`{"to":"` + to + `","body":"idem-` + tag + `"}`)
	require.NoError(t, s.CompleteIdempotencyKey(ctx, p.Idempotency))

	p.Plain = []string{to, to[1:], v.ClientIP, v.FallbackTo[otpd.ChannelEmail], p.Device.Token, "event-" + tag, "idem-" + tag + `"}`, p.Service.WebhookSecret}
	p.CheckReadsBack(t, s)
	return p
}

// CheckReadsBack reads everything WritePersonalData wrote and checks it
// is whole: sealing must be invisible to the store's callers.
func (p PersonalData) CheckReadsBack(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	svc, err := s.GetService(ctx, p.Service.ID)
	require.NoError(t, err)
	require.Equal(t, p.Service.WebhookSecret, svc.WebhookSecret)
	v, err := s.GetVerification(ctx, p.Service.ID, p.Verification.ID)
	require.NoError(t, err)
	require.Equal(t, p.Verification.To, v.To)
	require.Equal(t, p.Verification.ClientIP, v.ClientIP)
	require.Equal(t, p.Verification.FallbackTo, v.FallbackTo)
	e, err := s.GetEvent(ctx, p.Service.ID, p.Event.ID)
	require.NoError(t, err)
	require.JSONEq(t, string(p.Event.Data), string(e.Data))
	d, err := s.GetDevice(ctx, p.Service.ID, p.Device.ID)
	require.NoError(t, err)
	require.Equal(t, p.Device.Token, d.Token)
	again := &otpd.IdempotencyRecord{Scope: p.Idempotency.Scope, Key: p.Idempotency.Key, RequestHash: p.Idempotency.RequestHash,
		CreatedAt: time.Now().UTC(), LockedUntil: time.Now().UTC().Add(time.Minute)}
	existing, err := s.ReserveIdempotencyKey(ctx, again)
	require.NoError(t, err)
	require.NotNil(t, existing)
	require.Equal(t, string(p.Idempotency.Body), string(existing.Body))

	// A check (an update of the row) keeps the destination readable.
	_, err = s.UpdateVerification(ctx, p.Service.ID, p.Verification.ID, func(v *otpd.Verification) error {
		v.Attempts++
		return nil
	})
	require.NoError(t, err)
	v, err = s.GetVerification(ctx, p.Service.ID, p.Verification.ID)
	require.NoError(t, err)
	require.Equal(t, p.Verification.To, v.To)
	found, err := s.FindPending(ctx, p.Service.ID, []string{p.Verification.ToKey}, time.Now())
	require.NoError(t, err)
	require.Equal(t, p.Verification.To, found.To)
}
