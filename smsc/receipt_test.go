package smsc_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/smsc"
)

func TestReceiptGoesToABindOfTheSameSystemID(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	tx := b.bound(t, asTransmitter, "otpd")
	stranger := b.bound(t, asReceiver, "other") // bound first: must still get nothing
	rx := b.bound(t, asReceiver, "otpd")

	st, id := tx.submit(sms(testTo, "code 123456"))
	require.Equal(t, smpp.StatusOK, st)
	r := rx.receipt()
	require.Equal(t, id, r.MessageID)
	require.Equal(t, smpp.StateDelivered, r.State)

	stranger.sync()
	stranger.noDeliver()
	tx.sync()
	tx.noDeliver()
}

func TestReceiptPrefersTheSubmittingTransceiver(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	other := b.bound(t, asTransceiver, "otpd")
	c := b.bound(t, asTransceiver, "otpd")
	for range 3 {
		st, id := c.submit(sms(testTo, "code"))
		require.Equal(t, smpp.StatusOK, st)
		require.Equal(t, id, c.receipt().MessageID)
	}
	other.sync()
	other.noDeliver()

	// Unless told to send them elsewhere, as another node's bind would get
	// them.
	require.NoError(t, b.srv.SetFaults(smsc.Faults{ReceiptsToOtherBind: true}))
	st, id := c.submit(sms(testTo, "code"))
	require.Equal(t, smpp.StatusOK, st)
	require.Equal(t, id, other.receipt().MessageID)
	c.sync()
	c.noDeliver()
}

func TestReceiptRetriesAnotherBind(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{ReceiptTimeout: 100 * time.Millisecond})
	tx := b.bound(t, asTransmitter, "otpd")
	silent := b.bound(t, asReceiver, "otpd") // bound first: tried first
	silent.autoAck.Store(false)
	answering := b.bound(t, asReceiver, "otpd")

	st, id := tx.submit(sms(testTo, "code"))
	require.Equal(t, smpp.StatusOK, st)
	_, d := silent.deliver()
	first, err := smpp.ParseReceipt(d)
	require.NoError(t, err)
	require.Equal(t, id, first.MessageID)
	// No answer within ReceiptTimeout: the other bind gets it.
	require.Equal(t, id, answering.receipt().MessageID)
	require.Eventually(t, func() bool { return b.srv.Stats().Receipts == 1 }, waitTimeout, time.Millisecond)
}

func TestReceiptRefusedOrBindGoneTriesNext(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	tx := b.bound(t, asTransmitter, "otpd")
	refusing := b.bound(t, asReceiver, "otpd")
	refusing.autoAck.Store(false)

	st, id := tx.submit(sms(testTo, "code"))
	require.Equal(t, smpp.StatusOK, st)
	h, _ := refusing.deliver()
	// A second bind comes; the first refuses the receipt.
	later := b.bound(t, asReceiver, "otpd")
	refusing.writePDU(&smpp.DeliverSMResp{}, h.Sequence, smpp.StatusTempAppErr)
	require.Equal(t, id, later.receipt().MessageID)
}

func TestReceiptWaitsForABind(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	tx := b.bound(t, asTransmitter, "otpd")
	st, id := tx.submit(sms(testTo, "code"))
	require.Equal(t, smpp.StatusOK, st)
	// Nobody can take the receipt yet; it waits for the receiver.
	rx := b.bound(t, asReceiver, "otpd")
	require.Equal(t, id, rx.receipt().MessageID)
}

func TestReceiptAfterDroppedConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{DLRDelay: 50 * time.Millisecond, Faults: smsc.Faults{DropAfter: 1}})
	c := b.bound(t, asTransceiver, "otpd")
	c.send(sms(testTo, "answer lost"))
	c.requireDropped()
	// The reconnecting ESME gets the receipt of the message whose answer
	// it never saw.
	again := b.bound(t, asTransceiver, "otpd")
	r := again.receipt()
	require.Equal(t, b.srv.Messages(testTo)[0].MessageIDs[0], r.MessageID)
}

