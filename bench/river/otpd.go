package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/delivery"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/postgres"
	"github.com/otpd/otpd/sqlite"
)

// The "otpd" configuration runs otpd's own outbox through this harness
// (same rates, same duration, same clock points as delivery/bench_test.go
// and delivery/pgbench_test.go): insert is Engine.Start (validate, derive,
// hash, durable insert of the verification and its queued message), pickup
// ends at the channel's Send, after the dispatcher's claim and
// Engine.Deliver's load and render — a little more work than River's bare
// worker start. The dispatcher has 32 workers, as otpd serve's default.
// On PostgreSQL it is woken in-process and by the store's LISTEN, as otpd
// serve wires it.

// stampChannel records when each verification's message reached Send.
type stampChannel struct {
	rec  *recorder
	mu   sync.Mutex
	sent map[string]int64 // verification id → recorder time
	seq  map[string]int   // verification id → producer sequence, once Start returned
}

func (c *stampChannel) Send(_ context.Context, out *otpd.Outbound) (otpd.SendResult, error) {
	now := c.rec.since()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.sent[out.VerificationID]; !ok {
		c.sent[out.VerificationID] = now
		if seq, ok := c.seq[out.VerificationID]; ok {
			c.rec.mark(seq, now)
		}
	}
	return otpd.SendResult{ProviderID: out.MessageID}, nil
}

func (c *stampChannel) Ready(context.Context) error { return nil }

// started records that Start of job seq returned verification id; a send
// that came first is marked now.
func (c *stampChannel) started(id string, seq int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq[id] = seq
	if at, ok := c.sent[id]; ok {
		c.rec.mark(seq, at)
	}
}

func runOtpd(ctx context.Context, p params, store otpd.Store, listen func(context.Context, func()) error) (result, error) {
	rec := newRecorder(p.rate * p.seconds)
	ch := &stampChannel{rec: rec, sent: map[string]int64{}, seq: map[string]int{}}
	disp := delivery.New(store, delivery.Options{Workers: 32})
	engine, err := otpd.NewEngine(otpd.Config{
		Store: store, Keyring: otpd.NewKeyring(time.Now()), Renderer: message.New(), Notify: disp.Notify,
		Channels: map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: ch},
	})
	if err != nil {
		return result{}, err
	}
	svc, err := engine.CreateService(ctx, &otpd.Service{Name: "Acme", Policy: otpd.DefaultPolicy()})
	if err != nil {
		return result{}, err
	}
	var (
		runCtx context.Context
		cancel context.CancelFunc
		wg     sync.WaitGroup
	)
	start := func(ctx context.Context) error {
		runCtx, cancel = context.WithCancel(context.WithoutCancel(ctx))
		wg.Go(func() { _ = disp.Run(runCtx, engine.Deliver) })
		if listen != nil {
			wg.Go(func() { _ = listen(runCtx, disp.Notify) })
		}
		return nil
	}
	stop := func(context.Context) error { cancel(); wg.Wait(); return nil }
	return measure(ctx, p, rec, start, stop, func(ctx context.Context, seq int) error {
		v, err := engine.Start(ctx, svc.ID, otpd.StartRequest{To: fmt.Sprintf("+4477%07d", seq)})
		if err != nil {
			return err
		}
		ch.started(v.ID, seq)
		return nil
	}, nil)
}

func runOtpdSQLite(ctx context.Context, p params, path string) (result, error) {
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return result{}, err
	}
	defer store.Close()
	return runOtpd(ctx, p, store, nil)
}

func runOtpdPostgres(ctx context.Context, p params, dsn, schema string) (result, error) {
	var res result
	err := withSchema(ctx, dsn, schema, func(dsn string) error {
		store, err := postgres.Open(ctx, dsn)
		if err != nil {
			return err
		}
		defer store.Close()
		res, err = runOtpd(ctx, p, store, store.Listen)
		return err
	})
	return res, err
}
