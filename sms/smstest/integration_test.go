package smstest_test

import (
	"context"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/gsm"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/sms"
	"github.com/otpd/otpd/smsc"
)

var codeRe = regexp.MustCompile(`\b\d{6}\b`)

// A verification started through the engine reaches the SMSC, its receipt
// (DELIVRD) makes the message delivered, and the code in the SMS approves
// the verification.
func TestReceiptDelivered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := startSMSC(t, smsc.Config{SystemID: systemID, Password: password})
	st := newStack(t, stackOptions{routes: []routeSpec{{name: "carrier", esme: esmeConfig(c.addr), opts: sms.SMPPOptions{Source: "Acme"}}}})
	st.waitBound(t)

	to := phone(0, 1)
	v := st.start(t, to)
	got := c.waitFor(t, to)
	require.Equal(t, "Acme", got.From)
	require.Equal(t, systemID, got.SystemID)
	require.Equal(t, smpp.StateDelivered, got.State)
	code := codeRe.FindString(got.Text)
	require.Equal(t, st.code(t, v), code, "the SMS carries the verification's code: %q", got.Text)

	v = st.waitStatus(t, v, otpd.MessageDelivered)
	m := v.Messages[0]
	require.Equal(t, "carrier:"+got.MessageIDs[0], m.ProviderID, "the provider id is the SMSC's, qualified by route")
	require.Equal(t, 1, m.Attempts)
	require.Empty(t, m.Error)
	require.Equal(t, otpd.StatusPending, v.Status, "a delivered code still waits for its check")
	eventually(t, "the receipt handler to return", func() bool { return st.recs.recorded.Load() == 1 })
	require.Zero(t, st.recs.unknown.Load())

	res, err := st.engine.Check(ctx, st.svc.ID, v.ID, code, nil)
	require.NoError(t, err)
	require.True(t, res.Valid)
	require.Equal(t, otpd.StatusApproved, res.Verification.Status)
}

// An UNDELIV receipt makes the message undelivered with the SMSC's reason,
// and the verification, having no other message, failed.
func TestReceiptUndeliverable(t *testing.T) {
	t.Parallel()
	c := startSMSC(t, smsc.Config{SystemID: systemID, Password: password,
		Faults: smsc.Faults{UndeliverablePrefixes: []string{"44770091"}}})
	st := newStack(t, stackOptions{routes: []routeSpec{{name: "carrier", esme: esmeConfig(c.addr)}}})

	bad, good := phone(1, 7), phone(2, 7)
	vBad, vGood := st.start(t, bad), st.start(t, good)
	require.Equal(t, smpp.StateUndeliverable, c.waitFor(t, bad).State)

	vBad = st.waitStatus(t, vBad, otpd.MessageUndelivered)
	require.Equal(t, "stat:UNDELIV err:001", vBad.Messages[0].Error)
	require.Equal(t, otpd.StatusFailed, vBad.Status)

	vGood = st.waitStatus(t, vGood, otpd.MessageDelivered)
	require.Equal(t, otpd.StatusPending, vGood.Status, "one number's failure is not another's")
}

// A receipt can overtake the send's outcome: the SMSC may report a message
// delivered (or, more often, undeliverable) before the engine has written
// down the ids the SMSC gave it. The receipt must still be applied: the
// engine keeps it (early_receipts) until the outcome is written. Receipts
// here are sent at once, so most of them overtake their send's outcome.
func TestReceiptBeforeSendRecorded(t *testing.T) {
	t.Parallel()
	const n = 30
	c := startSMSC(t, smsc.Config{SystemID: systemID, Password: password, DLRDelay: -1})
	st := newStack(t, stackOptions{routes: []routeSpec{{name: "carrier", esme: esmeConfig(c.addr)}}})
	tos := make([]string, n)
	for i := range tos {
		tos[i] = phone(6, i)
	}
	st.startMany(t, tos)
	st.waitAll(t, n, otpd.MessageDelivered)
}

