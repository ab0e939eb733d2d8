package otpd_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/sqlite"
)

// eventData stands in for httpapi.EventData (whose shape httpapi tests):
// the status the verification had when the event happened is what these
// tests look at.
func eventData(v *otpd.Verification, at time.Time) ([]byte, error) {
	return json.Marshal(map[string]any{"id": v.ID, "status": v.StatusAt(at)})
}

// eventTypes returns the types of the service's events, oldest first.
func (b *testBundle) eventTypes(t *testing.T, vid string) []otpd.EventType {
	t.Helper()
	evs, err := b.engine.ListEvents(context.Background(), otpd.EventFilter{ServiceID: b.svc.ID, VerificationID: vid})
	require.NoError(t, err)
	out := make([]otpd.EventType, len(evs))
	for i, e := range evs {
		out[len(evs)-1-i] = e.Type
		require.Equal(t, vid, e.VerificationID)
	}
	return out
}

func TestEventsFollowTheVerification(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, b *testBundle, v *otpd.Verification)
		want []otpd.EventType
	}{
		{"Approved", func(t *testing.T, b *testBundle, v *otpd.Verification) {
			code := b.deliver(t, v)
			_, err := b.engine.Check(ctx, b.svc.ID, v.ID, code, nil)
			require.NoError(t, err)
		}, []otpd.EventType{otpd.EventVerificationCreated, otpd.EventMessageSent, otpd.EventVerificationApproved}},
		{"MaxAttempts", func(t *testing.T, b *testBundle, v *otpd.Verification) {
			code := b.deliver(t, v)
			for range v.MaxAttempts {
				_, err := b.engine.Check(ctx, b.svc.ID, v.ID, wrong(code), nil)
				require.NoError(t, err)
			}
		}, []otpd.EventType{otpd.EventVerificationCreated, otpd.EventMessageSent, otpd.EventVerificationMaxAttempts}},
		{"Canceled", func(t *testing.T, b *testBundle, v *otpd.Verification) {
			_, err := b.engine.Cancel(ctx, b.svc.ID, v.ID)
			require.NoError(t, err)
			// The queued message is not sent, and says so.
			require.NoError(t, b.engine.Deliver(ctx, otpd.ClaimedMessage{ServiceID: b.svc.ID, VerificationID: v.ID, MessageID: v.Messages[0].ID}))
		}, []otpd.EventType{otpd.EventVerificationCreated, otpd.EventVerificationCanceled, otpd.EventMessageFailed}},
		{"Expired", func(t *testing.T, b *testBundle, v *otpd.Verification) {
			b.deliver(t, v)
			b.clock.add(v.ExpiresAt.Sub(b.clock.now()))
			for range 2 { // a second sweep finds nothing more to expire
				_, _, err := b.engine.Sweep(ctx, 0, 10)
				require.NoError(t, err)
			}
		}, []otpd.EventType{otpd.EventVerificationCreated, otpd.EventMessageSent, otpd.EventVerificationExpired}},
		{"SendFailed", func(t *testing.T, b *testBundle, v *otpd.Verification) {
			b.sms.setFail(&otpd.SendError{Permanent: true, Err: context.Canceled})
			require.NoError(t, b.engine.Deliver(ctx, otpd.ClaimedMessage{ServiceID: b.svc.ID, VerificationID: v.ID, MessageID: v.Messages[0].ID}))
		}, []otpd.EventType{otpd.EventVerificationCreated, otpd.EventMessageFailed, otpd.EventVerificationFailed}},
		{"Delivered", func(t *testing.T, b *testBundle, v *otpd.Verification) {
			b.deliver(t, v)
			require.NoError(t, b.engine.RecordReceipt(ctx, otpd.Receipt{Channel: otpd.ChannelSMS, Ref: "p-" + v.Messages[0].ID, Status: otpd.MessageDelivered}))
		}, []otpd.EventType{otpd.EventVerificationCreated, otpd.EventMessageSent, otpd.EventMessageDelivered}},
		{"Undelivered", func(t *testing.T, b *testBundle, v *otpd.Verification) {
			b.deliver(t, v)
			require.NoError(t, b.engine.RecordReceipt(ctx, otpd.Receipt{Channel: otpd.ChannelSMS, Ref: "p-" + v.Messages[0].ID, Status: otpd.MessageUndelivered}))
		}, []otpd.EventType{otpd.EventVerificationCreated, otpd.EventMessageSent, otpd.EventMessageFailed, otpd.EventVerificationFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
			require.NoError(t, err)
			tt.run(t, b, v)
			require.Equal(t, tt.want, b.eventTypes(t, v.ID))
		})
	}
}

