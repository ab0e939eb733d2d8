package gsm

import (
	"fmt"
	"unicode/utf8"
)

// Esc is the GSM 7-bit escape septet: the septet after it is looked up in
// the single-shift extension table (TS 23.038 §6.2.1.1).
const Esc = 0x1B

// defaultAlphabet is the GSM 7-bit default alphabet of TS 23.038 §6.2.1,
// indexed by septet. Esc (0x1B) has no character of its own; its slot holds
// -1 so that no rune ever encodes to it.
var defaultAlphabet = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', -1, 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// extensionTable is the single-shift extension table of TS 23.038 §6.2.1.1:
// each character is sent as Esc followed by its code, so it costs two
// septets. Codes not listed (including 0x0D CR2 and 0x1B, reserved for a
// further extension table) have no character.
var extensionTable = map[byte]rune{
	0x0A: '\f', // page break; handsets without it show a line feed
	0x14: '^',
	0x28: '{',
	0x29: '}',
	0x2F: '\\',
	0x3C: '[',
	0x3D: '~',
	0x3E: ']',
	0x40: '|',
	0x65: '€',
}

// code7 is how one rune encodes in GSM-7: its septet, and whether Esc
// precedes it.
type code7 struct {
	septet  byte
	escaped bool
}

var (
	// ascii7 makes the common case a slice index rather than a map lookup;
	// ok7 says which entries are valid.
	ascii7 [utf8.RuneSelf]code7
	ok7    [utf8.RuneSelf]bool
	// other7 holds the runes at or above utf8.RuneSelf.
	other7 = map[rune]code7{}
)

func init() {
	add := func(r rune, c code7) {
		if r < utf8.RuneSelf {
			ascii7[r], ok7[r] = c, true
			return
		}
		other7[r] = c
	}
	for s, r := range defaultAlphabet {
		if r >= 0 {
			add(r, code7{septet: byte(s)})
		}
	}
	for s, r := range extensionTable {
		add(r, code7{septet: s, escaped: true})
	}
}

// lookup7 returns the GSM-7 code of r.
func lookup7(r rune) (code7, bool) {
	if r >= 0 && r < utf8.RuneSelf {
		return ascii7[r], ok7[r]
	}
	c, ok := other7[r]
	return c, ok
}

// septets7 returns how many septets r takes in GSM-7 (1, or 2 for the
// extension table), or 0 when GSM-7 cannot carry r.
func septets7(r rune) int {
	c, ok := lookup7(r)
	switch {
	case !ok:
		return 0
	case c.escaped:
		return 2
	default:
		return 1
	}
}

// Encode7 encodes s in the GSM 7-bit default alphabet with its extension
// table, one septet per byte (unpacked), extension characters as Esc and
// their code. ok is false, and the septets nil, when s holds a character
// neither table has, or is not valid UTF-8.
//
// Encode7 does not transliterate: "ç" or a Greek "Α" are not GSM-7 even
// though handsets may show "Ç" and "A" alike, because a message must
// reassemble to exactly the text it was made from.
func Encode7(s string) (septets []byte, ok bool) {
	out := make([]byte, 0, len(s))
	return appendEncode7(out, s)
}

func appendEncode7(dst []byte, s string) ([]byte, bool) {
	// An invalid byte ranges as utf8.RuneError, which neither table has.
	for _, r := range s {
		c, ok := lookup7(r)
		if !ok {
			return nil, false
		}
		if c.escaped {
			dst = append(dst, Esc)
		}
		dst = append(dst, c.septet)
	}
	return dst, true
}

