package smpp

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MessageState is the state of a submitted message (SMPP 3.4, section
// 5.2.28), as a receipt or query_sm_resp reports it.
type MessageState uint8

// Message states.
const (
	StateEnroute       MessageState = 1
	StateDelivered     MessageState = 2
	StateExpired       MessageState = 3
	StateDeleted       MessageState = 4
	StateUndeliverable MessageState = 5
	StateAccepted      MessageState = 6
	StateUnknown       MessageState = 7
	StateRejected      MessageState = 8
)

var stateNames = [...]struct{ name, stat string }{
	StateEnroute:       {"ENROUTE", "ENROUTE"},
	StateDelivered:     {"DELIVERED", "DELIVRD"},
	StateExpired:       {"EXPIRED", "EXPIRED"},
	StateDeleted:       {"DELETED", "DELETED"},
	StateUndeliverable: {"UNDELIVERABLE", "UNDELIV"},
	StateAccepted:      {"ACCEPTED", "ACCEPTD"},
	StateUnknown:       {"UNKNOWN", "UNKNOWN"},
	StateRejected:      {"REJECTED", "REJECTD"},
}

// Valid reports whether s is one of the states SMPP 3.4 defines.
func (s MessageState) Valid() bool { return s >= StateEnroute && s <= StateRejected }

// String returns the spec's name of the state ("UNDELIVERABLE").
func (s MessageState) String() string {
	if !s.Valid() {
		return fmt.Sprintf("MessageState(%d)", uint8(s))
	}
	return stateNames[s].name
}

// Stat returns the 7-letter form a text receipt's stat field uses
// ("UNDELIV"), or "" for an invalid state.
func (s MessageState) Stat() string {
	if !s.Valid() {
		return ""
	}
	return stateNames[s].stat
}

// Final reports whether the message will not change state again. The spec
// calls ACCEPTED and UNKNOWN final too, but SMSCs send both as intermediate
// notifications (buffered, handed to another network), so otpd keeps waiting
// after them: only delivered, expired, deleted, undeliverable and rejected
// are final here.
func (s MessageState) Final() bool {
	switch s {
	case StateDelivered, StateExpired, StateDeleted, StateUndeliverable, StateRejected:
		return true
	}
	return false
}

// Errors returned by ParseReceipt and ParseReceiptText.
var (
	// ErrNotReceipt: the deliver_sm is a mobile-originated message, not a
	// receipt.
	ErrNotReceipt = errors.New("smpp: not a delivery receipt")
	// ErrInvalidReceipt: the receipt names no message id or no state.
	ErrInvalidReceipt = errors.New("smpp: delivery receipt lacks message id or state")
)

// Receipt is an SMSC delivery receipt: which message it is about and what
// became of it. The text fields are kept as received.
type Receipt struct {
	MessageID  string       // the SMSC's message id, as in submit_sm_resp (but see SameMessageID)
	Submitted  int          // sub: messages originally submitted
	Delivered  int          // dlvrd: messages delivered
	SubmitDate time.Time    // UTC, minute or second precision; zero if absent
	DoneDate   time.Time    // UTC; zero if absent
	State      MessageState // from message_state, else from stat
	Stat       string       // the stat word as received, e.g. "DELIVRD"; "" if none
	Err        string       // the err field as received, e.g. "000"; network- or SMSC-specific
	Text       string       // the start of the message, as the SMSC quotes it
	// NetworkError is the network_error_code TLV, nil when absent.
	NetworkError *NetworkErrorCode
}

// ParseReceipt reads the delivery receipt in d. The receipted_message_id,
// message_state and network_error_code TLVs are preferred where present;
// everything else comes from the text in short_message (or message_payload),
// parsed as ParseReceiptText does.
//
// A deliver_sm counts as a receipt only if its esm_class says so or it
// carries receipted_message_id: a text that merely looks like a receipt may
// be an SMS a subscriber typed, and must not mark someone's code delivered.
func ParseReceipt(d *DeliverSM) (Receipt, error) {
	if d == nil {
		return Receipt{}, ErrNotReceipt
	}
	id, hasID := d.TLVs.ReceiptedMessageID()
	if !d.ESMClass.IsReceipt() && !hasID {
		return Receipt{}, fmt.Errorf("%w: esm_class 0x%02X", ErrNotReceipt, uint8(d.ESMClass))
	}
	text := d.ShortMessage
	if len(text) == 0 {
		text, _ = d.TLVs.MessagePayload()
	}
	r := parseReceiptFields(string(text))
	if id = strings.TrimSpace(id); id != "" {
		r.MessageID = id
	}
	if st, ok := d.TLVs.MessageState(); ok && st.Valid() {
		r.State = st
	}
	if ne, ok := d.TLVs.NetworkErrorCode(); ok {
		r.NetworkError = &ne
	}
	return r, r.check()
}

// ParseReceiptText parses the de-facto receipt format of SMPP 3.4 Appendix B,
//
//	id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...
//
// leniently, as SMSCs write it: keys in any case and order, spaces around
// the colon, fields missing, dates of 10, 12 (with seconds) or 14 (four-digit
// year) digits, stat spelt out ("DELIVERED") or numeric. Everything after
// "text:" is the text, even if it looks like more fields. It fails only if
// no id or no stat is found.
func ParseReceiptText(s string) (Receipt, error) {
	r := parseReceiptFields(s)
	return r, r.check()
}

func (r Receipt) check() error {
	switch {
	case r.MessageID == "":
		return fmt.Errorf("%w: no id", ErrInvalidReceipt)
	case !r.State.Valid():
		return fmt.Errorf("%w: no state", ErrInvalidReceipt)
	}
	return nil
}

// receiptKey finds the keys of a text receipt. \b keeps "id" from matching
// inside "msgid"; "sub" cannot match "submit date" because the colon must
// follow it.
var receiptKey = regexp.MustCompile(`(?i)\b(id|sub|dlvrd|submit[\s_]*date|done[\s_]*date|stat(?:us)?|err|text)\s*:`)

func parseReceiptFields(s string) Receipt {
	s = strings.TrimRight(s, "\x00")
	var r Receipt
	seen := map[string]bool{}
	ms := receiptKey.FindAllStringSubmatchIndex(s, -1)
	for i, m := range ms {
		// "Submit_Date", "submit  date" → "submit date"
		key := strings.Join(strings.Fields(strings.ReplaceAll(strings.ToLower(s[m[2]:m[3]]), "_", " ")), " ")
		if key == "status" {
			key = "stat"
		}
		if key == "text" {
			r.Text = strings.TrimSpace(s[m[1]:])
			break
		}
		end := len(s)
		if i+1 < len(ms) {
			end = ms[i+1][0]
		}
		if seen[key] {
			continue // the first occurrence wins
		}
		seen[key] = true
		v := firstWord(s[m[1]:end])
		switch key {
		case "id":
			r.MessageID = v
		case "sub":
			r.Submitted = atoi(v)
		case "dlvrd":
			r.Delivered = atoi(v)
		case "submit date":
			r.SubmitDate = parseReceiptDate(v)
		case "done date":
			r.DoneDate = parseReceiptDate(v)
		case "stat":
			r.Stat = v
			r.State = parseStat(v)
		case "err":
			r.Err = v
		}
	}
	return r
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// atoi reads a non-negative decimal count, 0 if it is anything else.
func atoi(s string) int {
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0
	}
	return int(n)
}

func parseStat(s string) MessageState {
	if s == "" {
		return 0
	}
	switch strings.ToUpper(s) {
	case "DELIVRD", "DELIVERED":
		return StateDelivered
	case "EXPIRED":
		return StateExpired
	case "DELETED":
		return StateDeleted
	case "UNDELIV", "UNDELIVERABLE", "UNDELIVERED", "FAILED":
		return StateUndeliverable
	case "ACCEPTD", "ACCEPTED":
		return StateAccepted
	case "UNKNOWN":
		return StateUnknown
	case "REJECTD", "REJECTED":
		return StateRejected
	case "ENROUTE", "BUFFRED", "BUFFERED":
		return StateEnroute
	}
	if n, err := strconv.ParseUint(s, 10, 8); err == nil && MessageState(n).Valid() {
		return MessageState(n)
	}
	// A stat we cannot read is still a receipt; the raw word stays in Stat.
	return StateUnknown
}

// parseReceiptDate reads YYMMDDhhmm, YYMMDDhhmmss or YYYYMMDDhhmmss as UTC
// (receipts carry no zone); anything else, including impossible dates, is
// the zero time.
func parseReceiptDate(s string) time.Time {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return time.Time{}
		}
	}
	num := func(i, n int) int { v, _ := strconv.Atoi(s[i : i+n]); return v }
	var y, rest int
	switch len(s) {
	case 10, 12:
		y, rest = 2000+num(0, 2), 2
	case 14:
		y, rest = num(0, 4), 4
	default:
		return time.Time{}
	}
	mo, d, h, mi := num(rest, 2), num(rest+2, 2), num(rest+4, 2), num(rest+6, 2)
	sec := 0
	if len(s) > rest+8 {
		sec = num(rest+8, 2)
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	// time.Date normalises 31 Feb into March; a receipt saying so is garbage.
	if t.Month() != time.Month(mo) || t.Day() != d || t.Hour() != h || t.Minute() != mi || t.Second() != sec {
		return time.Time{}
	}
	return t
}