func TestEventDataIsASnapshot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	v, code := b.start(t, otpd.StartRequest{To: "+447700900123"})
	_, err := b.engine.Check(ctx, b.svc.ID, v.ID, code, nil)
	require.NoError(t, err)
	evs, err := b.engine.ListEvents(ctx, otpd.EventFilter{ServiceID: b.svc.ID})
	require.NoError(t, err)
	status := map[otpd.EventType]string{}
	for _, e := range evs {
		var d struct{ Status string }
		require.NoError(t, json.Unmarshal(e.Data, &d))
		status[e.Type] = d.Status
		require.Equal(t, otpd.EventDisabled, e.Delivery.State, "the service has no webhook_url")
	}
	require.Equal(t, "pending", status[otpd.EventVerificationCreated])
	require.Equal(t, "approved", status[otpd.EventVerificationApproved])
}

func TestEarlyReceiptIsAppliedWhenTheSendIsRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	// The recorder's ref for a message is "p-<message id>": the receipt
	// comes before the send's outcome is written.
	r := otpd.Receipt{Channel: otpd.ChannelSMS, Ref: "p-" + v.Messages[0].ID, Status: otpd.MessageDelivered}
	require.ErrorIs(t, b.engine.RecordReceipt(ctx, r), otpd.ErrNotFound, "kept, and reported as not (yet) known")
	b.deliver(t, v)
	got, err := b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.MessageDelivered, got.Messages[0].Status)
	require.Equal(t, []otpd.EventType{otpd.EventVerificationCreated, otpd.EventMessageSent, otpd.EventMessageDelivered}, b.eventTypes(t, v.ID))
}

func TestEarlyReceiptExpires(t *testing.T) {
	t.Parallel()
	b := setup(t, func(s *otpd.Service) { s.Policy.MaxTTL = 3 * time.Hour })
	ctx := context.Background()
	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123", TTL: 3 * time.Hour})
	require.NoError(t, err)
	r := otpd.Receipt{Channel: otpd.ChannelSMS, Ref: "p-" + v.Messages[0].ID, Status: otpd.MessageDelivered}
	require.ErrorIs(t, b.engine.RecordReceipt(ctx, r), otpd.ErrNotFound)
	b.clock.add(otpd.EarlyReceiptTTL + time.Minute)
	_, _, err = b.engine.Sweep(ctx, 0, 10)
	require.NoError(t, err)
	b.deliver(t, v)
	got, err := b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.MessageSent, got.Messages[0].Status, "a receipt older than EarlyReceiptTTL was dropped")
}

func TestNoEventsWithoutEventData(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	e, err := otpd.NewEngine(otpd.Config{Store: b.store, Keyring: otpd.NewKeyring(time.Now()), Renderer: noRenderer{},
		Channels: map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: b.sms}})
	require.NoError(t, err)
	v, err := e.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	require.Empty(t, b.eventTypes(t, v.ID))
}

type noRenderer struct{}

func (noRenderer) Render(otpd.RenderRequest) (otpd.Rendered, error) { return otpd.Rendered{}, nil }

