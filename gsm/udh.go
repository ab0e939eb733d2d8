package gsm

import (
	"fmt"
	"slices"
)

// Concat is the concatenation information element of a user data header
// (TS 23.040 §9.2.3.24.1 and .8): which message a part belongs to and
// where it goes.
type Concat struct {
	// Ref identifies the message among those from the same sender.
	Ref uint16
	// Ref16 is set for the 16-bit reference element (IEI 0x08).
	Ref16 bool
	// Total is how many parts the message has; Seq is this part's number,
	// from 1.
	Total, Seq int
}

// ParsePart splits a short message into its user data header and text, as
// a receiver (the simulated SMSC) gets them: udhi is the UDHI bit (0x40) of
// esm_class. The Part's slices alias sm. A header that runs past the end of
// sm is an error wrapping [ErrInvalidUDH]. The Part is unpacked and its Units
// zero; set Packed if the peer packs GSM-7.
func ParsePart(sm []byte, udhi bool) (Part, error) {
	if !udhi {
		return Part{Text: sm}, nil
	}
	if len(sm) == 0 || 1+int(sm[0]) > len(sm) {
		return Part{}, fmt.Errorf("gsm: header length exceeds the %d-octet short message: %w", len(sm), ErrInvalidUDH)
	}
	n := 1 + int(sm[0])
	return Part{UDH: sm[:n:n], Text: sm[n:]}, nil
}

// Concat returns the part's concatenation element. ok is false when the
// part has no header or its header has no such element. A header whose
// elements run past its end, or a concatenation element with a zero total,
// a zero sequence number or one beyond the total, is an error wrapping
// [ErrInvalidUDH]. When both element kinds appear, the last wins, as TS
// 23.040 §9.2.3.24 has it for repeated elements.
func (p Part) Concat() (c Concat, ok bool, err error) {
	udh := p.UDH
	if len(udh) == 0 {
		return Concat{}, false, nil
	}
	if int(udh[0]) != len(udh)-1 {
		return Concat{}, false, fmt.Errorf("gsm: header length octet %d for %d octets: %w", udh[0], len(udh)-1, ErrInvalidUDH)
	}
	for i := 1; i < len(udh); {
		if i+2 > len(udh) || i+2+int(udh[i+1]) > len(udh) {
			return Concat{}, false, fmt.Errorf("gsm: header element at octet %d runs past the header: %w", i, ErrInvalidUDH)
		}
		iei, data := udh[i], udh[i+2:i+2+int(udh[i+1])]
		i += 2 + len(data)
		switch {
		case iei == ieiConcat8 && len(data) == 3:
			c = Concat{Ref: uint16(data[0]), Total: int(data[1]), Seq: int(data[2])}
		case iei == ieiConcat16 && len(data) == 4:
			c = Concat{Ref: uint16(data[0])<<8 | uint16(data[1]), Ref16: true, Total: int(data[2]), Seq: int(data[3])}
		case iei == ieiConcat8 || iei == ieiConcat16:
			return Concat{}, false, fmt.Errorf("gsm: concatenation element 0x%02X of %d octets: %w", iei, len(data), ErrInvalidUDH)
		default:
			continue
		}
		ok = true
	}
	if ok && (c.Total == 0 || c.Seq == 0 || c.Seq > c.Total) {
		return Concat{}, false, fmt.Errorf("gsm: concatenation part %d of %d: %w", c.Seq, c.Total, ErrInvalidUDH)
	}
	return c, ok, nil
}

// Reassemble decodes the text the parts of one message carry, in c (GSM7,
// UCS2 or Latin1, as [CodingOf] gives for the data_coding). It is the
// inverse of [Split]: Reassemble(m.Coding, m.Parts...) is the text Split was
// given.
//
// One part without a concatenation element is a whole message. Otherwise
// every part must have one, with the same reference, a total equal to the
// number of parts and each sequence number once; the order they come in
// does not matter. Anything else is an error wrapping [ErrIncomplete]. The
// parts' texts are joined before decoding, so a sender that cuts an escape
// or a surrogate pair in two is still understood.
func Reassemble(c Coding, parts ...Part) (string, error) {
	if c != GSM7 && c != UCS2 && c != Latin1 {
		return "", fmt.Errorf("gsm: reassemble as %v: %w", c, ErrInvalidOptions)
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("gsm: reassemble no parts: %w", ErrIncomplete)
	}
	ordered, err := order(parts)
	if err != nil {
		return "", err
	}
	var buf []byte
	for i, p := range ordered {
		text := p.Text
		if p.Packed && c == GSM7 {
			n := p.Units
			if n == 0 {
				n = septetsIn(text, FillBits(len(p.UDH)))
			}
			if text, err = Unpack7(text, n, FillBits(len(p.UDH))); err != nil {
				return "", fmt.Errorf("gsm: reassemble part %d: %w", i+1, err)
			}
		}
		buf = append(buf, text...)
	}
	switch c {
	case GSM7:
		return Decode7(buf)
	case UCS2:
		return DecodeUCS2(buf)
	default:
		return DecodeLatin1(buf), nil
	}
}

// order checks that parts make one message and returns them in sequence.
func order(parts []Part) ([]Part, error) {
	type seqPart struct {
		seq  int
		part Part
	}
	all := make([]seqPart, len(parts))
	var first Concat
	for i, p := range parts {
		c, ok, err := p.Concat()
		if err != nil {
			return nil, fmt.Errorf("gsm: reassemble part %d: %w", i+1, err)
		}
		if !ok {
			if len(parts) == 1 {
				return parts, nil
			}
			return nil, fmt.Errorf("gsm: reassemble: part %d of %d has no concatenation header: %w", i+1, len(parts), ErrIncomplete)
		}
		if i == 0 {
			first = c
		}
		if c.Ref != first.Ref || c.Ref16 != first.Ref16 || c.Total != len(parts) {
			return nil, fmt.Errorf("gsm: reassemble: part %d (ref %d, %d parts) does not belong with %d parts of ref %d: %w",
				i+1, c.Ref, c.Total, len(parts), first.Ref, ErrIncomplete)
		}
		all[i] = seqPart{c.Seq, p}
	}
	slices.SortFunc(all, func(a, b seqPart) int { return a.seq - b.seq })
	out := make([]Part, len(all))
	for i, sp := range all {
		if sp.seq != i+1 {
			return nil, fmt.Errorf("gsm: reassemble: part %d missing or repeated: %w", i+1, ErrIncomplete)
		}
		out[i] = sp.part
	}
	return out, nil
}
