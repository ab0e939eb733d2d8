package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"
)

type pcts struct{ p50, p90, p99, max time.Duration }

// percentiles of a sorted slice, by the same rule as otpd's benchmarks
// (lat[len*q]).
func percentiles(sorted []time.Duration) pcts {
	if len(sorted) == 0 {
		return pcts{}
	}
	at := func(q float64) time.Duration { return sorted[min(len(sorted)-1, int(float64(len(sorted))*q))] }
	return pcts{p50: at(0.50), p90: at(0.90), p99: at(0.99), max: sorted[len(sorted)-1]}
}

type result struct {
	store, config string
	rate, run     int
	cfg           tuning
	jobs, picked  int
	offered       float64 // inserts started per second
	pickup        pcts    // commit returned → worker started
	insert        pcts    // begin → commit returned
	load          string  // /proc/loadavg's 1-minute figure at the end of the run
	before        float64 // CPU busy fraction just before the run (other processes)
	quiet         bool    // before was under -quiet (else -max-wait ran out)
	during        float64 // CPU busy fraction during the run, this program included
	others        float64 // other processes' share of the CPUs during the run
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func (r result) line() string {
	return fmt.Sprintf("store=%s config=%s rate=%d run=%d jobs=%d picked=%d offered=%.0f/s load=%s cpu_before=%.0f%%%s cpu_during=%.0f%% others=%.0f%% pickup_ms p50=%s p90=%s p99=%s max=%s insert_ms p50=%s p99=%s max=%s  [%s]",
		r.store, r.config, r.rate, r.run, r.jobs, r.picked, r.offered, r.load, 100*r.before, map[bool]string{true: "", false: "(NOT QUIET)"}[r.quiet], 100*r.during, 100*r.others,
		ms(r.pickup.p50), ms(r.pickup.p90), ms(r.pickup.p99), ms(r.pickup.max),
		ms(r.insert.p50), ms(r.insert.p99), ms(r.insert.max), r.cfg)
}

// printSummary prints one Markdown row per store, config and rate, with
// the range over its runs, leaving out the runs during which other
// processes used more than noisy of the CPUs.
func printSummary(w io.Writer, results []result, noisy float64) {
	kept := results[:0:0]
	for _, r := range results {
		if r.others <= noisy {
			kept = append(kept, r)
		}
	}
	fmt.Fprintf(w, "Summary of the %d of %d runs during which other processes used at most %.0f %% of the CPUs:\n\n", len(kept), len(results), 100*noisy)
	results = kept
	fmt.Fprintln(w, "| store | rate | config | runs | pickup p50 | p90 | p99 | max | insert tx p50 | insert tx p99 | picked up | CPU busy (others) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	type key struct {
		store, config string
		rate          int
	}
	var order []key
	groups := map[key][]result{}
	for _, r := range results {
		k := key{r.store, r.config, r.rate}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	slices.SortStableFunc(order, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.store, b.store), cmp.Compare(a.rate, b.rate))
	})
	for _, k := range order {
		rs := groups[k]
		span := func(f func(result) time.Duration) string {
			lo, hi := f(rs[0]), f(rs[0])
			for _, r := range rs[1:] {
				lo, hi = min(lo, f(r)), max(hi, f(r))
			}
			if ms(lo) == ms(hi) {
				return ms(lo) + " ms"
			}
			return ms(lo) + "–" + ms(hi) + " ms"
		}
		picked, jobs := 0, 0
		busyLo, busyHi, othersHi := rs[0].during, rs[0].during, rs[0].others
		for _, r := range rs {
			picked += r.picked
			jobs += r.jobs
			busyLo, busyHi, othersHi = min(busyLo, r.during), max(busyHi, r.during), max(othersHi, r.others)
		}
		fmt.Fprintf(w, "| %s | %d/s | %s | %d | %s | %s | %s | %s | %s | %s | %d/%d | %.0f–%.0f %% (≤ %.0f %%) |\n",
			k.store, k.rate, k.config, len(rs),
			span(func(r result) time.Duration { return r.pickup.p50 }),
			span(func(r result) time.Duration { return r.pickup.p90 }),
			span(func(r result) time.Duration { return r.pickup.p99 }),
			span(func(r result) time.Duration { return r.pickup.max }),
			span(func(r result) time.Duration { return r.insert.p50 }),
			span(func(r result) time.Duration { return r.insert.p99 }),
			picked, jobs, 100*busyLo, 100*busyHi, 100*othersHi)
	}
}
