package gsm_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/gsm"
)

// defaultAlphabet is TS 23.038 §6.2.1 written out independently of the
// package's table, row by row as the spec prints it (column = high nibble);
// here it is by septet, 16 to a line. "\x1b" stands for the escape, which
// has no character.
var defaultAlphabet = []rune("" +
	"@£$¥èéùìòÇ\nØø\rÅå" +
	"Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ" +
	" !\"#¤%&'()*+,-./" +
	"0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNO" +
	"PQRSTUVWXYZÄÖÑÜ§" +
	"¿abcdefghijklmno" +
	"pqrstuvwxyzäöñüà")

// extensionTable is TS 23.038 §6.2.1.1.
var extensionTable = map[rune]byte{
	'\f': 0x0A, '^': 0x14, '{': 0x28, '}': 0x29, '\\': 0x2F,
	'[': 0x3C, '~': 0x3D, ']': 0x3E, '|': 0x40, '€': 0x65,
}

func TestDefaultAlphabetTable(t *testing.T) {
	t.Parallel()
	require.Len(t, defaultAlphabet, 128)
	// Spot checks against the code points, so a look-alike (Ohm sign for
	// Omega, increment for Delta, "ç" for "Ç") in the table above fails.
	for septet, r := range map[byte]rune{
		0x09: 'Ç', 0x10: 0x0394, 0x12: 0x03A6, 0x13: 0x0393, 0x14: 0x039B, 0x15: 0x03A9,
		0x16: 0x03A0, 0x17: 0x03A8, 0x18: 0x03A3, 0x19: 0x0398, 0x1A: 0x039E,
		0x1E: 0x00DF, 0x1F: 0x00C9, 0x24: 0x00A4, 0x40: 0x00A1, 0x5F: 0x00A7, 0x60: 0x00BF,
	} {
		require.Equal(t, r, defaultAlphabet[septet], "septet 0x%02X", septet)
	}
}

func TestEncodeDecode7EveryCharacter(t *testing.T) {
	t.Parallel()
	for septet, r := range defaultAlphabet {
		if septet == gsm.Esc {
			continue
		}
		got, ok := gsm.Encode7(string(r))
		require.True(t, ok, "%q", r)
		require.Equal(t, []byte{byte(septet)}, got, "%q", r)
		s, err := gsm.Decode7([]byte{byte(septet)})
		require.NoError(t, err)
		require.Equal(t, string(r), s)
	}
	for r, code := range extensionTable {
		got, ok := gsm.Encode7(string(r))
		require.True(t, ok, "%q", r)
		require.Equal(t, []byte{gsm.Esc, code}, got, "%q", r)
		s, err := gsm.Decode7(got)
		require.NoError(t, err)
		require.Equal(t, string(r), s)
		_, _, units := gsm.Count(string(r))
		require.Equal(t, 2, units, "%q costs two septets", r)
	}

	// All of it at once, and nothing else encodes.
	var all strings.Builder
	for _, r := range defaultAlphabet {
		if r != gsm.Esc {
			all.WriteRune(r)
		}
	}
	for r := range extensionTable {
		all.WriteRune(r)
	}
	septets, ok := gsm.Encode7(all.String())
	require.True(t, ok)
	require.Len(t, septets, 127+2*len(extensionTable))
	back, err := gsm.Decode7(septets)
	require.NoError(t, err)
	require.Equal(t, all.String(), back)

	known := map[rune]bool{}
	for _, r := range all.String() {
		known[r] = true
	}
	for r := rune(0); r < 0x3000; r++ {
		if !known[r] && utf8.ValidRune(r) {
			_, ok := gsm.Encode7(string(r))
			require.False(t, ok, "%U is not GSM-7", r)
		}
	}
}

func TestEncode7NotGSM(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"ç", "Α" /* Greek capital alpha */, "\u2126" /* Ohm sign */, "\t", "\x00", "😀", "\xff", "abc\x1b", "`"} {
		septets, ok := gsm.Encode7(s)
		require.False(t, ok, "%q", s)
		require.Nil(t, septets)
	}
}

func TestDecode7Invalid(t *testing.T) {
	t.Parallel()
	for name, in := range map[string][]byte{
		"high bit":              {'a', 0x80},
		"escape at end":         {'a', gsm.Esc},
		"escape before unknown": {gsm.Esc, 'a'},
		"escape escape":         {gsm.Esc, gsm.Esc, 0x14},
		"CR2 has no character":  {gsm.Esc, 0x0D},
	} {
		_, err := gsm.Decode7(in)
		require.ErrorIs(t, err, gsm.ErrInvalidSeptet, name)
	}
}

