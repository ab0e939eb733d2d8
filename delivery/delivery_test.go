package delivery_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
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

// TestHandoffSendsWithoutClaiming: with the dispatcher as the engine's
// Handoff, each message is inserted leased and handed over in memory: all
// are sent, and the store is asked for messages only by the polls.
func TestHandoffSendsWithoutClaiming(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "otpd.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	counted := &countingStore{Store: store}
	disp := delivery.New(counted, delivery.Options{Workers: 4, PollInterval: time.Hour})
	inbox := devinbox.New()
	engine, err := otpd.NewEngine(otpd.Config{
		Store: store, Keyring: otpd.NewKeyring(time.Now()), Renderer: message.New(), Notify: disp.Notify, Handoff: disp,
		Channels: map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: inbox},
	})
	require.NoError(t, err)
	svc, err := engine.CreateService(ctx, &otpd.Service{Name: "Acme", Policy: otpd.DefaultPolicy()})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- disp.Run(runCtx, engine.Deliver) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	waitCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	for i := range 30 {
		v, err := engine.Start(ctx, svc.ID, otpd.StartRequest{To: fmt.Sprintf("+4477009001%02d", i)})
		require.NoError(t, err)
		_, err = inbox.WaitFor(waitCtx, devinbox.ForVerification(v.ID))
		require.NoError(t, err)
	}
	require.LessOrEqual(t, counted.claims.Load(), int64(1), "only the first round claims (the poll is an hour away)")

	// A handed-off message is leased: no claim takes it from its node.
	v, err := engine.Start(ctx, svc.ID, otpd.StartRequest{To: "+447700900199"})
	require.NoError(t, err)
	claimed, err := store.ClaimMessages(ctx, time.Now().Add(time.Second), time.Minute, 100)
	require.NoError(t, err)
	require.Empty(t, claimed)
	_, err = inbox.WaitFor(waitCtx, devinbox.ForVerification(v.ID))
	require.NoError(t, err)
}

// TestShutdownRunsHandedOffJobs: a job reserved before Run's context ends
// and given after is still run: it is leased to this node, and left alone
// it would wait out its lease.
func TestShutdownRunsHandedOffJobs(t *testing.T) {
	t.Parallel()
	none := func(context.Context, time.Time, time.Duration, int) ([]int, error) { return nil, nil }
	pool := delivery.NewPool("job", none, strconv.Itoa, delivery.Options{Workers: 2, ShutdownGrace: 10 * time.Second})
	ran := make(chan int, 3)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- pool.Run(ctx, func(_ context.Context, n int) error { ran <- n; return nil })
	}()

	_, ok := pool.Reserve()
	require.True(t, ok)
	pool.Give(1)
	require.Equal(t, 1, <-ran)

	_, ok = pool.Reserve() // a start in flight when shutdown begins
	require.True(t, ok)
	cancel()
	require.Eventually(t, func() bool {
		_, ok := pool.Reserve()
		if ok {
			pool.Cancel()
		}
		return !ok
	}, 5*time.Second, time.Millisecond, "no new reservations once shutting down")
	pool.Give(2)
	require.NoError(t, <-done)
	require.Equal(t, 2, <-ran)
}

// A job that releases its slot (otpd.ReleaseSendSlot, as Deliver does once
// the channel has answered) lets the pool start the next one while it
// finishes, up to 4 × Workers released jobs; past that, jobs keep their
// slots. Run still waits for released jobs before it returns.
func TestReleasedSlotsRunMoreJobs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		release     bool
		wantRunning int32
	}{
		{"held", false, 2},
		{"released", true, 2 + 4*2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const jobs = 20
			queue := make(chan int, jobs)
			for i := range jobs {
				queue <- i
			}
			claim := func(_ context.Context, _ time.Time, _ time.Duration, limit int) ([]int, error) {
				var out []int
				for len(out) < limit {
					select {
					case i := <-queue:
						out = append(out, i)
					default:
						return out, nil
					}
				}
				return out, nil
			}
			pool := delivery.NewPool("job", claim, strconv.Itoa, delivery.Options{Workers: 2, PollInterval: 10 * time.Millisecond})
			var running, done atomic.Int32
			gate := make(chan struct{})
			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan error)
			go func() {
				ran <- pool.Run(ctx, func(ctx context.Context, _ int) error {
					running.Add(1)
					if tt.release {
						otpd.ReleaseSendSlot(ctx)
					}
					<-gate // the outcome's write
					done.Add(1)
					return nil
				})
			}()
			require.Eventually(t, func() bool { return running.Load() == tt.wantRunning }, 5*time.Second, time.Millisecond)
			time.Sleep(50 * time.Millisecond)
			require.Equal(t, tt.wantRunning, running.Load(), "no more jobs start")
			cancel() // Run waits for the running jobs, released ones too
			time.Sleep(20 * time.Millisecond)
			close(gate)
			require.NoError(t, <-ran)
			require.Equal(t, running.Load(), done.Load(), "every job started has finished when Run returns")
		})
	}
}
