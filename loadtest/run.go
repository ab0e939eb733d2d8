package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/otpd/otpd/client"
)

// Target is the system under load: the three steps of one verification.
// Implementations must be safe for concurrent use.
type Target interface {
	// Start starts a verification to the destination and returns its id
	// and the server's creation time (zero when not known).
	Start(ctx context.Context, to string) (id string, created time.Time, err error)
	// Code waits for the code sent to the destination and returns it with
	// the time the SMSC received its submit_sm (zero when not known).
	Code(ctx context.Context, to string) (code string, submitted time.Time, err error)
	// Check checks a code and reports whether the server found it valid.
	Check(ctx context.Context, id, code string) (valid bool, err error)
}

// Scenario says which steps an iteration runs.
type Scenario string

// Scenarios.
const (
	// ScenarioFlow starts a verification, waits for its code and checks
	// it (after a wrong code, for a share of iterations): what a backend
	// does for every login.
	ScenarioFlow Scenario = "flow"
	// ScenarioStart only starts verifications: the most starts a server
	// takes. Codes are still sent, so delivery load is included.
	ScenarioStart Scenario = "start"
	// ScenarioCheck only checks: before the warm-up, Run starts a pool
	// of verifications (Config.Pool) and reads their codes, unmeasured;
	// each iteration then checks the next of them (after a wrong code,
	// for a share of iterations). In the flow, checks can never outpace
	// starts; this measures the most checks a server takes.
	ScenarioCheck Scenario = "check"
)

// DefaultPool is Config.Pool's default.
const DefaultPool = 50000

// maxPool is the most verifications a pool may hold with the default
// Destination: Destinations has this many numbers, and a number used
// twice while its first verification is pending would have its code
// read for the wrong one.
const maxPool = 100000

