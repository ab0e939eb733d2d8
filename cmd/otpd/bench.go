package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/client"
	"github.com/otpd/otpd/httpapi"
	"github.com/otpd/otpd/loadtest"
	"github.com/otpd/otpd/smsc"
	"github.com/otpd/otpd/sqlite"
)

const benchUsage = `otpd bench [flags]

Loads an otpd server with verifications (start, read the code at the SMSC,
check; --scenario start or check loads only one of the two) and reports
throughput and latency. By default it starts its own
server (this binary, "otpd serve", on a temporary SQLite data directory) and
an SMSC simulator on loopback, so SMS goes over real SMPP; --target drives a
server that is already running instead.`

// benchFlags are otpd bench's settings.
type benchFlags struct {
	target, adminToken, smscURL string
	serverPID                   int
	workers                     int
	rate                        float64
	duration, warmup, drain     time.Duration
	wrongShare                  float64
	scenario                    string
	pool                        int
	baseline                    bool
	prefill                     int
	dataDir                     string
	dlrDelay                    time.Duration
	json                        bool
	pprofOut                    string
	receiptSample               int
	failOnError                 bool
}

// benchCmd runs `otpd bench`.
func (e *env) benchCmd(ctx context.Context, args []string) error {
	fs := newFlagSet(e, "otpd bench", benchUsage)
	var f benchFlags
	fs.StringVar(&f.target, "target", "", "URL of a running otpd to load (default: start one)")
	fs.StringVar(&f.adminToken, "admin-token", "", "the --target server's admin token (OTPD_ADMIN_TOKEN)")
	fs.StringVar(&f.smscURL, "smsc-url", "", "with --target: the HTTP listing of the SMSC simulator the server sends to (otpd smsc --http-addr), where codes are read")
	fs.IntVar(&f.serverPID, "server-pid", 0, "with --target: the server's process id, to report its CPU and RSS from /proc")
	fs.IntVar(&f.workers, "workers", 32, "closed loop: concurrent workers, each running one verification after another")
	fs.Float64Var(&f.rate, "rate", 0, "open loop: verifications begun per second, latency measured from when each was due (overrides --workers)")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&f.warmup, "warmup", 2*time.Second, "load before the window, not measured")
	fs.DurationVar(&f.drain, "drain", 15*time.Second, "how long verifications begun in the window may take to finish after it")
	fs.Float64Var(&f.wrongShare, "wrong-share", 0.1, "share of verifications that check a wrong code before the right one")
	fs.StringVar(&f.scenario, "scenario", "flow", "flow (start, read the code, check), start (starts only) or check (checks only, of verifications started before the warm-up: see --pool)")
	fs.IntVar(&f.pool, "pool", loadtest.DefaultPool, "scenario check: verifications started, and their codes read, before the warm-up; each is checked once")
	fs.BoolVar(&f.baseline, "baseline", false, "first run the same load against a JSON echo server (a separate process) and report otpd's rates as ratios of its requests/s")
	fs.IntVar(&f.prefill, "prefill", 0, "insert this many closed verifications into the store before the run (self-started server only)")
	fs.StringVar(&f.dataDir, "data-dir", "", "self-started server only: keep its data directory here and reuse it on later runs, with the same service; --prefill then inserts only what the directory lacks (default: a temporary directory, removed after the run)")
	fs.DurationVar(&f.dlrDelay, "dlr-delay", 100*time.Millisecond, "the SMSC simulator's delay before each delivery receipt (0: at once)")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON (fields in package loadtest's documentation)")
	fs.StringVar(&f.pprofOut, "cpuprofile", "", "self-started server only: run it with --pprof and write a CPU profile of the measured window to this file")
	fs.IntVar(&f.receiptSample, "receipt-sample", 500, "verifications read after the run to time created → delivery receipt recorded (0: none)")
	fs.BoolVar(&f.failOnError, "fail-on-error", false, "exit 1 after the report if any request failed (for CI)")
	pos, err := parseSub(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("bench takes flags only, got %q", pos[0])
	}
	switch {
	case f.workers <= 0 && f.rate <= 0:
		return usagef("--workers or --rate must be positive")
	case f.duration <= 0 || f.warmup < 0:
		return usagef("--duration must be positive and --warmup not negative")
	case f.wrongShare < 0 || f.wrongShare > 1:
		return usagef("--wrong-share must be between 0 and 1")
	case f.scenario != string(loadtest.ScenarioFlow) && f.scenario != string(loadtest.ScenarioStart) && f.scenario != string(loadtest.ScenarioCheck):
		return usagef("--scenario must be flow, start or check")
	case f.pool <= 0 || f.pool > 100000:
		// Each pooled verification needs a number of its own among the
		// 100,000 of loadtest.Destinations.
		return usagef("--pool must be between 1 and 100000")
	case f.target != "" && f.prefill > 0:
		return usagef("--prefill needs the server's data directory: it works only without --target")
	case f.target != "" && f.dataDir != "":
		return usagef("--data-dir is the self-started server's: it works only without --target")
	case f.target != "" && f.pprofOut != "":
		return usagef("--cpuprofile works only without --target (run the server with --pprof and use go tool pprof)")
	case f.target != "" && f.smscURL == "" && f.scenario != string(loadtest.ScenarioStart):
		return usagef("--target needs --smsc-url to read codes (or --scenario start)")
	}
	if f.adminToken == "" {
		f.adminToken = e.getenv("OTPD_ADMIN_TOKEN")
	}
	if f.target != "" && f.adminToken == "" {
		return usagef("--target needs --admin-token (or OTPD_ADMIN_TOKEN)")
	}
	// Progress goes to stderr, never a code, token or full number.
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rep, err := e.bench(ctx, f, log)
	if err != nil {
		return err
	}
	if f.json {
		err = e.printJSON(rep)
	} else {
		err = rep.WriteTable(e.stdout)
	}
	if err != nil {
		return err
	}
	if n := rep.OTPD.ErrorCount + baselineErrors(rep); f.failOnError && n > 0 {
		return fmt.Errorf("bench: %d requests failed", n)
	}
	return nil
}

