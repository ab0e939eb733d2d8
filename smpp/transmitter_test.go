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
)

// newTransmitter starts a Transmitter on cfg and closes it when the test
// ends.
func newTransmitter(tb testing.TB, cfg smpp.Config) *smpp.Transmitter {
	tb.Helper()
	tr, err := smpp.NewTransmitter(cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		tr.Close(ctx)
	})
	return tr
}

func TestTransmitterSpreadsOverBinds(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	perConn := map[*fakeConn]int{}
	f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) {
		mu.Lock()
		perConn[c]++
		mu.Unlock()
		c.f.accept(c, h, sm)
	}})
	cfg := testConfig(f)
	cfg.Binds = 3
	tr := newTransmitter(t, cfg)
	eventually(t, func() bool { return tr.Bound() == 3 }, "3 binds")

	for i := range 30 {
		text := fmt.Sprint("message ", i)
		res, err := tr.Submit(testCtx(t), sms(text))
		require.NoError(t, err)
		require.Equal(t, text, f.textOf(res.MessageID))
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, perConn, 3, "every bind was used")
	st := tr.Stats()
	require.Equal(t, uint64(30), st.Submitted)
	require.Equal(t, uint64(3), st.Binds)
	require.Zero(t, st.Errors)
	require.Positive(t, st.LastLatency)
}

func TestTransmitterRetriesFlowControl(t *testing.T) {
	t.Parallel()
	for _, status := range []smpp.CommandStatus{smpp.StatusThrottled, smpp.StatusMsgQueueFull} {
		t.Run(status.String(), func(t *testing.T) {
			t.Parallel()
			const refusals = 3
			var n atomic.Int32
			f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) {
				if n.Add(1) <= refusals {
					c.send(&smpp.SubmitSMResp{}, h.Sequence, status)
					return
				}
				c.f.accept(c, h, sm)
			}})
			tr := newTransmitter(t, testConfig(f))

			res, err := tr.Submit(testCtx(t), sms("eventually"))
			require.NoError(t, err)
			require.Equal(t, "eventually", f.textOf(res.MessageID))
			require.Equal(t, int32(refusals+1), f.submits.Load())
			st := tr.Stats()
			require.Equal(t, uint64(refusals), st.Throttled)
			require.Equal(t, uint64(refusals), st.Retries)
			require.Zero(t, st.Errors)
		})
	}
}

func TestTransmitterThrottledUntilDeadline(t *testing.T) {
	t.Parallel()
	f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) {
		c.send(&smpp.SubmitSMResp{}, h.Sequence, smpp.StatusThrottled)
	}})
	tr := newTransmitter(t, testConfig(f))
	eventually(t, func() bool { return tr.Bound() == 1 }, "bound")

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := tr.Submit(ctx, sms("never"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Positive(t, tr.Stats().Throttled)
	require.Equal(t, uint64(1), tr.Stats().Errors)
}

func TestTransmitterReturnsRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status    smpp.CommandStatus
		temporary bool
	}{
		{smpp.StatusInvDstAddr, false},
		{smpp.StatusSysErr, true}, // left to the caller's retry policy
	} {
		t.Run(tc.status.String(), func(t *testing.T) {
			t.Parallel()
			f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) {
				c.send(&smpp.SubmitSMResp{}, h.Sequence, tc.status)
			}})
			tr := newTransmitter(t, testConfig(f))
			_, err := tr.Submit(testCtx(t), sms("x"))
			se, ok := errors.AsType[*smpp.StatusError](err)
			require.True(t, ok, "%v", err)
			require.Equal(t, tc.status, se.Status)
			require.Equal(t, tc.temporary, se.Temporary())
			require.Equal(t, int32(1), f.submits.Load(), "sent once")
			require.Equal(t, uint64(1), tr.Stats().Errors)
		})
	}
}

func TestTransmitterRebindsAfterBindFailure(t *testing.T) {
	t.Parallel()
	f := startSMSC(t, fakeScript{refuseBinds: 2})
	tr := newTransmitter(t, testConfig(f))
	res, err := tr.Submit(testCtx(t), sms("after rebind"))
	require.NoError(t, err)
	require.Equal(t, "after rebind", f.textOf(res.MessageID))
	require.Equal(t, int32(3), f.bindAttempts.Load())
	st := tr.Stats()
	require.Equal(t, uint64(1), st.Binds)
	se, ok := errors.AsType[*smpp.StatusError](st.LastError)
	require.True(t, ok, "%v", st.LastError)
	require.Equal(t, smpp.StatusBindFail, se.Status)
}

