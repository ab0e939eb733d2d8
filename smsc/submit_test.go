package smsc_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/gsm"
	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/smsc"
)

func TestSubmitAndReceipt(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
	b := setup(t, smsc.Config{Now: func() time.Time { return now }})
	c := b.bound(t, asTransceiver, "otpd")

	st, id := c.submit(sms(testTo, "Your Acme code is 123456"))
	require.Equal(t, smpp.StatusOK, st)
	require.Equal(t, fmt.Sprintf("%x", now.UnixMicro()), id, "ids count up from the start time")

	h, d := c.deliver()
	require.NotZero(t, h.Sequence)
	require.Equal(t, smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: testTo}, d.Source, "a receipt comes from the destination")
	require.Equal(t, smpp.Address{TON: smpp.TONAlphanumeric, Addr: testSender}, d.Destination)
	r, err := smpp.ParseReceipt(d)
	require.NoError(t, err)
	require.True(t, smpp.SameMessageID(id, r.MessageID))
	require.Equal(t, smpp.StateDelivered, r.State)
	require.Equal(t, "DELIVRD", r.Stat)
	require.Equal(t, 1, r.Delivered)
	require.Equal(t, "Your Acme code is 12", r.Text)

	msgs := b.srv.Messages("+" + testTo)
	require.Len(t, msgs, 1)
	m := msgs[0]
	require.Equal(t, "+"+testTo, m.To)
	require.Equal(t, testSender, m.From)
	require.Equal(t, "Your Acme code is 123456", m.Text)
	require.Equal(t, 1, m.Parts)
	require.Equal(t, []string{id}, m.MessageIDs)
	require.Equal(t, smpp.CodingDefault, m.DataCoding)
	require.Equal(t, now.Truncate(time.Millisecond), m.CreatedAt)
	require.Equal(t, "otpd", m.SystemID)
	require.Equal(t, smpp.StateDelivered, m.State)
	require.False(t, m.Duplicate)

	require.Equal(t, msgs, b.srv.Messages(testTo), "with or without +")
	require.Equal(t, msgs, b.srv.Messages(" "+testTo), "+ unescaped in a query string")
	require.Empty(t, b.srv.Messages("+447700900999"))

	require.Eventually(t, func() bool { return b.srv.Stats().Receipts == 1 }, waitTimeout, time.Millisecond)
	st2 := b.srv.Stats()
	require.Equal(t, 1, st2.Submits)
	require.Equal(t, 1, st2.Messages)
	require.Equal(t, 1, st2.ReceiptsScheduled)
}

func TestReceiptOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	require.NoError(t, b.srv.SetFaults(smsc.Faults{UndeliverablePrefixes: []string{"+4477009009"}}))
	c := b.bound(t, asTransceiver, "otpd")

	none := sms(testTo, "no receipt wanted")
	none.RegisteredDelivery = smpp.NoReceipt
	st, _ := c.submit(none)
	require.Equal(t, smpp.StatusOK, st)

	onFailure := sms("447700800123", "delivered, so no receipt")
	onFailure.RegisteredDelivery = smpp.ReceiptOnFailure
	st, _ = c.submit(onFailure)
	require.Equal(t, smpp.StatusOK, st)
	require.Zero(t, b.srv.Stats().ReceiptsScheduled)

	failing := sms("447700900999", "undeliverable, so a receipt")
	failing.RegisteredDelivery = smpp.ReceiptOnFailure
	st, id := c.submit(failing)
	require.Equal(t, smpp.StatusOK, st)
	r := c.receipt()
	require.Equal(t, id, r.MessageID)
	require.Equal(t, smpp.StateUndeliverable, r.State)
	require.Equal(t, "UNDELIV", r.Stat)
	require.NotNil(t, r.NetworkError)
	require.Equal(t, 1, b.srv.Stats().ReceiptsScheduled)
}

