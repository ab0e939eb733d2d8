package smpp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/internal/testca"
	"github.com/otpd/otpd/smpp"
)

func TestDialBindModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode smpp.BindMode
		cmd  smpp.CommandID
	}{
		{smpp.BindModeTransceiver, smpp.CmdBindTransceiver},
		{smpp.BindModeTransmitter, smpp.CmdBindTransmitter},
		{smpp.BindModeReceiver, smpp.CmdBindReceiver},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			t.Parallel()
			f := startSMSC(t, fakeScript{})
			cfg := testConfig(f)
			cfg.Mode = tc.mode
			s := dial(t, cfg)
			require.Equal(t, "fakesmsc", s.SMSCSystemID())
			require.Equal(t, tc.mode, s.Mode())
			require.NoError(t, s.Err())
			binds, _ := f.bindLog()
			require.Equal(t, []smpp.CommandID{tc.cmd}, binds)
		})
	}
}

func TestDialRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		script   fakeScript
		password string
		status   smpp.CommandStatus
	}{
		{"wrong password", fakeScript{}, "guess", smpp.StatusInvPassword},
		{"bind refused", fakeScript{refuseBinds: 1}, "secret", smpp.StatusBindFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startSMSC(t, tc.script)
			cfg := testConfig(f)
			cfg.Password = tc.password
			_, err := smpp.Dial(testCtx(t), cfg)
			se, ok := errors.AsType[*smpp.StatusError](err)
			require.True(t, ok, "%v", err)
			require.Equal(t, tc.status, se.Status)
			require.Equal(t, smpp.CmdBindTransceiver, se.Command)
			require.False(t, se.Temporary())
			require.ErrorContains(t, err, "smpp: bind "+f.addr)
		})
	}
}

func TestDialBindUnanswered(t *testing.T) {
	t.Parallel()
	f := startSMSC(t, fakeScript{silentBind: true})

	cfg := testConfig(f)
	cfg.ResponseTimeout = 50 * time.Millisecond
	_, err := smpp.Dial(testCtx(t), cfg)
	require.ErrorIs(t, err, smpp.ErrResponseTimeout)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = smpp.Dial(ctx, testConfig(f))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestDialInvalidConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]smpp.Config{
		"no address":    {SystemID: "otpd"},
		"long password": {Addr: "127.0.0.1:1", Password: "123456789"},
		"negative TPS":  {Addr: "127.0.0.1:1", TPS: -1},
		"bad window":    {Addr: "127.0.0.1:1", Window: -1},
		"bad mode":      {Addr: "127.0.0.1:1", Mode: 7},
		"bad workers":   {Addr: "127.0.0.1:1", DeliverWorkers: -1},
	} {
		_, err := smpp.Dial(context.Background(), cfg)
		require.ErrorContains(t, err, "smpp: invalid config", name)
	}
}

func TestSubmitMatchesResponsesBySequence(t *testing.T) {
	t.Parallel()
	const n = 5
	type held struct {
		c  *fakeConn
		h  smpp.Header
		sm *smpp.SubmitSM
	}
	var mu sync.Mutex
	var pending []held
	f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) {
		mu.Lock()
		defer mu.Unlock()
		pending = append(pending, held{c, h, sm})
		if len(pending) < n {
			return
		}
		// Answer in reverse order, each with an id naming its text.
		for _, p := range slices.Backward(pending) {
			p.c.send(&smpp.SubmitSMResp{MessageID: "id-" + string(p.sm.ShortMessage)}, p.h.Sequence, smpp.StatusOK)
		}
	}})
	s := dial(t, testConfig(f))

	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			text := fmt.Sprint("message ", i)
			res, err := s.Submit(testCtx(t), sms(text))
			if !(err == nil && res.MessageID == "id-"+text) {
				t.Errorf("%s: got %+v, %v", text, res, err)
			}
		})
	}
	wg.Wait()

	seqs := map[uint32]bool{1: true} // the bind's
	for _, p := range pending {
		require.False(t, seqs[p.h.Sequence], "sequence number %d reused", p.h.Sequence)
		seqs[p.h.Sequence] = true
	}
}

