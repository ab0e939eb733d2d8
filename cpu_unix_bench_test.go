//go:build unix

package otpd_test

import (
	"syscall"
	"testing"
	"time"
)

// cpuMeter measures the process's CPU time (user and system, all threads)
// from startCPU to report, which adds it per operation as cpu-ns/op. With
// many operations in flight ns/op is wall time, which says little of what
// an operation costs when the cores are shared with other work (an HTTP
// server, a load generator); cpu-ns/op does.
type cpuMeter struct {
	from time.Duration
	ok   bool
}

func startCPU() cpuMeter {
	from, ok := processCPU()
	return cpuMeter{from: from, ok: ok}
}

func (m cpuMeter) report(b *testing.B) {
	if to, ok := processCPU(); ok && m.ok && b.N > 0 {
		b.ReportMetric(float64(to-m.from)/float64(b.N), "cpu-ns/op")
	}
}

func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
