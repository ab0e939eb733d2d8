package smpp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/smsc"
)

// receiptPDU is a delivery receipt for the message id.
func receiptPDU(id string) *smpp.DeliverSM {
	return smpp.Receipt{MessageID: id, Submitted: 1, Delivered: 1, State: smpp.StateDelivered}.DeliverSM()
}

// However slow OnDeliver is, the reader goes on reading: deliver_sm beyond
// the workers and the queue are refused at once with ESME_RX_T_APPN, and
// submit_sm_resp and enquire_link still get through. Those taken are
// answered ESME_ROK only once their handler has returned nil.
func TestDeliverNeverBlocksTheReader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		workers, queue int // Config values
		wantW, wantQ   int // in effect
	}{
		{name: "one worker, no queue", workers: 1, queue: -1, wantW: 1, wantQ: 0},
		{name: "two workers, a queue of three", workers: 2, queue: 3, wantW: 2, wantQ: 3},
		{name: "defaults", wantW: smpp.DefaultDeliverWorkers, wantQ: smpp.DefaultDeliverQueue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startSMSC(t, fakeScript{})
			release := make(chan struct{})
			var running, most, entered atomic.Int32
			handled := make(chan string, tc.wantW+tc.wantQ)
			cfg := testConfig(f)
			cfg.DeliverWorkers, cfg.DeliverQueue = tc.workers, tc.queue
			cfg.OnDeliver = func(ctx context.Context, d *smpp.DeliverSM) error {
				n := running.Add(1)
				defer running.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				entered.Add(1)
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
				r, err := smpp.ParseReceipt(d)
				if err != nil {
					return err
				}
				handled <- r.MessageID
				return nil
			}
			s := dial(t, cfg)
			c := f.nextBound(t)

			// Occupy every worker, one at a time, then fill the queue, so
			// that what follows finds no room however goroutines are
			// scheduled.
			held := map[uint32]string{}
			for i := range tc.wantW {
				id := fmt.Sprint("w", i)
				held[c.request(receiptPDU(id))] = id
				eventually(t, func() bool { return entered.Load() == int32(i+1) }, "worker %d busy", i+1)
			}
			for i := range tc.wantQ {
				id := fmt.Sprint("q", i)
				held[c.request(receiptPDU(id))] = id
			}
			const extra = 3
			refused := map[uint32]bool{}
			for i := range extra {
				refused[c.request(receiptPDU(fmt.Sprint("x", i)))] = true
			}
			for range extra {
				m := f.expect(t, smpp.CmdDeliverSMResp)
				require.True(t, refused[m.h.Sequence], "answered deliver_sm seq %d, one that had room", m.h.Sequence)
				require.Equal(t, smpp.StatusTempAppErr, m.h.Status)
			}

			// The reader still reads what follows.
			_, err := s.Submit(testCtx(t), sms("submitted while receipts wait"))
			require.NoError(t, err)
			seq := c.request(&smpp.EnquireLink{})
			require.Equal(t, seq, f.expect(t, smpp.CmdEnquireLinkResp).h.Sequence,
				"the next response after the refusals: nothing held was answered before its handler returned")
			require.Equal(t, int32(tc.wantW), entered.Load(), "the queued ones wait for a worker")

			close(release)
			ids := map[string]bool{}
			for range len(held) {
				m := f.expect(t, smpp.CmdDeliverSMResp)
				require.Contains(t, held, m.h.Sequence)
				require.Equal(t, smpp.StatusOK, m.h.Status)
				ids[recv(t, handled)] = true
			}
			require.Len(t, ids, len(held))
			require.Equal(t, int32(len(held)), entered.Load(), "refused deliver_sm never reach OnDeliver")
			require.Equal(t, int32(tc.wantW), most.Load(), "OnDeliver calls at once")
			require.NoError(t, s.Err())
		})
	}
}

