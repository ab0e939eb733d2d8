package loadtest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// ReportVersion is the version of Report's JSON shape. Fields are only
// added within a version; a rename or a change of meaning bumps it.
const ReportVersion = 1

// Report is the outcome of `otpd bench`, in the JSON shape that `--json`
// prints for tracking over time. Durations are milliseconds, rates per
// second, sizes bytes. See the package documentation for every field.
type Report struct {
	Version   int       `json:"version"`
	StartedAt time.Time `json:"started_at"`
	Host      Host      `json:"host"`
	Load      LoadSpec  `json:"load"`
	// Target is "self" (the bench started otpd) or the --target URL.
	Target  string         `json:"target"`
	Store   string         `json:"store"` // "sqlite" when self-started, else ""
	Prefill *PrefillReport `json:"prefill,omitempty"`
	// Baseline is the same load against the JSON echo (--baseline).
	Baseline *Measured `json:"baseline,omitempty"`
	OTPD     Measured  `json:"otpd"`
	// Ratios are otpd's start and check rates divided by the baseline's
	// requests per second (--baseline). The baseline of ScenarioCheck
	// runs the flow: the echo's requests are all alike.
	Ratios *Ratios `json:"ratios,omitempty"`
	// Receipts: from a verification's created_at to its SMS's updated_at
	// once delivered, i.e. to otpd recording the delivery receipt, for a
	// sample of the window's verifications read after the run (server
	// timestamps, to the millisecond; includes the SMSC's DLRDelay).
	Receipts *ReceiptReport `json:"receipts,omitempty"`
}

// Host is where the run happened.
type Host struct {
	CPUs int `json:"cpus"`
	// LoadAverage is /proc/loadavg's 1, 5 and 15 minute figures before
	// and after the run.
	LoadAverageBefore []float64 `json:"load_average_before"`
	LoadAverageAfter  []float64 `json:"load_average_after"`
}

// LoadSpec is the load that was offered.
type LoadSpec struct {
	Scenario   Scenario `json:"scenario"`
	Mode       string   `json:"mode"` // closed or open
	Workers    int      `json:"workers,omitempty"`
	Rate       float64  `json:"rate,omitempty"`
	WarmupS    float64  `json:"warmup_s"`
	DurationS  float64  `json:"duration_s"`
	WrongShare float64  `json:"wrong_share"`
	DLRDelayMS float64  `json:"dlr_delay_ms"`
	// Pool is ScenarioCheck's: the verifications started, and their
	// codes read, before the warm-up.
	Pool int `json:"pool,omitempty"`
}

// PrefillReport is what --prefill inserted before the run.
type PrefillReport struct {
	Rows          int     `json:"rows"`
	Seconds       float64 `json:"seconds"`
	RowsPerSecond float64 `json:"rows_per_second"`
	// Reused is set when a kept data directory (--data-dir) held the rows
	// already: none were inserted and Rows is what it holds.
	Reused bool `json:"reused,omitempty"`
}

// Latency is a histogram's summary in milliseconds.
type Latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// Summarize turns a histogram into a Latency.
func Summarize(h *Histogram) Latency {
	return Latency{Count: h.Count(), P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)), Max: ms(h.Max()), Mean: ms(h.Mean())}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Measured is one run's figures.
type Measured struct {
	Iterations        uint64  `json:"iterations"`
	StartsPerSecond   float64 `json:"starts_per_second"`
	ChecksPerSecond   float64 `json:"checks_per_second"`
	RequestsPerSecond float64 `json:"requests_per_second"` // starts + checks
	WrongChecks       uint64  `json:"wrong_checks"`
	Start             Latency `json:"start"`
	Check             Latency `json:"check"`
	// CodeWait is from the start's 201 to the code being read.
	CodeWait *Latency `json:"code_wait,omitempty"`
	// AcceptToSubmit is from the start's 201 reaching the bench to the
	// SMSC receiving its submit_sm; SubmitBeforeAccept counts submits that
	// arrived first (recorded as 0).
	AcceptToSubmit     *Latency `json:"accept_to_submit,omitempty"`
	SubmitBeforeAccept uint64   `json:"submit_before_accept"`
	// CreatedToSubmit is from the verification's created_at (server
	// clock, millisecond precision, stamped before the start's durable
	// commit) to the SMSC receiving its submit_sm.
	CreatedToSubmit *Latency          `json:"created_to_submit,omitempty"`
	Errors          map[string]uint64 `json:"errors"`
	ErrorCount      uint64            `json:"error_count"`
	// OpenLoopLateMS is how far behind schedule the open loop's sender
	// fell at worst (the load generator's own lag).
	OpenLoopLateMS float64 `json:"open_loop_late_ms"`
	Server         Server  `json:"server"`
}

// Server is the resource use of the server process over the window.
type Server struct {
	Available bool    `json:"available"` // false for --target without --server-pid
	PID       int     `json:"pid,omitempty"`
	CPUCores  float64 `json:"cpu_cores"` // average cores busy in the window
	RSSBytes  int64   `json:"rss_bytes"` // at the window's end
	// PeakRSSBytes is the largest resident set since the process started.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// BenchCPUCores is the bench process's own (load generator and, when
	// self-started, the SMSC simulator), on the same cores.
	BenchCPUCores float64 `json:"bench_cpu_cores"`
}