// Config says how to load a Target.
type Config struct {
	Target   Target
	Scenario Scenario // ScenarioFlow when empty
	// Workers, when Rate is zero, is the number of closed-loop workers,
	// each running one iteration after another.
	Workers int
	// Rate, when positive, runs an open loop: iterations begin at this
	// many per second whatever the server's pace, and latencies are
	// measured from when each should have begun, so a server that falls
	// behind shows its queueing (no coordinated omission).
	Rate float64
	// MaxInFlight bounds open-loop iterations in flight (default 20,000);
	// at the bound new ones wait, which their latencies then include.
	MaxInFlight int
	// Warmup runs load that is not measured; Duration is the measured
	// window after it.
	Warmup, Duration time.Duration
	// Drain is how long iterations begun in the window may take to finish
	// after it ends (default 15 s); the unfinished count as errors.
	Drain time.Duration
	// WrongShare is the share of iterations that check a wrong code
	// (expecting valid:false) before the right one.
	WrongShare float64
	// Destination returns the destination of the nth iteration; unique
	// per iteration within a run, so a code is found by destination.
	// Default Destinations.
	Destination func(n uint64) string
	// Pool, for ScenarioCheck, is how many verifications are started,
	// and their codes read, before the warm-up (DefaultPool when zero).
	// Each is checked once, so it must outlast the warm-up and the
	// window: Run fails if it runs out, rather than measure a window in
	// which workers idled. At most 100,000 with the default Destination.
	// Other scenarios ignore it.
	Pool int
	// Window, when not nil, is called once, before the warm-up begins,
	// with the measured window's bounds: filling ScenarioCheck's pool
	// takes a time nobody can know beforehand, so a caller sampling the
	// server over the window learns its bounds here. It is not called
	// when Run fails before the warm-up.
	Window func(start, end time.Time)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Destinations returns the nth of 100,000 UK mobile numbers in
// +447700 9xxxxx, the range Ofcom reserves for drama, so a benchmark never
// texts a real person (the SMSC simulator delivers nowhere in any case).
func Destinations(n uint64) string {
	return fmt.Sprintf("+4477009%05d", n%100000)
}

// Result is what a run measured in its window.
type Result struct {
	Scenario   Scenario
	Mode       string // "closed" or "open"
	Workers    int
	Rate       float64
	Duration   time.Duration
	Iterations uint64 // begun in the window

	Start, Check *Histogram // latency of successful requests
	// CodeWait is from the start's response to the code being read;
	// AcceptToSubmit from the start's response to the SMSC's submit_sm
	// (zero when the submit came first, see SubmitFirst);
	// CreatedToSubmit from the verification's created_at (the server's
	// clock, to the millisecond, taken before the start's commit) to the
	// submit_sm.
	CodeWait, AcceptToSubmit, CreatedToSubmit *Histogram
	SubmitFirst                               uint64
	Starts, Checks                            uint64 // successful, in the window
	WrongChecks                               uint64 // of Checks, with a wrong code
	// Errors counts failures by class: "start 429 rate_limited",
	// "check timeout", "code timeout", "check unexpected_valid"...
	Errors map[string]uint64
	// Late is how far behind schedule the open loop's sender fell at worst.
	Late time.Duration
	// IDs of verifications begun in the window, for after-run sampling;
	// none in ScenarioCheck, which begins none.
	IDs []string
}

// StartsPerSecond is the rate of successful starts in the window.
func (r *Result) StartsPerSecond() float64 { return float64(r.Starts) / r.Duration.Seconds() }

// ChecksPerSecond is the rate of successful checks in the window.
func (r *Result) ChecksPerSecond() float64 { return float64(r.Checks) / r.Duration.Seconds() }

// RequestsPerSecond is successful starts and checks per second together.
func (r *Result) RequestsPerSecond() float64 { return r.StartsPerSecond() + r.ChecksPerSecond() }

// ErrorCount is the number of failed operations.
func (r *Result) ErrorCount() uint64 {
	var n uint64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// run is one Run in progress.
type run struct {
	cfg        Config
	res        *Result
	winStart   time.Time
	winEnd     time.Time
	mu         sync.Mutex // guards res.Errors, res.IDs
	starts     atomic.Uint64
	checks     atomic.Uint64
	wrong      atomic.Uint64
	iterations atomic.Uint64
	submitFst  atomic.Uint64
	seq        atomic.Uint64

	// ScenarioCheck: the pool, the number of its verifications taken,
	// and when the first iteration that found none left was due.
	pool   []pooled
	taken  atomic.Uint64
	stop   context.CancelFunc // ends the loops when the pool runs out
	outMu  sync.Mutex
	ranOut time.Time
}

// pooled is a verification of ScenarioCheck's pool, ready to be checked.
type pooled struct{ id, code string }

// Run loads cfg.Target for cfg.Warmup plus cfg.Duration and returns what was
// measured in the window; in ScenarioCheck it fills the pool first. It
// returns early with ctx's error when ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Target == nil {
		return nil, errors.New("loadtest: no target")
	}
	if cfg.Duration <= 0 {
		return nil, errors.New("loadtest: duration must be positive")
	}
	if cfg.Rate <= 0 && cfg.Workers <= 0 {
		return nil, errors.New("loadtest: need workers (closed loop) or a rate (open loop)")
	}
	if cfg.WrongShare < 0 || cfg.WrongShare > 1 {
		return nil, errors.New("loadtest: wrong share must be between 0 and 1")
	}
	if cfg.Scenario == "" {
		cfg.Scenario = ScenarioFlow
	}
	switch cfg.Scenario {
	case ScenarioFlow, ScenarioStart:
	case ScenarioCheck:
		if cfg.Pool < 0 {
			return nil, errors.New("loadtest: the pool must not be negative")
		}
		if cfg.Pool == 0 {
			cfg.Pool = DefaultPool
		}
		if cfg.Destination == nil && cfg.Pool > maxPool {
			return nil, fmt.Errorf("loadtest: a pool of %d verifications is more than the %d numbers of Destinations: "+
				"one used twice while pending would have its code read for the other", cfg.Pool, maxPool)
		}
	default:
		return nil, fmt.Errorf("loadtest: unknown scenario %q", cfg.Scenario)
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 20000
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 15 * time.Second
	}
	if cfg.Destination == nil {
		cfg.Destination = Destinations
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &run{cfg: cfg, res: &Result{
		Scenario: cfg.Scenario, Workers: cfg.Workers, Rate: cfg.Rate, Duration: cfg.Duration,
		Start: NewHistogram(), Check: NewHistogram(), CodeWait: NewHistogram(), AcceptToSubmit: NewHistogram(), CreatedToSubmit: NewHistogram(),
		Errors: map[string]uint64{},
	}}
	if cfg.Scenario == ScenarioCheck {
		if err := r.fillPool(ctx); err != nil {
			return nil, err
		}
	}
	t0 := cfg.Now()
	r.winStart = t0.Add(cfg.Warmup)
	r.winEnd = r.winStart.Add(cfg.Duration)
	if cfg.Window != nil {
		cfg.Window(r.winStart, r.winEnd)
	}

	// Iterations get a context that outlives the window by Drain, so the
	// ones still running then are cut off and counted, not waited for.
	iterCtx, cancel := context.WithDeadline(ctx, r.winEnd.Add(cfg.Drain))
	defer cancel()
	r.stop = cancel
	if cfg.Rate > 0 {
		r.res.Mode = "open"
		r.openLoop(iterCtx, t0)
	} else {
		r.res.Mode = "closed"
		r.closedLoop(iterCtx)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := r.poolError(); err != nil {
		return nil, err
	}
	res := r.res
	res.Starts, res.Checks, res.WrongChecks = r.starts.Load(), r.checks.Load(), r.wrong.Load()
	res.Iterations, res.SubmitFirst = r.iterations.Load(), r.submitFst.Load()
	sort.Strings(res.IDs)
	return res, nil
}

// closedLoop runs cfg.Workers workers until the window ends; the workers
// are owned here and waited for.
func (r *run) closedLoop(ctx context.Context) {
	var wg sync.WaitGroup
	for w := range r.cfg.Workers {
		rng := rand.New(rand.NewPCG(uint64(w), uint64(r.cfg.Now().UnixNano())))
		wg.Go(func() {
			for ctx.Err() == nil {
				begin := r.cfg.Now()
				if !begin.Before(r.winEnd) {
					return
				}
				if !r.iteration(ctx, begin, rng.Float64() < r.cfg.WrongShare) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// openLoop begins iterations at cfg.Rate per second, each at its intended
// time t0 + n/rate, until the window ends, then waits for them.
func (r *run) openLoop(ctx context.Context, t0 time.Time) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, r.cfg.MaxInFlight)
	rng := rand.New(rand.NewPCG(7, uint64(t0.UnixNano())))
	interval := float64(time.Second) / r.cfg.Rate
	timer := time.NewTimer(0)
	defer timer.Stop()
	for n := 0; ; n++ {
		intended := t0.Add(time.Duration(float64(n) * interval))
		if !intended.Before(r.winEnd) {
			return
		}
		if d := intended.Sub(r.cfg.Now()); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if late := r.cfg.Now().Sub(intended); late > r.res.Late && !intended.Before(r.winStart) {
			r.res.Late = late
		}
		wrong := rng.Float64() < r.cfg.WrongShare
		wg.Go(func() {
			defer func() { <-slots }()
			r.iteration(ctx, intended, wrong)
		})
	}
}

// iteration runs one iteration of the scenario, measuring from intended,
// when it should have begun. It returns false when there is nothing left
// to do: ScenarioCheck's pool has run out.
func (r *run) iteration(ctx context.Context, intended time.Time, wrong bool) bool {
	if r.cfg.Scenario == ScenarioCheck {
		return r.checkPooled(ctx, intended, wrong)
	}
	r.verify(ctx, intended, wrong)
	return true
}

// verify runs one verification: start, and, in the flow, code and check.
func (r *run) verify(ctx context.Context, intended time.Time, wrong bool) {
	measured := !intended.Before(r.winStart) && intended.Before(r.winEnd)
	if measured {
		r.iterations.Add(1)
	}
	to := r.cfg.Destination(r.seq.Add(1))
	id, created, err := r.cfg.Target.Start(ctx, to)
	accepted := r.cfg.Now()
	if err != nil {
		r.fail(measured, "start", err)
		return
	}
	if measured {
		r.res.Start.Record(accepted.Sub(intended))
		r.starts.Add(1)
		r.mu.Lock()
		r.res.IDs = append(r.res.IDs, id)
		r.mu.Unlock()
	}
	if r.cfg.Scenario == ScenarioStart {
		return
	}
	code, submitted, err := r.cfg.Target.Code(ctx, to)
	read := r.cfg.Now()
	if err != nil {
		r.fail(measured, "code", err)
		return
	}
	if measured {
		r.res.CodeWait.Record(read.Sub(accepted))
		if !submitted.IsZero() {
			if submitted.Before(accepted) {
				r.submitFst.Add(1)
			}
			r.res.AcceptToSubmit.Record(submitted.Sub(accepted))
			if !created.IsZero() {
				r.res.CreatedToSubmit.Record(submitted.Sub(created))
			}
		}
	}
	r.checkCodes(ctx, measured, time.Time{}, id, code, wrong)
}

// checkCodes checks a verification's code, after a wrong one when wrong. The
// first check's latency is measured from `from` when it is not zero.
func (r *run) checkCodes(ctx context.Context, measured bool, from time.Time, id, code string, wrong bool) {
	if wrong {
		if !r.check(ctx, measured, from, id, WrongCode(code), false) {
			return
		}
		if measured {
			r.wrong.Add(1)
		}
		from = time.Time{}
	}
	r.check(ctx, measured, from, id, code, true)
}

// checkPooled checks the pool's next verification, measuring the first
// check from intended: in an open loop, a check is the iteration's first
// request, and a server that falls behind shows its queue on it as on a
// start. It returns false, and stops the run, when the pool has run out.
func (r *run) checkPooled(ctx context.Context, intended time.Time, wrong bool) bool {
	i := r.taken.Add(1) - 1
	if i >= uint64(len(r.pool)) {
		r.outMu.Lock()
		if r.ranOut.IsZero() || intended.Before(r.ranOut) {
			r.ranOut = intended
		}
		r.outMu.Unlock()
		r.stop()
		return false
	}
	measured := !intended.Before(r.winStart) && intended.Before(r.winEnd)
	if measured {
		r.iterations.Add(1)
	}
	v := r.pool[i]
	r.checkCodes(ctx, measured, intended, v.id, v.code, wrong)
	return true
}

// fillPool starts cfg.Pool verifications and reads their codes, with
// cfg.Workers workers (64 for an open loop), measuring nothing. Any
// failure ends it: a pool with holes would make the window's rate that of
// a smaller load.
func (r *run) fillPool(ctx context.Context) error {
	workers := r.cfg.Workers
	if r.cfg.Rate > 0 {
		workers = 64
	}
	workers = min(workers, r.cfg.Pool)
	r.pool = make([]pooled, r.cfg.Pool)
	g, fillCtx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := range r.pool {
		if fillCtx.Err() != nil {
			break // a start failed: the pool will not be filled
		}
		g.Go(func() (err error) {
			r.pool[i], err = r.startPooled(fillCtx)
			return err
		})
	}
	fillErr := g.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if fillErr != nil {
		return fmt.Errorf("loadtest: filling the pool of %d verifications: %w", r.cfg.Pool, fillErr)
	}
	return nil
}

// startPooled starts one verification of the pool and reads its code,
// allowing Drain for both, as an iteration begun at the window's end has.
func (r *run) startPooled(ctx context.Context) (pooled, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Drain)
	defer cancel()
	to := r.cfg.Destination(r.seq.Add(1))
	id, _, err := r.cfg.Target.Start(ctx, to)
	if err != nil {
		return pooled{}, fmt.Errorf("start: %w", err)
	}
	code, _, err := r.cfg.Target.Code(ctx, to)
	if err != nil {
		return pooled{}, fmt.Errorf("reading the code of %s: %w", id, err)
	}
	return pooled{id: id, code: code}, nil
}

// poolError says when ScenarioCheck's pool ran out, if it did.
func (r *run) poolError() error {
	r.outMu.Lock()
	at := r.ranOut
	r.outMu.Unlock()
	if at.IsZero() {
		return nil
	}
	if at.Before(r.winStart) {
		return fmt.Errorf("loadtest: the pool of %d verifications ran out during the warm-up; use a larger pool or a shorter warm-up", r.cfg.Pool)
	}
	return fmt.Errorf("loadtest: the pool of %d verifications ran out %s into the %s window; use a larger pool or a shorter window",
		r.cfg.Pool, at.Sub(r.winStart).Round(time.Millisecond), r.cfg.Duration)
}

// check runs one check expecting want, and records its latency from from,
// or from when it begins if from is zero.
func (r *run) check(ctx context.Context, measured bool, from time.Time, id, code string, want bool) bool {
	begin := r.cfg.Now()
	if !from.IsZero() {
		begin = from
	}
	valid, err := r.cfg.Target.Check(ctx, id, code)
	end := r.cfg.Now()
	if err != nil {
		r.fail(measured, "check", err)
		return false
	}
	if valid != want {
		r.fail(measured, "check", unexpectedError{valid: valid})
		return false
	}
	if measured {
		r.res.Check.Record(end.Sub(begin))
		r.checks.Add(1)
	}
	return true
}

// unexpectedError is a check that answered valid when the code was wrong,
// or the other way round.
type unexpectedError struct{ valid bool }

func (e unexpectedError) Error() string {
	if e.valid {
		return "a wrong code was accepted"
	}
	return "the right code was refused"
}

func (r *run) fail(measured bool, op string, err error) {
	if !measured {
		return
	}
	class := op + " " + ErrorClass(err)
	r.mu.Lock()
	r.res.Errors[class]++
	r.mu.Unlock()
}

// ErrorClass names an error for the report without any of its details: an
// API problem's HTTP status and code ("429 rate_limited"), "timeout",
// "unexpected_valid"/"unexpected_invalid" for a check that answered the
// wrong way, or "transport" for anything else (refused connection...).
func ErrorClass(err error) string {
	var ce *client.Error
	switch {
	case errors.As(err, &ce):
		if ce.Code == "" {
			return fmt.Sprintf("%d", ce.HTTPStatus)
		}
		return fmt.Sprintf("%d %s", ce.HTTPStatus, ce.Code)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	}
	var ue unexpectedError
	if errors.As(err, &ue) {
		if ue.valid {
			return "unexpected_valid"
		}
		return "unexpected_invalid"
	}
	return "transport"
}

// WrongCode returns a code of the same length and alphabet that differs
// from code in its last character.
func WrongCode(code string) string {
	if code == "" {
		return "0"
	}
	b := []byte(code)
	last := b[len(b)-1]
	switch {
	case last >= '0' && last <= '9':
		b[len(b)-1] = '0' + (last-'0'+1)%10
	case last == 'A':
		b[len(b)-1] = 'B'
	default:
		b[len(b)-1] = 'A'
	}
	return string(b)
}