func TestSubmitWindow(t *testing.T) {
	t.Parallel()
	const window, n = 3, 12
	var mu sync.Mutex
	var held []func()
	outstanding, most := 0, 0
	f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) {
		mu.Lock()
		defer mu.Unlock()
		outstanding++
		most = max(most, outstanding)
		held = append(held, func() { c.f.accept(c, h, sm) })
	}})
	cfg := testConfig(f)
	cfg.Window = window
	s := dial(t, cfg)

	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.Submit(testCtx(t), sms(fmt.Sprint(i)))
			errs <- err
		}()
	}
	// Answer one at a time, only once the session has filled its window.
	for answered := range n {
		want := min(window, n-answered)
		eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(held) >= want
		}, "%d submits outstanding", want)
		require.LessOrEqual(t, s.Outstanding(), window)
		mu.Lock()
		answer := held[0]
		held = held[1:]
		outstanding-- // before answering: the session may send the next at once
		mu.Unlock()
		answer()
	}
	for range n {
		require.NoError(t, recv(t, errs))
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, window, most, "most submits outstanding at the SMSC")
	require.Len(t, f.acceptedCopies(), n)
}

func TestSubmitTPS(t *testing.T) {
	t.Parallel()
	// With a burst of 1 the limiter lets the first submit through at once
	// and each later one 1/TPS after the one before, so n submits take at
	// least (n-1)/TPS however fast the SMSC answers. x/time/rate reads the
	// clock before taking its lock, so concurrent waiters can be spaced a
	// hair under 1/TPS: one interval of slack covers that without letting
	// an unlimited session pass. The upper bound only catches a limiter far
	// too slow.
	const tps, n = 200, 21
	f := startSMSC(t, fakeScript{})
	cfg := testConfig(f)
	cfg.TPS = tps
	s := dial(t, cfg)

	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := s.Submit(testCtx(t), sms(fmt.Sprint(i)))
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	least := time.Duration(n-2) * time.Second / tps
	require.GreaterOrEqual(t, elapsed, least)
	require.Less(t, elapsed, 20*least)
}

func TestSubmitResponseTimeout(t *testing.T) {
	t.Parallel()
	var answer atomic.Bool
	late := make(chan func(), 1)
	f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) {
		if answer.Load() {
			c.f.accept(c, h, sm)
			return
		}
		late <- func() { c.send(&smpp.SubmitSMResp{MessageID: "late"}, h.Sequence, smpp.StatusOK) }
	}})
	cfg := testConfig(f)
	cfg.ResponseTimeout = 50 * time.Millisecond
	s := dial(t, cfg)

	_, err := s.Submit(testCtx(t), sms("unanswered"))
	require.ErrorIs(t, err, smpp.ErrResponseTimeout)
	require.Zero(t, s.Outstanding(), "the window slot is released")
	// The timeout makes the session check the link at once; the SMSC
	// answers, so the session lives on.
	eventually(t, func() bool { return f.enquireLinks.Load() >= 1 }, "enquire_link after the timeout")

	recv(t, late)() // a response after the timeout is dropped
	answer.Store(true)
	res, err := s.Submit(testCtx(t), sms("answered"))
	require.NoError(t, err)
	require.Equal(t, "answered", f.textOf(res.MessageID))
	require.NoError(t, s.Err())
}

func TestSubmitStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status    smpp.CommandStatus
		temporary bool
		pauses    bool
	}{
		{smpp.StatusInvDstAddr, false, false},
		{smpp.StatusThrottled, true, true},
		{smpp.StatusMsgQueueFull, true, true},
		{smpp.StatusSysErr, true, false},
	} {
		t.Run(tc.status.String(), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var arrived []time.Time
			f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) {
				mu.Lock()
				arrived = append(arrived, time.Now())
				first := len(arrived) == 1
				mu.Unlock()
				if first {
					c.send(&smpp.SubmitSMResp{}, h.Sequence, tc.status)
					return
				}
				c.f.accept(c, h, sm)
			}})
			const backoff = 30 * time.Millisecond
			cfg := testConfig(f)
			cfg.ThrottleBackoff = backoff
			s := dial(t, cfg)

			_, err := s.Submit(testCtx(t), sms("first"))
			se, ok := errors.AsType[*smpp.StatusError](err)
			require.True(t, ok, "%v", err)
			require.Equal(t, smpp.StatusError{Command: smpp.CmdSubmitSM, Status: tc.status}, *se)
			require.Equal(t, tc.temporary, se.Temporary())
			require.ErrorContains(t, err, "smpp: submit_sm refused: "+tc.status.String())

			_, err = s.Submit(testCtx(t), sms("second"))
			require.NoError(t, err)
			if tc.pauses {
				// The pause began after the first submit arrived and the
				// second was sent after it ended.
				mu.Lock()
				defer mu.Unlock()
				require.GreaterOrEqual(t, arrived[1].Sub(arrived[0]), backoff)
			}
		})
	}
}