func baselineErrors(rep *loadtest.Report) uint64 {
	if rep.Baseline == nil {
		return 0
	}
	return rep.Baseline.ErrorCount
}

// bench runs the whole benchmark and returns its report.
func (e *env) bench(ctx context.Context, f benchFlags, log *slog.Logger) (*loadtest.Report, error) {
	rep := &loadtest.Report{
		Version:   loadtest.ReportVersion,
		StartedAt: time.Now().UTC().Truncate(time.Second),
		Host:      loadtest.Host{CPUs: runtime.NumCPU(), LoadAverageBefore: loadtest.LoadAverage()},
		Target:    "self",
		Load: loadtest.LoadSpec{Scenario: loadtest.Scenario(f.scenario), Mode: "closed", Workers: f.workers,
			WarmupS: f.warmup.Seconds(), DurationS: f.duration.Seconds(), WrongShare: f.wrongShare,
			DLRDelayMS: float64(f.dlrDelay.Milliseconds())},
	}
	if f.rate > 0 {
		rep.Load.Mode, rep.Load.Rate, rep.Load.Workers = "open", f.rate, 0
	}
	if f.scenario == string(loadtest.ScenarioCheck) {
		rep.Load.Pool = f.pool
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: finding this binary: %w", err)
	}
	tmp, err := os.MkdirTemp("", "otpd-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(tmp)
	hc := loadtest.NewHTTPClient(max(f.workers, 256))

	if f.baseline {
		log.Info("baseline: loading a JSON echo server")
		echo, err := startChild(ctx, exe, []string{"bench-echo", "--addr", "127.0.0.1:0"}, nil)
		if err != nil {
			return nil, err
		}
		c := client.New("http://"+echo.addr, "bench", client.WithMaxRetries(0), client.WithHTTPClient(hc))
		// The echo's starts and checks are the same request: against it
		// the check scenario would only fill a pool for nothing, so its
		// baseline is the flow's.
		bf := f
		if bf.scenario == string(loadtest.ScenarioCheck) {
			bf.scenario = string(loadtest.ScenarioFlow)
		}
		m, _, err := runLoad(ctx, bf, &loadtest.Echo{Client: c}, echo.pid())
		stopErr := echo.stop()
		if err != nil {
			return nil, fmt.Errorf("bench: baseline: %w", err)
		}
		if stopErr != nil {
			return nil, fmt.Errorf("bench: baseline: %w", stopErr)
		}
		rep.Baseline = &m
	}

	var (
		target  string
		codes   loadtest.CodeSource
		admin   string
		pid     = f.serverPID
		profile func(context.Context) error
	)
	if f.target == "" {
		rep.Store = "sqlite"
		inbox := loadtest.NewInbox()
		smscAddr, stopSMSC, err := startBenchSMSC(ctx, f.dlrDelay, inbox)
		if err != nil {
			return nil, err
		}
		defer stopSMSC()
		// A fresh admin token each run: serve takes it from the
		// environment and keeps none in the data directory, so a kept
		// directory needs no token of an earlier run.
		admin = otpd.NewAdminToken()
		dataDir := filepath.Join(tmp, "data")
		if f.dataDir != "" {
			dataDir = f.dataDir
		}
		state, err := readBenchState(dataDir)
		if err != nil {
			return nil, err
		}
		args := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "info", "--log-format", "text",
			"--smpp", "smpp://otpd-bench:secret@" + smscAddr}
		if f.pprofOut != "" {
			args = append(args, "--pprof")
		}
		env := []string{"OTPD_ADMIN_TOKEN=" + admin}
		srv, err := startChild(ctx, exe, args, env)
		if err != nil {
			return nil, err
		}
		// srv is replaced when the server restarts after a prefill; stop
		// whichever runs (stop is idempotent).
		defer func() {
			if srv != nil {
				_ = srv.stop()
			}
		}()
		target, codes, pid = "http://"+srv.addr, inbox, srv.pid()
		if err := waitReady(ctx, client.New(target, "", client.WithHTTPClient(hc))); err != nil {
			return nil, fmt.Errorf("bench: %w\n%s", err, srv.logTail())
		}
		sid, key, err := benchService(ctx, client.New(target, admin, client.WithHTTPClient(hc)), state.ServiceID)
		if err != nil {
			return nil, err
		}
		if state.ServiceID != sid {
			state = benchState{ServiceID: sid}
		}
		if err := state.save(dataDir, f.dataDir != ""); err != nil {
			return nil, err
		}
		if f.prefill > 0 && state.Prefilled >= f.prefill {
			log.Info("prefill: the data directory holds the rows already", "rows", state.Prefilled)
			rep.Prefill = &loadtest.PrefillReport{Rows: state.Prefilled, Reused: true}
		}
		if need := f.prefill - state.Prefilled; need > 0 {
			// The store is the server's own file: stop it, fill the file
			// from here, start it again on the same directory.
			if err := srv.stop(); err != nil {
				return nil, fmt.Errorf("bench: stopping the server to prefill: %w\n%s", err, srv.logTail())
			}
			log.Info("prefill: inserting verifications", "rows", need, "already", state.Prefilled)
			st, err := prefillStore(ctx, dataDir, sid, need, func(done int) {
				log.Info("prefill: progress", "rows", done)
				// Counted as they commit: a fill stopped midway (hours
				// of it, for tens of millions of rows) leaves a kept
				// directory that says what it holds, and the next run
				// adds only the rest.
				partial := state
				partial.Prefilled += done
				if err := partial.save(dataDir, f.dataDir != ""); err != nil {
					log.Warn("prefill: recording progress", "err", err)
				}
			})
			if err != nil {
				return nil, err
			}
			state.Prefilled += st.Rows
			if err := state.save(dataDir, f.dataDir != ""); err != nil {
				return nil, err
			}
			rep.Prefill = &loadtest.PrefillReport{Rows: st.Rows, Seconds: st.Elapsed.Seconds(), RowsPerSecond: st.RowsPerSecond()}
			log.Info("prefill: done", "rows", st.Rows, "seconds", st.Elapsed.Seconds(), "rows_per_second", int(st.RowsPerSecond()))
			if srv, err = startChild(ctx, exe, args, env); err != nil {
				return nil, err
			}
			target, pid = "http://"+srv.addr, srv.pid()
			if err := waitReady(ctx, client.New(target, "", client.WithHTTPClient(hc))); err != nil {
				return nil, fmt.Errorf("bench: %w\n%s", err, srv.logTail())
			}
		}
		if f.pprofOut != "" {
			profile = func(ctx context.Context) error {
				return saveProfile(ctx, hc, target, admin, min(f.duration, 25*time.Second), f.pprofOut)
			}
		}
		return e.benchRun(ctx, f, log, rep, hc, otpdUnderLoad{url: target, serviceID: sid, key: key, codes: codes, pid: pid, profile: profile, srv: srv})
	}

	rep.Target = f.target
	target, admin = strings.TrimRight(f.target, "/"), f.adminToken
	if f.smscURL != "" {
		codes = &loadtest.SMSCPoller{BaseURL: f.smscURL, HTTP: hc, Since: time.Now()}
	}
	sid, key, err := benchService(ctx, client.New(target, admin, client.WithHTTPClient(hc)), "")
	if err != nil {
		return nil, err
	}
	return e.benchRun(ctx, f, log, rep, hc, otpdUnderLoad{url: target, serviceID: sid, key: key, codes: codes, pid: pid})
}

