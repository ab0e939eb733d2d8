package otpd_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/sqlite"
)

type fallbackBundle struct {
	engine   *otpd.Engine
	store    *sqlite.Store
	whatsapp *recorder
	sms      *recorder
	clock    *clock
	svc      *otpd.Service
}

// setupFallback is an engine with WhatsApp and SMS, and a service that
// prefers WhatsApp.
func setupFallback(t *testing.T) *fallbackBundle {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "otpd.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	b := &fallbackBundle{store: store, whatsapp: &recorder{}, sms: &recorder{}, clock: &clock{}}
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	b.clock.t.Store(&start)
	b.engine, err = otpd.NewEngine(otpd.Config{
		Store: store, Keyring: otpd.NewKeyring(start), Renderer: message.New(), Now: b.clock.now, EventData: eventData,
		Channels: map[otpd.ChannelName]otpd.Channel{otpd.ChannelWhatsApp: b.whatsapp, otpd.ChannelSMS: b.sms},
	})
	require.NoError(t, err)
	b.svc, err = b.engine.CreateService(ctx, &otpd.Service{Name: "Acme", Policy: otpd.DefaultPolicy(),
		Channels: []otpd.ChannelName{otpd.ChannelWhatsApp, otpd.ChannelSMS}})
	require.NoError(t, err)
	return b
}

func (b *fallbackBundle) get(t *testing.T, v *otpd.Verification) *otpd.Verification {
	t.Helper()
	got, err := b.engine.GetVerification(context.Background(), b.svc.ID, v.ID)
	require.NoError(t, err)
	return got
}

// deliverLast sends v's newest message through its channel.
func (b *fallbackBundle) deliverLast(t *testing.T, v *otpd.Verification) *otpd.Message {
	t.Helper()
	v = b.get(t, v)
	m := v.Messages[len(v.Messages)-1]
	require.NoError(t, b.engine.Deliver(context.Background(), otpd.ClaimedMessage{ServiceID: v.ServiceID, VerificationID: v.ID, MessageID: m.ID}))
	return m
}

func channels(v *otpd.Verification) (out []string) {
	for _, m := range v.Messages {
		out = append(out, string(m.Channel)+":"+string(m.Status))
	}
	return out
}

func TestFallbackRoute(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupFallback(t)
	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	require.Equal(t, otpd.ChannelWhatsApp, v.Channel, "auto takes the service's order")
	require.Equal(t, []otpd.ChannelName{otpd.ChannelSMS}, v.Fallback)

	v, err = b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123", Channel: otpd.ChannelSMS})
	require.NoError(t, err)
	require.Empty(t, v.Fallback, "an explicit channel without fallback has none")

	v, err = b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123", Channel: otpd.ChannelSMS, Fallback: []otpd.ChannelName{otpd.ChannelWhatsApp}})
	require.NoError(t, err)
	require.Equal(t, []otpd.ChannelName{otpd.ChannelWhatsApp}, v.Fallback)

	for name, tc := range map[string]struct {
		req  otpd.StartRequest
		kind error
	}{
		"unreachable":    {otpd.StartRequest{To: "+447700900123", Channel: otpd.ChannelSMS, Fallback: []otpd.ChannelName{otpd.ChannelEmail}}, otpd.ErrChannelUnavailable},
		"twice":          {otpd.StartRequest{To: "+447700900123", Channel: otpd.ChannelSMS, Fallback: []otpd.ChannelName{otpd.ChannelWhatsApp, otpd.ChannelWhatsApp}}, otpd.ErrInvalid},
		"primary again":  {otpd.StartRequest{To: "+447700900123", Channel: otpd.ChannelSMS, Fallback: []otpd.ChannelName{otpd.ChannelSMS}}, otpd.ErrInvalid},
		"auto in list":   {otpd.StartRequest{To: "+447700900123", Channel: otpd.ChannelSMS, Fallback: []otpd.ChannelName{otpd.ChannelAuto}}, otpd.ErrInvalid},
		"not configured": {otpd.StartRequest{To: "+447700900123", Channel: otpd.ChannelSMS, Fallback: []otpd.ChannelName{otpd.ChannelRCS}}, otpd.ErrChannelUnavailable},
	} {
		_, err := b.engine.Start(ctx, b.svc.ID, tc.req)
		oe := requireKind(t, err, tc.kind)
		require.Equal(t, "fallback", oe.Param, name)
	}
}

func TestFallbackOnFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupFallback(t)
	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	b.whatsapp.setFail(&otpd.SendError{Permanent: true, Err: errors.New("131026 not on WhatsApp")})
	b.deliverLast(t, v)
	got := b.get(t, v)
	require.Equal(t, []string{"whatsapp:failed", "sms:queued"}, channels(got), "moves on at once")
	require.Equal(t, otpd.StatusPending, got.Status)
	require.Equal(t, otpd.ChannelSMS, got.Channel)

	b.deliverLast(t, v)
	code := b.sms.last(t).Code
	res, err := b.engine.Check(ctx, b.svc.ID, v.ID, code, nil)
	require.NoError(t, err)
	require.True(t, res.Valid, "the same code on every channel")
}

func TestFallbackOnUndeliveredReceipt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupFallback(t)
	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	m := b.deliverLast(t, v)
	require.NoError(t, b.engine.RecordReceipt(ctx, otpd.Receipt{Channel: otpd.ChannelWhatsApp, Ref: "p-" + m.ID, Status: otpd.MessageUndelivered, Error: "131049"}))
	require.Equal(t, []string{"whatsapp:undelivered", "sms:queued"}, channels(b.get(t, v)))
}

func TestFallbackOnTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupFallback(t)
	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	b.deliverLast(t, v)
	got := b.get(t, v)
	require.Equal(t, b.clock.now().Add(otpd.DefaultFallbackTimeouts[otpd.ChannelWhatsApp]), got.Messages[0].FallbackAt)

	claim := func() []otpd.ClaimedMessage {
		cms, err := b.store.ClaimFallbacks(ctx, b.clock.now(), time.Minute, 10)
		require.NoError(t, err)
		return cms
	}
	require.Empty(t, claim(), "not due before the timeout")
	b.clock.add(30 * time.Second)
	due := claim()
	require.Len(t, due, 1)
	require.NoError(t, b.engine.Fallback(ctx, due[0]))
	require.Equal(t, []string{"whatsapp:sent", "sms:queued"}, channels(b.get(t, v)))
	require.NoError(t, b.engine.Fallback(ctx, due[0]), "handling it twice (a lease that ran out) does nothing more")
	require.Len(t, b.get(t, v).Messages, 2)

	// The SMS is the last channel: it arms no timer.
	b.deliverLast(t, v)
	got = b.get(t, v)
	require.True(t, got.Messages[1].FallbackAt.IsZero())
	b.clock.add(time.Hour)
	require.Empty(t, claim())
}

func TestNoFallbackOnceDelivered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupFallback(t)
	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	m := b.deliverLast(t, v)
	b.clock.add(10 * time.Second)
	require.NoError(t, b.engine.RecordReceipt(ctx, otpd.Receipt{Channel: otpd.ChannelWhatsApp, Ref: "p-" + m.ID, Status: otpd.MessageDelivered}))
	b.clock.add(time.Minute)
	cms, err := b.store.ClaimFallbacks(ctx, b.clock.now(), time.Minute, 10)
	require.NoError(t, err)
	require.Empty(t, cms)
	require.Equal(t, []string{"whatsapp:delivered"}, channels(b.get(t, v)))
}

func TestFallbackExhausted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupFallback(t)
	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	b.whatsapp.setFail(&otpd.SendError{Permanent: true, Err: errors.New("not on WhatsApp")})
	b.sms.setFail(&otpd.SendError{Permanent: true, Err: errors.New("invalid destination")})
	b.deliverLast(t, v)
	b.deliverLast(t, v)
	got := b.get(t, v)
	require.Equal(t, []string{"whatsapp:failed", "sms:failed"}, channels(got))
	require.Equal(t, otpd.StatusFailed, got.Status, "every channel failed")

	evs, err := b.engine.ListEvents(ctx, otpd.EventFilter{ServiceID: b.svc.ID, VerificationID: v.ID})
	require.NoError(t, err)
	var types []otpd.EventType
	for _, e := range evs {
		types = append([]otpd.EventType{e.Type}, types...)
	}
	require.Equal(t, []otpd.EventType{otpd.EventVerificationCreated, otpd.EventMessageFailed, otpd.EventMessageFailed, otpd.EventVerificationFailed}, types,
		"every step appears in the events")
}

