// Command riverbench measures River's pickup latency — from a job's commit
// to its worker starting — on PostgreSQL (riverpgxv5, LISTEN/NOTIFY) and
// SQLite (riversqlite over modernc.org/sqlite, WAL, synchronous=FULL), the
// way otpd's delivery benchmarks measure its own outbox: an open-loop
// producer inserts one job per transaction at a fixed rate, records the
// moment each commit returns, and the worker records the moment it starts.
//
//	go run . -store pg,sqlite -rate 500,1000 -config default,tuned -runs 3 -seconds 20
//
// See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	var (
		stores  = flag.String("store", "pg,sqlite", "stores to measure, comma-separated: pg, sqlite")
		rates   = flag.String("rate", "500,1000", "job rates per second, comma-separated")
		configs = flag.String("config", "default,tuned,otpd", "configurations, comma-separated (each runs on the stores that have it): "+strings.Join(configNames(), ", "))
		runs    = flag.Int("runs", 3, "runs of each combination")
		seconds = flag.Int("seconds", 20, "how long the producer runs, in seconds")
		dsn     = flag.String("dsn", envOr("RIVERBENCH_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL DSN (also RIVERBENCH_POSTGRES_DSN)")
		schema  = flag.String("schema", "riverbench", "PostgreSQL schema to create, migrate and drop for each run")
		dir     = flag.String("dir", "", "directory for the SQLite files (default: a temporary one)")
		drain   = flag.Duration("drain", 30*time.Second, "how long to wait for the last jobs after the producer stops")
		quiet   = flag.Float64("quiet", 0.25, "before each run, wait until other processes use less than this fraction of the CPUs (0 to 1; 1 never waits)")
		maxWait = flag.Duration("max-wait", 5*time.Minute, "the longest wait for -quiet; then the run goes ahead, marked")
		noisy   = flag.Float64("noisy", 1, "runs during which other processes used more than this fraction of the CPUs are left out of the summary (1 keeps all)")
	)
	flag.Parse()
	log.SetFlags(0)

	rateList, err := parseInts(*rates)
	if err != nil {
		log.Fatalf("-rate: %v", err)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "riverbench")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}

	fmt.Printf("# riverbench: River %s, %s, GOMAXPROCS=%d, %d s per run\n", riverVersion, runtime.Version(), runtime.GOMAXPROCS(0), *seconds)
	// Runs go round-robin (run 1 of everything, then run 2, …) so that the
	// machine's drift spreads over all configurations alike.
	var results []result
	for run := 1; run <= *runs; run++ {
		for _, rate := range rateList {
			for _, store := range strings.Split(*stores, ",") {
				if store != "pg" && store != "sqlite" {
					log.Fatalf("unknown -store %q", store)
				}
				for _, cfgName := range strings.Split(*configs, ",") {
					cfg, ok := configByName(store, cfgName)
					if !ok {
						continue // not a configuration of this store
					}
					p := params{rate: rate, seconds: *seconds, drain: *drain, cfg: cfg}
					idleBusy, wasQuiet := 0.0, true
					if *quiet < 1 {
						idleBusy, wasQuiet = waitQuiet(*quiet, *maxWait)
					}
					meter := startCPUMeter()
					ctx := context.Background()
					path := fmt.Sprintf("%s/%s-%d-%d.db", *dir, cfgName, rate, run)
					var (
						r   result
						err error
					)
					switch {
					case store == "pg" && cfgName == "otpd":
						r, err = runOtpdPostgres(ctx, p, *dsn, *schema)
					case store == "pg":
						r, err = runPostgres(ctx, p, *dsn, *schema)
					case cfgName == "otpd":
						r, err = runOtpdSQLite(ctx, p, path)
					default:
						r, err = runSQLite(ctx, p, path)
					}
					if err != nil {
						log.Fatalf("%s %s rate=%d run %d: %v", store, cfgName, rate, run, err)
					}
					r.store, r.config, r.rate, r.run = store, cfgName, rate, run
					r.before, r.quiet = idleBusy, wasQuiet
					r.during, r.others = meter.stop()
					fmt.Println(r.line())
					results = append(results, r)
				}
			}
		}
	}
	fmt.Println()
	printSummary(os.Stdout, results, *noisy)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}