func TestSubmitRefusedLocally(t *testing.T) {
	t.Parallel()
	f := startSMSC(t, fakeScript{})
	cfg := testConfig(f)
	cfg.Mode = smpp.BindModeReceiver
	_, err := dial(t, cfg).Submit(testCtx(t), sms("x"))
	require.ErrorContains(t, err, "receiver")

	s := dial(t, testConfig(f))
	_, err = s.Submit(testCtx(t), nil)
	require.ErrorIs(t, err, smpp.ErrInvalidField)
	_, err = s.Submit(testCtx(t), &smpp.SubmitSM{ShortMessage: make([]byte, 300)})
	require.ErrorIs(t, err, smpp.ErrFieldTooLong)
	require.Zero(t, s.Outstanding())
	require.Zero(t, f.submits.Load())
}

func TestDeliverSM(t *testing.T) {
	t.Parallel()
	f := startSMSC(t, fakeScript{})
	got := make(chan *smpp.DeliverSM, 1)
	verdicts := make(chan error, 1)
	cfg := testConfig(f)
	cfg.OnDeliver = func(ctx context.Context, d *smpp.DeliverSM) error {
		got <- d
		return <-verdicts
	}
	s := dial(t, cfg)
	c := f.nextBound(t)

	receipt := smpp.Receipt{MessageID: "1A2B", Submitted: 1, Delivered: 1, State: smpp.StateDelivered, Stat: "DELIVRD", Err: "000"}.DeliverSM()
	receipt.TLVs.Set(0x1401, []byte{1, 2, 3}) // a vendor's TLV, unknown to us
	payload := &smpp.DataSM{ESMClass: smpp.ESMDeliveryReceipt}
	payload.TLVs.SetCString(smpp.TagReceiptedMessageID, "3C4D")
	payload.TLVs.SetUint8(smpp.TagMessageState, uint8(smpp.StateUndeliverable))
	payload.TLVs.Set(smpp.TagMessagePayload, []byte("id:3C4D stat:UNDELIV err:001"))

	for _, tc := range []struct {
		name    string
		pdu     smpp.PDU
		verdict error
		resp    smpp.CommandID
		status  smpp.CommandStatus
		id      string
	}{
		{"receipt", receipt, nil, smpp.CmdDeliverSMResp, smpp.StatusOK, "1A2B"},
		{"handler failed", receipt, errors.New("store down"), smpp.CmdDeliverSMResp, smpp.StatusTempAppErr, "1A2B"},
		{"handler refused", receipt, &smpp.StatusError{Status: smpp.StatusRejectAppErr}, smpp.CmdDeliverSMResp, smpp.StatusRejectAppErr, "1A2B"},
		{"data_sm receipt", payload, nil, smpp.CmdDataSMResp, smpp.StatusOK, "3C4D"},
	} {
		seq := c.request(tc.pdu)
		d := recv(t, got)
		verdicts <- tc.verdict
		r, err := smpp.ParseReceipt(d)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.id, r.MessageID, tc.name)
		if tc.pdu == receipt {
			v, ok := d.TLVs.Get(0x1401)
			require.True(t, ok, tc.name)
			require.Equal(t, []byte{1, 2, 3}, v, tc.name)
		}
		m := f.expect(t, tc.resp)
		require.Equal(t, seq, m.h.Sequence, tc.name)
		require.Equal(t, tc.status, m.h.Status, tc.name)
	}
	require.NoError(t, s.Err())
}

func TestEnquireLinkFromSMSC(t *testing.T) {
	t.Parallel()
	f := startSMSC(t, fakeScript{})
	s := dial(t, testConfig(f))
	c := f.nextBound(t)
	for range 3 {
		seq := c.request(&smpp.EnquireLink{})
		m := f.expect(t, smpp.CmdEnquireLinkResp)
		require.Equal(t, seq, m.h.Sequence)
		require.Equal(t, smpp.StatusOK, m.h.Status)
	}
	require.NoError(t, s.Err())
}

func TestKeepalive(t *testing.T) {
	t.Parallel()
	f := startSMSC(t, fakeScript{})
	cfg := testConfig(f)
	cfg.EnquireLinkInterval = 5 * time.Millisecond
	s := dial(t, cfg)
	eventually(t, func() bool { return f.enquireLinks.Load() >= 3 }, "enquire_link every 5ms")
	require.NoError(t, s.Err())
}