// Decode7 decodes unpacked GSM-7 septets, one per byte.
//
// It is strict where TS 23.038 lets a handset guess: a byte above 0x7F, an
// Esc at the end, or Esc before a code the extension table does not define
// is an error wrapping [ErrInvalidSeptet] instead of being shown as the
// default-alphabet character. A handset guesses because it must show
// something; otpd decodes what its own encoder produced (the simulated SMSC,
// tests), where a guess would hide a bug. As a result Decode7 and [Encode7]
// are inverse bijections: whatever Decode7 accepts, Encode7 gives back
// byte for byte.
func Decode7(septets []byte) (string, error) {
	buf := make([]byte, 0, len(septets))
	for i := 0; i < len(septets); i++ {
		s := septets[i]
		if s >= 0x80 {
			return "", fmt.Errorf("gsm: septet %d is 0x%02X: %w", i, s, ErrInvalidSeptet)
		}
		if s != Esc {
			buf = utf8.AppendRune(buf, defaultAlphabet[s])
			continue
		}
		if i+1 == len(septets) {
			return "", fmt.Errorf("gsm: escape at end of septets: %w", ErrInvalidSeptet)
		}
		i++
		r, ok := extensionTable[septets[i]]
		if !ok {
			return "", fmt.Errorf("gsm: septet %d: escape before 0x%02X: %w", i, septets[i], ErrInvalidSeptet)
		}
		buf = utf8.AppendRune(buf, r)
	}
	return string(buf), nil
}

// FillBits returns how many fill bits follow a user data header of udhLen
// octets (its length octet included) so that the first septet of the text
// starts on a septet boundary, as TS 23.040 §9.2.3.24 requires for packed
// GSM-7: 1 for the 6-octet 8-bit concatenation header, 0 for the 7-octet
// 16-bit one, 0 without a header.
func FillBits(udhLen int) int {
	return (7 - (udhLen*8)%7) % 7
}

// Pack7 packs septets into octets as the air interface carries them (TS
// 23.038 §6.1.2.1.1): least significant bit first, preceded by fillBits zero
// bits (0 to 6, see [FillBits]). Only the low seven bits of each septet are
// used. Pack7 panics if fillBits is out of range, which is a programming
// error rather than bad input.
//
// The packed form does not record the septet count; whoever unpacks it needs
// it (on the air interface TP-UDL carries it). When the last octet has
// exactly seven spare bits they are zero, and would unpack as a trailing "@"
// if the count were guessed from the length.
func Pack7(septets []byte, fillBits int) []byte {
	if fillBits < 0 || fillBits > 6 {
		panic(fmt.Sprintf("gsm: Pack7: fill bits %d out of range 0-6", fillBits))
	}
	bits := fillBits + 7*len(septets)
	out := make([]byte, (bits+7)/8)
	pos := fillBits
	for _, s := range septets {
		v := uint16(s&0x7F) << (pos % 8)
		out[pos/8] |= byte(v)
		if hi := byte(v >> 8); hi != 0 {
			out[pos/8+1] |= hi
		}
		pos += 7
	}
	return out
}

// Unpack7 reverses [Pack7]: it reads n septets from data after skipping
// fillBits bits. It returns an error wrapping [ErrInvalidPacking] if
// fillBits is outside 0-6, n is negative, or data holds fewer than n
// septets.
func Unpack7(data []byte, n, fillBits int) ([]byte, error) {
	if fillBits < 0 || fillBits > 6 {
		return nil, fmt.Errorf("gsm: fill bits %d out of range 0-6: %w", fillBits, ErrInvalidPacking)
	}
	if n < 0 || n > (len(data)*8-fillBits)/7 {
		return nil, fmt.Errorf("gsm: %d septets do not fit in %d octets with %d fill bits: %w",
			n, len(data), fillBits, ErrInvalidPacking)
	}
	out := make([]byte, n)
	pos := fillBits
	for i := range out {
		v := uint16(data[pos/8])
		if pos/8+1 < len(data) {
			v |= uint16(data[pos/8+1]) << 8
		}
		out[i] = byte(v>>(pos%8)) & 0x7F
		pos += 7
	}
	return out, nil
}

// septetsIn returns how many whole septets data holds after fillBits.
func septetsIn(data []byte, fillBits int) int {
	n := (len(data)*8 - fillBits) / 7
	if n < 0 {
		return 0
	}
	return n
}
