package securitytest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// A simulated SMS pumping attack through the API: thousands of starts to
// one number range, none checked, while a backend's real users (another
// range, checked) go on. The guard must block the range within the
// configured volume and leave the real users alone; the block shows in the
// admin API and can be lifted.
//
// The bound is the guard's alone (the service turns the rate limits off):
// starts are judged once their bucket ended `maturity` ago, so an attack
// at a rate R gets through at most min_volume + R × (bucket + maturity +
// flush interval + sweep_interval) starts, plus slack for a loaded machine.
// The attack is paced at R = 200/s, so that the bound does not depend on
// how fast this machine serves it.
func TestFraudPumpingAttack(t *testing.T) {
	t.Parallel()
	const (
		minVolume = 50
		rate      = 200 // starts per second
		attempts  = 2000
		bucket    = time.Second
		maturity  = time.Second
		flush     = time.Second // fraud.DefaultFlushInterval
		sweep     = 200 * time.Millisecond
		slack     = 2 * time.Second
	)
	bound := minVolume + int(float64(rate)*(bucket+maturity+flush+sweep+slack).Seconds())
	cfgPath := filepath.Join(t.TempDir(), "otpd.yaml")
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil, `fraud:
  min_volume: %d
  min_conversion: 0.2
  maturity: %s
  bucket: %s
  window: 1m
  sweep_interval: %s
`, minVolume, maturity, bucket, sweep), 0o600))
	// The bound is the guard's alone: the service turns the rate limits off.
	b := setup(t, client.CreateServiceParams{RateLimits: rateLimitsOff()}, "--config", cfgPath, "--log-level", "info")
	ctx := context.Background()
	admin, svc, backend := b.admin, b.svc, b.key // backend: no retries, so a refusal is seen as one

	pumped := func(i int) string { return fmt.Sprintf("+3712512%04d", i%10000) } // LV, range +3712512
	var accepted, refused atomic.Int64
	var firstRefusal atomic.Value
	attack := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range attack {
				_, err := backend.StartVerification(ctx, svc.ID, client.StartParams{To: pumped(i)})
				switch {
				case err == nil:
					accepted.Add(1)
				case client.IsCode(err, client.CodeDestinationBlocked):
					if refused.Add(1) == 1 {
						firstRefusal.Store(err.Error())
					}
				default:
					t.Errorf("start %d: %v", i, err)
				}
			}
		})
	}
	tick := time.NewTicker(time.Second / rate) // drops ticks when the server is slower
	defer tick.Stop()
	deadline := time.Now().Add(20 * time.Second)
	wg.Go(func() {
		defer close(attack)
		for i := 0; i < attempts && time.Now().Before(deadline); i++ {
			<-tick.C
			attack <- i
		}
	})
	// Real users meanwhile, in another country: started and checked.
	legit := func(i int) string { return fmt.Sprintf("+44770090%04d", i) }
	for i := range 10 {
		v, err := backend.StartVerification(ctx, svc.ID, client.StartParams{To: legit(i)})
		require.NoError(t, err, "a real user's start")
		code := b.code(t, legit(i), 1)
		res, err := backend.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code})
		require.NoError(t, err, "a real user's check")
		require.True(t, res.Valid)
	}
	wg.Wait()

	t.Logf("pumping: %d starts accepted, %d refused (bound %d); first refusal: %v", accepted.Load(), refused.Load(), bound, firstRefusal.Load())
	require.Positive(t, refused.Load(), "the attack is blocked")
	require.LessOrEqual(t, int(accepted.Load()), bound, "the attack is blocked within the configured volume")
	first := firstRefusal.Load().(string)
	require.True(t, strings.Contains(first, "numbers starting +3712512…") || strings.Contains(first, "numbers in LV"),
		"the refusal names the range: %s", first)
	require.NotContains(t, first, pumped(1))

	// Other ranges are unaffected: a start to another range gets 201.
	_, err := backend.StartVerification(ctx, svc.ID, client.StartParams{To: legit(100)})
	require.NoError(t, err)

	// The admin API shows the block; the attack was the country's only
	// traffic, so the guard blocked LV as a country too.
	blocks, err := admin.ListBlocks(ctx, svc.ID, client.BlockListParams{})
	require.NoError(t, err)
	byKey := map[string]client.Block{}
	for _, b := range blocks.Data {
		byKey[b.Key] = b
	}
	require.Contains(t, byKey, "+3712512")
	prefixBlock := byKey["+3712512"]
	require.Equal(t, "guard", prefixBlock.CreatedBy)
	require.Equal(t, "active", prefixBlock.State)
	require.GreaterOrEqual(t, prefixBlock.Started, int64(minVolume))
	require.Zero(t, prefixBlock.Approved)
	for _, b := range blocks.Data {
		require.NotEqual(t, "GB", b.Key, "the real users' country is not blocked")
	}
	_, err = backend.ListBlocks(ctx, svc.ID, client.BlockListParams{})
	require.Error(t, err, "a service key cannot see blocks")

	// Lifting every block lets the range through again.
	for _, b := range blocks.Data {
		lifted, err := admin.LiftBlock(ctx, svc.ID, b.ID)
		require.NoError(t, err)
		require.Equal(t, "lifted", lifted.State)
	}
	_, err = admin.LiftBlock(ctx, svc.ID, prefixBlock.ID)
	require.True(t, client.IsCode(err, client.CodeNotFound), "lifting twice: %v", err)
	_, err = backend.StartVerification(ctx, svc.ID, client.StartParams{To: pumped(1)})
	require.NoError(t, err)

	// The block was counted and is an event of the service.
	metrics := getText(t, b.srv.URL+"/metrics")
	require.Contains(t, metrics, `otpd_fraud_blocks_total{scope="prefix"} 1`)
	evs, err := admin.ListEvents(ctx, svc.ID, client.EventListParams{Type: client.EventFraudBlockCreated})
	require.NoError(t, err)
	require.NotEmpty(t, evs.Data)
	require.NotNil(t, evs.Data[0].Block)

	// Counters and blocks never hold a number: the log neither.
	require.NotContains(t, b.srv.Log(), pumped(1))
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}