// otpdUnderLoad is the server a bench measures.
type otpdUnderLoad struct {
	url, serviceID, key string // the service the load uses, and a key of it
	codes               loadtest.CodeSource
	pid                 int                         // for /proc; 0 when unknown
	profile             func(context.Context) error // run at the window's start; may be nil
	srv                 *child                      // stopped after the run when the bench started it
}

// benchRun runs the measured load against otpd and fills in the report.
func (e *env) benchRun(ctx context.Context, f benchFlags, log *slog.Logger, rep *loadtest.Report, hc *http.Client, o otpdUnderLoad) (*loadtest.Report, error) {
	c := client.New(o.url, o.key, client.WithMaxRetries(0), client.WithHTTPClient(hc), client.WithUserAgent("otpd-bench/"+version))
	log.Info("loading otpd", "target", rep.Target, "mode", rep.Load.Mode, "scenario", f.scenario, "duration", f.duration)
	if f.scenario == string(loadtest.ScenarioCheck) {
		log.Info("check scenario: starting the pool of verifications before the warm-up", "pool", f.pool)
	}
	m, res, err := runLoad(ctx, f, &loadtest.OTPD{Client: c, ServiceID: o.serviceID, Codes: o.codes}, o.pid, o.profile)
	if err != nil {
		return nil, err
	}
	rep.OTPD = m
	if rep.Baseline != nil && rep.Baseline.RequestsPerSecond > 0 {
		rep.Ratios = &loadtest.Ratios{
			Start: m.StartsPerSecond / rep.Baseline.RequestsPerSecond,
			Check: m.ChecksPerSecond / rep.Baseline.RequestsPerSecond,
		}
	}
	if f.receiptSample > 0 && len(res.IDs) > 0 {
		wait := 10*time.Second + f.dlrDelay
		rep.Receipts = loadtest.SampleReceipts(ctx, c, o.serviceID, res.IDs, f.receiptSample, wait)
	}
	if o.srv != nil {
		if err := o.srv.stop(); err != nil {
			return nil, fmt.Errorf("bench: the server did not stop cleanly: %w\n%s", err, o.srv.logTail())
		}
	}
	rep.Host.LoadAverageAfter = loadtest.LoadAverage()
	return rep, nil
}