// submitParts submits the parts of m as the SMPP route does: UDH in
// short_message, UDHI set.
func submitParts(t *testing.T, c *client, to string, m gsm.Message) []string {
	t.Helper()
	var ids []string
	for _, p := range m.Parts {
		sm := sms(to, "")
		sm.DataCoding = smpp.DataCoding(m.Coding.DataCoding())
		sm.ShortMessage = p.Bytes()
		if p.UDHI() {
			sm.ESMClass |= smpp.ESMUDHI
		}
		st, id := c.submit(sm)
		require.Equal(t, smpp.StatusOK, st)
		ids = append(ids, id)
	}
	return ids
}

func TestConcatenatedMessagesReassemble(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		text   string
		opts   gsm.Options
		coding gsm.Coding
		parts  int
	}{
		{
			name:   "GSM-7 in three parts, escapes included",
			text:   strings.Repeat("Your Acme code is 123456 {€} [ok]. ", 11),
			opts:   gsm.Options{Reference: 42},
			coding: gsm.GSM7,
			parts:  3,
		},
		{
			name:   "UCS-2 with emoji",
			text:   strings.Repeat("Код 123456 🔐 — ", 10),
			opts:   gsm.Options{Reference: 7, Reference16: true},
			coding: gsm.UCS2,
			parts:  3,
		},
		{
			name:   "Latin-1",
			text:   strings.Repeat("Votre code: 123456, café. ", 7),
			opts:   gsm.Options{Coding: gsm.Latin1, Reference: 9},
			coding: gsm.Latin1,
			parts:  2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, smsc.Config{})
			c := b.bound(t, asTransceiver, "otpd")
			m, err := gsm.Split(tt.text, tt.opts)
			require.NoError(t, err)
			require.Equal(t, tt.coding, m.Coding)
			require.Len(t, m.Parts, tt.parts)

			ids := submitParts(t, c, testTo, m)
			got, err := b.srv.WaitFor(ctxTimeout(t), smsc.To(testTo))
			require.NoError(t, err)
			require.Equal(t, tt.text, got.Text)
			require.Equal(t, tt.parts, got.Parts)
			require.Equal(t, ids, got.MessageIDs)
			require.Equal(t, smpp.DataCoding(tt.coding.DataCoding()), got.DataCoding)

			// One receipt per part, each with its part's id.
			var receipted []string
			for range ids {
				r := c.receipt()
				require.Equal(t, smpp.StateDelivered, r.State)
				receipted = append(receipted, r.MessageID)
			}
			require.ElementsMatch(t, ids, receipted)
			require.Len(t, b.srv.Messages(""), 1)
			require.Equal(t, 1, b.srv.Stats().Messages)
		})
	}
}

func TestSARReassembles(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	c := b.bound(t, asTransceiver, "otpd")
	textA := strings.Repeat("first message 111111. ", 10)
	textB := strings.Repeat("second message 222222. ", 10)
	ma, err := gsm.Split(textA, gsm.Options{})
	require.NoError(t, err)
	mb, err := gsm.Split(textB, gsm.Options{})
	require.NoError(t, err)
	require.Len(t, ma.Parts, 2)
	require.Len(t, mb.Parts, 2)

	sar := func(ref uint16, p gsm.Part, seq, total int) *smpp.SubmitSM {
		sm := sms(testTo, "")
		sm.ShortMessage = p.Text // no UDH: the TLVs say where it goes
		sm.TLVs.SetSAR(smpp.SAR{Ref: ref, Total: uint8(total), Seq: uint8(seq)})
		return sm
	}
	// Interleaved and out of order, to the same destination.
	for _, sm := range []*smpp.SubmitSM{
		sar(0x0102, mb.Parts[1], 2, 2),
		sar(0x0101, ma.Parts[1], 2, 2),
		sar(0x0101, ma.Parts[0], 1, 2),
		sar(0x0102, mb.Parts[0], 1, 2),
	} {
		st, _ := c.submit(sm)
		require.Equal(t, smpp.StatusOK, st)
	}
	msgs := b.srv.Messages(testTo)
	require.Len(t, msgs, 2)
	require.Equal(t, textA, msgs[0].Text)
	require.Equal(t, textB, msgs[1].Text)
	require.Equal(t, 2, msgs[0].Parts)

	// SAR TLVs must come as a set, and make sense.
	incomplete := sms(testTo, "part")
	incomplete.TLVs.SetUint16(smpp.TagSARMsgRefNum, 5)
	st, _ := c.submit(incomplete)
	require.Equal(t, smpp.StatusMissingOptParam, st)
	beyond := sar(5, ma.Parts[0], 3, 2)
	st, _ = c.submit(beyond)
	require.Equal(t, smpp.StatusInvOptParamVal, st)
}

