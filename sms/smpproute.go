package sms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/gsm"
	"github.com/otpd/otpd/smpp"
)

// Submitter hands submit_sm PDUs to an SMSC and returns the message id of
// each accepted one. smpp.Transmitter is the implementation: several binds
// kept up with rebind, flow control and at-least-once resubmission.
type Submitter interface {
	Submit(ctx context.Context, sm *smpp.SubmitSM) (smpp.SubmitResult, error)
	// Ready reports whether a bind is up.
	Ready(ctx context.Context) error
}

// SMPPOptions say how an SMPP route addresses and encodes messages.
type SMPPOptions struct {
	// Source is the sender: an alphanumeric sender id (at most 11
	// characters, sent with TON 5), an international number with '+'
	// (TON 1, NPI 1), or a short code (digits, TON 3). Empty leaves it to
	// the SMSC.
	Source string
	// Encoding is how texts are encoded and split; see gsm.Options. Set
	// AvoidNUL for SMSCs that cut messages at the octet 0x00 ("@" in GSM-7).
	Encoding gsm.Options
	// NoReceipts turns delivery receipts off (registered_delivery 0).
	NoReceipts bool
}

// SMPPRoute is an SMS route over SMPP 3.4: it encodes and splits each text
// (GSM-7 when it fits, UCS-2 otherwise, concatenated with a UDH) and submits
// every part. Its provider refs are the SMSC's message ids, one per part,
// which delivery receipts quote.
type SMPPRoute struct {
	sub  Submitter
	opts SMPPOptions
	src  smpp.Address
	ref  atomic.Uint32 // concatenation reference, per multi-part message
	now  func() time.Time
}

var _ otpd.Channel = (*SMPPRoute)(nil)

// NewSMPPRoute returns a route that submits through sub.
func NewSMPPRoute(sub Submitter, opts SMPPOptions) (*SMPPRoute, error) {
	if err := opts.Encoding.Validate(); err != nil {
		return nil, fmt.Errorf("sms: smpp route: %w", err)
	}
	src, err := sourceAddress(opts.Source)
	if err != nil {
		return nil, err
	}
	return &SMPPRoute{sub: sub, opts: opts, src: src, now: time.Now}, nil
}

// sourceAddress picks TON and NPI for a sender as SMSCs expect them.
func sourceAddress(s string) (smpp.Address, error) {
	switch {
	case s == "":
		return smpp.Address{}, nil
	case strings.HasPrefix(s, "+"):
		if !validPrefix(s) || len(s) < 4 {
			return smpp.Address{}, fmt.Errorf("sms: source %q: an international number is '+' and up to 15 digits", s)
		}
		return smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: s[1:]}, nil
	case allDigits(s):
		if len(s) > 15 {
			return smpp.Address{}, fmt.Errorf("sms: source %q: a short code has at most 15 digits", s)
		}
		return smpp.Address{TON: smpp.TONNetworkSpecific, NPI: smpp.NPIUnknown, Addr: s}, nil
	}
	if len(s) > 11 {
		return smpp.Address{}, fmt.Errorf("sms: source %q: an alphanumeric sender id has at most 11 characters", s)
	}
	for _, r := range s {
		if r > 0x7e || r < 0x20 {
			return smpp.Address{}, fmt.Errorf("sms: source %q: an alphanumeric sender id is printable ASCII", s)
		}
	}
	return smpp.Address{TON: smpp.TONAlphanumeric, NPI: smpp.NPIUnknown, Addr: s}, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// Send encodes msg.Text and submits each part. The message expires at the
// SMSC when its code does (validity_period), so a late SMS never carries a
// dead code.
func (r *SMPPRoute) Send(ctx context.Context, msg *otpd.Outbound) (otpd.SendResult, error) {
	if !strings.HasPrefix(msg.To, "+") || !allDigits(msg.To[1:]) {
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Err: errors.New("destination is not an E.164 number")}
	}
	enc := r.opts.Encoding
	enc.Reference = uint16(r.ref.Add(1))
	split, err := gsm.Split(msg.Text, enc)
	if err != nil {
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Err: fmt.Errorf("encode: %w", err)}
	}
	validity := relativeValidity(msg.ExpiresAt.Sub(r.now()))
	rd := smpp.ReceiptOnFinal
	if r.opts.NoReceipts {
		rd = smpp.NoReceipt
	}
	var ids []string
	for _, part := range split.Parts {
		sm := &smpp.SubmitSM{
			Source:             r.src,
			Destination:        smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: msg.To[1:]},
			ValidityPeriod:     validity,
			RegisteredDelivery: rd,
			DataCoding:         smpp.DataCoding(split.Coding.DataCoding()),
		}
		if part.UDHI() {
			sm.ESMClass |= smpp.ESMUDHI
		}
		if split.Payload {
			sm.TLVs.Set(smpp.TagMessagePayload, part.Bytes())
		} else {
			sm.ShortMessage = part.Bytes()
		}
		res, err := r.sub.Submit(ctx, sm)
		if err != nil {
			// Parts already accepted stay accepted, and the delivery
			// queue retries the whole message: after a rare failure
			// between parts a handset may show some text twice, but
			// nothing is lost.
			return otpd.SendResult{}, sendError(err)
		}
		ids = append(ids, res.MessageID)
	}
	return otpd.SendResult{ProviderID: ids[0], Refs: ids}, nil
}

// sendError classifies an SMSC refusal for the delivery queue.
func sendError(err error) error {
	var se *smpp.StatusError
	if errors.As(err, &se) {
		st := se.Status
		return &otpd.SendError{Permanent: !st.Temporary(), Code: fmt.Sprintf("0x%08X", uint32(st)), Err: err}
	}
	return err
}

// relativeValidity formats d as an SMPP relative time "YYMMDDhhmmss000R",
// rounded down to whole seconds and at least one minute (an SMSC may need a
// moment to deliver; the code's own expiry still applies at check time).
func relativeValidity(d time.Duration) string {
	d = max(d, time.Minute)
	s := int64(d / time.Second)
	days := min(s/86400, 99)
	s -= days * 86400
	return fmt.Sprintf("0000%02d%02d%02d%02d000R", days, s/3600, s%3600/60, s%60)
}

// Ready reports whether a bind is up.
func (r *SMPPRoute) Ready(ctx context.Context) error { return r.sub.Ready(ctx) }