func TestPack7(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		text   string
		fill   int
		packed []byte
	}{
		{"empty", "", 0, []byte{}},
		{"one", "a", 0, []byte{0x61}},
		{"hellohello", "hellohello", 0, []byte{0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37}},
		// After the 6-octet concatenation header: one fill bit.
		{"fill 1", "hellohello", 1, []byte{0xD0, 0x65, 0x36, 0xFB, 0x8D, 0x2E, 0xB3, 0xD9, 0x6F}},
		{"eight septets, seven octets", "12345678", 0, []byte{0x31, 0xD9, 0x8C, 0x56, 0xB3, 0xDD, 0x70}},
		{"at signs", "@@@", 0, []byte{0x00, 0x00, 0x00}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			septets, ok := gsm.Encode7(tt.text)
			require.True(t, ok)
			packed := gsm.Pack7(septets, tt.fill)
			require.Equal(t, tt.packed, packed)
			back, err := gsm.Unpack7(packed, len(septets), tt.fill)
			require.NoError(t, err)
			require.Equal(t, septets, back)
		})
	}
}

func TestUnpack7Invalid(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		data    []byte
		n, fill int
	}{
		"fill 7":          {[]byte{1, 2}, 1, 7},
		"negative fill":   {[]byte{1, 2}, 1, -1},
		"negative n":      {[]byte{1, 2}, -1, 0},
		"too many":        {[]byte{1, 2}, 3, 0},
		"fill eats room":  {make([]byte, 7), 8, 1},
		"nothing at all":  {nil, 1, 0},
		"eight in seven+": {make([]byte, 7), 9, 0},
	} {
		_, err := gsm.Unpack7(tt.data, tt.n, tt.fill)
		require.ErrorIs(t, err, gsm.ErrInvalidPacking, name)
	}
	require.Panics(t, func() { gsm.Pack7([]byte{1}, 7) })
}

func TestFillBits(t *testing.T) {
	t.Parallel()
	for udhLen, fill := range map[int]int{0: 0, 6: 1, 7: 0, 12: 2, 3: 4} {
		require.Equal(t, fill, gsm.FillBits(udhLen), "header of %d octets", udhLen)
	}
}

func TestUCS2(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		ucs2 []byte
	}{
		{"", []byte{}},
		{"A", []byte{0x00, 0x41}},
		{"é€", []byte{0x00, 0xE9, 0x20, 0xAC}},
		{"中", []byte{0x4E, 0x2D}},
		{"😀", []byte{0xD8, 0x3D, 0xDE, 0x00}},
		{"\x00", []byte{0x00, 0x00}},
		{"\uffff", []byte{0xFF, 0xFF}},
		{"\U0010FFFF", []byte{0xDB, 0xFF, 0xDF, 0xFF}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.ucs2, gsm.EncodeUCS2(tt.text), "%q", tt.text)
		back, err := gsm.DecodeUCS2(tt.ucs2)
		require.NoError(t, err)
		require.Equal(t, tt.text, back)
	}
	for name, in := range map[string][]byte{
		"odd":               {0x00, 0x41, 0x00},
		"lone high":         {0xD8, 0x3D},
		"high then letter":  {0xD8, 0x3D, 0x00, 0x41},
		"lone low":          {0xDE, 0x00},
		"low before high":   {0xDE, 0x00, 0xD8, 0x3D},
		"high then high":    {0xD8, 0x3D, 0xD8, 0x3D},
		"high at the end":   {0x00, 0x41, 0xDB, 0xFF},
		"high, half a unit": {0xD8, 0x3D, 0xDE},
	} {
		_, err := gsm.DecodeUCS2(in)
		require.ErrorIs(t, err, gsm.ErrInvalidUCS2, name)
	}
}

func TestLatin1(t *testing.T) {
	t.Parallel()
	b, ok := gsm.EncodeLatin1("@äÿ\x00")
	require.True(t, ok)
	require.Equal(t, []byte{0x40, 0xE4, 0xFF, 0x00}, b)
	require.Equal(t, "@äÿ\x00", gsm.DecodeLatin1(b))
	for _, s := range []string{"€", "Δ", "\xff"} {
		_, ok := gsm.EncodeLatin1(s)
		require.False(t, ok, "%q", s)
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	back, ok := gsm.EncodeLatin1(gsm.DecodeLatin1(all))
	require.True(t, ok)
	require.Equal(t, all, back)
}

func TestCoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		coding     gsm.Coding
		name       string
		dataCoding byte
	}{
		{gsm.Auto, "auto", 0x00},
		{gsm.GSM7, "gsm7", 0x00},
		{gsm.UCS2, "ucs2", 0x08},
		{gsm.Latin1, "latin1", 0x03},
	}
	for _, tt := range tests {
		require.Equal(t, tt.name, tt.coding.String())
		require.Equal(t, tt.dataCoding, tt.coding.DataCoding())
		c, err := gsm.ParseCoding(tt.name)
		require.NoError(t, err)
		require.Equal(t, tt.coding, c)
		if tt.coding != gsm.Auto {
			c, ok := gsm.CodingOf(tt.dataCoding)
			require.True(t, ok)
			require.Equal(t, tt.coding, c)
		}
	}
	_, err := gsm.ParseCoding("utf8")
	require.Error(t, err)
	_, ok := gsm.CodingOf(0x04)
	require.False(t, ok)
	require.Equal(t, "Coding(9)", gsm.Coding(9).String())
}