// A graceful Close waits for the OnDeliver calls in flight and answers
// them before it unbinds, refusing new deliver_sm meanwhile; when its ctx
// ends first it cancels them and leaves their deliver_sm unanswered, for
// the SMSC to deliver again.
func TestCloseWaitsForDeliverHandlers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		timeout time.Duration // of Close's ctx
	}{
		{name: "handlers return", timeout: waitTimeout},
		{name: "ctx ends first", timeout: 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startSMSC(t, fakeScript{})
			release := make(chan struct{})
			entered := make(chan struct{}, 1)
			handlerCtxErr := make(chan error, 1)
			cfg := testConfig(f)
			cfg.DeliverWorkers, cfg.DeliverQueue = 1, -1
			cfg.OnDeliver = func(ctx context.Context, d *smpp.DeliverSM) error {
				entered <- struct{}{}
				select {
				case <-release:
				case <-ctx.Done():
				}
				handlerCtxErr <- ctx.Err()
				return ctx.Err()
			}
			s, err := smpp.Dial(testCtx(t), cfg)
			require.NoError(t, err)
			c := f.nextBound(t)
			seq := c.request(receiptPDU("1"))
			recv(t, entered)

			closeCtx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			closed := make(chan error, 1)
			go func() { closed <- s.Close(closeCtx) }()
			eventually(t, func() bool {
				_, err := s.Submit(testCtx(t), sms("more"))
				return errors.Is(err, smpp.ErrClosed)
			}, "Close has begun")
			// Still reading, and refusing: the SMSC delivers it later,
			// maybe on another bind.
			refused := c.request(receiptPDU("2"))
			m := f.expect(t, smpp.CmdDeliverSMResp)
			require.Equal(t, refused, m.h.Sequence)
			require.Equal(t, smpp.StatusTempAppErr, m.h.Status)

			if tc.timeout == waitTimeout {
				select {
				case err := <-closed:
					t.Fatalf("Close returned (%v) while OnDeliver was running", err)
				case <-time.After(50 * time.Millisecond):
				}
				_, unbinds := f.bindLog()
				require.Zero(t, unbinds, "unbind with a handler running")
				close(release)
				require.NoError(t, recv(t, handlerCtxErr), "a graceful Close lets the handler finish")
				m := f.expect(t, smpp.CmdDeliverSMResp)
				require.Equal(t, seq, m.h.Sequence)
				require.Equal(t, smpp.StatusOK, m.h.Status)
				f.expect(t, smpp.CmdUnbind) // after the answer
				require.NoError(t, recv(t, closed))
				recv(t, s.Done())
				require.ErrorIs(t, s.Err(), smpp.ErrClosed)
				return
			}

			err = recv(t, closed)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.ErrorContains(t, err, "deliver_sm handlers")
			require.ErrorIs(t, recv(t, handlerCtxErr), context.Canceled, "the handler is told to stop")
			recv(t, s.Done())
			eventually(t, func() bool {
				f.mu.Lock()
				defer f.mu.Unlock()
				return len(f.conns) == 0
			}, "the SMSC sees the connection close")
			select {
			case m := <-f.responses:
				t.Fatalf("the ESME sent %s after giving up on its handler", m.h)
			default:
			}
			_, unbinds := f.bindLog()
			require.Zero(t, unbinds)
		})
	}
}

// Against the real SMSC simulator: receipts the ESME cannot take now —
// every worker busy, or OnDeliver failing — are refused with
// ESME_RX_T_APPN, delivered again by the SMSC after its backoff, and in
// the end each is handled and acknowledged exactly once, while the
// submissions never wait for them.
func TestReceiptsRefusedAreRedelivered(t *testing.T) {
	t.Parallel()
	const n = 20
	for _, tc := range []struct {
		name    string
		workers int
		queue   int
		hold    bool // the first OnDeliver call blocks until every message is submitted
		fail    bool // the first OnDeliver call for each receipt fails
	}{
		{name: "every worker busy", workers: 1, queue: -1, hold: true},
		{name: "handler fails", fail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := smsc.New(smsc.Config{
				DLRDelay:        -1, // at once
				ReceiptRetry:    5 * time.Millisecond,
				MaxReceiptRetry: 20 * time.Millisecond,
				ReceiptAttempts: 10000, // bounded by the test's time, not by attempts
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			sctx, stop := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- srv.Serve(sctx, ln) }()
			t.Cleanup(func() {
				stop()
				require.NoError(t, recv(t, served))
			})

			gate := make(chan struct{})
			entered := make(chan struct{}, 1)
			var mu sync.Mutex
			calls, acked := map[string]int{}, map[string]int{}
			total := 0
			cfg := smpp.Config{
				Addr: ln.Addr().String(), SystemID: "otpd",
				DeliverWorkers: tc.workers, DeliverQueue: tc.queue,
				OnDeliver: func(ctx context.Context, d *smpp.DeliverSM) error {
					r, err := smpp.ParseReceipt(d)
					if err != nil {
						return err
					}
					mu.Lock()
					calls[r.MessageID]++
					total++
					first, firstOfAll := calls[r.MessageID] == 1, total == 1
					mu.Unlock()
					if tc.hold && firstOfAll {
						entered <- struct{}{}
						select {
						case <-gate:
						case <-ctx.Done():
							return ctx.Err()
						}
					}
					if tc.fail && first {
						return errors.New("the store is busy")
					}
					mu.Lock()
					acked[r.MessageID]++
					mu.Unlock()
					return nil
				},
			}
			tr := newTransmitter(t, cfg)

			submitted := map[string]bool{}
			submit := func(i int) {
				res, err := tr.Submit(testCtx(t), sms(fmt.Sprint("Your code is ", 100000+i)))
				require.NoError(t, err)
				submitted[res.MessageID] = true
			}
			submit(0)
			if tc.hold {
				recv(t, entered) // the only worker is busy from here on
			}
			for i := 1; i < n; i++ {
				submit(i)
			}
			if tc.hold {
				eventually(t, func() bool { return tr.Stats().DeliverBusy >= n-1 },
					"the receipts behind the busy worker refused (%d so far)", tr.Stats().DeliverBusy)
				close(gate)
			}

			eventually(t, func() bool { return srv.Stats().Receipts == n }, "every receipt acknowledged")
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, acked, n)
			for id, times := range acked {
				require.True(t, submitted[id], "a receipt for %s, never submitted", id)
				require.Equal(t, 1, times, "receipt %s handled", id)
			}
			st := srv.Stats()
			require.GreaterOrEqual(t, st.ReceiptsRefused, n-1)
			require.Equal(t, st.ReceiptsRefused, st.ReceiptRetries, "every refused receipt was sent again")
			require.Zero(t, st.ReceiptsExpired)
			require.Zero(t, st.ReceiptsUnanswered)
		})
	}
}