func TestTransmitterDropMidStreamLosesNothing(t *testing.T) {
	t.Parallel()
	const (
		binds, window = 2, 5
		messages      = 60
		every, drops  = 7, 4 // drop the connection at every 7th submit, 4 times
	)
	var seen, dropped atomic.Int32
	f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) {
		if seen.Add(1)%every == 0 && dropped.Load() < drops {
			dropped.Add(1)
			c.f.record(sm) // the SMSC took it; the response is lost with the connection
			c.drop()
			return
		}
		c.f.accept(c, h, sm)
	}})
	cfg := testConfig(f)
	cfg.Binds, cfg.Window = binds, window
	tr := newTransmitter(t, cfg)

	var wg sync.WaitGroup
	ids := make([]string, messages)
	for w := range 12 {
		wg.Go(func() {
			for i := w; i < messages; i += 12 {
				res, err := tr.Submit(testCtx(t), sms(fmt.Sprint("message ", i)))
				if err != nil {
					t.Errorf("message %d: %v", i, err)
					continue
				}
				ids[i] = res.MessageID
			}
		})
	}
	wg.Wait()

	require.Equal(t, int32(drops), dropped.Load())
	copies := f.acceptedCopies()
	duplicates := 0
	for i, id := range ids {
		text := fmt.Sprint("message ", i)
		require.Equal(t, text, f.textOf(id), "message %d got the id of another", i)
		require.GreaterOrEqual(t, copies[text], 1)
		duplicates += copies[text] - 1
	}
	t.Logf("%d messages, %d drops, %d duplicates, %+v", messages, drops, duplicates, tr.Stats())
	// Each dropped message was taken before its response was lost, so it
	// went twice; no drop can duplicate more than the window it cut off.
	require.GreaterOrEqual(t, duplicates, drops)
	require.LessOrEqual(t, duplicates, drops*window)
	// Every drop is followed by a rebind (Bound alone could count a session
	// whose reader has not yet seen the drop).
	eventually(t, func() bool {
		st := tr.Stats()
		return st.Binds == binds+drops && st.Bound == binds
	}, "rebound after every drop")
	st := tr.Stats()
	require.Equal(t, uint64(messages), st.Submitted)
	require.Zero(t, st.Errors)
	require.GreaterOrEqual(t, st.Retries, uint64(drops))
}

func TestTransmitterResubmitsAfterResponseTimeout(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) {
		if n.Add(1) == 1 {
			c.f.record(sm) // accepted, response lost
			return
		}
		c.f.accept(c, h, sm)
	}})
	cfg := testConfig(f)
	cfg.ResponseTimeout = 50 * time.Millisecond
	tr := newTransmitter(t, cfg)

	res, err := tr.Submit(testCtx(t), sms("twice"))
	require.NoError(t, err)
	require.Equal(t, "twice", f.textOf(res.MessageID))
	require.Equal(t, 2, f.acceptedCopies()["twice"], "at least once: a duplicate")
	require.Equal(t, uint64(1), tr.Stats().Retries)
}

func TestTransmitterRebindsOnInvalidBindStatus(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) {
		if n.Add(1) == 1 {
			c.send(&smpp.SubmitSMResp{}, h.Sequence, smpp.StatusInvBindStatus)
			return
		}
		c.f.accept(c, h, sm)
	}})
	tr := newTransmitter(t, testConfig(f))
	_, err := tr.Submit(testCtx(t), sms("x"))
	require.NoError(t, err)
	require.Equal(t, uint64(2), tr.Stats().Binds)
	require.ErrorIs(t, tr.Stats().LastError, smpp.ErrUnbound)
}

func TestTransmitterOnDeliver(t *testing.T) {
	t.Parallel()
	f := startSMSC(t, fakeScript{})
	receipts := make(chan smpp.Receipt, 1)
	cfg := testConfig(f)
	cfg.OnDeliver = func(ctx context.Context, d *smpp.DeliverSM) error {
		r, err := smpp.ParseReceipt(d)
		if err != nil {
			return err
		}
		receipts <- r
		return nil
	}
	tr := newTransmitter(t, cfg)
	c := f.nextBound(t)

	res, err := tr.Submit(testCtx(t), sms("Your code is 123456"))
	require.NoError(t, err)
	seq := c.request(smpp.Receipt{MessageID: res.MessageID, State: smpp.StateDelivered}.DeliverSM())
	r := recv(t, receipts)
	require.True(t, smpp.SameMessageID(res.MessageID, r.MessageID))
	require.Equal(t, smpp.StateDelivered, r.State)
	m := f.expect(t, smpp.CmdDeliverSMResp)
	require.Equal(t, seq, m.h.Sequence)
	require.Equal(t, smpp.StatusOK, m.h.Status)
}

