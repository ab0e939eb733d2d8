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
)

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
	// IDs of verifications begun in the window, for after-run sampling.
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
}

// Run loads cfg.Target for cfg.Warmup plus cfg.Duration and returns what was
// measured in the window. It returns early with ctx's error when ctx ends.
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
	if cfg.Scenario != ScenarioFlow && cfg.Scenario != ScenarioStart {
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
	t0 := cfg.Now()
	r.winStart = t0.Add(cfg.Warmup)
	r.winEnd = r.winStart.Add(cfg.Duration)

	// Iterations get a context that outlives the window by Drain, so the
	// ones still running then are cut off and counted, not waited for.
	iterCtx, cancel := context.WithDeadline(ctx, r.winEnd.Add(cfg.Drain))
	defer cancel()
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
				r.iteration(ctx, begin, rng.Float64() < r.cfg.WrongShare)
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

// iteration runs one verification, measuring from intended, when it
// should have begun.
func (r *run) iteration(ctx context.Context, intended time.Time, wrong bool) {
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
	if wrong {
		if !r.check(ctx, measured, id, WrongCode(code), false) {
			return
		}
		if measured {
			r.wrong.Add(1)
		}
	}
	r.check(ctx, measured, id, code, true)
}

// check runs one check expecting valid, and records it.
func (r *run) check(ctx context.Context, measured bool, id, code string, want bool) bool {
	begin := r.cfg.Now()
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