func TestKeepaliveFailure(t *testing.T) {
	t.Parallel()
	f := startSMSC(t, fakeScript{ignoreEnquireLink: true})
	cfg := testConfig(f)
	cfg.EnquireLinkInterval = 5 * time.Millisecond
	cfg.ResponseTimeout = 50 * time.Millisecond
	s := dial(t, cfg)
	recv(t, s.Done())
	require.ErrorIs(t, s.Err(), smpp.ErrResponseTimeout)
	require.ErrorContains(t, s.Err(), "keepalive")
	_, err := s.Submit(testCtx(t), sms("x"))
	require.ErrorIs(t, err, smpp.ErrClosed)
}

func TestMalformedPDUs(t *testing.T) {
	t.Parallel()
	f := startSMSC(t, fakeScript{})
	cfg := testConfig(f)
	cfg.OnDeliver = func(context.Context, *smpp.DeliverSM) error {
		t.Error("a malformed deliver_sm reached OnDeliver")
		return nil
	}
	s := dial(t, cfg)
	c := f.nextBound(t)

	valid := func(p smpp.PDU, seq uint32) []byte {
		b, err := smpp.Encode(p, seq, smpp.StatusOK)
		require.NoError(t, err)
		return b
	}
	for i, tc := range []struct {
		name   string
		pdu    []byte
		status smpp.CommandStatus // of the generic_nack
	}{
		{"unknown command", frame(0x99, 101, "junk"), smpp.StatusInvCmdID},
		{"query_sm, which otpd does not decode", frame(smpp.CmdQuerySM, 102, "1\x00", 1, 1, "447700900123\x00"), smpp.StatusInvCmdID},
		{"deliver_sm cut short", frame(smpp.CmdDeliverSM, 103, "\x00", 1, 1, "4477"), 0},
		{"deliver_sm with a truncated TLV", frame(smpp.CmdDeliverSM, 104, submit("", "1", "2", "", "", cat(2, "hi"), tlv(0x0204, 0, 1)[:3])...), 0},
		{"enquire_link with a body", frame(smpp.CmdEnquireLink, 105, "x"), 0},
		{"submit_sm sent to an ESME", valid(sms("hi"), 106), smpp.StatusInvCmdID},
		{"bind sent to an ESME", valid(&smpp.BindTransmitter{SystemID: "x"}, 107), smpp.StatusInvCmdID},
	} {
		if tc.status == 0 {
			_, _, err := smpp.Decode(tc.pdu)
			de, ok := errors.AsType[*smpp.DecodeError](err)
			require.True(t, ok, "%s: %v", tc.name, err)
			tc.status = de.Status
		}
		c.raw(tc.pdu)
		m := f.expect(t, smpp.CmdGenericNack)
		require.Equal(t, uint32(101+i), m.h.Sequence, tc.name)
		require.Equal(t, tc.status, m.h.Status, tc.name)
	}

	// alert_notification and outbind get no response at all: the next
	// thing the ESME sends answers the enquire_link after them.
	c.raw(frame(smpp.CmdAlertNotification, 120, 1, 1, "447700900123\x00", 1, 1, "1\x00"))
	c.raw(frame(smpp.CmdOutbind, 121, "smsc\x00", "pw\x00"))
	seq := c.request(&smpp.EnquireLink{})
	require.Equal(t, seq, f.expect(t, smpp.CmdEnquireLinkResp).h.Sequence)

	// The session survived all of it.
	_, err := s.Submit(testCtx(t), sms("still here"))
	require.NoError(t, err)
	require.NoError(t, s.Err())

	// An impossible command_length loses the framing: nack, then close.
	c.raw([]byte{0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 130})
	m := f.expect(t, smpp.CmdGenericNack)
	require.Equal(t, smpp.StatusInvCmdLen, m.h.Status)
	require.Equal(t, uint32(130), m.h.Sequence)
	recv(t, s.Done())
	require.ErrorIs(t, s.Err(), smpp.ErrCommandLength)
}

func TestMalformedResponse(t *testing.T) {
	t.Parallel()
	f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) {
		switch string(sm.ShortMessage) {
		case "unreadable":
			// message_id without its NUL: accepted, but which id?
			c.raw(frame(smpp.CmdSubmitSMResp, h.Sequence, "1A2B"))
		case "nack":
			c.send(&smpp.GenericNack{}, h.Sequence, smpp.StatusInvCmdLen)
		}
	}})
	s := dial(t, testConfig(f))

	_, err := s.Submit(testCtx(t), sms("unreadable"))
	_, ok := errors.AsType[*smpp.DecodeError](err)
	require.True(t, ok, "%v", err)

	_, err = s.Submit(testCtx(t), sms("nack"))
	se, ok := errors.AsType[*smpp.StatusError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, smpp.StatusInvCmdLen, se.Status)
	require.NoError(t, s.Err())
}