// A route whose bind is refused is not ready, and a message for it is not
// lost: it stays queued and is retried until the bind works, here once the
// SMSC has been given the right credentials.
func TestBindFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	wrong := startSMSC(t, smsc.Config{SystemID: systemID, Password: "other"})
	st := newStack(t, stackOptions{routes: []routeSpec{{name: "carrier", esme: esmeConfig(wrong.addr)}}})

	eventually(t, "the route to retry its refused bind", func() bool { return wrong.srv.Stats().BindFailures >= 2 })
	err := st.router.Ready(ctx)
	require.ErrorIs(t, err, smpp.ErrNotBound)
	require.ErrorContains(t, err, "ESME_RINVPASWD", "readiness quotes why the bind fails")
	require.Zero(t, st.tx["carrier"].Stats().Binds)

	to := phone(3, 1)
	v := st.start(t, to)
	v = st.waitMessage(t, v, "tried and put back in the queue", func(m *otpd.Message) bool {
		return m.Attempts >= 1 && m.Status == otpd.MessageQueued
	})
	require.Contains(t, v.Messages[0].Error, "route carrier: not ready")
	require.Zero(t, wrong.srv.Stats().Submits)

	// The carrier fixes the account: an SMSC with the route's credentials
	// takes over the address.
	wrong.stop()
	fixed := startSMSCAt(t, smsc.Config{SystemID: systemID, Password: password}, wrong.addr)

	got := fixed.waitFor(t, to)
	v = st.waitStatus(t, v, otpd.MessageDelivered)
	require.GreaterOrEqual(t, v.Messages[0].Attempts, 2)
	require.Equal(t, "carrier:"+got.MessageIDs[0], v.Messages[0].ProviderID)
	require.Equal(t, otpd.StatusPending, v.Status)
	require.NoError(t, st.router.Ready(ctx))
	require.EqualValues(t, 1, st.tx["carrier"].Stats().Binds)
}

// ESME_RTHROTTLED and ESME_RMSGQFUL are absorbed by the bind: it pauses and
// submits again, so every message is delivered on its first delivery
// attempt, exactly once.
func TestThrottlingAndQueueFull(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		name   string
		faults smsc.Faults
	}{
		{"throttled", smsc.Faults{Throttle: smsc.Rate{N: 1, Of: 3}}},
		{"queue full", smsc.Faults{QueueFull: smsc.Rate{N: 1, Of: 2}}},
		{"both", smsc.Faults{Throttle: smsc.Rate{N: 1, Of: 4}, QueueFull: smsc.Rate{N: 1, Of: 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const n = 40
			c := startSMSC(t, smsc.Config{SystemID: systemID, Password: password, Faults: tc.faults})
			st := newStack(t, stackOptions{routes: []routeSpec{{name: "carrier", esme: esmeConfig(c.addr)}}})
			st.waitBound(t)

			tos := make([]string, n)
			for j := range tos {
				tos[j] = phone(4+i, j)
			}
			st.startMany(t, tos)
			vs := st.waitAll(t, n, otpd.MessageDelivered)
			for _, v := range vs {
				require.Equal(t, 1, v.Messages[0].Attempts, "the bind retries refusals; the delivery queue never sees them")
			}
			for _, to := range tos {
				require.Len(t, c.srv.Messages(to), 1, "%s: one message, no duplicate", to)
			}
			ss, ts := c.srv.Stats(), st.tx["carrier"].Stats()
			require.Positive(t, ss.Rejected, "the fault refused some submits")
			require.EqualValues(t, ss.Rejected, ts.Throttled, "every refusal was a throttling one, and the bind saw each")
			require.Equal(t, n, ss.Messages)
			require.Zero(t, ss.Duplicates)
			require.EqualValues(t, 1, ts.Binds, "throttling does not cost the bind")
			t.Logf("%d refused (of %d submits), %d retried", ss.Rejected, ss.Submits+ss.Rejected, ts.Retries)
		})
	}
}