// runLoad runs f's load against t, sampling process pid (when not 0) and
// this process over the measured window, and running each of also at the
// window's start (a profile).
func runLoad(ctx context.Context, f benchFlags, t loadtest.Target, pid int, also ...func(context.Context) error) (loadtest.Measured, *loadtest.Result, error) {
	var (
		wg                 sync.WaitGroup
		srvFrom, srvTo     loadtest.ProcSample
		selfFrom, selfTo   loadtest.ProcSample
		srvErr, profileErr error
	)
	sampleCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Run says when the window is (after the check scenario's pool is
	// filled, which takes as long as the server makes it) before its
	// warm-up; if it fails first, cancel ends the wait.
	type window struct{ start, end time.Time }
	windows := make(chan window, 1)
	wg.Go(func() {
		var win window
		select {
		case win = <-windows:
		case <-sampleCtx.Done():
			return
		}
		winStart, winEnd := win.start, win.end
		if !sleepUntil(sampleCtx, winStart) {
			return
		}
		for _, fn := range also {
			if fn != nil {
				wg.Go(func() { profileErr = fn(sampleCtx) })
			}
		}
		selfFrom, _ = loadtest.ReadProc(os.Getpid())
		if pid > 0 {
			srvFrom, srvErr = loadtest.ReadProc(pid)
		}
		if !sleepUntil(sampleCtx, winEnd) {
			return
		}
		selfTo, _ = loadtest.ReadProc(os.Getpid())
		if pid > 0 && srvErr == nil {
			srvTo, srvErr = loadtest.ReadProc(pid)
		}
	})
	res, err := loadtest.Run(ctx, loadtest.Config{
		Target: t, Scenario: loadtest.Scenario(f.scenario), Workers: f.workers, Rate: f.rate,
		Warmup: f.warmup, Duration: f.duration, Drain: f.drain, WrongShare: f.wrongShare, Pool: f.pool,
		Window: func(start, end time.Time) { windows <- window{start, end} },
	})
	if err != nil {
		cancel() // the sampler may be waiting for a window that never came
	}
	wg.Wait()
	if err != nil {
		return loadtest.Measured{}, nil, err
	}
	if profileErr != nil {
		return loadtest.Measured{}, nil, profileErr
	}
	m := loadtest.NewMeasured(res)
	m.Server.BenchCPUCores = loadtest.Cores(selfFrom, selfTo)
	if pid > 0 && srvErr == nil && !srvTo.At.IsZero() {
		m.Server = loadtest.Server{Available: true, PID: pid, CPUCores: loadtest.Cores(srvFrom, srvTo),
			RSSBytes: srvTo.RSS, PeakRSSBytes: srvTo.PeakRSS, BenchCPUCores: m.Server.BenchCPUCores}
	}
	return m, res, nil
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// startBenchSMSC serves an SMSC simulator on a free loopback port that hands
// every message to inbox; stop ends it and waits.
func startBenchSMSC(ctx context.Context, dlrDelay time.Duration, inbox *loadtest.Inbox) (addr string, stop func(), err error) {
	cfg := smsc.Config{DLRDelay: dlrDelay, OnMessage: inbox.Receive, Capacity: 1024}
	if dlrDelay == 0 {
		cfg.DLRDelay = -1 // the package reads 0 as its default
	}
	srv := smsc.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("bench: SMSC: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	return ln.Addr().String(), func() { cancel(); <-done }, nil
}

// benchService creates the service the load uses and a key for it; with
// sid set (a kept data directory's) it only makes a new key for that
// service, the one whose rows were prefilled. Its rate limits are off: the
// load is many users in one number range, which the per-range and
// per-destination limits exist to stop, and the bench measures throughput,
// not them.
func benchService(ctx context.Context, admin *client.Client, sid string) (string, string, error) {
	if sid != "" {
		k, err := admin.CreateKey(ctx, sid, "bench")
		if err != nil {
			return "", "", fmt.Errorf("bench: a key for service %s of the data directory: %w", sid, apiError(err))
		}
		return sid, k.Secret, nil
	}
	off := map[string]string{}
	for _, name := range []string{client.LimitDestination, client.LimitClientIP, client.LimitService,
		client.LimitPrefix, client.LimitCountry, client.LimitFailedChecks} {
		off[name] = "off"
	}
	svc, err := admin.CreateService(ctx, client.CreateServiceParams{Name: "otpd bench", RateLimits: off})
	if err != nil {
		return "", "", fmt.Errorf("bench: creating a service: %w", apiError(err))
	}
	k, err := admin.CreateKey(ctx, svc.ID, "bench")
	if err != nil {
		return "", "", fmt.Errorf("bench: creating a key: %w", apiError(err))
	}
	return svc.ID, k.Secret, nil
}

// benchStateFile, in a kept data directory (--data-dir), says which
// service the bench made there and how many rows it prefilled, so that a
// later run loads the same service and does not fill the store again.
const benchStateFile = "bench.json"

// benchState is benchStateFile's content. It holds no secret: the key
// is made anew each run.
type benchState struct {
	ServiceID string `json:"service_id"`
	Prefilled int    `json:"prefilled_rows"`
}

// readBenchState reads dir's benchStateFile; none is an empty state.
func readBenchState(dir string) (benchState, error) {
	var st benchState
	data, err := os.ReadFile(filepath.Join(dir, benchStateFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil {
		return st, fmt.Errorf("bench: %s: %w", benchStateFile, err)
	}
	return st, nil
}

// save writes st to dir when the directory is kept.
func (st benchState) save(dir string, kept bool) error {
	if !kept {
		return nil
	}
	data, err := json.Marshal(st)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, benchStateFile), append(data, '\n'), 0o600)
	}
	if err != nil {
		return fmt.Errorf("bench: %s: %w", benchStateFile, err)
	}
	return nil
}

// GOGC and GOMEMLIMIT while prefilling: see prefillStore. The store's page
// cache (1 GiB for an import, about 2 GiB resident) is outside the Go heap
// and the limit.
const (
	prefillGCPercent   = 400
	prefillMemoryLimit = 2 << 30
)

// prefillStore opens the stopped server's SQLite store and keyring and
// inserts rows closed verifications of service sid.
func prefillStore(ctx context.Context, dataDir, sid string, rows int, progress func(int)) (loadtest.PrefillStats, error) {
	keyring, err := loadKeyring(filepath.Join(dataDir, keyringFile))
	if err != nil {
		return loadtest.PrefillStats{}, fmt.Errorf("bench: prefill: %w", err)
	}
	// The server seals personal data (and webhook secrets) with the
	// keyring: the store must open them the same way.
	store, err := sqlite.Open(ctx, filepath.Join(dataDir, databaseFile), sqlite.WithSealer(keyring))
	if err != nil {
		return loadtest.PrefillStats{}, fmt.Errorf("bench: prefill: %w", err)
	}
	defer store.Close()
	svc, err := store.GetService(ctx, sid)
	if err != nil {
		return loadtest.PrefillStats{}, fmt.Errorf("bench: prefill: %w", err)
	}
	// Making rows allocates a lot (event JSON, sealing, driver
	// arguments) and keeps little: at the default GOGC the collector ran
	// continuously, a quarter of the prefill's CPU. A higher GOGC alone
	// scales with the batches in flight (GOGC 800 grew the process past
	// 10 GB during a 10 M-row fill, and it was killed): the memory limit
	// caps the heap, the GOGC spaces collections below it.
	defer debug.SetGCPercent(debug.SetGCPercent(prefillGCPercent))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(prefillMemoryLimit))
	st, err := loadtest.Prefill(ctx, loadtest.PrefillConfig{Store: store, Keyring: keyring, Service: svc, Rows: rows,
		EventData: httpapi.EventData, Progress: progress})
	if err != nil {
		return st, err
	}
	return st, store.Close()
}

// waitReady polls /readyz until the server and its SMPP bind are ready.
func waitReady(ctx context.Context, c *client.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		err := c.Readyz(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the server did not become ready: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// saveProfile fetches a CPU profile of d from the server's /debug/pprof.
func saveProfile(ctx context.Context, hc *http.Client, target, admin string, d time.Duration, path string) error {
	u := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", target, max(int(d.Seconds()), 1))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("bench: CPU profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: CPU profile: HTTP %d", resp.StatusCode)
	}
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: CPU profile: %w", err)
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return fmt.Errorf("bench: CPU profile: %w", err)
	}
	return out.Close()
}

// child is a process the bench started: otpd serve or bench-echo.
type child struct {
	cmd  *exec.Cmd
	addr string // the address it listens on, from its log
	done chan error
	tail *logTail
	once sync.Once
	err  error
}

var listeningRe = regexp.MustCompile(`listening" addr=(127\.0\.0\.1:\d+)`)

// startChild runs exe with args and extra environment (the bench's own
// OTPD_* variables are not passed on, so they cannot redirect the child)
// and waits until its log says where it listens. The child gets SIGTERM if
// the bench dies first.
func startChild(ctx context.Context, exe string, args, extraEnv []string) (*child, error) {
	cmd := exec.Command(exe, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTPD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan error, 1), tail: &logTail{}}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting %s: %w", args[0], err)
	}
	found := make(chan string, 1)
	// The reader owns stderr until the process closes it; Wait runs after,
	// as exec requires.
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			c.tail.add(line)
			if m := listeningRe.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		c.done <- cmd.Wait()
	}()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case c.addr = <-found:
		return c, nil
	case err := <-c.done:
		c.done <- err
		return nil, fmt.Errorf("bench: %s exited before listening: %v\n%s", args[0], err, c.logTail())
	case <-timer.C:
	case <-ctx.Done():
	}
	_ = c.stop()
	return nil, fmt.Errorf("bench: %s did not start listening\n%s", args[0], c.logTail())
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop sends SIGTERM and waits for a clean exit, killing the process after
// 30 s. It is safe to call more than once.
func (c *child) stop() error {
	c.once.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case c.err = <-c.done:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			c.err = errors.Join(errors.New("killed after 30 s"), <-c.done)
		}
	})
	return c.err
}

func (c *child) logTail() string { return c.tail.String() }

// logTail keeps the last lines a child logged, for error messages.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTail) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 20 {
		l.lines = l.lines[1:]
	}
	l.lines = append(l.lines, line)
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// benchEchoCmd runs the baseline's JSON echo server (`otpd bench-echo`,
// not listed in the help): a process of its own, so it competes for the
// CPU as otpd serve does.
func (e *env) benchEchoCmd(ctx context.Context, args []string) error {
	fs := newFlagSet(e, "otpd bench-echo", "otpd bench-echo [--addr 127.0.0.1:0]")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if _, err := parseSub(fs, args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	hs := &http.Server{Handler: loadtest.EchoHandler(), ReadHeaderTimeout: 5 * time.Second}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	log.Info("otpd bench-echo listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(shutdownCtx)
}