func TestTransmitterCloseUnbindsAll(t *testing.T) {
	t.Parallel()
	f := startSMSC(t, fakeScript{})
	cfg := testConfig(f)
	cfg.Binds = 3
	tr, err := smpp.NewTransmitter(cfg)
	require.NoError(t, err)
	eventually(t, func() bool { return tr.Bound() == 3 }, "3 binds")

	require.NoError(t, tr.Close(testCtx(t)))
	_, unbinds := f.bindLog()
	require.Equal(t, 3, unbinds)
	require.Zero(t, tr.Bound())
	_, err = tr.Submit(testCtx(t), sms("x"))
	require.ErrorIs(t, err, smpp.ErrClosed)
	require.NoError(t, tr.Close(testCtx(t)), "Close again")
}

func TestTransmitterNotBound(t *testing.T) {
	t.Parallel()
	// An SMSC that hangs up on every connection. (A closed port would do,
	// but a parallel test's listener may take it.)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hangups := make(chan struct{})
	go func() {
		defer close(hangups)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-hangups
	})

	tr := newTransmitter(t, smpp.Config{Addr: ln.Addr().String(), RebindBackoff: time.Millisecond, MaxRebindBackoff: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = tr.Submit(ctx, sms("x"))
	require.ErrorIs(t, err, smpp.ErrNotBound)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	eventually(t, func() bool { return tr.Stats().LastError != nil }, "a dial error recorded")
	require.Zero(t, tr.Bound())
	err = tr.Ready(testCtx(t))
	require.ErrorIs(t, err, smpp.ErrNotBound)
	require.ErrorContains(t, err, "last error: smpp: bind "+ln.Addr().String())
}

func TestTransmitterReady(t *testing.T) {
	t.Parallel()
	f := startSMSC(t, fakeScript{})
	tr, err := smpp.NewTransmitter(testConfig(f))
	require.NoError(t, err)
	eventually(t, func() bool { return tr.Ready(testCtx(t)) == nil }, "ready once bound")
	require.NoError(t, tr.Close(testCtx(t)))
	require.ErrorIs(t, tr.Ready(testCtx(t)), smpp.ErrClosed)
}

func TestNewTransmitterInvalidConfig(t *testing.T) {
	t.Parallel()
	_, err := smpp.NewTransmitter(smpp.Config{Addr: "127.0.0.1:1", Mode: smpp.BindModeReceiver})
	require.ErrorContains(t, err, "receiver")
	_, err = smpp.NewTransmitter(smpp.Config{Addr: "127.0.0.1:1", Binds: -1})
	require.ErrorContains(t, err, "Binds")
}

// ExampleTransmitter shows how an SMS route sends through an SMSC.
func ExampleTransmitter() {
	tr, err := smpp.NewTransmitter(smpp.Config{
		Addr:     "smsc.example.net:2775",
		SystemID: "otpd",
		Password: "secret",
		Binds:    2,
		TPS:      50, // per bind
		OnDeliver: func(ctx context.Context, d *smpp.DeliverSM) error {
			r, err := smpp.ParseReceipt(d)
			if errors.Is(err, smpp.ErrNotReceipt) {
				return nil // a mobile-originated message
			}
			if err != nil {
				return err
			}
			fmt.Println(r.MessageID, r.State) // record it; an error makes the SMSC resend
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	defer tr.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := tr.Submit(ctx, &smpp.SubmitSM{
		Source:             smpp.Address{TON: smpp.TONAlphanumeric, Addr: "otpd"},
		Destination:        smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "447700900123"},
		RegisteredDelivery: smpp.ReceiptOnFinal,
		ShortMessage:       []byte("Your code is 123456"),
	})
	if se, ok := errors.AsType[*smpp.StatusError](err); ok && !se.Temporary() {
		fmt.Println("refused for good:", se.Status)
		return
	}
	if err != nil {
		fmt.Println("try again later:", err)
		return
	}
	fmt.Println("accepted as", res.MessageID)
}
