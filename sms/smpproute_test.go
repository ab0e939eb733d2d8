package sms_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/gsm"
	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/sms"
	"github.com/otpd/otpd/smsc"
)

// recordingSubmitter keeps what the route submits.
type recordingSubmitter struct {
	mu   sync.Mutex
	sms  []*smpp.SubmitSM
	fail error
	ids  []string // the SMSC's answers in turn; "id1", "id2", ... when nil
}

func (s *recordingSubmitter) Submit(_ context.Context, sm *smpp.SubmitSM) (smpp.SubmitResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return smpp.SubmitResult{}, s.fail
	}
	s.sms = append(s.sms, sm)
	if s.ids != nil {
		return smpp.SubmitResult{MessageID: s.ids[len(s.sms)-1]}, nil
	}
	return smpp.SubmitResult{MessageID: fmt.Sprintf("id%d", len(s.sms))}, nil
}

func (s *recordingSubmitter) Ready(context.Context) error { return nil }

// statusErr stands for the session's error carrying an SMPP status.
type statusErr smpp.CommandStatus

func (e statusErr) Error() string                     { return smpp.CommandStatus(e).String() }
func (e statusErr) CommandStatus() smpp.CommandStatus { return smpp.CommandStatus(e) }

func outbound(text string) *otpd.Outbound {
	return &otpd.Outbound{To: "+447700900123", ExpiresAt: time.Now().Add(10*time.Minute + 30*time.Second), Rendered: otpd.Rendered{Text: text}}
}

func TestSMPPRouteSingleGSM7(t *testing.T) {
	t.Parallel()
	sub := &recordingSubmitter{}
	r, err := sms.NewSMPPRoute(sub, sms.SMPPOptions{Source: "AcmeBank"})
	require.NoError(t, err)
	res, err := r.Send(context.Background(), outbound("Your Acme Bank code is 123456."))
	require.NoError(t, err)
	require.Equal(t, "id1", res.ProviderID)
	require.Equal(t, []string{"id1"}, res.Refs)
	require.Len(t, sub.sms, 1)
	sm := sub.sms[0]
	require.Equal(t, smpp.Address{TON: smpp.TONAlphanumeric, NPI: smpp.NPIUnknown, Addr: "AcmeBank"}, sm.Source)
	require.Equal(t, smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "447700900123"}, sm.Destination, "E.164 digits without '+'")
	require.Equal(t, smpp.CodingDefault, sm.DataCoding)
	require.Equal(t, smpp.ReceiptOnFinal, sm.RegisteredDelivery)
	require.False(t, sm.ESMClass.UDHI())
	require.Equal(t, "Your Acme Bank code is 123456.", string(mustDecode7(t, sm.ShortMessage)))
	// Relative YYMMDDhhmmss: the 10 minutes 30 seconds the code has left.
	require.Contains(t, []string{"000000001029000R", "000000001030000R"}, sm.ValidityPeriod, "the SMS expires with its code")
}

func mustDecode7(t *testing.T, b []byte) string {
	t.Helper()
	s, err := gsm.Decode7(b)
	require.NoError(t, err)
	return s
}

func TestSMPPRouteConcatenatedUCS2(t *testing.T) {
	t.Parallel()
	sub := &recordingSubmitter{}
	r, err := sms.NewSMPPRoute(sub, sms.SMPPOptions{Source: "+447700900999"})
	require.NoError(t, err)
	text := strings.Repeat("Ваш код 123456. ", 6) // Cyrillic: UCS-2, 96 units → 2 parts
	res, err := r.Send(context.Background(), outbound(text))
	require.NoError(t, err)
	require.Equal(t, []string{"id1", "id2"}, res.Refs, "one ref per part, for receipts")
	require.Len(t, sub.sms, 2)
	var parts []gsm.Part
	for _, sm := range sub.sms {
		require.Equal(t, smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "447700900999"}, sm.Source)
		require.Equal(t, smpp.DataCoding(0x08), sm.DataCoding)
		require.True(t, sm.ESMClass.UDHI())
		p, err := gsm.ParsePart(sm.ShortMessage, true)
		require.NoError(t, err)
		parts = append(parts, p)
	}
	got, err := gsm.Reassemble(gsm.UCS2, parts...)
	require.NoError(t, err)
	require.Equal(t, text, got)
}