// The SMSC drops the connection mid-stream, again and again, without
// answering the submit that triggered the drop (it still accepted it). The
// transmitter rebinds and submits what was unanswered again: no message is
// lost, and the duplicates — messages the SMSC took twice — are few: at
// most a window's worth per drop.
func TestDropAndRebindMidStream(t *testing.T) {
	t.Parallel()
	const (
		n         = 200
		dropAfter = 31
		window    = 10
	)
	c := startSMSC(t, smsc.Config{SystemID: systemID, Password: password, Faults: smsc.Faults{DropAfter: dropAfter}})
	cfg := esmeConfig(c.addr)
	cfg.Window = window
	st := newStack(t, stackOptions{routes: []routeSpec{{name: "carrier", esme: cfg}}})

	tos := make([]string, n)
	for i := range tos {
		tos[i] = phone(7, i)
	}
	st.startMany(t, tos)
	st.waitAll(t, n, otpd.MessageDelivered)

	for _, to := range tos {
		require.NotEmpty(t, c.srv.Messages(to), "%s: lost", to)
	}
	ss, ts := c.srv.Stats(), st.tx["carrier"].Stats()
	drops := int(ts.Binds) - 1
	require.GreaterOrEqual(t, drops, n/dropAfter-1, "the SMSC dropped the bind every %d submits", dropAfter)
	require.Positive(t, ss.Duplicates, "a dropped submit was accepted, so its resubmission is a duplicate")
	require.LessOrEqual(t, ss.Duplicates, drops*window, "at most the unanswered window is sent twice per drop")
	require.Equal(t, n+ss.Duplicates, ss.Messages)
	// Receipts quoting ids no message has are the duplicates' (and
	// receipts whose deliver_sm_resp was lost in a drop come again), so
	// they are not counted exactly; every message being delivered is what
	// matters.
	t.Logf("%d messages, %d drops, %d duplicates, %d resubmissions; %d receipts for unknown ids", n, drops, ss.Duplicates, ts.Retries, st.recs.unknown.Load())
}

// The transmitter sends enquire_link while idle and the SMSC answers, so an
// idle bind stays up; and when the link dies silently (the SMSC's answers
// stop arriving, nothing is closed), the unanswered enquire_link ends the
// session and the transmitter rebinds.
func TestEnquireLink(t *testing.T) {
	t.Parallel()
	c := startSMSC(t, smsc.Config{SystemID: systemID, Password: password})
	link := startTap(t, c.addr)
	cfg := esmeConfig(link.addr())
	cfg.EnquireLinkInterval = 50 * time.Millisecond
	cfg.ResponseTimeout = 500 * time.Millisecond
	st := newStack(t, stackOptions{routes: []routeSpec{{name: "carrier", esme: cfg}}})
	tx := st.tx["carrier"]

	eventually(t, "three enquire_link answered on an idle bind", func() bool { return link.seen(smpp.CmdEnquireLinkResp) >= 3 })
	require.GreaterOrEqual(t, link.seen(smpp.CmdEnquireLink), 3)
	require.Zero(t, link.seen(smpp.CmdSubmitSM), "the link was idle")
	require.EqualValues(t, 1, tx.Stats().Binds)
	require.Equal(t, 1, c.srv.Stats().ActiveBinds)

	v := st.start(t, phone(8, 1))
	c.waitFor(t, phone(8, 1))
	st.waitStatus(t, v, otpd.MessageDelivered)
	require.EqualValues(t, 1, tx.Stats().Binds, "sent on the bind the keepalive kept")

	link.blackhole()
	eventually(t, "the transmitter to rebind after an unanswered enquire_link", func() bool { return tx.Stats().Binds >= 2 })
	require.ErrorIs(t, tx.Stats().LastError, smpp.ErrResponseTimeout, "the keepalive ended the dead session")

	v = st.start(t, phone(8, 2))
	c.waitFor(t, phone(8, 2))
	st.waitStatus(t, v, otpd.MessageDelivered)
}