// FormatReceipt writes r in the Appendix B text format, as an SMSC would put
// it in short_message:
//
//	id:12345 sub:001 dlvrd:001 submit date:2601021504 done date:2601021505 stat:DELIVRD err:000 text:Your code is
//
// Dates are written as UTC YYMMDDhhmm ("0000000000" when zero), the state in
// its 7-letter form (UNKNOWN if r.State is invalid), err as "000" when empty
// and the text cut to its first 20 characters.
func FormatReceipt(r Receipt) string {
	stat := r.State.Stat()
	if stat == "" {
		stat = StateUnknown.Stat()
	}
	errCode := r.Err
	if errCode == "" {
		errCode = "000"
	}
	return fmt.Sprintf("id:%s sub:%03d dlvrd:%03d submit date:%s done date:%s stat:%s err:%s text:%s",
		r.MessageID, r.Submitted, r.Delivered, formatReceiptDate(r.SubmitDate), formatReceiptDate(r.DoneDate),
		stat, errCode, truncateRunes(r.Text, 20))
}

func formatReceiptDate(t time.Time) string {
	if t.IsZero() {
		return "0000000000"
	}
	return t.UTC().Format("0601021504")
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for range n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}

// DeliverSM returns the deliver_sm an SMSC sends to report r: esm_class
// marking a delivery receipt, the text of FormatReceipt, and the
// receipted_message_id, message_state and (if set) network_error_code TLVs,
// so ESMEs that read either form agree. The caller sets the addresses: the
// receipt goes from the message's destination to its source.
func (r Receipt) DeliverSM() *DeliverSM {
	d := &DeliverSM{ESMClass: ESMDeliveryReceipt, ShortMessage: []byte(FormatReceipt(r))}
	d.TLVs.SetCString(TagReceiptedMessageID, r.MessageID)
	if r.State.Valid() {
		d.TLVs.SetUint8(TagMessageState, uint8(r.State))
	}
	if r.NetworkError != nil {
		d.TLVs.SetNetworkErrorCode(*r.NetworkError)
	}
	return d
}