// The WebOTP line starts with "@", which is 0x00 in GSM-7: with AvoidNUL the
// route sends no 0x00 octet for SMSCs that end strings there.
func TestSMPPRouteAvoidsNUL(t *testing.T) {
	t.Parallel()
	sub := &recordingSubmitter{}
	r, err := sms.NewSMPPRoute(sub, sms.SMPPOptions{Encoding: gsm.Options{AvoidNUL: true, NULFallback: gsm.Latin1}})
	require.NoError(t, err)
	_, err = r.Send(context.Background(), outbound("Your Acme code is 123456.\n@acme.example #123456"))
	require.NoError(t, err)
	require.NotContains(t, string(sub.sms[0].ShortMessage), "\x00")
	require.Equal(t, smpp.CodingLatin1, sub.sms[0].DataCoding)
	require.True(t, strings.HasSuffix(string(sub.sms[0].ShortMessage), "\n@acme.example #123456"))
}

func TestSMPPRouteErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sub := &recordingSubmitter{}
	r, err := sms.NewSMPPRoute(sub, sms.SMPPOptions{})
	require.NoError(t, err)

	sub.fail = fmt.Errorf("submit: %w", &smpp.StatusError{Command: smpp.CmdSubmitSM, Status: smpp.StatusInvDstAddr})
	_, err = r.Send(ctx, outbound("x"))
	var se *otpd.SendError
	require.True(t, errors.As(err, &se))
	require.True(t, se.Permanent, "an invalid destination is final")
	require.Equal(t, "0x0000000B", se.Code)

	sub.fail = &smpp.StatusError{Command: smpp.CmdSubmitSM, Status: smpp.StatusThrottled}
	_, err = r.Send(ctx, outbound("x"))
	require.False(t, otpd.IsPermanent(err), "throttling is retried")

	sub.fail = errors.New("connection reset")
	_, err = r.Send(ctx, outbound("x"))
	require.False(t, otpd.IsPermanent(err))

	_, err = r.Send(ctx, &otpd.Outbound{To: "ana@example.com"})
	require.True(t, otpd.IsPermanent(err))

	for _, bad := range []string{"TooLongSenderID", "+12", "1234567890123456", "Acme\x01"} {
		_, err := sms.NewSMPPRoute(sub, sms.SMPPOptions{Source: bad})
		require.Error(t, err, bad)
	}
}

func TestParseIDForm(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"as-is", "hex-dec", "dec-hex", "hex-hex", "dec-dec"} {
		f, err := sms.ParseIDForm(name)
		require.NoError(t, err)
		require.Equal(t, name, f.String())
	}
	require.Equal(t, sms.IDsAsIs, sms.IDForm(0), "the zero value matches ids exactly")
	for _, bad := range []string{"", "hex", "0x01", "HEX-DEC", "dec_hex"} {
		_, err := sms.ParseIDForm(bad)
		require.Error(t, err, bad)
	}
}

// receiptFor builds the deliver_sm an SMSC sends for id: the text only
// (an older SMSC) or with receipted_message_id too.
func receiptFor(id string, withTLV bool) *smpp.DeliverSM {
	d := smpp.Receipt{MessageID: id, Submitted: 1, Delivered: 1, State: smpp.StateDelivered}.DeliverSM()
	if !withTLV {
		d.TLVs.Delete(smpp.TagReceiptedMessageID)
	}
	return d
}

