// Package loadtest drives an otpd server the way backends do and measures
// it: the engine of `otpd bench`.
//
// One iteration is one verification: start it (POST …/verifications through
// the Go client, with a service key), read its code where the SMS arrived
// (an in-process SMSC simulator's Inbox, or an `otpd smsc` HTTP listing via
// SMSCPoller), and check it — for a share of iterations (WrongShare) a wrong
// code first, which must come back valid:false. Each iteration sends to its
// own destination (Destinations: +447700 9xxxxx, a reserved UK range), so a
// code is found by destination alone.
//
// The Scenario says which of those steps an iteration runs:
//
//   - ScenarioFlow: all three, as above: what a backend does for every login.
//   - ScenarioStart: starts only (codes are still sent): the most starts a
//     server takes.
//   - ScenarioCheck: checks only. In the flow checks can never outpace
//     starts, so this is how the most checks a server takes is measured.
//     Before the warm-up Run starts a pool of Config.Pool verifications and
//     reads their codes, unmeasured; each iteration then checks the next
//     one, after a wrong code for WrongShare of them. A pool must last the
//     warm-up and the window: one that runs out fails the run, since a
//     rate over a window in which workers idled would be wrong. Config.Window
//     tells the caller when the window begins, after the fill.
//
// Run offers the load in one of two ways:
//
//   - closed loop: Workers workers, each beginning its next iteration when
//     the last one ends. This finds the most a server does; latencies are
//     those of a server kept exactly busy.
//   - open loop: iterations begin at Rate per second whatever happens, and
//     a start's latency is measured from when it was due, not from when
//     the load generator got round to sending it. A server that stalls for
//     100 ms therefore shows 100 ms of queueing on every start due in that
//     time, which a closed loop, waiting politely, would hide ("coordinated
//     omission").
//
// Latencies go into Histogram, a log-linear histogram precise to 0.8 %.
//
// The baseline is the same Run with the Echo target against EchoHandler, a
// server that only echoes JSON: its requests per second are what this
// machine's HTTP and JSON stack manages, and otpd's rates divided by it
// are comparable across machines and across runs on a machine whose speed
// drifts.
//
// # JSON report (otpd bench --json), version 1
//
// Durations are milliseconds (fields ending _ms), rates per second, sizes
// bytes. Fields are only added within a version.
//
//	version              1
//	started_at           RFC 3339, UTC
//	host.cpus            logical CPUs
//	host.load_average_before, host.load_average_after
//	                     /proc/loadavg 1, 5, 15 minutes
//	load.scenario        "flow" (start, code, check), "start" (starts only)
//	                     or "check" (checks only, of a pool started before)
//	load.mode            "closed" or "open"
//	load.workers, load.rate
//	load.warmup_s, load.duration_s, load.wrong_share, load.dlr_delay_ms
//	load.pool            scenario "check" only: verifications started, and
//	                     their codes read, before the warm-up
//	target               "self" (otpd bench started the server) or the URL
//	store                "sqlite" when self-started
//	prefill              {rows, seconds, rows_per_second} with --prefill
//	baseline             a Measured of the echo server, with --baseline;
//	                     scenario "flow" when otpd's is "check"
//	otpd                 a Measured of otpd
//	ratios.start, ratios.check
//	                     otpd's starts/s and checks/s divided by the
//	                     baseline's requests/s (starts + checks), with --baseline;
//	                     ratios.start is 0 for scenario "check"
//	receipts             {sampled, delivered, created_to_receipt: Latency}:
//	                     verification created_at → its SMS's updated_at once
//	                     delivered (the receipt recorded), read after the run
//	                     for a sample; server times, to the millisecond,
//	                     including the SMSC's dlr_delay_ms; none for
//	                     scenario "check", which starts none in the window
//
// A Measured:
//
//	iterations           verifications begun in the window (scenario "check":
//	                     pooled verifications whose checks began in it)
//	starts_per_second, checks_per_second, requests_per_second
//	                     successful requests in the window per second
//	                     (checks include the wrong ones)
//	wrong_checks         checks sent with a wrong code
//	start, check         Latency of successful requests; in an open loop a
//	                     start's is from when it was due, and so is, in
//	                     scenario "check", a verification's first check's
//	code_wait            start's 201 → code read by the bench
//	accept_to_submit     start's 201 reaching the bench → the SMSC receiving
//	                     the submit_sm (0 when the submit came first; how
//	                     often: submit_before_accept)
//	created_to_submit    the verification's created_at (server clock, ms,
//	                     stamped before the start's durable commit) → submit_sm
//	errors               failures by class: "<step> <class>", step start,
//	                     code or check, class an HTTP status and problem code
//	                     ("429 rate_limited"), "timeout", "transport",
//	                     "unexpected_valid" or "unexpected_invalid"
//	error_count          their sum
//	open_loop_late_ms    how far the open loop's sender fell behind at worst
//	server               {available, pid, cpu_cores, rss_bytes,
//	                     peak_rss_bytes, bench_cpu_cores}: from
//	                     /proc/<pid>/stat and /status over the window;
//	                     available is false for a --target without --server-pid
//
// A Latency is {count, p50_ms, p90_ms, p99_ms, p999_ms, max_ms, mean_ms}.
package loadtest