// Long texts are split into concatenated SMS — GSM-7 when every character
// fits it, UCS-2 otherwise — and the SMSC puts them back together into
// exactly the text that was rendered; each part has its own receipt ref.
func TestConcatenatedThroughEngine(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		name     string
		template string
		coding   smpp.DataCoding
	}{
		{
			name: "GSM-7 with escapes",
			template: "{brand} security notice: your one-time sign-in code is {code}. " +
				"Never share it, not even with our staff [support desk] or anyone claiming to be us. " +
				"Fees of €0 apply; questions? Reply HELP (or call) ~ the number on your card | thanks.",
			coding: smpp.CodingDefault,
		},
		{
			name: "UCS-2 Arabic and emoji",
			template: "🔐 رمز التحقق الخاص بك من {brand} هو {code}. " +
				"لا تشارك هذا الرمز مع أي شخص، حتى لو ادعى أنه من فريق الدعم 🙅‍♀️. " +
				"ينتهي صلاحية الرمز قريباً ⏳ شكراً لك 🌙✨",
			coding: smpp.CodingUCS2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			renderer := message.New(message.WithTemplate(message.Key{Kind: message.KindText, Locale: "en"}, message.Template{Text: tc.template}))
			c := startSMSC(t, smsc.Config{SystemID: systemID, Password: password})
			st := newStack(t, stackOptions{routes: []routeSpec{{name: "carrier", esme: esmeConfig(c.addr)}}, renderer: renderer})

			to := phone(9, i)
			v := st.start(t, to)
			want := strings.NewReplacer("{brand}", "Acme", "{code}", st.code(t, v)).Replace(tc.template)
			split, err := gsm.Split(want, gsm.Options{})
			require.NoError(t, err)
			require.Greater(t, len(split.Parts), 1, "the text needs concatenation")

			got := c.waitFor(t, to)
			require.Equal(t, want, got.Text, "reassembled to exactly the rendered text")
			require.Equal(t, tc.coding, got.DataCoding)
			require.Equal(t, len(split.Parts), got.Parts)

			v = st.waitStatus(t, v, otpd.MessageDelivered)
			require.Equal(t, "carrier:"+got.MessageIDs[0], v.Messages[0].ProviderID)
			eventually(t, "a receipt for every part", func() bool { return st.recs.recorded.Load() == int64(got.Parts) })
			require.Zero(t, st.recs.unknown.Load(), "every part's receipt found its message")

			res, err := st.engine.Check(context.Background(), st.svc.ID, v.ID, st.code(t, v), nil)
			require.NoError(t, err)
			require.True(t, res.Valid)
		})
	}
}

// The SMPP route on its own, driven with an otpd.Outbound as the engine
// would: the ways a long text can be carried all reassemble exactly.
func TestConcatenatedRouteSend(t *testing.T) {
	t.Parallel()
	gsmText := strings.Repeat("Your code is 123456. {Escapes} [cost] two septets: €^|~\\. ", 6) + "@acme.example #123456"
	latinText := strings.Repeat("Votre code est 123456. Ne le partagez pas: il reste à vous. ", 4) + "\n@acme.example #123456"
	ucsText := strings.Repeat("Код 123456 👍🏽 لا تشاركه. ", 8)
	for i, tc := range []struct {
		name   string
		text   string
		opts   gsm.Options
		coding smpp.DataCoding
	}{
		{"GSM-7, 8-bit reference", gsmText, gsm.Options{}, smpp.CodingDefault},
		{"GSM-7, 16-bit reference", gsmText, gsm.Options{Reference16: true}, smpp.CodingDefault},
		{"GSM-7 in message_payload", gsmText, gsm.Options{Payload: true}, smpp.CodingDefault},
		{"UCS-2, 8-bit reference", ucsText, gsm.Options{}, smpp.CodingUCS2},
		{"UCS-2 in message_payload", ucsText, gsm.Options{Payload: true}, smpp.CodingUCS2},
		{"Latin-1 instead of @ as NUL", latinText, gsm.Options{AvoidNUL: true, NULFallback: gsm.Latin1}, smpp.CodingLatin1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := startSMSC(t, smsc.Config{SystemID: systemID, Password: password, Faults: smsc.Faults{NoReceipts: true}})
			tx, err := smpp.NewTransmitter(esmeConfig(c.addr))
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, tx.Close(context.Background())) })
			route, err := sms.NewSMPPRoute(tx, sms.SMPPOptions{Source: "+447700900999", Encoding: tc.opts})
			require.NoError(t, err)

			split, err := gsm.Split(tc.text, tc.opts)
			require.NoError(t, err)
			require.Greater(t, split.Segments, 1, "the text takes several SMS")

			to := phone(0, 100+i)
			res, err := route.Send(ctx, &otpd.Outbound{To: to, ExpiresAt: time.Now().Add(10 * time.Minute), Rendered: otpd.Rendered{Text: tc.text}})
			require.NoError(t, err)
			got := c.waitFor(t, to)
			require.Equal(t, tc.text, got.Text)
			require.Equal(t, tc.coding, got.DataCoding)
			require.Equal(t, len(split.Parts), got.Parts)
			require.Equal(t, got.MessageIDs, res.Refs, "one ref per submit, in part order")
			require.Equal(t, "+447700900999", got.From)
			require.False(t, got.Duplicate)
		})
	}
}

