package smpp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// Maximum sizes of C-Octet string fields, NUL included, from SMPP 3.4
// section 4. A field of "Var. max 16" holds at most 15 characters.
const (
	maxSystemID     = 16
	maxPassword     = 9
	maxSystemType   = 13
	maxAddressRange = 41
	maxServiceType  = 6
	maxAddr         = 21 // source_addr, destination_addr in submit_sm/deliver_sm
	maxDataSMAddr   = 65 // source_addr, destination_addr in data_sm
	maxTime         = 17 // schedule_delivery_time, validity_period
	maxMessageID    = 65

	// MaxShortMessage is the largest short_message SMPP 3.4 allows (sm_length
	// 0–254); longer content goes in the message_payload TLV.
	MaxShortMessage = 254
)

// bodyReader reads a PDU body. The first error sticks and later reads return
// zero values, so decoders read every field and check once.
type bodyReader struct {
	b   []byte
	off int
	err *DecodeError
}

func (r *bodyReader) fail(e *DecodeError) {
	if r.err == nil {
		r.err = e
	}
}

func (r *bodyReader) len() int { return len(r.b) - r.off }

func (r *bodyReader) u8(field string) uint8 {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail(decodeErr(StatusInvCmdLen, ErrMalformed, "body ends before %s", field))
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

// cstring reads a NUL-terminated string of at most max octets, NUL included.
// An unterminated string means the body was cut short (ESME_RINVCMDLEN); a
// terminated one that is too long gets the field's own status.
func (r *bodyReader) cstring(field string, max int, tooLong CommandStatus) string {
	if r.err != nil {
		return ""
	}
	i := bytes.IndexByte(r.b[r.off:], 0)
	if i < 0 {
		r.fail(decodeErr(StatusInvCmdLen, ErrMalformed, "%s has no NUL terminator", field))
		return ""
	}
	if i+1 > max {
		r.fail(decodeErr(tooLong, ErrFieldTooLong, "%s is %d octets, at most %d allowed", field, i, max-1))
		return ""
	}
	s := string(r.b[r.off : r.off+i])
	r.off += i + 1
	return s
}

func (r *bodyReader) address(field string, max int, tooLong CommandStatus) Address {
	ton := r.u8(field + "_ton")
	npi := r.u8(field + "_npi")
	return Address{TON: TON(ton), NPI: NPI(npi), Addr: r.cstring(field, max, tooLong)}
}

// shortMessage reads sm_length and short_message.
func (r *bodyReader) shortMessage() []byte {
	n := int(r.u8("sm_length"))
	if r.err != nil {
		return nil
	}
	if n > MaxShortMessage {
		r.fail(decodeErr(StatusInvMsgLen, ErrFieldTooLong, "sm_length %d exceeds %d", n, MaxShortMessage))
		return nil
	}
	if n > r.len() {
		r.fail(decodeErr(StatusInvMsgLen, ErrMalformed, "sm_length %d exceeds the %d octets left in the body", n, r.len()))
		return nil
	}
	b := clone(r.b[r.off : r.off+n])
	r.off += n
	return b
}

// tlvs reads the optional parameters that make up the rest of the body.
func (r *bodyReader) tlvs() TLVs {
	if r.err != nil {
		return nil
	}
	l, err := parseTLVs(r.b[r.off:])
	if err != nil {
		r.fail(err)
		return nil
	}
	r.off = len(r.b)
	return l
}

// end checks that a header-only PDU has no body.
func (r *bodyReader) end() {
	if r.err == nil && r.len() != 0 {
		r.fail(decodeErr(StatusInvCmdLen, ErrMalformed, "%d unexpected octets after the header", r.len()))
	}
}

// bodyWriter appends a PDU body. Like bodyReader, its first error sticks.
type bodyWriter struct {
	b   []byte
	err error
}

func (w *bodyWriter) u8(v uint8) {
	if w.err == nil {
		w.b = append(w.b, v)
	}
}

func (w *bodyWriter) cstring(field, s string, max int) {
	if w.err != nil {
		return
	}
	if len(s)+1 > max {
		w.err = fmt.Errorf("%w: %s is %d octets, at most %d allowed", ErrFieldTooLong, field, len(s), max-1)
		return
	}
	if strings.IndexByte(s, 0) >= 0 {
		w.err = fmt.Errorf("%w: %s contains NUL", ErrInvalidField, field)
		return
	}
	w.b = append(append(w.b, s...), 0)
}

func (w *bodyWriter) address(field string, a Address, max int) {
	w.u8(uint8(a.TON))
	w.u8(uint8(a.NPI))
	w.cstring(field, a.Addr, max)
}

func (w *bodyWriter) shortMessage(sm []byte) {
	if w.err != nil {
		return
	}
	if len(sm) > MaxShortMessage {
		w.err = fmt.Errorf("%w: short_message is %d octets, at most %d allowed (use message_payload)", ErrFieldTooLong, len(sm), MaxShortMessage)
		return
	}
	w.b = append(append(w.b, uint8(len(sm))), sm...)
}

func (w *bodyWriter) tlvs(l TLVs) {
	if w.err == nil {
		w.b, w.err = l.appendTo(w.b)
	}
}

// clone copies b so decoded PDUs never alias a buffer the caller may reuse;
// empty becomes nil so equal PDUs compare equal however they were built.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

var be = binary.BigEndian