func TestCloseUnbindsAfterInFlight(t *testing.T) {
	t.Parallel()
	hold := make(chan func(), 1)
	f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) {
		if string(sm.ShortMessage) == "in flight" {
			hold <- func() { c.f.accept(c, h, sm) }
			return
		}
		c.f.accept(c, h, sm)
	}})
	s, err := smpp.Dial(testCtx(t), testConfig(f))
	require.NoError(t, err)

	inFlight := make(chan error, 1)
	go func() {
		_, err := s.Submit(testCtx(t), sms("in flight"))
		inFlight <- err
	}()
	answer := recv(t, hold)
	closed := make(chan error, 1)
	go func() { closed <- s.Close(testCtx(t)) }()
	eventually(t, func() bool {
		_, err := s.Submit(testCtx(t), sms("more"))
		return errors.Is(err, smpp.ErrClosed)
	}, "Close stops new submits")
	_, unbinds := f.bindLog()
	require.Zero(t, unbinds, "unbind before the response in flight")

	answer()
	require.NoError(t, recv(t, inFlight))
	require.NoError(t, recv(t, closed))
	_, unbinds = f.bindLog()
	require.Equal(t, 1, unbinds)
	recv(t, s.Done())
	require.ErrorIs(t, s.Err(), smpp.ErrClosed)
	require.NoError(t, s.Close(testCtx(t)), "Close again")
	_, err = s.Submit(testCtx(t), sms("after"))
	require.ErrorIs(t, err, smpp.ErrClosed)
}

func TestPeerUnbind(t *testing.T) {
	t.Parallel()
	held := make(chan *fakeConn, 1)
	f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) { held <- c }})
	s := dial(t, testConfig(f))
	inFlight := make(chan error, 1)
	go func() {
		_, err := s.Submit(testCtx(t), sms("x"))
		inFlight <- err
	}()
	c := recv(t, held)
	seq := c.request(&smpp.Unbind{})
	require.Equal(t, seq, f.expect(t, smpp.CmdUnbindResp).h.Sequence)
	require.ErrorIs(t, recv(t, inFlight), smpp.ErrConnectionLost)
	recv(t, s.Done())
	require.ErrorIs(t, s.Err(), smpp.ErrUnbound)
}

func TestConnectionDrop(t *testing.T) {
	t.Parallel()
	f := startSMSC(t, fakeScript{submit: func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) { c.drop() }})
	s := dial(t, testConfig(f))
	_, err := s.Submit(testCtx(t), sms("x"))
	require.ErrorIs(t, err, smpp.ErrConnectionLost)
	recv(t, s.Done())
	require.ErrorIs(t, s.Err(), io.EOF)
	_, err = s.Submit(testCtx(t), sms("y"))
	require.ErrorIs(t, err, smpp.ErrClosed)
}

func TestTLS(t *testing.T) {
	t.Parallel()
	server, client := testTLS(t)
	f := startSMSC(t, fakeScript{tls: server})

	cfg := testConfig(f)
	cfg.TLS = client
	s := dial(t, cfg)
	res, err := s.Submit(testCtx(t), sms("over TLS"))
	require.NoError(t, err)
	require.Equal(t, "over TLS", f.textOf(res.MessageID))
	require.NoError(t, s.Close(testCtx(t)))
	_, unbinds := f.bindLog()
	require.Equal(t, 1, unbinds)

	// A certificate from a CA the client does not trust is refused.
	_, untrusted := testTLS(t)
	cfg.TLS = untrusted
	_, err = smpp.Dial(testCtx(t), cfg)
	_, ok := errors.AsType[*tls.CertificateVerificationError](err)
	require.True(t, ok, "%v", err)
}

// testTLS makes a CA and a certificate for 127.0.0.1 it signs, and returns
// a server config with the certificate and a client config trusting the CA.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	ca := testca.New("otpd test CA")
	return ca.Issue("fakesmsc").ServerConfig(), ca.ClientConfig()
}

func BenchmarkSessionSubmit(b *testing.B) {
	for _, window := range []int{1, 10, 64} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) {
			f := startSMSC(b, fakeScript{})
			cfg := testConfig(f)
			cfg.Window = window
			s := dial(b, cfg)
			ctx := context.Background()
			sm := sms("Your code is 123456")
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range window {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, err := s.Submit(ctx, sm); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