// What the route reports as refs and what its receipt handler passes on
// are the same strings, whatever base each side is written in.
func TestSMPPRouteIDForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		form      sms.IDForm
		submitted string // in submit_sm_resp
		receipted string // in the receipt
		ref       string // stored, and what the receipt handler sees
	}{
		{sms.IDsAsIs, "1A2B3C", "1A2B3C", "1A2B3C"},
		{sms.IDsAsIs, "4c1e5a34-9c31", "4c1e5a34-9c31", "4c1e5a34-9c31"},
		{sms.IDsHexDec, "1A2B3C", "1715004", "1715004"},
		{sms.IDsHexDec, "1A0000000123ABCD1", "29975959120083860689", "29975959120083860689"}, // 17 hex digits: beyond 64 bits
		{sms.IDsHexDec, "0x00ff", "0255", "255"},
		{sms.IDsDecHex, "1715004", "1a2b3c", "1715004"},
		{sms.IDsDecHex, "3039", "BDF", "3039"}, // all digits, but decimal on this side
		{sms.IDsHexHex, "00FF", "ff", "255"},
		{sms.IDsDecDec, "0012345", "12345", "12345"},
	}
	for _, tt := range tests {
		t.Run(tt.form.String()+"/"+tt.submitted, func(t *testing.T) {
			t.Parallel()
			sub := &recordingSubmitter{ids: []string{tt.submitted}}
			r, err := sms.NewSMPPRoute(sub, sms.SMPPOptions{IDs: tt.form})
			require.NoError(t, err)
			res, err := r.Send(context.Background(), outbound("x"))
			require.NoError(t, err)
			require.Equal(t, []string{tt.ref}, res.Refs)
			require.Equal(t, tt.submitted, res.ProviderID, "the provider id is the SMSC's, as it answered")

			for _, withTLV := range []bool{true, false} {
				var got string
				handler := tt.form.Receipts(func(_ context.Context, d *smpp.DeliverSM) error {
					rc, err := smpp.ParseReceipt(d)
					require.NoError(t, err)
					got = rc.MessageID
					return nil
				})
				in := receiptFor(tt.receipted, withTLV)
				before := slices.Clone(in.TLVs)
				require.NoError(t, handler(context.Background(), in))
				require.Equal(t, tt.ref, got, "receipted_message_id present: %v", withTLV)
				require.Equal(t, before, in.TLVs, "the PDU given is not changed")
			}
		})
	}
}

// An id that is not a number in its side's base is kept as it came: a
// wrong setting leaves receipts unmatched but loses nothing.
func TestSMPPRouteIDFormFallback(t *testing.T) {
	t.Parallel()
	sub := &recordingSubmitter{ids: []string{"msg-77", "-12"}}
	r, err := sms.NewSMPPRoute(sub, sms.SMPPOptions{IDs: sms.IDsDecDec})
	require.NoError(t, err)
	res, err := r.Send(context.Background(), outbound(strings.Repeat("long text ", 20)))
	require.NoError(t, err)
	require.Equal(t, []string{"msg-77", "-12"}, res.Refs)

	var seen []*smpp.DeliverSM
	handler := sms.IDsHexDec.Receipts(func(_ context.Context, d *smpp.DeliverSM) error {
		seen = append(seen, d)
		return nil
	})
	mo := &smpp.DeliverSM{ShortMessage: []byte("id:123 stat:DELIVRD a text a person typed")}
	notNumber := receiptFor("abc", true)
	for _, d := range []*smpp.DeliverSM{mo, notNumber} {
		require.NoError(t, handler(context.Background(), d))
	}
	require.Equal(t, []*smpp.DeliverSM{mo, notNumber}, seen, "what is not a convertible receipt passes untouched")

	next := func(context.Context, *smpp.DeliverSM) error { return nil }
	require.Equal(t, fmt.Sprintf("%p", next), fmt.Sprintf("%p", sms.IDsAsIs.Receipts(next)), "as-is adds nothing")
}