// Routes for the same prefix are tried in priority order: a route that is
// down or refuses a message temporarily hands it to the next; a permanent
// refusal is final and is not tried elsewhere.
func TestRouteFailover(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		name        string
		firstDown   bool
		firstFaults smsc.Faults
		// wantAt is the route that should carry the message; "" means none:
		// the message fails.
		wantAt string
		// wantErr is in the failed message's error.
		wantErr string
	}{
		{name: "first route down", firstDown: true, wantAt: "second"},
		{name: "temporary refusal ESME_RSYSERR", firstFaults: smsc.Faults{FailPrefixes: map[string]smpp.CommandStatus{"44": smpp.StatusSysErr}}, wantAt: "second"},
		// The transmitter retries ESME_RTHROTTLED until its deadline: the
		// router's share of the send's time is what moves the message on.
		{name: "first route throttles everything", firstFaults: smsc.Faults{Throttle: smsc.Rate{N: 1, Of: 1}}, wantAt: "second"},
		{name: "permanent refusal ESME_RINVDSTADR", firstFaults: smsc.Faults{FailPrefixes: map[string]smpp.CommandStatus{"44": smpp.StatusInvDstAddr}}, wantErr: "code 0x0000000B"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			first := startSMSC(t, smsc.Config{SystemID: systemID, Password: password, Faults: tc.firstFaults})
			second := startSMSC(t, smsc.Config{SystemID: systemID, Password: password})
			firstAddr := first.addr
			if tc.firstDown {
				firstAddr = unusedAddr(t)
			}
			st := newStack(t, stackOptions{
				routes: []routeSpec{
					{name: "second", prefixes: []string{"+44"}, priority: 2, esme: esmeConfig(second.addr)},
					{name: "first", prefixes: []string{"+44"}, priority: 1, esme: esmeConfig(firstAddr)},
					{name: "elsewhere", prefixes: []string{"+1"}, priority: 0, esme: esmeConfig(second.addr)},
				},
				// A route that stalls may hold a send this long, no longer.
				sendTimeout: 2 * time.Second,
			})
			eventually(t, "the working routes to bind", func() bool {
				return st.tx["second"].Bound() > 0 && (tc.firstDown || st.tx["first"].Bound() > 0)
			})
			require.Equal(t, []string{"first", "second"}, routeNames(st.router.Candidates(phone(0, 0))))

			to := phone(1, 200+i)
			v := st.start(t, to)
			if tc.wantAt == "" {
				v = st.waitStatus(t, v, otpd.MessageFailed)
				require.Contains(t, v.Messages[0].Error, tc.wantErr)
				require.Contains(t, v.Messages[0].Error, "route first")
				require.Equal(t, otpd.StatusFailed, v.Status)
				require.Equal(t, 1, v.Messages[0].Attempts, "a permanent refusal is not retried")
				require.Equal(t, 1, first.srv.Stats().Rejected)
				require.Zero(t, second.srv.Stats().Submits+second.srv.Stats().Rejected, "not tried on the second route")
				return
			}
			got := second.waitFor(t, to)
			v = st.waitStatus(t, v, otpd.MessageDelivered)
			require.Equal(t, tc.wantAt+":"+got.MessageIDs[0], v.Messages[0].ProviderID)
			require.Equal(t, 1, v.Messages[0].Attempts, "failed over within one delivery attempt")
			require.Empty(t, first.srv.Messages(to))
		})
	}
}