// A receipt the ESME does not acknowledge — refused, as an ESME whose
// receipt handlers are all busy answers (ESME_RX_T_APPN), or left
// unanswered — comes back after a backoff that grows with each failure,
// until it is acknowledged once.
func TestReceiptRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	const (
		retry    = 20 * time.Millisecond
		maxRetry = 60 * time.Millisecond
		failures = 4
	)
	for _, tc := range []struct {
		name    string
		answer  smpp.CommandStatus // to the failed attempts; StatusOK leaves them unanswered
		timeout time.Duration      // ReceiptTimeout; waitTimeout when zero
	}{
		{name: "refused with ESME_RX_T_APPN", answer: smpp.StatusTempAppErr},
		{name: "refused with ESME_RSYSERR", answer: smpp.StatusSysErr},
		{name: "unanswered", timeout: 30 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			timeout := tc.timeout
			if timeout == 0 {
				timeout = waitTimeout
			}
			b := setup(t, smsc.Config{ReceiptTimeout: timeout, ReceiptRetry: retry, MaxReceiptRetry: maxRetry, ReceiptAttempts: failures + 1})
			c := b.bound(t, asTransceiver, "otpd")
			c.autoAck.Store(false)
			st, id := c.submit(sms(testTo, "code"))
			require.Equal(t, smpp.StatusOK, st)

			var last time.Time
			for i := range failures + 1 {
				h, d, at := c.deliverAt()
				r, err := smpp.ParseReceipt(d)
				require.NoError(t, err)
				require.Equal(t, id, r.MessageID, "attempt %d", i+1)
				if i > 0 {
					// The backoff before attempt i+1 is min(retry·2^(i-1),
					// maxRetry), jittered down to half of it at most, and
					// begins when the previous attempt failed: at once when
					// refused, after the timeout when unanswered (less a
					// little, since the attempts' arrival times are
					// measured here, not where they were sent).
					floor := min(retry<<(i-1), maxRetry) / 2
					if tc.answer == smpp.StatusOK {
						floor += tc.timeout - 5*time.Millisecond
					}
					require.GreaterOrEqual(t, at.Sub(last), floor, "wait before attempt %d", i+1)
				}
				last = at
				switch {
				case i == failures:
					c.writePDU(&smpp.DeliverSMResp{}, h.Sequence, smpp.StatusOK)
				case tc.answer != smpp.StatusOK:
					c.writePDU(&smpp.DeliverSMResp{}, h.Sequence, tc.answer)
				}
			}
			require.Eventually(t, func() bool { return b.srv.Stats().Receipts == 1 }, waitTimeout, time.Millisecond)
			stats := b.srv.Stats()
			require.Equal(t, failures, stats.ReceiptRetries)
			if tc.answer == smpp.StatusOK {
				require.Equal(t, failures, stats.ReceiptsUnanswered)
				require.Zero(t, stats.ReceiptsRefused)
			} else {
				require.Equal(t, failures, stats.ReceiptsRefused)
				require.Zero(t, stats.ReceiptsUnanswered)
			}
			require.Zero(t, stats.ReceiptsExpired)
			c.sync()
			c.noDeliver()
		})
	}
}

// A receipt is sent in at most ReceiptAttempts deliver_sm, counted over
// every bind that may take it, and then given up.
func TestReceiptGivenUpAfterAttempts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		binds    int
		attempts int
	}{
		{name: "one bind", binds: 1, attempts: 3},
		{name: "two binds", binds: 2, attempts: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, smsc.Config{ReceiptRetry: time.Millisecond, MaxReceiptRetry: 4 * time.Millisecond, ReceiptAttempts: tc.attempts})
			tx := b.bound(t, asTransmitter, "otpd")
			var sent atomic.Int32
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var rxs []*client
			for range tc.binds {
				rx := b.bound(t, asReceiver, "otpd")
				rx.autoAck.Store(false)
				rxs = append(rxs, rx)
				wg.Go(func() { // refuse every receipt, as a busy ESME would
					for {
						select {
						case d := <-rx.delivers:
							sent.Add(1)
							rx.writePDU(&smpp.DeliverSMResp{}, d.h.Sequence, smpp.StatusTempAppErr)
						case <-stop:
							return
						}
					}
				})
			}
			st, _ := tx.submit(sms(testTo, "code"))
			require.Equal(t, smpp.StatusOK, st)

			require.Eventually(t, func() bool { return b.srv.Stats().ReceiptsExpired == 1 }, waitTimeout, time.Millisecond)
			close(stop)
			wg.Wait()
			// Given up after the last attempt failed: nothing more is sent.
			for _, rx := range rxs {
				rx.sync()
				rx.noDeliver()
			}
			require.Equal(t, int32(tc.attempts), sent.Load())
			stats := b.srv.Stats()
			require.Equal(t, tc.attempts, stats.ReceiptsRefused)
			require.Equal(t, tc.attempts-1, stats.ReceiptRetries)
			require.Zero(t, stats.Receipts)
		})
	}
}