func TestMessagePayloadAndDataSM(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	c := b.bound(t, asTransceiver, "otpd")
	text := strings.Repeat("A long message in one payload, code 654321. ", 8)
	m, err := gsm.Split(text, gsm.Options{Payload: true})
	require.NoError(t, err)
	require.Len(t, m.Parts, 1)
	require.Greater(t, len(m.Parts[0].Text), smpp.MaxShortMessage)

	sm := sms(testTo, "")
	sm.TLVs.Set(smpp.TagMessagePayload, m.Parts[0].Text)
	st, id := c.submit(sm)
	require.Equal(t, smpp.StatusOK, st)
	got, err := b.srv.WaitFor(ctxTimeout(t), func(m smsc.Message) bool { return m.MessageIDs[0] == id })
	require.NoError(t, err)
	require.Equal(t, text, got.Text)
	require.Equal(t, 1, got.Parts)
	require.Equal(t, id, c.receipt().MessageID)

	// data_sm carries its text in message_payload too.
	ds := &smpp.DataSM{
		Source:             smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "447700900001"},
		Destination:        smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "447700900002"},
		RegisteredDelivery: smpp.ReceiptOnFinal,
		DataCoding:         smpp.CodingUCS2,
	}
	ds.TLVs.Set(smpp.TagMessagePayload, gsm.EncodeUCS2("data_sm says 🙂 123456"))
	r := c.call(ds)
	require.Equal(t, smpp.CmdDataSMResp, r.h.CommandID)
	require.Equal(t, smpp.StatusOK, r.h.Status)
	dsID := r.p.(*smpp.DataSMResp).MessageID
	require.NotEmpty(t, dsID)
	msgs := b.srv.Messages("+447700900002")
	require.Len(t, msgs, 1)
	require.Equal(t, "data_sm says 🙂 123456", msgs[0].Text)
	require.Equal(t, "+447700900001", msgs[0].From)
	require.Equal(t, dsID, c.receipt().MessageID)

	// data_sm without content, and short_message with message_payload.
	r = c.call(&smpp.DataSM{Destination: ds.Destination})
	require.Equal(t, smpp.StatusMissingOptParam, r.h.Status)
	both := sms(testTo, "both")
	both.TLVs.Set(smpp.TagMessagePayload, []byte("payload"))
	st, _ = c.submit(both)
	require.Equal(t, smpp.StatusInvMsgLen, st)
}

func TestDestinationValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	c := b.bound(t, asTransceiver, "otpd")
	tests := []struct {
		name   string
		dst    smpp.Address
		status smpp.CommandStatus
		to     string
	}{
		{name: "international", dst: smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "447700900123"}, to: "+447700900123"},
		{name: "plus with unknown TON", dst: smpp.Address{Addr: "+447700900124"}, to: "+447700900124"},
		{name: "national", dst: smpp.Address{TON: smpp.TONNational, NPI: smpp.NPIISDN, Addr: "07700900125"}, to: "07700900125"},
		{name: "short code", dst: smpp.Address{TON: smpp.TONAbbreviated, Addr: "12345"}, to: "12345"},
		{name: "empty", dst: smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN}, status: smpp.StatusInvDstAddr},
		{name: "letters", dst: smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "44770090012x"}, status: smpp.StatusInvDstAddr},
		{name: "too long for E.164", dst: smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "4477009001234567"}, status: smpp.StatusInvDstAddr},
		{name: "plus with national TON", dst: smpp.Address{TON: smpp.TONNational, Addr: "+447700900123"}, status: smpp.StatusInvDstAddr},
		{name: "alphanumeric", dst: smpp.Address{TON: smpp.TONAlphanumeric, Addr: "Bob"}, status: smpp.StatusInvDstTON},
		{name: "bad NPI", dst: smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIInternet, Addr: "447700900123"}, status: smpp.StatusInvDstNPI},
	}
	for _, tt := range tests {
		sm := sms("", "hello")
		sm.Destination = tt.dst
		st, id := c.submit(sm)
		require.Equal(t, tt.status, st, tt.name)
		if tt.status != smpp.StatusOK {
			require.Empty(t, id, tt.name)
			continue
		}
		msgs := b.srv.Messages(tt.to)
		require.Len(t, msgs, 1, tt.name)
		require.Equal(t, tt.to, msgs[0].To, tt.name)
	}
	require.Equal(t, 6, b.srv.Stats().Rejected)
}

func TestTextThatDoesNotDecodeIsKept(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	c := b.bound(t, asTransceiver, "otpd")

	bad := sms(testTo, "")
	bad.ShortMessage = []byte{'h', 'i', 0x80} // not a septet
	st, _ := c.submit(bad)
	require.Equal(t, smpp.StatusOK, st, "an SMSC takes it; the simulator shows it")

	binary := sms(testTo, "")
	binary.DataCoding = smpp.CodingBinary
	binary.ShortMessage = []byte{1, 2, 0xFF}
	st, _ = c.submit(binary)
	require.Equal(t, smpp.StatusOK, st)

	msgs := b.srv.Messages(testTo)
	require.Len(t, msgs, 2)
	require.Equal(t, "[undecodable gsm7] 686980", msgs[0].Text)
	require.Equal(t, "[binary data_coding 0x04] 0102ff", msgs[1].Text)
	require.Equal(t, 1, b.srv.Stats().Undecodable)
}

func TestDuplicatesAndReset(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	c := b.bound(t, asTransceiver, "otpd")
	for _, sm := range []*smpp.SubmitSM{
		sms(testTo, "Your code is 111111"),
		sms(testTo, "Your code is 222222"),
		sms(testTo, "Your code is 111111"),         // the same again: a duplicate
		sms("447700900999", "Your code is 111111"), // another destination: not one
	} {
		st, _ := c.submit(sm)
		require.Equal(t, smpp.StatusOK, st)
	}
	st := b.srv.Stats()
	require.Equal(t, 4, st.Messages)
	require.Equal(t, 1, st.Duplicates)
	msgs := b.srv.Messages(testTo)
	require.Len(t, msgs, 3)
	require.True(t, msgs[2].Duplicate)
	require.False(t, msgs[0].Duplicate)

	b.srv.Reset()
	require.Empty(t, b.srv.Messages(""))
	require.Zero(t, b.srv.Stats().Duplicates)
	require.Equal(t, 1, b.srv.Stats().ActiveBinds, "binds outlive Reset")
	sub, _ := c.submit(sms(testTo, "Your code is 111111"))
	require.Equal(t, smpp.StatusOK, sub)
	require.Zero(t, b.srv.Stats().Duplicates, "Reset forgets what was seen")
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	c := b.bound(t, asTransceiver, "otpd")

	// A message still to come.
	got := make(chan smsc.Message, 1)
	errc := make(chan error, 1)
	go func() {
		m, err := b.srv.WaitFor(ctxTimeout(t), func(m smsc.Message) bool { return strings.Contains(m.Text, "654321") })
		got <- m
		errc <- err
	}()
	st, _ := c.submit(sms(testTo, "not this one"))
	require.Equal(t, smpp.StatusOK, st)
	st, _ = c.submit(sms(testTo, "Your code is 654321"))
	require.Equal(t, smpp.StatusOK, st)
	require.NoError(t, <-errc)
	require.Equal(t, "Your code is 654321", (<-got).Text)

	// One already there.
	m, err := b.srv.WaitFor(ctxTimeout(t), smsc.To("+"+testTo))
	require.NoError(t, err)
	require.Equal(t, "not this one", m.Text, "the oldest match")

	// None: the context ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.srv.WaitFor(ctx, smsc.To("+15550000000"))
	require.ErrorIs(t, err, context.Canceled)
}

