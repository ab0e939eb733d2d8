package gsm

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits of one SMS (TS 23.040 §9.2.3.16: 140 octets of user data).
const (
	maxUserData = 140
	// maxSegments is the most parts a concatenation header can number.
	maxSegments = 255

	// Sizes, length octet included, of the two concatenation headers:
	// 05 00 03 ref total seq, and 06 08 04 refHi refLo total seq.
	udhLen8  = 6
	udhLen16 = 7

	ieiConcat8  = 0x00
	ieiConcat16 = 0x08
)

// Options say how [Split] encodes and cuts a text. The zero value picks the
// coding automatically, puts no limit on the number of parts but the 255 of
// the header, and numbers parts with 8-bit reference 0. Each route keeps its
// own Options, checked once with [Options.Validate].
type Options struct {
	// Coding forces a coding. Auto (the zero value) picks GSM7 when the
	// text fits it and UCS2 otherwise. A forced GSM7 or Latin1 is an error
	// wrapping ErrNotEncodable for a text that does not fit it; a forced
	// UCS2 always works.
	Coding Coding

	// AvoidNUL keeps the octet 0x00 out of GSM-7 and Latin-1 text, for
	// SMSCs that take the short message as a C string and cut it at the
	// first 0x00. In GSM-7 "@" is 0x00, and the WebOTP line
	// "@example.com #123456" begins with it: cut there, the handset never
	// sees the code's origin and the browser cannot autofill it.
	//
	// With Coding Auto, a text that would be GSM-7 with an "@" (or, with
	// Packed, whose packed octets happen to include 0x00) goes as
	// NULFallback instead; one with U+0000 (which cannot be GSM-7 anyway)
	// goes as UCS-2. With Coding Latin1 a text holding U+0000 is an error
	// wrapping ErrNUL; Coding GSM7 with AvoidNUL is invalid. UCS-2 is
	// never changed: its 0x00 octets (the high half of every Latin
	// character) are inherent, and SMSCs carry data_coding 0x08 as binary.
	//
	// It covers the text only. The 8-bit concatenation header begins with
	// IEI 0x00; a route whose SMSC cuts at 0x00 should also use
	// Reference16 with a reference whose octets are not zero, or Payload.
	AvoidNUL bool

	// NULFallback is the coding AvoidNUL switches to: UCS2 (the zero value
	// Auto means UCS2), which every SMSC supports but halves the room, or
	// Latin1, which keeps 140 characters a part on SMSCs that support
	// data_coding 0x03 and is used only when the text fits it (Greek
	// capitals and "€" are GSM-7 but not Latin-1; they go as UCS-2).
	NULFallback Coding

	// MaxSegments caps the number of SMS the text may take; a longer text
	// is an error wrapping ErrTooLong. Zero means the 255 a concatenation
	// header can number.
	MaxSegments int

	// Reference is the concatenation reference shared by the parts of one
	// message. A handset joins parts by sender and reference, so a route
	// should change it for every multi-part message to the same number
	// (a counter will do). Without Reference16 only its low 8 bits are
	// used, so one uint16 counter serves both widths.
	Reference uint16

	// Reference16 uses the 16-bit reference header (IEI 0x08, 7 octets)
	// instead of the 8-bit one (IEI 0x00, 6 octets). Parts then carry one
	// septet, or one UCS-2 unit, less: 152 / 66 / 133.
	Reference16 bool

	// Payload returns the whole text as one Part without a header, for the
	// SMPP message_payload TLV: the SMSC cuts it into SMS itself.
	// Message.Segments still reports how many SMS that takes by the same
	// rules, and MaxSegments still applies.
	Payload bool

	// Packed packs GSM-7 septets eight to seven octets ([Pack7]), fill bits
	// after the header included, as the air interface carries them. SMPP
	// SMSCs take data_coding 0x00 unpacked, one septet per octet, and pack
	// it themselves, so an SMPP route leaves this off; it is for peers that
	// want TP-UD as is. It has no effect on other codings.
	Packed bool
}

// Validate reports contradictory or out-of-range options as an error
// wrapping ErrInvalidOptions. [Split] calls it; a route calls it once when
// its configuration is loaded.
func (o Options) Validate() error {
	var problem string
	switch {
	case o.Coding < Auto || o.Coding > Latin1:
		problem = fmt.Sprintf("unknown coding %v", o.Coding)
	case o.NULFallback != Auto && o.NULFallback != UCS2 && o.NULFallback != Latin1:
		problem = fmt.Sprintf("NUL fallback must be ucs2 or latin1, not %v", o.NULFallback)
	case o.AvoidNUL && o.Coding == GSM7:
		problem = `GSM-7 cannot avoid NUL: "@" is 0x00`
	case o.MaxSegments < 0 || o.MaxSegments > maxSegments:
		problem = fmt.Sprintf("max segments %d out of range 0-%d", o.MaxSegments, maxSegments)
	default:
		return nil
	}
	return fmt.Errorf("gsm: %s: %w", problem, ErrInvalidOptions)
}

