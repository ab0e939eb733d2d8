package sms

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
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
	// IDs is how the SMSC writes message ids in submit_sm_resp and in
	// the receipts that quote them; IDsAsIs (the zero value) for SMSCs
	// that quote them exactly as they answered.
	IDs IDForm
}

// SMPPRoute is an SMS route over SMPP 3.4: it encodes and splits each text
// (GSM-7 when it fits, UCS-2 otherwise, concatenated with a UDH) and submits
// every part. Its provider id is the SMSC's message id of the first part as
// the SMSC answered it; its refs are every part's id in the canonical form
// of SMPPOptions.IDs, which receipts passed through IDForm.Receipts quote.
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
	refs := make([]string, len(ids))
	submitBase, _ := r.opts.IDs.bases()
	for i, id := range ids {
		refs[i] = canonicalID(id, submitBase)
	}
	return otpd.SendResult{ProviderID: ids[0], Refs: refs}, nil
}

// sendError classifies an SMSC refusal for the delivery queue, and marks
// an error after which the SMSC may hold the message with ErrMaybeAccepted.
func sendError(err error) error {
	var se *smpp.StatusError
	if errors.As(err, &se) {
		st := se.Status
		return &otpd.SendError{Permanent: !st.Temporary(), Code: fmt.Sprintf("0x%08X", uint32(st)), Err: err}
	}
	if maybeSubmitted(err) {
		return fmt.Errorf("%w: %w", ErrMaybeAccepted, err)
	}
	return err
}

// maybeSubmitted reports whether a failed Submit may have left the message
// with the SMSC: a copy was written and its answer was lost with the
// connection, timed out, or was given up on when ctx ended. The
// transmitter wraps ErrConnectionLost or ErrResponseTimeout for the first
// two (also when an earlier copy is the unanswered one); the last — the
// case a router's share deadline produces — carries only ctx's error and
// the words below, which TestSMPPRouteMaybeAccepted pins. An error from
// before anything was written (no bind, a full window, a throttling pause)
// does not match.
func maybeSubmitted(err error) bool {
	return errors.Is(err, smpp.ErrConnectionLost) || errors.Is(err, smpp.ErrResponseTimeout) ||
		strings.Contains(err.Error(), "sent, gave up waiting for the response")
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

var _ BindCounter = (*SMPPRoute)(nil)

// Binds returns how many binds are up and how many the route keeps. A
// Submitter that does not count its binds (smpp.Transmitter does) counts
// as one bind, up when it is ready.
func (r *SMPPRoute) Binds() (up, configured int) {
	if bc, ok := r.sub.(BindCounter); ok {
		return bc.Binds()
	}
	if r.sub.Ready(context.Background()) == nil {
		return 1, 1
	}
	return 0, 1
}

// IDForm is how an SMSC writes message ids: in submit_sm_resp and in the
// delivery receipts that quote them (receipted_message_id, or "id:" in the
// text). SMPP 3.4 makes the id an opaque string, but many SMSCs answer
// submit_sm in one number base and quote the id in the other — Vonage's
// SMPP, for one, answers in hex and quotes in decimal. Kannel calls this
// msg-id-type; its values map to IDsDecDec (0x00), IDsHexDec (0x01),
// IDsDecHex (0x02) and IDsHexHex (0x03), and unset is IDsAsIs.
//
// Refs are matched by exact string in the store, so a route with a numeric
// form writes both sides as the same canonical string: the id's value in
// decimal, without leading zeros. An id that is not a number in the base
// its side names is kept exactly as it came, so a wrong setting makes
// receipts go unmatched (the message stays "sent") but never loses or
// refuses a message.
type IDForm uint8

// The forms, named as the smpp URL's dlr_id takes them: submit_sm_resp's
// base first, the receipt's second.
const (
	IDsAsIs   IDForm = iota // "as-is": opaque strings, matched exactly (the default)
	IDsHexDec               // "hex-dec": submit_sm_resp in hex, receipts in decimal
	IDsDecHex               // "dec-hex": submit_sm_resp in decimal, receipts in hex
	IDsHexHex               // "hex-hex": both in hex (case and leading zeros may differ)
	IDsDecDec               // "dec-dec": both in decimal (leading zeros may differ)
)

// idForms names each form and gives the number base of each side: 0 is
// an opaque string.
var idForms = [...]struct {
	name            string
	submit, receipt int
}{
	IDsAsIs:   {"as-is", 0, 0},
	IDsHexDec: {"hex-dec", 16, 10},
	IDsDecHex: {"dec-hex", 10, 16},
	IDsHexHex: {"hex-hex", 16, 16},
	IDsDecDec: {"dec-dec", 10, 10},
}

// ParseIDForm reads an IDForm by name: as-is, hex-dec, dec-hex, hex-hex or
// dec-dec.
func ParseIDForm(s string) (IDForm, error) {
	for i, f := range idForms {
		if s == f.name {
			return IDForm(i), nil
		}
	}
	return 0, fmt.Errorf("must be as-is, hex-dec, dec-hex, hex-hex or dec-dec")
}

// String returns the form's name, as ParseIDForm reads it.
func (f IDForm) String() string {
	if int(f) < len(idForms) {
		return idForms[f].name
	}
	return fmt.Sprintf("IDForm(%d)", uint8(f))
}

// bases returns the number base of submit_sm_resp's ids and of receipts'.
func (f IDForm) bases() (submit, receipt int) {
	if int(f) < len(idForms) {
		return idForms[f].submit, idForms[f].receipt
	}
	return 0, 0
}

// canonicalID returns id, written in base, as the route stores it: its value
// in decimal. An opaque form (base 0), or an id that is not a number in
// base, is returned unchanged.
func canonicalID(id string, base int) string {
	if base == 0 {
		return id
	}
	s := strings.TrimSpace(id)
	if base == 16 && len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		s = s[2:]
	}
	// big.Int: hex ids are often longer than 64 bits (17 hex digits for
	// Vonage); a sign is not part of any id.
	if s == "" || s[0] == '+' || s[0] == '-' {
		return id
	}
	n, ok := new(big.Int).SetString(s, base)
	if !ok {
		return id
	}
	return n.String()
}

// Receipts returns a deliver_sm handler, to put in smpp.Config.OnDeliver
// of the route's transmitter, that hands next each delivery receipt with
// its message id (receipted_message_id) in the route's canonical form, so
// it matches the refs Send reported. Other deliver_sm, and every one when
// the form is IDsAsIs, reach next untouched; next gets a copy, never the
// PDU it was given.
func (f IDForm) Receipts(next func(context.Context, *smpp.DeliverSM) error) func(context.Context, *smpp.DeliverSM) error {
	_, base := f.bases()
	if base == 0 || next == nil {
		return next
	}
	return func(ctx context.Context, d *smpp.DeliverSM) error {
		r, err := smpp.ParseReceipt(d)
		if err != nil {
			return next(ctx, d)
		}
		id := canonicalID(r.MessageID, base)
		if id == r.MessageID {
			return next(ctx, d)
		}
		c := *d
		c.TLVs = slices.Clone(d.TLVs)
		c.TLVs.SetCString(smpp.TagReceiptedMessageID, id) // what ParseReceipt prefers
		return next(ctx, &c)
	}
}
