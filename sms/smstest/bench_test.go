package smstest_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/gsm"
	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/smsc"
)

// BenchmarkSubmitWindow measures how many submit_sm one bind carries to the
// SMSC simulator on loopback, for a window of 1, 10 and 64 requests awaiting
// their response. The PDUs are built beforehand (a short GSM-7 OTP text to
// 4,096 destinations), so what is measured is the Transmitter, the session,
// the codec, loopback TCP and the simulator, all on the same two cores.
// Run: go test -run '^$' -bench SubmitWindow -benchtime 3s ./sms/smstest/
func BenchmarkSubmitWindow(b *testing.B) {
	pdus := make([]*smpp.SubmitSM, 4096)
	for i := range pdus {
		split, err := gsm.Split(fmt.Sprintf("Your Acme code is %06d. It expires in 10 minutes. Don't share it.", i*7919%1000000), gsm.Options{})
		if err != nil {
			b.Fatal(err)
		}
		pdus[i] = &smpp.SubmitSM{
			Destination:    smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: phone(0, i)[1:]},
			ValidityPeriod: "000000001000000R",
			DataCoding:     smpp.DataCoding(split.Coding.DataCoding()),
			ShortMessage:   split.Parts[0].Bytes(),
		}
	}
	for _, window := range []int{1, 10, 64} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) {
			// The default capacity (10,000), which a run fills: the store
			// is a ring, so dropping the oldest message costs the same as
			// keeping one, and what is measured is the bind.
			c := startSMSC(b, smsc.Config{Faults: smsc.Faults{NoReceipts: true}})
			tx, err := smpp.NewTransmitter(smpp.Config{Addr: c.addr, SystemID: systemID, Window: window})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = tx.Close(context.Background()) })
			ctx := context.Background()
			if _, err := tx.Submit(ctx, pdus[0]); err != nil { // waits for the bind
				b.Fatal(err)
			}
			var next atomic.Uint64
			// Enough submitters to keep the window full: deliveries come
			// from many workers at once.
			b.SetParallelism(max(window, 8))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := tx.Submit(ctx, pdus[next.Add(1)%uint64(len(pdus))]); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "submit_sm/s")
			if st := tx.Stats(); st.Binds != 1 || st.Retries != 0 {
				b.Fatalf("the bind was not steady: %+v", st)
			}
		})
	}
}

// BenchmarkAcceptToSubmit measures, per verification, the time from
// Engine.Start returning (the API's 201: the verification and its queued
// message are durable in SQLite) to the SMSC simulator receiving the
// submit_sm, through the dispatcher, the router, the SMPP route and one
// bind (window 10), with receipts on (100 ms after each submit, as the
// simulator's default) flowing back into the store. Starts go in an open
// loop at a fixed rate for 5 s: each at its scheduled time, however slow
// the previous ones were. It reports p50/p99/max of that latency, the p99
// of Start itself, how many receipts were dropped as unknown (see
// TestReceiptBeforeSendRecorded) and how many the bind refused for want of
// a free OnDeliver worker (smpp.Config.DeliverWorkers).
// Run: go test -run '^$' -bench AcceptToSubmit -benchtime 1x ./sms/smstest/
func BenchmarkAcceptToSubmit(b *testing.B) {
	for _, bc := range []struct {
		rate     int
		receipts bool
	}{{1000, true}, {1000, false}} {
		rate := bc.rate
		b.Run(fmt.Sprintf("rate=%d/receipts=%v", rate, bc.receipts), func(b *testing.B) {
			const seconds = 5
			n := rate * seconds

			var mu sync.Mutex
			arrived := make(map[string]time.Time, n)
			all := make(chan struct{})
			c := startSMSC(b, smsc.Config{
				SystemID: systemID, Password: password,
				DLRDelay: smsc.DefaultDLRDelay,
				Capacity: 2 * n,
				Faults:   smsc.Faults{NoReceipts: !bc.receipts},
				OnMessage: func(m smsc.Message) {
					at := time.Now()
					mu.Lock()
					defer mu.Unlock()
					if _, dup := arrived[m.To]; !dup {
						arrived[m.To] = at
						if len(arrived) == n {
							close(all)
						}
					}
				},
			})
			st := newStack(b, stackOptions{routes: []routeSpec{{
				name: "carrier",
				esme: smpp.Config{Addr: c.addr, SystemID: systemID, Password: password, Window: 10},
			}}})
			eventually(b, "the bind", func() bool { return st.tx["carrier"].Bound() == 1 })

			ctx := context.Background()
			accepted := make(map[string]time.Time, n)
			startTook := make([]time.Duration, n)
			var wg sync.WaitGroup
			interval := time.Second / time.Duration(rate)
			b.ResetTimer()
			begin := time.Now()
			for i := range n {
				time.Sleep(time.Until(begin.Add(time.Duration(i) * interval)))
				wg.Go(func() {
					to := phone(i/10000, i)
					t0 := time.Now()
					_, err := st.engine.Start(ctx, st.svc.ID, otpd.StartRequest{To: to, Channel: otpd.ChannelSMS})
					at := time.Now()
					if err != nil {
						b.Error(err)
						return
					}
					startTook[i] = at.Sub(t0)
					mu.Lock()
					accepted[to] = at
					mu.Unlock()
				})
			}
			wg.Wait()
			offered := time.Since(begin)
			select {
			case <-all:
			case <-time.After(30 * time.Second):
				mu.Lock()
				got := len(arrived)
				mu.Unlock()
				b.Fatalf("only %d of %d messages reached the SMSC", got, n)
			}
			b.StopTimer()
			// Let the receipts of the last messages come back, to count
			// those dropped.
			deadline := time.Now().Add(5 * time.Second)
			for bc.receipts && st.recs.recorded.Load()+st.recs.unknown.Load() < int64(n) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}

			mu.Lock()
			lat := make([]time.Duration, 0, n)
			for to, acc := range accepted {
				lat = append(lat, max(0, arrived[to].Sub(acc)))
			}
			mu.Unlock()
			slices.Sort(lat)
			slices.Sort(startTook)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
			b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
			b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
			b.ReportMetric(ms(startTook[n*99/100]), "start-p99-ms")
			b.ReportMetric(float64(n)/offered.Seconds(), "starts/s")
			b.ReportMetric(float64(st.recs.unknown.Load()), "receipts-dropped")
			// Receipts the bind answered ESME_RX_T_APPN for want of a free
			// OnDeliver worker, for the SMSC to send again later.
			b.ReportMetric(float64(st.tx["carrier"].Stats().DeliverBusy), "receipts-refused")
		})
	}
}
