package gsm

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// EncodeUCS2 encodes s as UTF-16BE, characters outside the Basic
// Multilingual Plane as surrogate pairs. Invalid UTF-8 bytes become U+FFFD;
// [Split] refuses such text rather than change it.
func EncodeUCS2(s string) []byte {
	out := make([]byte, 0, 2*len(s))
	return appendUCS2(out, s)
}

func appendUCS2(dst []byte, s string) []byte {
	for _, r := range s {
		dst = appendUCS2Rune(dst, r)
	}
	return dst
}

func appendUCS2Rune(dst []byte, r rune) []byte {
	if r >= 0x10000 {
		hi, lo := utf16.EncodeRune(r)
		return append(dst, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
	}
	return append(dst, byte(r>>8), byte(r))
}

// units16 returns how many UTF-16 code units r takes.
func units16(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// DecodeUCS2 decodes UTF-16BE. An odd number of octets or an unpaired
// surrogate is an error wrapping [ErrInvalidUCS2], not a U+FFFD, for the
// reason [Decode7] is strict.
func DecodeUCS2(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("gsm: UCS-2 of %d octets: %w", len(b), ErrInvalidUCS2)
	}
	buf := make([]byte, 0, len(b)+len(b)/2)
	for i := 0; i < len(b); i += 2 {
		u := rune(b[i])<<8 | rune(b[i+1])
		switch {
		case utf16.IsSurrogate(u) && u < 0xDC00 && i+3 < len(b):
			lo := rune(b[i+2])<<8 | rune(b[i+3])
			r := utf16.DecodeRune(u, lo)
			if r == utf8.RuneError {
				return "", fmt.Errorf("gsm: UCS-2 octet %d: unpaired high surrogate: %w", i, ErrInvalidUCS2)
			}
			buf = utf8.AppendRune(buf, r)
			i += 2
		case utf16.IsSurrogate(u):
			return "", fmt.Errorf("gsm: UCS-2 octet %d: unpaired surrogate: %w", i, ErrInvalidUCS2)
		default:
			buf = utf8.AppendRune(buf, u)
		}
	}
	return string(buf), nil
}

// EncodeLatin1 encodes s in ISO 8859-1. ok is false when s has a character
// above U+00FF or is not valid UTF-8.
func EncodeLatin1(s string) (b []byte, ok bool) {
	return appendLatin1(make([]byte, 0, len(s)), s)
}

func appendLatin1(dst []byte, s string) ([]byte, bool) {
	for _, r := range s {
		// An invalid byte ranges as utf8.RuneError, which is above 0xFF.
		if r > 0xFF {
			return nil, false
		}
		dst = append(dst, byte(r))
	}
	return dst, true
}

// DecodeLatin1 decodes ISO 8859-1; every octet is a character.
func DecodeLatin1(b []byte) string {
	buf := make([]byte, 0, len(b)+len(b)/2)
	for _, c := range b {
		buf = utf8.AppendRune(buf, rune(c))
	}
	return string(buf)
}
