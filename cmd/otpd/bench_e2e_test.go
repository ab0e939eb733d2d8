package main_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBenchSmoke runs a short `otpd bench` of the built binary, which starts
// its own server, SMSC simulator and echo baseline: it must finish with no
// errors and print the JSON report. Speed is not asserted.
func TestBenchSmoke(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, stderr := runSelfBench(ctx, t, "--duration", "2s", "--warmup", "500ms", "--workers", "4",
		"--baseline", "--prefill", "200", "--receipt-sample", "20", "--json", "--fail-on-error")

	var rep struct {
		Version int `json:"version"`
		Load    struct {
			Mode string `json:"mode"`
		} `json:"load"`
		Prefill struct {
			Rows int `json:"rows"`
		} `json:"prefill"`
		Baseline struct {
			RequestsPerSecond float64 `json:"requests_per_second"`
			ErrorCount        uint64  `json:"error_count"`
		} `json:"baseline"`
		OTPD struct {
			Iterations      uint64            `json:"iterations"`
			StartsPerSecond float64           `json:"starts_per_second"`
			ChecksPerSecond float64           `json:"checks_per_second"`
			Errors          map[string]uint64 `json:"errors"`
			ErrorCount      uint64            `json:"error_count"`
			AcceptToSubmit  *struct {
				Count uint64 `json:"count"`
			} `json:"accept_to_submit"`
			Server struct {
				Available bool  `json:"available"`
				RSSBytes  int64 `json:"rss_bytes"`
			} `json:"server"`
		} `json:"otpd"`
		Ratios *struct {
			Start float64 `json:"start"`
		} `json:"ratios"`
	}
	require.NoError(t, json.Unmarshal(out, &rep), "the report is JSON:\n%s", out)
	require.Equal(t, 1, rep.Version)
	require.Equal(t, "closed", rep.Load.Mode)
	require.Equal(t, 200, rep.Prefill.Rows)
	require.Zero(t, rep.Baseline.ErrorCount)
	require.Positive(t, rep.Baseline.RequestsPerSecond)
	require.Zero(t, rep.OTPD.ErrorCount, "errors: %v", rep.OTPD.Errors)
	require.Positive(t, rep.OTPD.Iterations)
	require.Positive(t, rep.OTPD.StartsPerSecond)
	require.Positive(t, rep.OTPD.ChecksPerSecond)
	require.NotNil(t, rep.OTPD.AcceptToSubmit, "SMS went over SMPP to the bench's SMSC")
	require.True(t, rep.OTPD.Server.Available)
	require.Positive(t, rep.OTPD.Server.RSSBytes)
	require.NotNil(t, rep.Ratios)
	require.NotContains(t, stderr, "+4477009", "progress never shows a full number")
}

// TestBenchTarget loads a server the bench did not start: codes are read
// from `otpd smsc`'s HTTP listing, CPU and RSS from --server-pid.
func TestBenchTarget(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	smppAddr, httpAddr := startSMSC(t, "--dlr-delay", "0")
	srv := startServerArgs(t, t.TempDir(), "--smpp", "smpp://otpd:pw@"+smppAddr, "--log-level", "info")
	cmd := exec.CommandContext(ctx, binary, "bench", "--target", srv.url, "--smsc-url", "http://"+httpAddr,
		"--server-pid", strconv.Itoa(srv.cmd.Process.Pid), "--duration", "1s", "--warmup", "200ms", "--workers", "2",
		"--receipt-sample", "5", "--json", "--fail-on-error")
	cmd.Env = append(os.Environ(), "OTPD_ADMIN_TOKEN="+srv.adminToken(t))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "otpd bench failed:\n%s", stderr.String())
	var rep struct {
		Target string `json:"target"`
		OTPD   struct {
			Checks float64 `json:"checks_per_second"`
			Server struct {
				Available bool `json:"available"`
				PID       int  `json:"pid"`
			} `json:"server"`
		} `json:"otpd"`
		Receipts struct {
			Delivered int `json:"delivered"`
		} `json:"receipts"`
	}
	require.NoError(t, json.Unmarshal(out, &rep), "%s", out)
	require.Equal(t, srv.url, rep.Target)
	require.Positive(t, rep.OTPD.Checks)
	require.True(t, rep.OTPD.Server.Available)
	require.Equal(t, srv.cmd.Process.Pid, rep.OTPD.Server.PID)
	require.Positive(t, rep.Receipts.Delivered)
}