// SameMessageID reports whether a message id from a submit_sm_resp and one
// from a receipt name the same message. Beyond exact (case-insensitive)
// equality it allows what SMSCs are known to do: leading zeros, and answering
// submit_sm in hex while quoting the id in decimal in the receipt (or the
// reverse). An id counts as hex only if it has a letter a–f or a 0x prefix,
// so two all-digit ids are compared as decimals and "10" never matches "16";
// an SMSC whose hex ids happen to be all digits needs the route to convert.
func SameMessageID(submitted, receipted string) bool {
	a, b := strings.TrimSpace(submitted), strings.TrimSpace(receipted)
	if a == "" || b == "" {
		return false
	}
	if strings.EqualFold(a, b) {
		return true
	}
	x, ok1 := idValue(a)
	y, ok2 := idValue(b)
	return ok1 && ok2 && x == y
}

// idValue reads id as a decimal number if it is all digits, otherwise as a
// hexadecimal one.
func idValue(id string) (uint64, bool) {
	if v, err := strconv.ParseUint(id, 10, 64); err == nil {
		return v, true
	}
	if len(id) > 2 && (id[:2] == "0x" || id[:2] == "0X") {
		id = id[2:]
	}
	v, err := strconv.ParseUint(id, 16, 64)
	return v, err == nil
}
