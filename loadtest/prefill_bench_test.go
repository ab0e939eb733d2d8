package loadtest_test

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/httpapi"
	"github.com/otpd/otpd/loadtest"
	"github.com/otpd/otpd/message"
)

// BenchmarkPrefillSQLite fills a new SQLite store on disk as otpd bench
// --prefill does, OTPD_PREFILL_ROWS rows (default 20,000) per iteration,
// and reports rows/s. For profiling the import:
//
//	OTPD_PREFILL_ROWS=200000 go test -run '^$' -bench PrefillSQLite -benchtime 1x -cpuprofile cpu.prof ./loadtest/
func BenchmarkPrefillSQLite(b *testing.B) {
	rows := 20000
	if s := os.Getenv("OTPD_PREFILL_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("OTPD_PREFILL_ROWS=%q: want a positive count", s)
		}
		rows = n
	}
	// As otpd bench --prefill runs it (cmd/otpd prefillGCPercent).
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(2 << 30))
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		ctx := b.Context()
		keyring := otpd.NewKeyring(time.Now())
		store := openSQLite(b, filepath.Join(b.TempDir(), "otpd.db"), keyring)
		engine, err := otpd.NewEngine(otpd.Config{Store: store, Keyring: keyring, Renderer: message.New()})
		if err != nil {
			b.Fatal(err)
		}
		svc, err := engine.CreateService(ctx, &otpd.Service{Name: "Acme", Policy: otpd.DefaultPolicy()})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := loadtest.Prefill(ctx, loadtest.PrefillConfig{Store: store, Keyring: keyring, Service: svc, Rows: rows,
			EventData: httpapi.EventData})
		if err != nil {
			b.Fatal(err)
		}
		total += st.Elapsed
		b.StopTimer()
		store.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rows*b.N)/total.Seconds(), "rows/s")
}