// TestFallbackToAnotherRecipient: a push verification names the e-mail
// address its e-mail step goes to; the push fails (the token is dead), and
// the same code arrives by e-mail at that address.
func TestFallbackToAnotherRecipient(t *testing.T) {
	t.Parallel()
	pushes := &recorder{}
	b := setupWith(t, func(c *otpd.Config) { c.Channels[otpd.ChannelPush] = pushes }, func(s *otpd.Service) {
		s.Channels = []otpd.ChannelName{otpd.ChannelPush, otpd.ChannelEmail}
	})
	ctx := context.Background()
	dev, err := b.engine.RegisterDevice(ctx, b.svc.ID, otpd.PlatformAndroid, "fcm-token-1", "")
	require.NoError(t, err)

	for name, tc := range map[string]struct {
		req   otpd.StartRequest
		param string
	}{
		"not a fallback channel": {otpd.StartRequest{To: dev.ID, Channel: otpd.ChannelPush, FallbackTo: map[otpd.ChannelName]string{otpd.ChannelEmail: "ana@example.com"}}, "fallback_to"},
		"wrong kind":             {otpd.StartRequest{To: dev.ID, Channel: otpd.ChannelPush, Fallback: []otpd.ChannelName{otpd.ChannelEmail}, FallbackTo: map[otpd.ChannelName]string{otpd.ChannelEmail: "+447700900123"}}, "fallback_to.email"},
		"bad address":            {otpd.StartRequest{To: dev.ID, Channel: otpd.ChannelPush, Fallback: []otpd.ChannelName{otpd.ChannelEmail}, FallbackTo: map[otpd.ChannelName]string{otpd.ChannelEmail: "ana@"}}, "fallback_to.email"},
		"unknown channel":        {otpd.StartRequest{To: dev.ID, Channel: otpd.ChannelPush, Fallback: []otpd.ChannelName{otpd.ChannelEmail}, FallbackTo: map[otpd.ChannelName]string{"fax": "ana@example.com"}}, "fallback_to"},
	} {
		_, err := b.engine.Start(ctx, b.svc.ID, tc.req)
		oe := requireKind(t, err, otpd.ErrInvalid)
		require.Equal(t, tc.param, oe.Param, name)
	}
	_, err = b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: dev.ID, Channel: otpd.ChannelPush, Fallback: []otpd.ChannelName{otpd.ChannelEmail}})
	require.ErrorIs(t, err, otpd.ErrChannelUnavailable, "without a recipient e-mail cannot reach a device")

	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: dev.ID, Channel: otpd.ChannelPush,
		Fallback: []otpd.ChannelName{otpd.ChannelEmail}, FallbackTo: map[otpd.ChannelName]string{otpd.ChannelEmail: "Ana@Example.com"}})
	require.NoError(t, err)
	require.Equal(t, map[otpd.ChannelName]string{otpd.ChannelEmail: "Ana@example.com"}, v.FallbackTo, "normalized")

	pushes.setFail(&otpd.SendError{Permanent: true, Code: "UNREGISTERED", Err: errors.New("the token is dead")})
	m := v.Messages[0]
	require.NoError(t, b.engine.Deliver(ctx, otpd.ClaimedMessage{ServiceID: v.ServiceID, VerificationID: v.ID, MessageID: m.ID}))
	got, err := b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"push:failed", "email:queued"}, channels(got))
	code := b.deliver(t, got)
	mail := b.email.last(t)
	require.Equal(t, "Ana@example.com", mail.To, "the e-mail goes to the recipient fallback_to names")
	res, err := b.engine.Check(ctx, b.svc.ID, v.ID, code, nil)
	require.NoError(t, err)
	require.True(t, res.Valid, "the same code")
}