func (o Options) udhLen() int {
	if o.Reference16 {
		return udhLen16
	}
	return udhLen8
}

// Message is a text encoded and cut into SMS by [Split].
type Message struct {
	// Coding is the coding chosen; never Auto.
	Coding Coding
	// Parts are the short messages to submit, in order. There is one
	// without a header when the text fits one SMS or Payload is set;
	// otherwise every part has a concatenation header and the submit must
	// set the UDHI bit (0x40) of esm_class.
	Parts []Part
	// Segments is how many SMS the text takes: len(Parts), or with Payload
	// how many the SMSC will make of the one part.
	Segments int
	// Units is the length of the whole text in the coding's units: septets
	// for GSM-7 (two for each extension character), UTF-16 code units for
	// UCS-2, octets for Latin-1. Headers are not counted.
	Units int
	// Payload is set when Parts is one part meant for message_payload.
	Payload bool
}

// HasNUL reports whether the text of any part holds the octet 0x00. For
// GSM-7 that means an "@", for Latin-1 a U+0000; UCS-2 has it for most
// text. Headers are not looked at: the 8-bit concatenation header always
// holds 0x00 (see Options.AvoidNUL).
func (m Message) HasNUL() bool {
	for _, p := range m.Parts {
		if bytes.IndexByte(p.Text, 0) >= 0 {
			return true
		}
	}
	return false
}

// Part is one short message.
type Part struct {
	// UDH is the user data header, its length octet included, or nil.
	UDH []byte
	// Text is the encoded text that follows the header: septets one per
	// octet (or packed, see Packed), UTF-16BE, or Latin-1.
	Text []byte
	// Units is the length of Text in the coding's units. [Split] sets it;
	// [ParsePart] cannot know it and leaves it zero. Only packed GSM-7
	// needs it, to tell a trailing "@" from seven padding bits.
	Units int
	// Packed is set when Text holds packed septets ([Pack7]), with the
	// fill bits [FillBits] gives for the header first.
	Packed bool
}

// Bytes returns the short message: UDH followed by Text, in a new slice.
func (p Part) Bytes() []byte {
	b := make([]byte, 0, len(p.UDH)+len(p.Text))
	return append(append(b, p.UDH...), p.Text...)
}

// UDHI reports whether the part has a user data header, which the submit
// must announce with the UDHI bit (0x40) of esm_class.
func (p Part) UDHI() bool { return len(p.UDH) > 0 }

// Split encodes text and cuts it into SMS.
//
// A text that fits one SMS (160 septets, 70 UCS-2 units, 140 Latin-1
// octets) is one part without a header. A longer one is cut into parts of at
// most 153 septets, 67 units or 134 octets (152, 66 or 133 with
// Reference16), each with a concatenation header; a cut never falls between
// an escape and its character, nor between the halves of a surrogate pair,
// so every part decodes on its own, on handsets that show parts before
// joining them too.
//
// Text that is not valid UTF-8 is an error wrapping ErrInvalidText: it could
// not come back unchanged. Other errors wrap ErrInvalidOptions,
// ErrNotEncodable, ErrNUL or ErrTooLong.
func Split(text string, o Options) (Message, error) {
	if err := o.Validate(); err != nil {
		return Message{}, err
	}
	if !utf8.ValidString(text) {
		return Message{}, fmt.Errorf("gsm: split: %w", ErrInvalidText)
	}
	c, err := choose(text, o)
	if err != nil {
		return Message{}, err
	}
	m, err := split(text, c, o)
	// Packing can make 0x00 octets of septets that are not "@"; only the
	// result tells.
	if err == nil && o.AvoidNUL && c == GSM7 && o.Packed && m.HasNUL() {
		return split(text, fallback(text, o), o)
	}
	return m, err
}

// split encodes text in c and cuts it.
func split(text string, c Coding, o Options) (Message, error) {
	units, segments := measure(text, c, o.udhLen())
	limit := o.MaxSegments
	if limit == 0 {
		limit = maxSegments
	}
	if segments > limit {
		return Message{}, fmt.Errorf("gsm: split: %d %s units need %d segments, more than %d: %w",
			units, c, segments, limit, ErrTooLong)
	}

	m := Message{Coding: c, Segments: segments, Units: units, Payload: o.Payload}
	if o.Payload || segments == 1 {
		m.Parts = []Part{newPart(nil, appendText(nil, c, text), units, c == GSM7 && o.Packed)}
		return m, nil
	}

	// One buffer for the text of every part; parts are slices of it.
	buf := make([]byte, 0, encodedLen(c, units))
	perPart := partLimit(c, o.udhLen())
	m.Parts = make([]Part, 0, segments)
	start, n := 0, 0
	flush := func() {
		seq := len(m.Parts) + 1
		m.Parts = append(m.Parts, newPart(concatHeader(o, segments, seq), buf[start:len(buf):len(buf)], n, c == GSM7 && o.Packed))
		start, n = len(buf), 0
	}
	for _, r := range text {
		k := cost(c, r)
		if n+k > perPart {
			flush()
		}
		buf = appendRune(buf, c, r)
		n += k
	}
	flush()
	return m, nil
}

