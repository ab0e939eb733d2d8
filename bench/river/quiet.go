package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of /proc/stat (USER_HZ, 100 on Linux).
const userHZ = 100

// ownCPU is this process's CPU time so far, in seconds.
func ownCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// postgresCPU is the CPU time, in seconds, of the processes named
// "postgres" (the PostgreSQL server, whose work for this program is no
// noise), as far as /proc shows them.
func postgresCPU() float64 {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks uint64
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime stime cutime cstime: fields 14
		// to 17. The server's ended backends are in its cutime and cstime.
		open, close := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
		if open < 0 || close < open || string(b[open+1:close]) != "postgres" {
			continue
		}
		f := strings.Fields(string(b[close+1:]))
		if len(f) < 15 {
			continue
		}
		for _, v := range f[11:15] {
			n, _ := strconv.ParseUint(v, 10, 64)
			ticks += n
		}
	}
	return float64(ticks) / userHZ
}

// cpuMeter measures, over an interval, the fraction of the machine's CPU
// time that was busy, and the part of it that other processes used.
type cpuMeter struct {
	busy, total uint64
	own, pg     float64
	ok          bool
}

func startCPUMeter() cpuMeter {
	b, t, ok := cpuTimes()
	return cpuMeter{busy: b, total: t, own: ownCPU(), pg: postgresCPU(), ok: ok}
}

// stop returns the machine's busy fraction and other processes' share of
// the machine (both 0 to 1), or -1s where /proc/stat cannot be read.
// PostgreSQL's processes are not counted as others, whoever they work for.
func (m cpuMeter) stop() (busy, others float64) {
	b, t, ok := cpuTimes()
	if !m.ok || !ok || t <= m.total {
		return -1, -1
	}
	total := float64(t - m.total)
	busy = float64(b-m.busy) / total
	others = max(0, (float64(b-m.busy)/userHZ-(ownCPU()-m.own)-(postgresCPU()-m.pg))/(total/userHZ))
	return busy, others
}

// cpuTimes reads the machine's busy and total CPU time from /proc/stat.
func cpuTimes() (busy, total uint64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, true
}

// busyOver returns the fraction of the machine's CPU time that was busy
// over d (0 to 1), or -1 where /proc/stat cannot be read.
func busyOver(d time.Duration) float64 {
	b0, t0, ok := cpuTimes()
	if !ok {
		return -1
	}
	time.Sleep(d)
	b1, t1, ok := cpuTimes()
	if !ok || t1 == t0 {
		return -1
	}
	return float64(b1-b0) / float64(t1-t0)
}

// waitQuiet waits, up to maxWait, until the machine's CPUs were less than
// limit busy (0 to 1) over a 3-second window, and returns the last
// window's figure. Other processes' load is what it waits out: this
// program is idle between runs.
func waitQuiet(limit float64, maxWait time.Duration) (float64, bool) {
	deadline := time.Now().Add(maxWait)
	for {
		b := busyOver(3 * time.Second)
		if b < 0 || b < limit {
			return b, true
		}
		if time.Now().After(deadline) {
			return b, false
		}
		fmt.Fprintf(os.Stderr, "riverbench: machine %.0f %% busy, waiting\n", 100*b)
	}
}