// NewMeasured summarizes a Result.
func NewMeasured(r *Result) Measured {
	m := Measured{
		Iterations:         r.Iterations,
		StartsPerSecond:    r.StartsPerSecond(),
		ChecksPerSecond:    r.ChecksPerSecond(),
		RequestsPerSecond:  r.RequestsPerSecond(),
		WrongChecks:        r.WrongChecks,
		Start:              Summarize(r.Start),
		Check:              Summarize(r.Check),
		SubmitBeforeAccept: r.SubmitFirst,
		Errors:             r.Errors,
		ErrorCount:         r.ErrorCount(),
		OpenLoopLateMS:     ms(r.Late),
	}
	if r.CodeWait.Count() > 0 {
		l := Summarize(r.CodeWait)
		m.CodeWait = &l
	}
	if r.AcceptToSubmit.Count() > 0 {
		l := Summarize(r.AcceptToSubmit)
		m.AcceptToSubmit = &l
	}
	if r.CreatedToSubmit.Count() > 0 {
		l := Summarize(r.CreatedToSubmit)
		m.CreatedToSubmit = &l
	}
	return m
}

// Ratios are otpd's rates as shares of the baseline's requests per second.
type Ratios struct {
	Start float64 `json:"start"`
	Check float64 `json:"check"`
}

// ReceiptReport summarizes created → receipt recorded.
type ReceiptReport struct {
	Sampled   int     `json:"sampled"`
	Delivered int     `json:"delivered"`
	Latency   Latency `json:"created_to_receipt"`
}

// WriteTable prints the report for people.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	l := r.Load
	offered := fmt.Sprintf("closed loop, %d workers", l.Workers)
	if l.Mode == "open" {
		offered = fmt.Sprintf("open loop, %.0f/s", l.Rate)
	}
	scenario := string(l.Scenario)
	if l.Scenario == ScenarioCheck {
		scenario += fmt.Sprintf(" (a pool of %d)", l.Pool)
	}
	fmt.Fprintf(w, "otpd bench %s: %s, scenario %s, %gs measured after %gs warm-up, wrong codes %.0f %%\n",
		r.StartedAt.Format(time.RFC3339), offered, scenario, l.DurationS, l.WarmupS, l.WrongShare*100)
	fmt.Fprintf(w, "target %s, store %s, %d CPUs, load average %s before, %s after\n",
		r.Target, orDash(r.Store), r.Host.CPUs, loadAvg(r.Host.LoadAverageBefore), loadAvg(r.Host.LoadAverageAfter))
	if p := r.Prefill; p != nil && p.Reused {
		fmt.Fprintf(w, "prefill: %d rows already in the data directory\n", p.Rows)
	} else if p != nil {
		fmt.Fprintf(w, "prefill: %d rows in %.1f s (%.0f rows/s)\n", p.Rows, p.Seconds, p.RowsPerSecond)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "\tcount\tper s\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\t")
	row := func(name string, lat Latency, rate float64) {
		rs := "-"
		if rate > 0 {
			rs = fmt.Sprintf("%.0f", rate)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", name, lat.Count, rs, lat.P50, lat.P90, lat.P99, lat.P999, lat.Max)
	}
	if b := r.Baseline; b != nil {
		row("baseline start", b.Start, b.StartsPerSecond)
		row("baseline check", b.Check, b.ChecksPerSecond)
	}
	o := r.OTPD
	if l.Scenario != ScenarioCheck {
		row("start", o.Start, o.StartsPerSecond)
	}
	row("check", o.Check, o.ChecksPerSecond)
	if o.CodeWait != nil {
		row("201 → code read", *o.CodeWait, 0)
	}
	if o.AcceptToSubmit != nil {
		row("201 → submit_sm", *o.AcceptToSubmit, 0)
	}
	if o.CreatedToSubmit != nil {
		row("created → submit_sm", *o.CreatedToSubmit, 0)
	}
	if rc := r.Receipts; rc != nil && rc.Delivered > 0 {
		row("created → receipt", rc.Latency, 0)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if b := r.Baseline; b != nil && r.Ratios != nil {
		start := fmt.Sprintf("%.2f×", r.Ratios.Start)
		if l.Scenario == ScenarioCheck {
			start = "n/a" // no starts measured
		}
		fmt.Fprintf(w, "baseline: %.0f requests/s (JSON echo); otpd start %s, check %.2f× of it\n",
			b.RequestsPerSecond, start, r.Ratios.Check)
	}
	fmt.Fprintf(w, "errors: %d%s\n", o.ErrorCount, errorList(o.Errors))
	if o.SubmitBeforeAccept > 0 {
		fmt.Fprintf(w, "submit_sm before the 201 reached the bench: %d (counted as 0 ms)\n", o.SubmitBeforeAccept)
	}
	if l.Mode == "open" {
		fmt.Fprintf(w, "load generator lag at worst: %.1f ms\n", o.OpenLoopLateMS)
	}
	if s := o.Server; s.Available {
		fmt.Fprintf(w, "server pid %d: %.2f cores, RSS %.1f MiB (peak %.1f MiB); bench process %.2f cores\n",
			s.PID, s.CPUCores, mib(s.RSSBytes), mib(s.PeakRSSBytes), s.BenchCPUCores)
	} else {
		fmt.Fprintf(w, "server CPU and RSS: unavailable (give --server-pid for a --target server); bench process %.2f cores\n", s.BenchCPUCores)
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func loadAvg(l []float64) string {
	if len(l) < 3 {
		return "-"
	}
	return fmt.Sprintf("%.2f %.2f %.2f", l[0], l[1], l[2])
}

func errorList(errs map[string]uint64) string {
	if len(errs) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, errs[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