func newPart(udh, text []byte, units int, packed bool) Part {
	if packed {
		text = Pack7(text, FillBits(len(udh)))
	}
	return Part{UDH: udh, Text: text, Units: units, Packed: packed}
}

func concatHeader(o Options, total, seq int) []byte {
	if o.Reference16 {
		return []byte{udhLen16 - 1, ieiConcat16, 4, byte(o.Reference >> 8), byte(o.Reference), byte(total), byte(seq)}
	}
	return []byte{udhLen8 - 1, ieiConcat8, 3, byte(o.Reference), byte(total), byte(seq)}
}

// choose returns the coding Split uses for text under o.
func choose(text string, o Options) (Coding, error) {
	switch o.Coding {
	case UCS2:
		return UCS2, nil
	case GSM7:
		if !fits(text, GSM7) {
			return Auto, fmt.Errorf("gsm: split: %w: not GSM-7", ErrNotEncodable)
		}
		return GSM7, nil
	case Latin1:
		if !fits(text, Latin1) {
			return Auto, fmt.Errorf("gsm: split: %w: not Latin-1", ErrNotEncodable)
		}
		if o.AvoidNUL && strings.IndexByte(text, 0) >= 0 {
			return Auto, fmt.Errorf("gsm: split: Latin-1 text with U+0000: %w", ErrNUL)
		}
		return Latin1, nil
	}
	if !fits(text, GSM7) {
		return UCS2, nil
	}
	// '@' is the one character that encodes to septet 0x00.
	if !o.AvoidNUL || strings.IndexByte(text, '@') < 0 {
		return GSM7, nil
	}
	return fallback(text, o), nil
}

// fallback returns the coding AvoidNUL uses for a GSM-7 text.
func fallback(text string, o Options) Coding {
	// A GSM-7 text has no U+0000, so Latin-1 of it has no 0x00.
	if o.NULFallback == Latin1 && fits(text, Latin1) {
		return Latin1
	}
	return UCS2
}

// Count reports how the text of a template or message would go with the
// default [Options]: the coding Auto picks, how many SMS it takes, and its
// length in that coding's units (septets, UTF-16 units). It never fails:
// invalid UTF-8 counts as U+FFFD, which makes the text UCS-2. For a route's
// own options, [Split] reports the same in Message.Segments and Units.
func Count(text string) (c Coding, segments, units int) {
	c = GSM7
	if !fits(text, GSM7) {
		c = UCS2
	}
	units, segments = measure(text, c, udhLen8)
	return c, segments, units
}

// fits reports whether every rune of text has a code in c.
func fits(text string, c Coding) bool {
	for _, r := range text {
		if cost(c, r) == 0 {
			return false
		}
	}
	return true
}

// cost returns the units r takes in c, or 0 when c cannot carry r.
func cost(c Coding, r rune) int {
	switch c {
	case GSM7:
		return septets7(r)
	case Latin1:
		if r > 0xFF {
			return 0
		}
		return 1
	default:
		return units16(r)
	}
}

func appendRune(dst []byte, c Coding, r rune) []byte {
	switch c {
	case GSM7:
		code, _ := lookup7(r)
		if code.escaped {
			dst = append(dst, Esc)
		}
		return append(dst, code.septet)
	case Latin1:
		return append(dst, byte(r))
	default:
		return appendUCS2Rune(dst, r)
	}
}

func appendText(dst []byte, c Coding, text string) []byte {
	switch c {
	case GSM7:
		dst, _ = appendEncode7(dst, text)
	case Latin1:
		dst, _ = appendLatin1(dst, text)
	default:
		dst = appendUCS2(dst, text)
	}
	return dst
}

// encodedLen is the length in octets of units of c, unpacked.
func encodedLen(c Coding, units int) int {
	if c == UCS2 {
		return 2 * units
	}
	return units
}

// singleLimit is how many units of c one SMS without a header holds.
func singleLimit(c Coding) int {
	switch c {
	case GSM7:
		return maxUserData * 8 / 7 // 160
	case UCS2:
		return maxUserData / 2 // 70
	default:
		return maxUserData // 140
	}
}

// partLimit is how many units of c one SMS holds after a header of udhLen
// octets: 153/67/134 after the 8-bit concatenation header.
func partLimit(c Coding, udhLen int) int {
	room := maxUserData - udhLen
	switch c {
	case GSM7:
		return (room*8 - FillBits(udhLen)) / 7
	case UCS2:
		return room / 2
	default:
		return room
	}
}

// measure returns the length of text in units of c and how many SMS it
// takes with concatenation headers of udhLen octets, cutting as Split does.
func measure(text string, c Coding, udhLen int) (units, segments int) {
	for _, r := range text {
		units += cost(c, r)
	}
	if units <= singleLimit(c) {
		return units, 1
	}
	perPart := partLimit(c, udhLen)
	n := 0
	segments = 1
	for _, r := range text {
		k := cost(c, r)
		if n+k > perPart {
			segments++
			n = 0
		}
		n += k
	}
	return units, segments
}