// TestReceiptOvertakingTheSendIsNeverLost forces the worst interleaving of
// a receipt and its send's outcome: the receipt looks its ref up before the
// outcome is written, and saves itself only after the send side has looked
// for saved receipts. The receipt side must look again after saving.
func TestReceiptOvertakingTheSendIsNeverLost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	st := &interleaved{Store: b.store, looked: make(chan struct{}), taken: make(chan struct{})}
	e, err := otpd.NewEngine(otpd.Config{
		Store: st, Keyring: otpd.NewKeyring(time.Now()), Renderer: message.New(),
		Channels: map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: b.sms}, EventData: eventData,
	})
	require.NoError(t, err)
	v, err := e.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	m := v.Messages[0]

	receipt := make(chan error, 1)
	go func() {
		receipt <- e.RecordReceipt(ctx, otpd.Receipt{Channel: otpd.ChannelSMS, Ref: "p-" + m.ID, Status: otpd.MessageDelivered})
	}()
	<-st.looked // the receipt found nothing
	require.NoError(t, e.Deliver(ctx, otpd.ClaimedMessage{ServiceID: v.ServiceID, VerificationID: v.ID, MessageID: m.ID}))
	require.NoError(t, <-receipt, "the receipt found its message on its second look")
	got, err := e.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.MessageDelivered, got.Messages[0].Status)
}

// interleaved orders a receipt's look-up and save around the send's take.
type interleaved struct {
	*sqlite.Store
	lookOnce, takeOnce sync.Once
	looked, taken      chan struct{}
}

func (s *interleaved) FindMessageByRef(ctx context.Context, ref string) (otpd.ClaimedMessage, error) {
	cm, err := s.Store.FindMessageByRef(ctx, ref)
	s.lookOnce.Do(func() { close(s.looked) })
	return cm, err
}

func (s *interleaved) SaveEarlyReceipt(ctx context.Context, ref string, r otpd.Receipt, at time.Time) error {
	<-s.taken
	return s.Store.SaveEarlyReceipt(ctx, ref, r, at)
}

func (s *interleaved) TakeEarlyReceipts(ctx context.Context, refs []string) ([]otpd.Receipt, error) {
	rs, err := s.Store.TakeEarlyReceipts(ctx, refs)
	s.takeOnce.Do(func() { close(s.taken) })
	return rs, err
}

// blocking is a channel whose sends last until their context ends.
type blocking struct{ started chan struct{} }

func (b blocking) Send(ctx context.Context, _ *otpd.Outbound) (otpd.SendResult, error) {
	close(b.started)
	<-ctx.Done()
	return otpd.SendResult{}, ctx.Err()
}

func (blocking) Ready(context.Context) error { return nil }

// TestSendCutShortIsRescheduled: a send whose context ends (a shutdown
// past its grace) is still recorded, as a temporary failure, so the message
// leaves its lease and is tried again soon, on any node.
func TestSendCutShortIsRescheduled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ch := blocking{started: make(chan struct{})}
	e, err := otpd.NewEngine(otpd.Config{
		Store: b.store, Keyring: otpd.NewKeyring(time.Now()), Renderer: message.New(), Now: b.clock.now,
		Channels: map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: ch},
	})
	require.NoError(t, err)
	v, err := e.Start(context.Background(), b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	claimed, err := b.store.ClaimMessages(context.Background(), b.clock.now(), time.Hour, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Deliver(ctx, claimed[0]) }()
	<-ch.started
	cancel()
	require.NoError(t, <-done)

	got, err := e.GetVerification(context.Background(), b.svc.ID, v.ID)
	require.NoError(t, err)
	m := got.Messages[0]
	require.Equal(t, otpd.MessageQueued, m.Status)
	require.Equal(t, 1, m.Attempts)
	require.Contains(t, m.Error, "context canceled")
	// The hour-long lease is gone: the message is claimable at its retry
	// time, seconds away.
	again, err := b.store.ClaimMessages(context.Background(), b.clock.now().Add(time.Minute), time.Hour, 10)
	require.NoError(t, err)
	require.Len(t, again, 1)
}

func TestCheckKeyring(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	require.NoError(t, b.engine.CheckKeyring(ctx))
	require.NoError(t, b.engine.CheckKeyring(ctx), "the same keyring again")

	// Another node with its own fresh keyring: its k1 is another secret.
	other, err := otpd.NewEngine(otpd.Config{Store: b.store, Keyring: otpd.NewKeyring(time.Now()), Renderer: message.New()})
	require.NoError(t, err)
	err = other.CheckKeyring(ctx)
	require.ErrorIs(t, err, otpd.ErrKeyringMismatch)
	require.ErrorContains(t, err, "key k1")
}
