package delivery_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/delivery"
	"github.com/otpd/otpd/devinbox"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/sqlite"
)

type testBundle struct {
	store  *sqlite.Store
	inbox  *devinbox.Inbox
	engine *otpd.Engine
	disp   *delivery.Dispatcher
	svc    *otpd.Service
}

func setup(t *testing.T, path string) *testBundle {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	b := &testBundle{store: store, inbox: devinbox.New()}
	b.disp = delivery.New(store, delivery.Options{Workers: 4, PollInterval: 50 * time.Millisecond, Lease: time.Second})
	keyring := otpd.NewKeyring(time.Now())
	b.engine, err = otpd.NewEngine(otpd.Config{
		Store: store, Keyring: keyring, Renderer: message.New(), Notify: b.disp.Notify,
		Channels: map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: b.inbox},
	})
	require.NoError(t, err)
	b.svc, err = b.engine.CreateService(ctx, &otpd.Service{Name: "Acme", Policy: otpd.DefaultPolicy()})
	require.NoError(t, err)
	return b
}

func (b *testBundle) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b.disp.Run(ctx, b.engine.Deliver) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func TestDispatcherDeliversAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, filepath.Join(t.TempDir(), "otpd.db"))
	b.run(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 20 {
		to := "+4477009001" + string(rune('0'+i/10)) + string(rune('0'+i%10))
		v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: to})
		require.NoError(t, err)
		m, err := b.inbox.WaitFor(ctx, devinbox.ForVerification(v.ID))
		require.NoError(t, err)
		require.Equal(t, v.ID, m.VerificationID)
	}
	require.Len(t, b.inbox.Messages(""), 20)
	require.Eventually(t, func() bool {
		vs, err := b.engine.ListVerifications(ctx, b.svc.ID, otpd.ListRequest{Limit: 100})
		require.NoError(t, err)
		for _, v := range vs {
			if v.Messages[0].Status != otpd.MessageDelivered {
				return false
			}
		}
		return len(vs) == 20
	}, 5*time.Second, 10*time.Millisecond)
}

// A message queued while no dispatcher ran (the process died after the API
// accepted it) is sent when one starts.
func TestDispatcherSendsWhatWasQueuedBeforeStart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "otpd.db")
	b := setup(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	require.Empty(t, b.inbox.Messages(""))

	// A claim whose sender died: the lease must run out before it is sent.
	claimed, err := b.store.ClaimMessages(ctx, time.Now(), time.Second, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1)

	b.run(t)
	m, err := b.inbox.WaitFor(ctx, devinbox.ForVerification(v.ID))
	require.NoError(t, err)
	require.Equal(t, v.ID, m.VerificationID)
	require.Len(t, b.inbox.Messages(""), 1, "sent once")
}
