package gsm_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/gsm"
)

// FuzzSplitReassemble: any valid UTF-8 text comes back exactly, under every
// kind of option a route may set, in parts that each fit one SMS; and Count
// agrees with Split.
func FuzzSplitReassemble(f *testing.F) {
	for _, s := range texts {
		f.Add(s, uint8(0))
	}
	f.Add(strings.Repeat("a", 152)+"€"+strings.Repeat("b", 160), uint8(0))
	f.Add(strings.Repeat("ж", 66)+"😀"+strings.Repeat("ж", 70), uint8(1))
	f.Fuzz(func(t *testing.T, text string, flags uint8) {
		o := gsm.Options{
			Reference:   uint16(flags) * 257,
			Reference16: flags&0x01 != 0,
			Packed:      flags&0x02 != 0,
			Payload:     flags&0x04 != 0,
			AvoidNUL:    flags&0x08 != 0,
		}
		if flags&0x10 != 0 {
			o.NULFallback = gsm.Latin1
		}
		switch flags >> 6 {
		case 1:
			o.Coding = gsm.UCS2
		case 2:
			o.Coding = gsm.Latin1
		case 3:
			if !o.AvoidNUL {
				o.Coding = gsm.GSM7
			}
		}

		m, err := gsm.Split(text, o)
		switch {
		case !utf8.ValidString(text):
			require.ErrorIs(t, err, gsm.ErrInvalidText)
			return
		case o.Coding == gsm.GSM7 || o.Coding == gsm.Latin1:
			if _, ok := encodeIn(o.Coding, text); !ok {
				require.ErrorIs(t, err, gsm.ErrNotEncodable)
				return
			}
			if o.Coding == gsm.Latin1 && o.AvoidNUL && strings.IndexByte(text, 0) >= 0 {
				require.ErrorIs(t, err, gsm.ErrNUL)
				return
			}
		}
		if err != nil {
			require.ErrorIs(t, err, gsm.ErrTooLong)
			return
		}
		requireWellFormed(t, m, o)
		if o.AvoidNUL && m.Coding != gsm.UCS2 {
			require.False(t, m.HasNUL(), "AvoidNUL left 0x00 in %v text", m.Coding)
		}
		back, err := gsm.Reassemble(m.Coding, m.Parts...)
		require.NoError(t, err)
		require.Equal(t, text, back)

		if o == (gsm.Options{}) {
			c, segments, units := gsm.Count(text)
			require.Equal(t, m.Coding, c)
			require.Equal(t, m.Segments, segments)
			require.Equal(t, m.Units, units)
		}
	})
}

func encodeIn(c gsm.Coding, text string) ([]byte, bool) {
	if c == gsm.GSM7 {
		return gsm.Encode7(text)
	}
	return gsm.EncodeLatin1(text)
}

// FuzzDecode7: decoding arbitrary bytes never panics, and whatever it
// accepts encodes back to the same septets.
func FuzzDecode7(f *testing.F) {
	f.Add([]byte("hello"))
	f.Add([]byte{0x00, gsm.Esc, 0x65, 0x1F})
	f.Add([]byte{gsm.Esc})
	f.Add([]byte{gsm.Esc, gsm.Esc})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, septets []byte) {
		s, err := gsm.Decode7(septets)
		if err != nil {
			require.ErrorIs(t, err, gsm.ErrInvalidSeptet)
			return
		}
		require.True(t, utf8.ValidString(s))
		back, ok := gsm.Encode7(s)
		require.True(t, ok)
		require.Equal(t, septets, back)
		if len(septets) == 0 {
			require.Empty(t, back)
		}
	})
}

// FuzzUnpack7: unpacking arbitrary bytes with any count and fill never
// panics, and packing what it returns gives the same bits back.
func FuzzUnpack7(f *testing.F) {
	f.Add([]byte{0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37}, 10, 0)
	f.Add([]byte{0xD0, 0x65}, 2, 1)
	f.Add([]byte{}, 0, 0)
	f.Add([]byte{0xFF}, 2, 6)
	f.Fuzz(func(t *testing.T, data []byte, n, fill int) {
		septets, err := gsm.Unpack7(data, n, fill)
		if err != nil {
			require.ErrorIs(t, err, gsm.ErrInvalidPacking)
			return
		}
		require.Len(t, septets, n)
		packed := gsm.Pack7(septets, fill)
		// Pack7 writes only the septets' bits: compare those.
		used := fill + 7*n
		require.Len(t, packed, (used+7)/8)
		for bit := fill; bit < used; bit++ {
			require.Equal(t, data[bit/8]>>(bit%8)&1, packed[bit/8]>>(bit%8)&1, "bit %d", bit)
		}
		again, err := gsm.Unpack7(packed, n, fill)
		require.NoError(t, err)
		require.Equal(t, septets, again)
	})
}

// FuzzReassemble: the simulated SMSC parses whatever an ESME submits;
// arbitrary short messages must never make it panic.
func FuzzReassemble(f *testing.F) {
	m, _ := gsm.Split(strings.Repeat("ab€", 60), gsm.Options{})
	f.Add(m.Parts[0].Bytes(), m.Parts[1].Bytes(), true, uint8(0))
	f.Add([]byte{5, 0, 3, 1, 2, 1, 0xD8}, []byte{5, 0, 3, 1, 2, 2, 0x3D}, true, uint8(2))
	f.Add([]byte("hi"), []byte(nil), false, uint8(1))
	f.Fuzz(func(t *testing.T, a, b []byte, udhi bool, mode uint8) {
		codings := []gsm.Coding{gsm.GSM7, gsm.UCS2, gsm.Latin1}
		c := codings[int(mode)%len(codings)]
		var parts []gsm.Part
		var raw [][]byte
		for _, sm := range [][]byte{a, b} {
			if len(sm) == 0 {
				continue
			}
			raw = append(raw, sm)
			p, err := gsm.ParsePart(sm, udhi)
			if err != nil {
				require.ErrorIs(t, err, gsm.ErrInvalidUDH)
				return
			}
			p.Packed = mode&0x80 != 0
			parts = append(parts, p)
		}
		s, err := gsm.Reassemble(c, parts...)
		if err == nil {
			require.True(t, utf8.ValidString(s))
			// Decoding inverts encoding: the text encodes back to the
			// bytes it came from.
			if len(parts) == 1 && !parts[0].Packed && !udhi {
				var back []byte
				switch c {
				case gsm.GSM7:
					back, _ = gsm.Encode7(s)
				case gsm.UCS2:
					back = gsm.EncodeUCS2(s)
				default:
					back, _ = gsm.EncodeLatin1(s)
				}
				require.True(t, bytes.Equal(raw[0], back))
			}
		}
	})
}
