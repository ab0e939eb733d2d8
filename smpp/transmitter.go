package smpp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNotBound: no session of the Transmitter was bound before ctx ended.
// The message was not sent by the attempt that waited.
var ErrNotBound = errors.New("smpp: no bound session")

// Transmitter is what an SMS route sends through: it keeps Config.Binds
// sessions to one SMSC bound, rebinding with exponential backoff and jitter
// after a drop or a refused bind, and spreads submissions over them.
//
// # Delivery guarantee
//
// Submit is at-least-once. A submission whose outcome is unknown — the
// connection dropped, or no response came within ResponseTimeout — is sent
// again, on another bind or after rebinding, until one is answered or ctx
// ends. If the SMSC had accepted the first copy and only its response was
// lost, the subscriber gets the message twice, and the first copy's receipt
// quotes a message id that Submit never returned. For a one-time code a
// duplicate is harmless and a lost message is not.
//
// Throttling (ESME_RTHROTTLED) and a full queue (ESME_RMSGQFUL) are retried
// after the session's backoff, and ESME_RINVBNDSTS after a rebind, again
// until ctx ends. Any other refusal is returned at once as a [*StatusError]:
// permanent ones (ESME_RINVDSTADR, ...) are final, and the remaining
// temporary ones (ESME_RSYSERR, ESME_RSUBMITFAIL, ...) are left to the
// caller's retry policy.
type Transmitter struct {
	cfg    Config
	ctx    context.Context // cancelled by Close: stops the bind loops
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{} // closed when every bind loop has returned

	mu       sync.Mutex
	sessions []*Session
	changed  chan struct{} // closed and replaced when sessions or closed change
	closed   bool
	closeCtx context.Context // the ctx Close was given, for the unbinds
	next     int             // round-robin start
	lastErr  error

	submitted, failed, retries, throttled, binds atomic.Uint64
	deliverBusy                                  atomic.Uint64 // shared by every session dialled
	lastLatency                                  atomic.Int64
}

// Stats is a Transmitter's health and counters since it was created.
type Stats struct {
	Bound       int           // sessions bound now
	Binds       uint64        // successful binds, the first ones included
	Submitted   uint64        // submit_sm accepted by the SMSC
	Errors      uint64        // Submit calls that returned an error
	Retries     uint64        // submit_sm sent again (throttled, lost, timed out)
	Throttled   uint64        // ESME_RTHROTTLED and ESME_RMSGQFUL responses
	DeliverBusy uint64        // deliver_sm refused with ESME_RX_T_APPN for want of an OnDeliver worker (Config.DeliverQueue)
	LastLatency time.Duration // of the last successful Submit, waiting and retries included
	LastError   error         // the last failed bind or ended session, nil if none
}

// NewTransmitter validates cfg and starts binding cfg.Binds sessions in the
// background; it does not wait for them. Bound and Stats show how that is
// going, and Submit waits for a bound session. cfg.Mode must not be
// BindModeReceiver.
func NewTransmitter(cfg Config) (*Transmitter, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Mode == BindModeReceiver {
		return nil, errors.New("smpp: invalid config: a Transmitter cannot bind as a receiver")
	}
	t := &Transmitter{
		cfg:     cfg,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.wg.Add(cfg.Binds)
	for range cfg.Binds {
		go t.maintain()
	}
	go func() {
		t.wg.Wait()
		close(t.done)
	}()
	return t, nil
}

// maintain keeps one session bound until Close.
func (t *Transmitter) maintain() {
	defer t.wg.Done()
	failures := 0
	for {
		s, err := dial(t.ctx, t.cfg, &t.deliverBusy)
		if err != nil {
			if t.ctx.Err() != nil {
				return
			}
			t.setErr(err)
			if !t.sleep(failures) {
				return
			}
			failures++
			continue
		}
		t.binds.Add(1)
		bound := time.Now()
		t.add(s)
		select {
		case <-s.Done():
			t.remove(s)
			t.setErr(s.Err())
			// A bind that lasted resets the backoff; one that keeps
			// dropping at once backs off like a failing bind.
			if time.Since(bound) >= t.cfg.MaxRebindBackoff {
				failures = 0
			}
			if !t.sleep(failures) {
				return
			}
			failures++
		case <-t.ctx.Done():
			t.remove(s)
			t.mu.Lock()
			ctx := t.closeCtx
			t.mu.Unlock()
			s.Close(ctx)
			return
		}
	}
}

// sleep waits the backoff for the given number of failures, with jitter
// (half to all of it), and reports false if Close came first.
func (t *Transmitter) sleep(failures int) bool {
	d := t.cfg.RebindBackoff << min(failures, 20)
	if d <= 0 || d > t.cfg.MaxRebindBackoff {
		d = t.cfg.MaxRebindBackoff
	}
	d = d/2 + rand.N(d/2+1)
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-t.ctx.Done():
		return false
	}
}

func (t *Transmitter) add(s *Session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sessions = append(t.sessions, s)
	t.notify()
}

func (t *Transmitter) remove(s *Session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, x := range t.sessions {
		if x == s {
			t.sessions = append(t.sessions[:i], t.sessions[i+1:]...)
			break
		}
	}
	t.notify()
}

// notify wakes Submits waiting for a session; t.mu must be held.
func (t *Transmitter) notify() {
	close(t.changed)
	t.changed = make(chan struct{})
}

