package gsm

import (
	"errors"
	"fmt"
)

// Coding is a character encoding for the text of an SMS.
type Coding int

// The codings. Auto is only meaningful in [Options]; a [Message] always
// reports the coding it chose.
const (
	// Auto picks GSM7 when the text fits it and UCS2 otherwise.
	Auto Coding = iota
	// GSM7 is the GSM 7-bit default alphabet with its single-shift
	// extension table (TS 23.038 §6.2.1): 160 septets in one SMS.
	GSM7
	// UCS2 is UTF-16BE: 70 code units in one SMS. The standard says UCS-2,
	// but handsets show surrogate pairs, so characters outside the Basic
	// Multilingual Plane (emoji) take two units.
	UCS2
	// Latin1 is ISO 8859-1, one octet per character: 140 in one SMS.
	// SMSCs translate it to GSM-7 or UCS-2 for the handset; it is here for
	// SMSCs that mishandle the 0x00 that "@" becomes in GSM-7 (see
	// Options.AvoidNUL), and its limits are those of 8-bit data because
	// that is the most an SMSC can need.
	Latin1
)

// SMPP data_coding values (SMPP 3.4 §5.2.19).
const (
	dataCodingDefault = 0x00
	dataCodingLatin1  = 0x03
	dataCodingUCS2    = 0x08
)

// DataCoding returns the SMPP data_coding value for c: 0x00 (SMSC default
// alphabet, which SMSCs take as GSM-7) for GSM7, 0x03 for Latin1, 0x08 for
// UCS2. Auto has no data_coding of its own and returns 0x00.
func (c Coding) DataCoding() byte {
	switch c {
	case UCS2:
		return dataCodingUCS2
	case Latin1:
		return dataCodingLatin1
	default:
		return dataCodingDefault
	}
}

// String returns the name used in logs and configuration: "auto", "gsm7",
// "ucs2" or "latin1".
func (c Coding) String() string {
	switch c {
	case Auto:
		return "auto"
	case GSM7:
		return "gsm7"
	case UCS2:
		return "ucs2"
	case Latin1:
		return "latin1"
	default:
		return fmt.Sprintf("Coding(%d)", int(c))
	}
}

// ParseCoding returns the Coding named by s, as [Coding.String] spells it.
func ParseCoding(s string) (Coding, error) {
	for c := Auto; c <= Latin1; c++ {
		if c.String() == s {
			return c, nil
		}
	}
	return Auto, fmt.Errorf("gsm: unknown coding %q (want auto, gsm7, ucs2 or latin1)", s)
}

// CodingOf returns the Coding for an SMPP data_coding value, for a receiver
// (the simulated SMSC) deciding how to decode a short message. It knows
// 0x00, 0x03 and 0x08; ok is false for any other value.
func CodingOf(dataCoding byte) (c Coding, ok bool) {
	switch dataCoding {
	case dataCodingDefault:
		return GSM7, true
	case dataCodingLatin1:
		return Latin1, true
	case dataCodingUCS2:
		return UCS2, true
	default:
		return Auto, false
	}
}

// Errors callers can branch on with errors.Is.
var (
	// ErrInvalidSeptet: bytes that are not GSM-7 septets ([Decode7]).
	ErrInvalidSeptet = errors.New("invalid GSM-7 septet")
	// ErrInvalidPacking: packed septets that cannot be unpacked as asked
	// ([Unpack7]).
	ErrInvalidPacking = errors.New("invalid packed GSM-7")
	// ErrInvalidUCS2: octets that are not UTF-16BE: an odd count or an
	// unpaired surrogate ([DecodeUCS2]).
	ErrInvalidUCS2 = errors.New("invalid UCS-2")
	// ErrInvalidText: text that is not valid UTF-8 ([Split]).
	ErrInvalidText = errors.New("text is not valid UTF-8")
	// ErrNotEncodable: the text has a character the forced coding lacks.
	ErrNotEncodable = errors.New("text does not fit the coding")
	// ErrNUL: Options.AvoidNUL is set but the forced coding would put 0x00
	// in the text.
	ErrNUL = errors.New("encoded text contains 0x00")
	// ErrTooLong: the text needs more segments than Options.MaxSegments, or
	// than the 255 a concatenation header can number.
	ErrTooLong = errors.New("text needs too many segments")
	// ErrInvalidOptions: contradictory or out-of-range [Options].
	ErrInvalidOptions = errors.New("invalid options")
	// ErrInvalidUDH: a user data header that does not parse.
	ErrInvalidUDH = errors.New("invalid user data header")
	// ErrIncomplete: parts that do not make one whole concatenated message.
	ErrIncomplete = errors.New("parts do not make a whole message")
)
