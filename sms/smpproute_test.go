package sms_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/gsm"
	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/sms"
)

// recordingSubmitter keeps what the route submits.
type recordingSubmitter struct {
	mu   sync.Mutex
	sms  []*smpp.SubmitSM
	fail error
}

func (s *recordingSubmitter) Submit(_ context.Context, sm *smpp.SubmitSM) (smpp.SubmitResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return smpp.SubmitResult{}, s.fail
	}
	s.sms = append(s.sms, sm)
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
