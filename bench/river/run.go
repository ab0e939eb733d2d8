package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
)

// PickupArgs is the job: its sequence number, which indexes the producer's
// record of when its transaction committed.
type PickupArgs struct {
	Seq int `json:"seq"`
}

func (PickupArgs) Kind() string { return "pickup" }

// recorder holds, per job, when its worker first started (nanoseconds since
// base, plus one so that zero means "not yet"; monotonic clock).
type recorder struct {
	base    time.Time
	started []atomic.Int64
	picked  atomic.Int64
	all     chan struct{}
}

func newRecorder(n int) *recorder {
	return &recorder{base: time.Now(), started: make([]atomic.Int64, n), all: make(chan struct{})}
}

func (r *recorder) since() int64 { return int64(time.Since(r.base)) + 1 }

// mark records job seq's first start at the given time (from since).
func (r *recorder) mark(seq int, at int64) {
	if r.started[seq].CompareAndSwap(0, at) && r.picked.Add(1) == int64(len(r.started)) {
		close(r.all)
	}
}

type pickupWorker struct {
	river.WorkerDefaults[PickupArgs]
	rec *recorder
}

// Work records the pickup and does nothing else: River then completes the
// job (a durable write, as otpd's outcome is).
func (w *pickupWorker) Work(_ context.Context, job *river.Job[PickupArgs]) error {
	now := w.rec.since()
	seq := job.Args.Seq
	if seq < 0 || seq >= len(w.rec.started) {
		return fmt.Errorf("job %d: sequence %d out of range", job.ID, seq)
	}
	w.rec.mark(seq, now)
	return nil
}

type params struct {
	rate, seconds int
	drain         time.Duration
	cfg           tuning
}

func newClient[TTx any](driver riverdriver.Driver[TTx], cfg tuning, schema string, rec *recorder) (*river.Client[TTx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &pickupWorker{rec: rec})
	return river.NewClient(driver, &river.Config{
		FetchCooldown:     cfg.FetchCooldown,
		FetchPollInterval: cfg.FetchPollInterval,
		PollOnly:          cfg.PollOnly,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxWorkers}},
		Workers:           workers,
		Schema:            schema,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
}

// measure starts the queue, runs the open-loop producer (insert enqueues
// job seq in a transaction of its own and commits it), waits for the
// workers, stops the queue and computes the result. finalize, if not nil,
// runs after stop and before the result is computed.
func measure(ctx context.Context, p params, rec *recorder, start func(context.Context) error, stopQueue func(context.Context) error, insert func(ctx context.Context, seq int) error, finalize func()) (result, error) {
	n := len(rec.started)
	if err := start(ctx); err != nil {
		return result{}, fmt.Errorf("start: %w", err)
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return stopQueue(sctx)
	}
	defer stop()
	// Let the queue settle (leader election, listener, first fetch).
	time.Sleep(time.Second)

	committed := make([]int64, n) // since base, +1
	insertLat := make([]time.Duration, n)
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		firstEr error
		failed  atomic.Int64
	)
	interval := time.Second / time.Duration(p.rate)
	begin := time.Now()
	for i := range n {
		// Open loop: each insert goes at its scheduled time, however slow
		// the previous ones were.
		time.Sleep(time.Until(begin.Add(time.Duration(i) * interval)))
		wg.Go(func() {
			t0 := time.Now()
			if err := insert(ctx, i); err != nil {
				failed.Add(1)
				errOnce.Do(func() { firstEr = err })
				return
			}
			committed[i] = rec.since()
			insertLat[i] = time.Since(t0)
		})
	}
	offered := float64(n) / time.Since(begin).Seconds()
	wg.Wait()
	if failed.Load() > 0 {
		return result{}, fmt.Errorf("%d inserts failed, the first: %w", failed.Load(), firstEr)
	}
	select {
	case <-rec.all:
	case <-time.After(p.drain):
	}
	if err := stop(); err != nil {
		return result{}, fmt.Errorf("stop: %w", err)
	}
	if finalize != nil {
		finalize()
	}

	lat := make([]time.Duration, 0, n)
	for i := range n {
		s := rec.started[i].Load()
		if s == 0 {
			continue
		}
		lat = append(lat, max(0, time.Duration(s-committed[i])))
	}
	slices.Sort(lat)
	slices.Sort(insertLat)
	return result{
		load:    loadAvg(),
		cfg:     p.cfg,
		jobs:    n,
		picked:  len(lat),
		offered: offered,
		pickup:  percentiles(lat),
		insert:  percentiles(insertLat),
	}, nil
}

// loadAvg is the 1-minute load average, or "?" where /proc has none.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}