func routeNames(rs []*sms.Route) []string {
	var names []string
	for _, r := range rs {
		names = append(names, r.Name)
	}
	return names
}

// Receipts the ESME records more slowly than they arrive do not hold up
// submissions (issue #3). With the bind's only receipt worker stuck on a
// slow store write, the session refuses the receipts behind it with
// ESME_RX_T_APPN instead of stopping its reader, so every later message is
// still submitted and its outcome recorded; once the worker is free, the
// SMSC's redeliveries mark every message delivered, each receipt recorded
// and acknowledged once.
func TestSlowReceiptsDoNotHoldSubmissions(t *testing.T) {
	t.Parallel()
	const n = 40
	c := startSMSC(t, smsc.Config{SystemID: systemID, Password: password,
		ReceiptRetry: 20 * time.Millisecond, MaxReceiptRetry: 200 * time.Millisecond, ReceiptAttempts: 1000})
	cfg := esmeConfig(c.addr)
	cfg.DeliverWorkers, cfg.DeliverQueue = 1, -1
	gate := make(chan struct{})
	held := make(chan struct{}, 1)
	var first atomic.Bool
	st := newStack(t, stackOptions{
		routes: []routeSpec{{name: "carrier", esme: cfg}},
		beforeReceipt: func(ctx context.Context) error {
			if !first.CompareAndSwap(false, true) {
				return nil
			}
			held <- struct{}{}
			select {
			case <-gate:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})

	st.start(t, phone(8, 0))
	select {
	case <-held: // its receipt holds the only worker from here on
	case <-time.After(waitTimeout):
		t.Fatal("the first receipt never reached OnDeliver")
	}
	// A first batch, whose receipts are refused while the worker is held;
	// then a second, submitted with the reader past those refusals.
	tx := st.tx["carrier"]
	for _, batch := range [][2]int{{1, n / 2}, {n / 2, n}} {
		var tos []string
		for i := batch[0]; i < batch[1]; i++ {
			tos = append(tos, phone(8, i))
		}
		st.startMany(t, tos)
		for _, to := range tos {
			c.waitFor(t, to)
		}
		eventually(t, "the receipts behind the held one to be refused", func() bool { return tx.Stats().DeliverBusy >= uint64(batch[1]-1) })
	}
	st.waitAll(t, n, otpd.MessageSent)
	require.Zero(t, st.recs.recorded.Load(), "no receipt recorded while the worker is held")

	close(gate)
	st.waitAll(t, n, otpd.MessageDelivered)
	eventually(t, "the SMSC to see every receipt acknowledged", func() bool { return c.srv.Stats().Receipts == n })
	require.Equal(t, int64(n), st.recs.recorded.Load(), "each receipt recorded once: %s", &st.recs)
	require.Zero(t, st.recs.unknown.Load())
	ss := c.srv.Stats()
	require.GreaterOrEqual(t, ss.ReceiptsRefused, n-1)
	require.Equal(t, ss.ReceiptsRefused+ss.ReceiptsUnanswered, ss.ReceiptRetries, "every failed receipt was sent again")
	require.Zero(t, ss.ReceiptsExpired)
	require.Equal(t, n, ss.Messages, "nothing submitted twice")
}
