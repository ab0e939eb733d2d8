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
	"sync/atomic"
	"time"

	"github.com/otpd/otpd"
)

// Options tune a Dispatcher. Zero values take the defaults.
type Options struct {
	// Workers bounds the jobs running at once; default 32. A job that
	// releases its slot early (otpd.ReleaseSendSlot: a message whose send
	// is done and whose outcome is being written) no longer counts, up to
	// 4 × Workers such jobs.
	Workers      int
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

var _ otpd.Handoff = (*Dispatcher)(nil)

// Reserve implements otpd.Handoff: room for a message the engine inserts
// leased to this node, for the dispatcher's lease.
func (d *Dispatcher) Reserve() (time.Duration, bool) { return d.pool.Reserve() }

// Give implements otpd.Handoff.
func (d *Dispatcher) Give(m otpd.ClaimedMessage) { d.pool.Give(m) }

// Cancel implements otpd.Handoff.
func (d *Dispatcher) Cancel() { d.pool.Cancel() }

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

	hand     chan T       // jobs given by Give, claimed already
	pending  atomic.Int64 // reservations not yet taken from hand
	released atomic.Int64 // jobs running after releasing their slot
	closed   atomic.Bool  // no more reservations: Run is ending
	backlog  atomic.Bool  // the last claim was full: there may be more to claim
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
	return &Pool[T]{what: what, idOf: idOf, claim: claim, opts: opts, wake: make(chan struct{}, 1),
		hand: make(chan T, 4*opts.Workers)}
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
// Jobs given to the pool (Give) are run before any are claimed: they are
// claimed already.
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
	maxReleased := int64(4 * p.opts.Workers)
	start := func(job T) {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			held := true
			release := func() {
				// Past maxReleased the job keeps its slot: the writes it
				// waits for are behind, and more sends would only queue
				// more of them.
				if !held {
					return
				}
				if p.released.Add(1) > maxReleased {
					p.released.Add(-1)
					return
				}
				held = false
				<-slots
				if p.backlog.Load() {
					p.Notify()
				}
			}
			defer func() {
				if held {
					<-slots
				} else {
					p.released.Add(-1)
				}
				wg.Done()
			}()
			if err := handle(otpd.WithSendSlot(sendCtx, release), job); err != nil {
				p.opts.Logger.ErrorContext(sendCtx, "handling "+p.what, p.what+"_id", p.idOf(job), "err", err)
			}
			// A freed worker may have more to claim, if the last claim
			// filled every free worker. Otherwise waking would cost a
			// claim statement that finds nothing.
			if p.backlog.Load() {
				p.Notify()
			}
		}()
	}
	take := func(job T) {
		p.pending.Add(-1)
		start(job)
	}

	timer := time.NewTimer(0)
	defer timer.Stop()
	claim := true // claim from the store on this round: woken, polled or backlogged
	for {
		// Jobs handed over first: they are leased to this node already.
		for handed := true; handed && len(slots) < p.opts.Workers; {
			select {
			case job := <-p.hand:
				take(job)
			default:
				handed = false
			}
		}
		free := p.opts.Workers - len(slots)
		if claim && free > 0 {
			claimed, err := p.claim(ctx, p.opts.Now().UTC(), p.opts.Lease, free)
			if err != nil && ctx.Err() == nil {
				p.opts.Logger.ErrorContext(ctx, "claiming "+p.what+"s", "err", err)
			}
			p.backlog.Store(len(claimed) == free)
			for _, job := range claimed {
				start(job)
			}
			if len(claimed) == free && ctx.Err() == nil {
				continue // a full batch: there may be more right away
			}
			timer.Reset(p.opts.PollInterval)
			claim = false
		} else if claim {
			// Every worker is busy: the first to finish wakes the loop.
			p.backlog.Store(true)
		}
		select {
		case <-ctx.Done():
			p.drainHandoffs(take)
			return nil
		case job := <-p.hand:
			// Claimed already: no need to ask the store for more.
			take(job)
		case <-p.wake:
			claim = true
		case <-timer.C:
			claim = true
		}
	}
}

// drainHandoffs refuses new handoffs and runs those given or still being
// given (a start that reserved before the refusal), for up to
// ShutdownGrace: they are leased to this node, so left alone they would
// wait out their lease.
func (p *Pool[T]) drainHandoffs(take func(T)) {
	p.closed.Store(true)
	deadline := time.NewTimer(p.opts.ShutdownGrace)
	defer deadline.Stop()
	for p.pending.Load() > 0 {
		select {
		case job := <-p.hand:
			take(job)
		case <-deadline.C:
			return
		case <-time.After(10 * time.Millisecond):
			// A reservation may be cancelled rather than given.
		}
	}
}

// Reserve reserves room for one job to be given with Give, and returns the
// lease to claim it with. It returns false when the pool has no room or is
// shutting down.
func (p *Pool[T]) Reserve() (time.Duration, bool) {
	for {
		n := p.pending.Load()
		if p.closed.Load() || n >= int64(cap(p.hand)) {
			return 0, false
		}
		if p.pending.CompareAndSwap(n, n+1) {
			return p.opts.Lease, true
		}
	}
}

// Give hands over a job claimed by the caller (with the lease Reserve
// returned); a reservation must have been made for it, so Give never
// blocks.
func (p *Pool[T]) Give(job T) { p.hand <- job }

// Cancel returns a reservation that was not used.
func (p *Pool[T]) Cancel() { p.pending.Add(-1) }
