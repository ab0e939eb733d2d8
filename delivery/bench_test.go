package delivery_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/delivery"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/sqlite"
)

// stampChannel records when each message reached the channel.
type stampChannel struct {
	mu   sync.Mutex
	seen map[string]time.Time // verification id → send time
	all  chan struct{}
	want int
}

func (c *stampChannel) Send(_ context.Context, out *otpd.Outbound) (otpd.SendResult, error) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[out.VerificationID] = now
	if len(c.seen) == c.want {
		close(c.all)
	}
	return otpd.SendResult{ProviderID: out.MessageID}, nil
}

func (c *stampChannel) Ready(context.Context) error { return nil }

// BenchmarkPickup measures pickup latency — from a start's commit (Start
// returning) to the channel's Send — in an open loop at a fixed rate, as
// p50/p99 metrics. Run: go test -run '^$' -bench Pickup -benchtime 1x ./delivery/
//
// With handoff the engine gives each message straight to the dispatcher
// (otpd.Handoff, as otpd serve does); without, it wakes the dispatcher to
// claim it from the store.
func BenchmarkPickup(b *testing.B) {
	for _, c := range []struct {
		mode    string
		handoff bool
		rate    int
	}{{"claim", false, 100}, {"claim", false, 500}, {"handoff", true, 100}, {"handoff", true, 500}} {
		rate := c.rate
		b.Run(fmt.Sprintf("sqlite/%s/rate=%d", c.mode, rate), func(b *testing.B) {
			ctx := context.Background()
			store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "otpd.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			const seconds = 4
			n := rate * seconds
			ch := &stampChannel{seen: map[string]time.Time{}, all: make(chan struct{}), want: n}
			disp := delivery.New(store, delivery.Options{Workers: 32})
			cfg := otpd.Config{
				Store: store, Keyring: otpd.NewKeyring(time.Now()), Renderer: message.New(), Notify: disp.Notify,
				Channels: map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: ch},
			}
			if c.handoff {
				cfg.Handoff = disp
			}
			engine, err := otpd.NewEngine(cfg)
			if err != nil {
				b.Fatal(err)
			}
			svc, err := engine.CreateService(ctx, &otpd.Service{Name: "Acme", Policy: otpd.DefaultPolicy()})
			if err != nil {
				b.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { _ = disp.Run(runCtx, engine.Deliver); close(done) }()

			committed := make(map[string]time.Time, n)
			var mu sync.Mutex
			var wg sync.WaitGroup
			interval := time.Second / time.Duration(rate)
			begin := time.Now()
			b.ResetTimer()
			for i := range n {
				// Open loop: each start goes at its scheduled time, however
				// slow the previous ones were.
				time.Sleep(time.Until(begin.Add(time.Duration(i) * interval)))
				wg.Go(func() {
					v, err := engine.Start(ctx, svc.ID, otpd.StartRequest{To: fmt.Sprintf("+4477009%05d", i)})
					if err != nil {
						b.Error(err)
						return
					}
					at := time.Now()
					mu.Lock()
					committed[v.ID] = at
					mu.Unlock()
				})
			}
			wg.Wait()
			select {
			case <-ch.all:
			case <-time.After(30 * time.Second):
				b.Fatalf("only %d of %d messages sent", len(ch.seen), n)
			}
			b.StopTimer()
			stop()
			<-done

			lat := make([]time.Duration, 0, n)
			ch.mu.Lock()
			for id, c := range committed {
				lat = append(lat, max(0, ch.seen[id].Sub(c)))
			}
			ch.mu.Unlock()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
		})
	}
}