// An SMSC that answers submit_sm with a hex id and quotes it in decimal in
// its receipts, as Vonage's SMPP does (Kannel msg-id-type 0x01). The smsc
// simulator writes both the same way, so this one is a few lines of codec
// on loopback. With dlr_id=hex-dec the receipt names the ref Send stored;
// as-is, it does not.
func TestSMPPRouteReceiptsFromHexDecSMSC(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		form  sms.IDForm
		match bool
	}{
		{sms.IDsHexDec, true},
		{sms.IDsAsIs, false},
	} {
		t.Run(tt.form.String(), func(t *testing.T) {
			t.Parallel()
			addr := startHexDecSMSC(t)
			receipts := make(chan string, 4)
			onDeliver := tt.form.Receipts(func(_ context.Context, d *smpp.DeliverSM) error {
				r, err := smpp.ParseReceipt(d)
				if err != nil {
					return err
				}
				receipts <- r.MessageID
				return nil
			})
			u, err := sms.ParseSMPPURL("smpp://otpd:secret@" + addr + "?dlr_id=" + tt.form.String())
			require.NoError(t, err)
			require.Equal(t, tt.form, u.Options.IDs)
			tx, err := smpp.NewTransmitter(smpp.Config{Addr: u.Addr, SystemID: u.SystemID, Password: u.Password, OnDeliver: onDeliver,
				RebindBackoff: 10 * time.Millisecond, MaxRebindBackoff: 100 * time.Millisecond})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, tx.Close(context.Background())) })
			route, err := sms.NewSMPPRoute(tx, u.Options)
			require.NoError(t, err)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := route.Send(ctx, outbound(strings.Repeat("Your Acme code is 123456. ", 8))) // two parts
			require.NoError(t, err)
			require.Len(t, res.Refs, 2)
			var got []string
			for range res.Refs {
				select {
				case id := <-receipts:
					got = append(got, id)
				case <-ctx.Done():
					t.Fatal("no receipt came")
				}
			}
			if tt.match {
				require.ElementsMatch(t, res.Refs, got)
			} else {
				for _, id := range got {
					require.NotContains(t, res.Refs, id, "as-is, a decimal receipt never matches a hex ref")
				}
			}
		})
	}
}

// startHexDecSMSC serves a minimal SMSC on 127.0.0.1 for the test: it
// accepts any bind, answers each submit_sm with an upper-case hex id and
// then sends a DELIVRD receipt quoting the id in decimal, in the text only.
func startHexDecSMSC(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	var next atomic.Uint64
	next.Store(0x1A2B3C00)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				var seq uint32 = 1 << 20 // the SMSC's own requests
				send := func(p smpp.PDU, seq uint32) bool {
					b, err := smpp.Encode(p, seq, smpp.StatusOK)
					if err == nil {
						_, err = c.Write(b)
					}
					return err == nil
				}
				for {
					h, p, err := smpp.ReadPDU(c, 0)
					if err != nil {
						return
					}
					switch p := p.(type) {
					case *smpp.BindTransceiver:
						send(&smpp.BindTransceiverResp{SystemID: "hexdec"}, h.Sequence)
					case *smpp.SubmitSM:
						n := next.Add(1)
						if !send(&smpp.SubmitSMResp{MessageID: strconv.FormatUint(n, 16)}, h.Sequence) {
							return
						}
						d := receiptFor(strconv.FormatUint(n, 10), false)
						d.Source, d.Destination = p.Destination, p.Source
						seq++
						send(d, seq)
					case *smpp.EnquireLink:
						send(&smpp.EnquireLinkResp{}, h.Sequence)
					case *smpp.Unbind:
						send(&smpp.UnbindResp{}, h.Sequence)
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// When the route gives up on a submit_sm it has written — its context
// ended before the answer came — the error says the SMSC may have the
// message (the router's share deadline produces exactly this). One that
// never reached the SMSC does not.
func TestSMPPRouteMaybeAccepted(t *testing.T) {
	t.Parallel()
	hanging := smsc.New(smsc.Config{Faults: smsc.Faults{WithholdResponses: true, NoReceipts: true}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srvCtx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- hanging.Serve(srvCtx, ln) }()
	t.Cleanup(func() { stop(); <-served })

	down, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	downAddr := down.Addr().String()
	require.NoError(t, down.Close())

	for _, tt := range []struct {
		name, addr string
		maybe      bool
	}{
		{"answer withheld", ln.Addr().String(), true},
		{"never bound", downAddr, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := smpp.NewTransmitter(smpp.Config{Addr: tt.addr, SystemID: "otpd", ResponseTimeout: time.Minute,
				RebindBackoff: 10 * time.Millisecond, MaxRebindBackoff: 50 * time.Millisecond})
			require.NoError(t, err)
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				_ = tx.Close(ctx) // the hanging SMSC never answers the unbind either
			}()
			route, err := sms.NewSMPPRoute(tx, sms.SMPPOptions{})
			require.NoError(t, err)
			if tt.maybe {
				require.Eventually(t, func() bool { return tx.Bound() > 0 }, 10*time.Second, 5*time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err = route.Send(ctx, outbound("x"))
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.False(t, otpd.IsPermanent(err))
			require.Equal(t, tt.maybe, errors.Is(err, sms.ErrMaybeAccepted), "%v", err)
		})
	}
}
