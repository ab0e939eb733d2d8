package main_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// TestCrashLosesNothing starts verifications under load against a server on
// SQLite that sends SMS to an SMSC in another process, kills the server with
// SIGKILL in the middle, and restarts it: every verification that got a 201
// must have its message at the SMSC. Duplicates (a message the SMSC took
// whose outcome the dead server never recorded) are counted and reported.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	t.Parallel()
	ctx := context.Background()
	const (
		total   = 2000
		killAt  = 1000
		workers = 16
		token   = "a-fixed-admin-token-0123"
	)
	smppAddr, httpAddr := startSMSC(t, "--dlr-delay", "10ms")
	dataDir := t.TempDir()
	args := []string{"--admin-token", token, "--smpp", "smpp://otpd:pw@" + smppAddr + "?window=32", "--delivery-lease", "2s", "--log-level", "info"}
	srv := startServerArgs(t, dataDir, args...)
	c := client.New(srv.url, token, client.WithMaxRetries(0))
	// No retries: a request the dying server never answered is not
	// counted as accepted.
	svc, err := c.CreateService(ctx, client.CreateServiceParams{Name: "Acme", ResendCooldownSeconds: new(0), RateLimits: loadTestLimits})
	require.NoError(t, err)

	var (
		mu       sync.Mutex
		accepted = map[string]string{} // to → verification id, for every 201
		next     atomic.Int64
	)
	// load starts verifications from workers until want have been
	// accepted in all; onAccepted runs after each.
	load := func(c *client.Client, want int, onAccepted func(n int)) {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					mu.Lock()
					done := len(accepted) >= want
					mu.Unlock()
					if done {
						return
					}
					to := fmt.Sprintf("+4477009%05d", next.Add(1))
					v, err := c.StartVerification(ctx, svc.ID, client.StartParams{To: to})
					if err != nil {
						return // the server died under this request: not accepted
					}
					mu.Lock()
					accepted[to] = v.ID
					n := len(accepted)
					mu.Unlock()
					onAccepted(n)
				}
			})
		}
		wg.Wait()
	}

	var killOnce sync.Once
	load(c, total, func(n int) {
		if n >= killAt {
			killOnce.Do(func() { _ = srv.cmd.Process.Signal(syscall.SIGKILL) })
		}
	})
	<-srv.done
	mu.Lock()
	atKill := len(accepted)
	mu.Unlock()
	require.GreaterOrEqual(t, atKill, killAt, "the load ran until the kill")

	// Restart on the same data directory: the new process sends what the
	// dead one had queued or had in flight, while the load goes on.
	srv2 := startServerArgs(t, dataDir, args...)
	load(client.New(srv2.url, token, client.WithMaxRetries(0)), total, func(int) {})
	t.Logf("accepted: %d before SIGKILL, %d in all", atKill, len(accepted))

	deadline := time.Now().Add(60 * time.Second)
	var missing []string
	for {
		missing = missing[:0]
		for to := range accepted {
			if len(smscMessages(t, httpAddr, to)) == 0 {
				missing = append(missing, to)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // polling the SMSC's listing; each pass checks every number
	}
	require.Empty(t, missing, "every verification that got a 201 has its message at the SMSC")

	dups := 0
	for to := range accepted {
		dups += len(smscMessages(t, httpAddr, to)) - 1
	}
	t.Logf("duplicates after SIGKILL: %d of %d accepted", dups, len(accepted))
	// A duplicate is a message the SMSC took whose outcome the dead process
	// never recorded: at most one per delivery worker busy at the kill, and
	// no more than the bind's window of 32 submits in flight.
	require.LessOrEqual(t, dups, 32, "duplicates stay within the in-flight window")
	srv2.stop(t)
}

// loadTestLimits turn off the rate limits that a load test of thousands of
// numbers in one range would trip (as a business's own load test would).
var loadTestLimits = map[string]string{
	client.LimitDestination: "off", client.LimitPrefix: "off", client.LimitService: "off", client.LimitCountry: "off",
}
