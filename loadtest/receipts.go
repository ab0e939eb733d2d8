package loadtest

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otpd/otpd/client"
)

// SampleReceipts reads up to n of the verifications ids (chosen evenly at
// random) after a run and measures, for each whose SMS is delivered, the
// time from its created_at to the message's updated_at: when otpd recorded
// the delivery receipt. It waits up to wait for receipts still on their
// way. Both times are the server's, to the millisecond, and include the
// SMSC's receipt delay. Reads run after the window so they do not add to
// the measured load.
func SampleReceipts(ctx context.Context, c *client.Client, serviceID string, ids []string, n int, wait time.Duration) *ReceiptReport {
	sample := ids
	if len(ids) > n {
		sample = make([]string, 0, n)
		for _, i := range rand.Perm(len(ids))[:n] {
			sample = append(sample, ids[i])
		}
	}
	h := NewHistogram()
	var delivered atomic.Int64
	deadline := time.Now().Add(wait)
	work := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for id := range work {
				if d, ok := receiptDelay(ctx, c, serviceID, id, deadline); ok {
					h.Record(d)
					delivered.Add(1)
				}
			}
		})
	}
	for _, id := range sample {
		work <- id
	}
	close(work)
	wg.Wait()
	return &ReceiptReport{Sampled: len(sample), Delivered: int(delivered.Load()), Latency: Summarize(h)}
}

// receiptDelay polls one verification until its first message is
// delivered or the deadline passes.
func receiptDelay(ctx context.Context, c *client.Client, serviceID, id string, deadline time.Time) (time.Duration, bool) {
	for {
		v, err := c.GetVerification(ctx, serviceID, id)
		if err == nil && len(v.Messages) > 0 && v.Messages[0].Status == client.MessageDelivered {
			return v.Messages[0].UpdatedAt.Sub(v.CreatedAt), true
		}
		if err != nil || time.Now().After(deadline) {
			return 0, false
		}
		select {
		case <-ctx.Done():
			return 0, false
		case <-time.After(20 * time.Millisecond):
		}
	}
}