func TestManyBindsSubmitConcurrently(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	const clients, each = 6, 20
	var wg sync.WaitGroup
	ids := make(chan string, clients*each)
	for n := range clients {
		// Several "nodes" under one system_id, and a second system_id.
		systemID := "otpd"
		if n%3 == 2 {
			systemID = "other"
		}
		c := b.bound(t, asTransceiver, systemID)
		wg.Go(func() {
			for i := range each {
				seq := c.send(sms(fmt.Sprintf("4477009%02d%03d", n, i), fmt.Sprintf("code %d-%d", n, i)))
				r := c.recv()
				if r.h.Sequence != seq || r.h.Status != smpp.StatusOK {
					t.Errorf("client %d submit %d: %s", n, i, r.h)
					return
				}
				ids <- r.p.(*smpp.SubmitSMResp).MessageID
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		require.False(t, seen[id], "id %s given twice", id)
		seen[id] = true
	}
	require.Len(t, seen, clients*each)
	require.Len(t, b.srv.Messages(""), clients*each)
	require.Equal(t, clients, b.srv.Stats().ActiveBinds)
}

func TestLogsHoldNoTexts(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := setup(t, smsc.Config{Logger: logger, Faults: smsc.Faults{UndeliverablePrefixes: []string{"4477009009"}}})
	c := b.bound(t, asTransceiver, "otpd")
	for _, to := range []string{testTo, "447700900999"} {
		st, id := c.submit(sms(to, "Your code is 918273"))
		require.Equal(t, smpp.StatusOK, st)
		require.Equal(t, id, c.receipt().MessageID)
	}
	require.NoError(t, b.srv.SetFaults(smsc.Faults{FailPrefixes: map[string]smpp.CommandStatus{"44": smpp.StatusInvDstAddr}}))
	st, _ := c.submit(sms(testTo, "Your code is 918273"))
	require.Equal(t, smpp.StatusInvDstAddr, st)
	require.Eventually(t, func() bool { return b.srv.Stats().Receipts == 2 }, waitTimeout, time.Millisecond)
	c.call(&smpp.Unbind{})
	c.requireClosed()

	logs := buf.String()
	require.Contains(t, logs, "smsc stored message")
	require.NotContains(t, logs, "918273")
	require.NotContains(t, logs, testTo)
	require.Contains(t, logs, "+447*******23")
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestOnMessageRunsBeforeTheAnswer(t *testing.T) {
	t.Parallel()
	got := make(chan smsc.Message, 4)
	b := setup(t, smsc.Config{OnMessage: func(m smsc.Message) { got <- m }})
	c := b.bound(t, asTransceiver, "otpd")
	m, err := gsm.Split(strings.Repeat("two parts 123456 ", 12), gsm.Options{Reference: 3})
	require.NoError(t, err)
	require.Len(t, m.Parts, 2)

	ids := submitParts(t, c, testTo, m)
	select {
	case msg := <-got:
		require.Equal(t, ids, msg.MessageIDs)
		require.Equal(t, strings.Repeat("two parts 123456 ", 12), msg.Text)
	default:
		t.Fatal("OnMessage had not run when the last part was answered")
	}
	require.Empty(t, got, "once per whole message")
}
