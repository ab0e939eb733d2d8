// Package delivery runs the delivery queue: it claims queued messages from
// the store and hands each to a deliver function (otpd.Engine.Deliver) on a
// bounded pool of workers.
//
// The queue is the messages table itself: a message is written as queued in
// the same transaction as the verification (or resend) that caused it, so a
// message accepted by the API survives a crash. Claims are leases: a node
// that dies mid-send leaves its messages to be claimed again when the lease
// runs out, so every message is sent at least once.
//
// Pick-up has no polling delay on the hot path: the engine calls Notify
// after each commit, which wakes the claim loop at once. A slow poll remains
// for messages whose retry time has come, and for those queued by other
// nodes.
package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/otpd/otpd"
)

// Options tune a Dispatcher. Zero values take the defaults.
type Options struct {
	Workers      int           // concurrent sends; default 32
	Lease        time.Duration // how long a claim lasts; default 2 × otpd.DefaultSendTimeout
	PollInterval time.Duration // the longest idle wait between claims; default 1 s
	// ShutdownGrace is how long in-flight sends may finish after Run's
	// context ends; default 10 s.
	ShutdownGrace time.Duration
	Logger        *slog.Logger
	Now           func() time.Time
}

// DeliverFunc sends one claimed message and records its outcome.
type DeliverFunc func(ctx context.Context, m otpd.ClaimedMessage) error

// Dispatcher claims queued messages and delivers them.
type Dispatcher struct {
	pool *Pool[otpd.ClaimedMessage]
}

// New returns a dispatcher for the store's queue.
func New(store otpd.Store, opts Options) *Dispatcher {
	return &Dispatcher{pool: NewPool("message", store.ClaimMessages, func(m otpd.ClaimedMessage) string { return m.MessageID }, opts)}
}

// Notify wakes the claim loop. It never blocks.
func (d *Dispatcher) Notify() { d.pool.Notify() }

// Run claims and delivers messages until ctx ends, then waits up to
// ShutdownGrace for in-flight sends before returning. Sends run with a
// context of their own so that shutting down does not cut a send in half.
func (d *Dispatcher) Run(ctx context.Context, deliver DeliverFunc) error {
	return d.pool.Run(ctx, deliver)
}

// ClaimFunc leases up to limit due jobs for lease, as the store's Claim
// methods do.
type ClaimFunc[T any] func(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]T, error)

// Pool is a claim loop over one kind of leased job (messages, webhook
// events) with a bounded number of workers: the part of a dispatcher that
// does not depend on what the jobs are.
type Pool[T any] struct {
	what  string         // names the jobs in logs
	idOf  func(T) string // a job's id, for logs (never its contents: they may hold personal data)
	claim ClaimFunc[T]
	opts  Options
	wake  chan struct{}
}

// NewPool returns a pool that claims jobs with claim; what names them in
// logs ("message", "event") and idOf gives a job's id for logs.
func NewPool[T any](what string, claim ClaimFunc[T], idOf func(T) string, opts Options) *Pool[T] {
	if opts.Workers <= 0 {
		opts.Workers = 32
	}
	if opts.Lease <= 0 {
		opts.Lease = 2 * otpd.DefaultSendTimeout
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Pool[T]{what: what, idOf: idOf, claim: claim, opts: opts, wake: make(chan struct{}, 1)}
}

// Notify wakes the claim loop. It never blocks.
func (p *Pool[T]) Notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run claims jobs and hands each to handle until ctx ends, then waits up to
// ShutdownGrace for in-flight jobs before returning. Jobs run with a
// context of their own so that shutting down does not cut one in half.
func (p *Pool[T]) Run(ctx context.Context, handle func(context.Context, T) error) error {
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()

	slots := make(chan struct{}, p.opts.Workers)
	var wg sync.WaitGroup
	defer func() {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(p.opts.ShutdownGrace):
			// Unfinished claims run out their lease and are handled again.
			cancelSends()
			<-done
		}
	}()

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		free := p.opts.Workers - len(slots)
		var claimed []T
		if free > 0 {
			var err error
			claimed, err = p.claim(ctx, p.opts.Now().UTC(), p.opts.Lease, free)
			if err != nil && ctx.Err() == nil {
				p.opts.Logger.ErrorContext(ctx, "claiming "+p.what+"s", "err", err)
			}
		}
		for _, job := range claimed {
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done() }()
				if err := handle(sendCtx, job); err != nil {
					p.opts.Logger.ErrorContext(sendCtx, "handling "+p.what, p.what+"_id", p.idOf(job), "err", err)
				}
				// A freed worker may have more to claim.
				p.Notify()
			}()
		}
		if len(claimed) > 0 && len(claimed) == free {
			// A full batch: there may be more right away.
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		timer.Reset(p.opts.PollInterval)
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		case <-timer.C:
		}
	}
}