// TestBenchReusesDataDir runs the bench twice on one --data-dir: the
// second run loads the same service and store and prefills nothing.
func TestBenchReusesDataDir(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "data")
	run := func(prefill string) (rows int, reused bool, state string) {
		t.Helper()
		out, _ := runSelfBench(ctx, t, "--duration", "1s", "--warmup", "200ms", "--workers", "2",
			"--prefill", prefill, "--data-dir", dir, "--receipt-sample", "5", "--json", "--fail-on-error")
		var rep struct {
			Prefill struct {
				Rows   int  `json:"rows"`
				Reused bool `json:"reused"`
			} `json:"prefill"`
			OTPD struct {
				ErrorCount uint64 `json:"error_count"`
			} `json:"otpd"`
		}
		require.NoError(t, json.Unmarshal(out, &rep), "%s", out)
		require.Zero(t, rep.OTPD.ErrorCount)
		data, err := os.ReadFile(filepath.Join(dir, "bench.json"))
		require.NoError(t, err)
		return rep.Prefill.Rows, rep.Prefill.Reused, string(data)
	}
	rows, reused, first := run("150")
	require.Equal(t, 150, rows)
	require.False(t, reused)
	keyring, err := os.ReadFile(filepath.Join(dir, "keyring.json"))
	require.NoError(t, err)

	rows, reused, second := run("150")
	require.Equal(t, 150, rows)
	require.True(t, reused, "the rows were there")
	require.Equal(t, first, second, "the same service, nothing added")

	// Asking for more tops the store up.
	rows, reused, third := run("200")
	require.Equal(t, 50, rows)
	require.False(t, reused)
	require.Contains(t, third, `"prefilled_rows":200`)
	again, err := os.ReadFile(filepath.Join(dir, "keyring.json"))
	require.NoError(t, err)
	require.Equal(t, keyring, again, "the keyring the rows were sealed with")
}

// TestBenchCheckScenario measures checks only: the bench starts a pool of
// verifications before the warm-up and checks them in the window. An open
// loop keeps the checks needed (500/s for 1.5 s, half of them after a wrong
// code) within the pool whatever this machine's speed; a closed loop on a
// fast one could empty it. The baseline runs the flow.
func TestBenchCheckScenario(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, _ := runSelfBench(ctx, t, "--scenario", "check", "--pool", "2000", "--rate", "500", "--duration", "1s",
		"--warmup", "500ms", "--wrong-share", "0.5", "--baseline", "--json", "--fail-on-error")
	var rep struct {
		Load struct {
			Scenario string `json:"scenario"`
			Pool     int    `json:"pool"`
		} `json:"load"`
		Baseline struct {
			StartsPerSecond float64 `json:"starts_per_second"`
			ChecksPerSecond float64 `json:"checks_per_second"`
		} `json:"baseline"`
		OTPD struct {
			Iterations      uint64  `json:"iterations"`
			StartsPerSecond float64 `json:"starts_per_second"`
			ChecksPerSecond float64 `json:"checks_per_second"`
			WrongChecks     uint64  `json:"wrong_checks"`
			Start           struct {
				Count uint64 `json:"count"`
			} `json:"start"`
			Check struct {
				Count uint64 `json:"count"`
			} `json:"check"`
			Errors     map[string]uint64 `json:"errors"`
			ErrorCount uint64            `json:"error_count"`
		} `json:"otpd"`
		Ratios struct {
			Start float64 `json:"start"`
			Check float64 `json:"check"`
		} `json:"ratios"`
		Receipts *struct{} `json:"receipts"`
	}
	require.NoError(t, json.Unmarshal(out, &rep), "%s", out)
	require.Equal(t, "check", rep.Load.Scenario)
	require.Equal(t, 2000, rep.Load.Pool)
	require.Zero(t, rep.OTPD.ErrorCount, "errors: %v", rep.OTPD.Errors)
	require.Equal(t, uint64(500), rep.OTPD.Iterations, "one due every 2 ms of the window")
	require.Positive(t, rep.OTPD.ChecksPerSecond)
	require.Equal(t, rep.OTPD.Iterations+rep.OTPD.WrongChecks, rep.OTPD.Check.Count)
	require.Positive(t, rep.OTPD.WrongChecks)
	require.Zero(t, rep.OTPD.StartsPerSecond)
	require.Zero(t, rep.OTPD.Start.Count)
	require.Positive(t, rep.Baseline.StartsPerSecond, "the baseline ran the flow")
	require.Positive(t, rep.Baseline.ChecksPerSecond)
	require.Zero(t, rep.Ratios.Start)
	require.Positive(t, rep.Ratios.Check)
	require.Nil(t, rep.Receipts, "no starts in the window to sample")
}

// TestBenchUsageErrors: flags the bench refuses exit with status 2 before
// starting anything.
func TestBenchUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown scenario", []string{"--scenario", "checks"}, "--scenario must be flow, start or check"},
		{"an empty pool", []string{"--scenario", "check", "--pool", "0"}, "--pool must be between 1 and 100000"},
		{"a pool beyond the destinations", []string{"--pool", "100001"}, "--pool must be between 1 and 100000"},
		{"checks without codes", []string{"--target", "http://127.0.0.1:1", "--scenario", "check"}, "--target needs --smsc-url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(binary, append([]string{"bench"}, tt.args...)...)
			cmd.Env = append(os.Environ(), "OTPD_ADMIN_TOKEN=")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "stderr: %s", stderr.String())
			require.Equal(t, 2, ee.ExitCode())
			require.Contains(t, stderr.String(), tt.want)
		})
	}
}

// runSelfBench runs `otpd bench` with args, starting its own server, and
// returns its output and log.
func runSelfBench(ctx context.Context, t *testing.T, args ...string) (out []byte, stderr string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, binary, append([]string{"bench"}, args...)...)
	cmd.Env = append(os.Environ(), "OTPD_ADMIN_TOKEN=")
	var log strings.Builder
	cmd.Stderr = &log
	out, err := cmd.Output()
	require.NoError(t, err, "otpd bench failed:\n%s", log.String())
	return out, log.String()
}