func (t *Transmitter) setErr(err error) {
	if err == nil {
		return
	}
	t.mu.Lock()
	t.lastErr = err
	t.mu.Unlock()
}

// Bound returns how many sessions are bound and taking submissions.
func (t *Transmitter) Bound() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, s := range t.sessions {
		if s.alive() {
			n++
		}
	}
	return n
}

// Binds returns how many sessions are bound and how many the Transmitter
// keeps (Config.Binds), for health checks.
func (t *Transmitter) Binds() (up, configured int) { return t.Bound(), t.cfg.Binds }

// Ready reports whether a session is bound, for health checks: nil if so,
// otherwise an error wrapping ErrNotBound (or ErrClosed) that quotes the
// last bind or connection error. It does no I/O.
func (t *Transmitter) Ready(ctx context.Context) error {
	if t.Bound() > 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return fmt.Errorf("%w: transmitter to %s", ErrClosed, t.cfg.Addr)
	case t.lastErr != nil:
		return fmt.Errorf("%w to %s (last error: %v)", ErrNotBound, t.cfg.Addr, t.lastErr)
	}
	return fmt.Errorf("%w to %s yet", ErrNotBound, t.cfg.Addr)
}

// Stats returns the Transmitter's health and counters.
func (t *Transmitter) Stats() Stats {
	st := Stats{
		Bound:       t.Bound(),
		Binds:       t.binds.Load(),
		Submitted:   t.submitted.Load(),
		Errors:      t.failed.Load(),
		Retries:     t.retries.Load(),
		Throttled:   t.throttled.Load(),
		DeliverBusy: t.deliverBusy.Load(),
		LastLatency: time.Duration(t.lastLatency.Load()),
	}
	t.mu.Lock()
	st.LastError = t.lastErr
	t.mu.Unlock()
	return st
}

// Submit sends sm on one of the bound sessions — the one with the fewest
// submissions in flight, preferring one that is not pausing for
// throttling, round robin among equals — and waits for it to be accepted,
// retrying as the type's documentation describes. It waits for a bound
// session if there is none, so a caller that would rather fail over to
// another route should check Bound first or give ctx a deadline.
//
// An error wraps ErrClosed or ErrNotBound if sm was never sent, a
// [*StatusError] if the SMSC refused it, and ErrConnectionLost or
// ErrResponseTimeout if ctx ended while some copy's outcome was unknown.
func (t *Transmitter) Submit(ctx context.Context, sm *SubmitSM) (SubmitResult, error) {
	start := time.Now()
	var unknown error // the last attempt that may have reached the SMSC
	for {
		s, err := t.pick(ctx)
		if err != nil {
			return SubmitResult{}, t.fail(err, unknown)
		}
		res, err := s.Submit(ctx, sm)
		if err == nil {
			t.submitted.Add(1)
			t.lastLatency.Store(int64(time.Since(start)))
			return res, nil
		}
		retry := false
		switch se, isStatus := errors.AsType[*StatusError](err); {
		case errors.Is(err, ErrConnectionLost), errors.Is(err, ErrResponseTimeout):
			unknown = err
			retry = true
		case errors.Is(err, ErrClosed):
			retry = true // not sent: that session is going away
		case isStatus:
			switch se.Status {
			case StatusThrottled, StatusMsgQueueFull:
				t.throttled.Add(1)
				retry = true
			case StatusInvBindStatus:
				retry = true // the session has ended itself; a rebind follows
			}
		}
		if !retry || ctx.Err() != nil {
			return SubmitResult{}, t.fail(err, unknown)
		}
		t.retries.Add(1)
	}
}

// fail counts a failed Submit and returns its error, adding that an
// earlier copy may have been accepted when the final error does not say so.
func (t *Transmitter) fail(err, unknown error) error {
	t.failed.Add(1)
	_, refused := errors.AsType[*StatusError](err)
	if unknown == nil || refused || errors.Is(err, ErrConnectionLost) || errors.Is(err, ErrResponseTimeout) {
		return err
	}
	return fmt.Errorf("%w; an earlier attempt may have been accepted: %w", err, unknown)
}

// pick returns the session to submit on, waiting for one to be bound.
func (t *Transmitter) pick(ctx context.Context) (*Session, error) {
	for {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return nil, fmt.Errorf("smpp: submit_sm: transmitter: %w", ErrClosed)
		}
		var best *Session
		bestPaused, bestLoad := false, 0
		n := len(t.sessions)
		for i := range n {
			s := t.sessions[(t.next+i)%n]
			if !s.alive() {
				continue
			}
			paused, load := s.paused(), s.Outstanding()
			if best == nil || (bestPaused && !paused) || (paused == bestPaused && load < bestLoad) {
				best, bestPaused, bestLoad = s, paused, load
			}
		}
		t.next++
		changed := t.changed
		t.mu.Unlock()
		if best != nil {
			return best, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("smpp: submit_sm: %w: %w", ErrNotBound, ctx.Err())
		}
	}
}

// Close stops taking submissions and unbinds every session gracefully,
// waiting for the responses to submissions in flight first, all bounded by
// ctx; a bind in progress is abandoned. Submit calls waiting for a session
// return ErrClosed.
func (t *Transmitter) Close(ctx context.Context) error {
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		t.closeCtx = ctx
		t.notify()
	}
	t.mu.Unlock()
	t.cancel()
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("smpp: close transmitter: %w", ctx.Err())
	}
}
