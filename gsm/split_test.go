package gsm_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/gsm"
)

func TestCount(t *testing.T) {
	t.Parallel()
	a, ж, emoji := "a", "ж", "😀"
	tests := []struct {
		name     string
		text     string
		coding   gsm.Coding
		segments int
		units    int
	}{
		{"empty", "", gsm.GSM7, 1, 0},
		{"otp", "Your code is 123456", gsm.GSM7, 1, 19},
		{"extension char counts 2", "€", gsm.GSM7, 1, 2},
		{"every extension char", "\f^{}\\[~]|€", gsm.GSM7, 1, 20},
		{"160 septets", strings.Repeat(a, 160), gsm.GSM7, 1, 160},
		{"161 septets", strings.Repeat(a, 161), gsm.GSM7, 2, 161},
		{"159 + escape is 161", strings.Repeat(a, 159) + "€", gsm.GSM7, 2, 161},
		{"158 + escape is 160", strings.Repeat(a, 158) + "€", gsm.GSM7, 1, 160},
		{"306 septets", strings.Repeat(a, 306), gsm.GSM7, 2, 306},
		{"307 septets", strings.Repeat(a, 307), gsm.GSM7, 3, 307},
		{"escape pushed over the cut", strings.Repeat(a, 152) + "€" + strings.Repeat(a, 152), gsm.GSM7, 3, 306},
		{"escape ending the part fits", strings.Repeat(a, 151) + "€" + strings.Repeat(a, 153), gsm.GSM7, 2, 306},
		{"one non-GSM char", strings.Repeat(a, 100) + "ç", gsm.UCS2, 2, 101},
		{"70 units", strings.Repeat(ж, 70), gsm.UCS2, 1, 70},
		{"71 units", strings.Repeat(ж, 71), gsm.UCS2, 2, 71},
		{"134 units", strings.Repeat(ж, 134), gsm.UCS2, 2, 134},
		{"135 units", strings.Repeat(ж, 135), gsm.UCS2, 3, 135},
		{"35 emoji", strings.Repeat(emoji, 35), gsm.UCS2, 1, 70},
		{"36 emoji", strings.Repeat(emoji, 36), gsm.UCS2, 2, 72},
		{"emoji pushed over the cut", strings.Repeat(ж, 66) + emoji + strings.Repeat(ж, 66), gsm.UCS2, 3, 134},
		{"invalid UTF-8 counts as U+FFFD", "ab\xffc", gsm.UCS2, 1, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			coding, segments, units := gsm.Count(tt.text)
			require.Equal(t, tt.coding, coding)
			require.Equal(t, tt.segments, segments)
			require.Equal(t, tt.units, units)

			if tt.text != "ab\xffc" {
				m, err := gsm.Split(tt.text, gsm.Options{})
				require.NoError(t, err)
				require.Equal(t, coding, m.Coding, "Count agrees with Split")
				require.Equal(t, segments, m.Segments)
				require.Equal(t, units, m.Units)
			}
		})
	}
}

func TestSplitCuts(t *testing.T) {
	t.Parallel()
	a, ж, emoji := "a", "ж", "😀"
	tests := []struct {
		name   string
		text   string
		opts   gsm.Options
		coding gsm.Coding
		units  []int // per part
		// first is the start of the second part's text, when set.
		first []byte
	}{
		{"160 in one", strings.Repeat(a, 160), gsm.Options{}, gsm.GSM7, []int{160}, nil},
		{"161 in two", strings.Repeat(a, 161), gsm.Options{}, gsm.GSM7, []int{153, 8}, nil},
		{"escape moves whole", strings.Repeat(a, 152) + "€" + a + strings.Repeat(a, 10), gsm.Options{}, gsm.GSM7,
			[]int{152, 13}, []byte{gsm.Esc, 0x65, 'a'}},
		{"escape fills the part", strings.Repeat(a, 151) + "€" + a + strings.Repeat(a, 10), gsm.Options{}, gsm.GSM7,
			[]int{153, 11}, []byte{'a'}},
		{"many escapes", strings.Repeat("{", 100), gsm.Options{}, gsm.GSM7, []int{152, 48}, []byte{gsm.Esc, 0x28}},
		{"70 in one", strings.Repeat(ж, 70), gsm.Options{}, gsm.UCS2, []int{70}, nil},
		{"71 in two", strings.Repeat(ж, 71), gsm.Options{}, gsm.UCS2, []int{67, 4}, nil},
		{"surrogate pair moves whole", strings.Repeat(ж, 66) + emoji + strings.Repeat(ж, 5), gsm.Options{}, gsm.UCS2,
			[]int{66, 7}, []byte{0xD8, 0x3D, 0xDE, 0x00, 0x04, 0x36}},
		{"surrogate pair fills the part", strings.Repeat(ж, 65) + emoji + strings.Repeat(ж, 5), gsm.Options{}, gsm.UCS2,
			[]int{67, 5}, []byte{0x04, 0x36}},
		{"all emoji", strings.Repeat(emoji, 40), gsm.Options{}, gsm.UCS2, []int{66, 14}, nil},
		{"16-bit reference GSM-7", strings.Repeat(a, 161), gsm.Options{Reference16: true}, gsm.GSM7, []int{152, 9}, nil},
		{"16-bit reference UCS-2", strings.Repeat(ж, 71), gsm.Options{Reference16: true}, gsm.UCS2, []int{66, 5}, nil},
		{"Latin-1 140 in one", strings.Repeat(a, 140), gsm.Options{Coding: gsm.Latin1}, gsm.Latin1, []int{140}, nil},
		{"Latin-1 141 in two", strings.Repeat(a, 141), gsm.Options{Coding: gsm.Latin1}, gsm.Latin1, []int{134, 7}, nil},
		{"Latin-1 16-bit reference", strings.Repeat(a, 141), gsm.Options{Coding: gsm.Latin1, Reference16: true}, gsm.Latin1, []int{133, 8}, nil},
		{"forced UCS-2", strings.Repeat(a, 71), gsm.Options{Coding: gsm.UCS2}, gsm.UCS2, []int{67, 4}, nil},
		{"packed", strings.Repeat(a, 152) + "€" + strings.Repeat(a, 10), gsm.Options{Packed: true}, gsm.GSM7, []int{152, 12}, nil},
		{"packed 16-bit reference", strings.Repeat(a, 161), gsm.Options{Packed: true, Reference16: true}, gsm.GSM7, []int{152, 9}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := gsm.Split(tt.text, tt.opts)
			require.NoError(t, err)
			requireWellFormed(t, m, tt.opts)
			require.Equal(t, tt.coding, m.Coding)
			units := make([]int, len(m.Parts))
			for i, p := range m.Parts {
				units[i] = p.Units
			}
			require.Equal(t, tt.units, units)
			if tt.first != nil {
				require.True(t, bytes.HasPrefix(m.Parts[1].Text, tt.first), "second part starts % X", m.Parts[1].Text[:len(tt.first)])
			}
			back, err := gsm.Reassemble(m.Coding, m.Parts...)
			require.NoError(t, err)
			require.Equal(t, tt.text, back)
		})
	}
}

func TestSplitHeaders(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("a", 161)

	m, err := gsm.Split(text, gsm.Options{Reference: 0x1234})
	require.NoError(t, err)
	require.Len(t, m.Parts, 2)
	require.Equal(t, []byte{0x05, 0x00, 0x03, 0x34, 0x02, 0x01}, m.Parts[0].UDH, "8-bit reference takes the low octet")
	require.Equal(t, []byte{0x05, 0x00, 0x03, 0x34, 0x02, 0x02}, m.Parts[1].UDH)
	require.Equal(t, append([]byte{0x05, 0x00, 0x03, 0x34, 0x02, 0x01}, bytes.Repeat([]byte{'a'}, 153)...), m.Parts[0].Bytes())

	m, err = gsm.Split(text, gsm.Options{Reference: 0x1234, Reference16: true})
	require.NoError(t, err)
	require.Equal(t, []byte{0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01}, m.Parts[0].UDH)
	c, ok, err := m.Parts[1].Concat()
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, gsm.Concat{Ref: 0x1234, Ref16: true, Total: 2, Seq: 2}, c)

	// Packed: one fill bit after the 6-octet header, 153 septets in the
	// remaining 134 octets.
	m, err = gsm.Split(strings.Repeat("a", 306), gsm.Options{Packed: true})
	require.NoError(t, err)
	require.Len(t, m.Parts, 2)
	require.Len(t, m.Parts[0].Bytes(), 140)
	require.True(t, m.Parts[0].Packed)
	require.Equal(t, byte('a')<<1, m.Parts[0].Text[0])

	single, err := gsm.Split("hi", gsm.Options{Reference: 7})
	require.NoError(t, err)
	require.Nil(t, single.Parts[0].UDH)
	require.False(t, single.Parts[0].UDHI())
	require.Equal(t, []byte("hi"), single.Parts[0].Bytes())
}

func TestSplitPayload(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("ab€", 100) // 400 septets
	o := gsm.Options{Payload: true}
	m, err := gsm.Split(text, o)
	require.NoError(t, err)
	requireWellFormed(t, m, o)
	require.True(t, m.Payload)
	require.Len(t, m.Parts, 1)
	require.Equal(t, 3, m.Segments)
	require.Len(t, m.Parts[0].Text, 400)
	back, err := gsm.Reassemble(m.Coding, m.Parts...)
	require.NoError(t, err)
	require.Equal(t, text, back)

	_, err = gsm.Split(text, gsm.Options{Payload: true, MaxSegments: 2})
	require.ErrorIs(t, err, gsm.ErrTooLong)
}

func TestSplitErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		opts gsm.Options
		err  error
	}{
		{"invalid UTF-8", "a\xffb", gsm.Options{}, gsm.ErrInvalidText},
		{"not GSM-7", "ç", gsm.Options{Coding: gsm.GSM7}, gsm.ErrNotEncodable},
		{"not Latin-1", "€", gsm.Options{Coding: gsm.Latin1}, gsm.ErrNotEncodable},
		{"Latin-1 with NUL", "a\x00", gsm.Options{Coding: gsm.Latin1, AvoidNUL: true}, gsm.ErrNUL},
		{"max segments", strings.Repeat("a", 161), gsm.Options{MaxSegments: 1}, gsm.ErrTooLong},
		{"255 segments", strings.Repeat("ж", 67*255+1), gsm.Options{}, gsm.ErrTooLong},
		{"GSM-7 cannot avoid NUL", "a", gsm.Options{Coding: gsm.GSM7, AvoidNUL: true}, gsm.ErrInvalidOptions},
		{"unknown coding", "a", gsm.Options{Coding: 9}, gsm.ErrInvalidOptions},
		{"fallback to GSM-7", "a", gsm.Options{NULFallback: gsm.GSM7}, gsm.ErrInvalidOptions},
		{"negative max", "a", gsm.Options{MaxSegments: -1}, gsm.ErrInvalidOptions},
		{"max over 255", "a", gsm.Options{MaxSegments: 256}, gsm.ErrInvalidOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := gsm.Split(tt.text, tt.opts)
			require.ErrorIs(t, err, tt.err)
		})
	}

	m, err := gsm.Split(strings.Repeat("ж", 67*255), gsm.Options{})
	require.NoError(t, err, "255 segments is the most, and allowed")
	require.Equal(t, 255, m.Segments)
	require.Equal(t, []byte{0x05, 0x00, 0x03, 0x00, 0xFF, 0xFF}, m.Parts[254].UDH)
}

// texts are the round-trip corpus: scripts otpd's customers write in.
var texts = []string{
	"",
	"Your Acme code is 123456. It expires in 10 minutes.\n\n@acme.example #123456",
	"<#> Your code is 123456\nFA+9qCX9VSu",
	"Ihr Code lautet 123456. Gültig für 10 Minuten. Größe: 5 €",
	"Votre code : 123456 — valable 10 minutes.",
	"Código: 123456. ¿Es usted? ¡Sí! ñandú",
	"رمز التحقق الخاص بك هو 123456. لا تشاركه مع أي شخص.",
	"आपका सत्यापन कोड 123456 है। इसे किसी के साथ साझा न करें।",
	"您的验证码是123456，10分钟内有效。请勿泄露给他人。",
	"確認コードは123456です。",
	"인증 코드는 123456입니다.",
	"Ο κωδικός σας είναι 123456. ΔΦΓΛΩΠΨΣΘΞ",
	"Ваш код: 123456. Никому его не сообщайте.",
	"קוד האימות שלך הוא 123456",
	"รหัสของคุณคือ 123456",
	"Code 123456 🔐✅ 👨‍👩‍👧‍👦 🇩🇪 😀😃😄😁",
	"mixed: abc €{}[]~|^\\ ΔΩ ж 中 😀 \f\r\n @£$¥èéùìòÇØøÅå_ÆæßÉ¤¡ÄÖÑÜ§¿äöñüà",
	strings.Repeat("€", 200),
	strings.Repeat("😀", 200),
	strings.Repeat("a€", 400),
	strings.Repeat("中文", 300),
	strings.Repeat("x😀", 300),
	strings.Repeat("@", 500),
	"\x00 nul and \t tab",
	"\U0010FFFF\uFFFF\uFEFF",
}

func TestSplitReassemble(t *testing.T) {
	t.Parallel()
	options := map[string]gsm.Options{
		"default":       {},
		"ucs2":          {Coding: gsm.UCS2},
		"16-bit ref":    {Reference16: true, Reference: 0xBEEF},
		"packed":        {Packed: true, Reference: 200},
		"payload":       {Payload: true},
		"avoid NUL":     {AvoidNUL: true},
		"avoid NUL, l1": {AvoidNUL: true, NULFallback: gsm.Latin1, Packed: true},
	}
	for name, o := range options {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, text := range texts {
				m, err := gsm.Split(text, o)
				require.NoError(t, err, "%q", text)
				requireWellFormed(t, m, o)
				back, err := gsm.Reassemble(m.Coding, m.Parts...)
				require.NoError(t, err)
				require.Equal(t, text, back)

				// The SMSC sees the parts as bytes, in any order.
				parsed := make([]gsm.Part, len(m.Parts))
				for i, p := range m.Parts {
					q, err := gsm.ParsePart(p.Bytes(), p.UDHI())
					require.NoError(t, err)
					q.Packed, q.Units = p.Packed, p.Units
					parsed[len(parsed)-1-i] = q
				}
				back, err = gsm.Reassemble(m.Coding, parsed...)
				require.NoError(t, err)
				require.Equal(t, text, back)
			}
		})
	}
}

// cstringSMSC is an SMSC that takes the short message of a text coding
// (anything but UCS-2) as a C string: it keeps what comes before the first
// 0x00 of the text.
func cstringSMSC(t *testing.T, m gsm.Message) string {
	t.Helper()
	parts := make([]gsm.Part, len(m.Parts))
	for i, p := range m.Parts {
		if m.Coding != gsm.UCS2 {
			if n := bytes.IndexByte(p.Text, 0); n >= 0 {
				p.Text = p.Text[:n]
				p.Units = n
			}
		}
		parts[i] = p
	}
	text, err := gsm.Reassemble(m.Coding, parts...)
	require.NoError(t, err)
	return text
}

func TestWebOTPLineSurvivesNUL(t *testing.T) {
	t.Parallel()
	const webOTP = "@acme.example #123456"
	const sms = "Your Acme code is 123456.\n\n" + webOTP
	long := strings.Repeat("Your Acme code is 123456. ", 8) + "\n\n" + webOTP

	tests := []struct {
		name    string
		text    string
		opts    gsm.Options
		coding  gsm.Coding
		hasNUL  bool
		survive bool
	}{
		{"GSM-7 is cut at @", sms, gsm.Options{}, gsm.GSM7, true, false},
		{"AvoidNUL falls back to UCS-2", sms, gsm.Options{AvoidNUL: true}, gsm.UCS2, true, true},
		{"AvoidNUL to Latin-1", sms, gsm.Options{AvoidNUL: true, NULFallback: gsm.Latin1}, gsm.Latin1, false, true},
		{"Latin-1 fallback needs Latin-1 text", "Code 123456, 5 €\n\n" + webOTP,
			gsm.Options{AvoidNUL: true, NULFallback: gsm.Latin1}, gsm.UCS2, true, true},
		{"no @, stays GSM-7", "Your code is 123456", gsm.Options{AvoidNUL: true}, gsm.GSM7, false, true},
		{"not GSM-7 anyway", "Kód: 123456\n\n" + webOTP, gsm.Options{AvoidNUL: true}, gsm.UCS2, true, true},
		{"long, Latin-1", long, gsm.Options{AvoidNUL: true, NULFallback: gsm.Latin1, Reference16: true, Reference: 0x0101},
			gsm.Latin1, false, true},
		{"packing can make 0x00 without @", "0öß0000", gsm.Options{AvoidNUL: true, Packed: true}, gsm.UCS2, true, true},
		{"packed, no 0x00, stays GSM-7", "Your code is 123456", gsm.Options{AvoidNUL: true, Packed: true}, gsm.GSM7, false, true},
		{"forced Latin-1", sms, gsm.Options{Coding: gsm.Latin1, AvoidNUL: true}, gsm.Latin1, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := gsm.Split(tt.text, tt.opts)
			require.NoError(t, err)
			requireWellFormed(t, m, tt.opts)
			require.Equal(t, tt.coding, m.Coding)
			require.Equal(t, tt.hasNUL, m.HasNUL())

			got := cstringSMSC(t, m)
			if tt.survive {
				require.Equal(t, tt.text, got)
			} else {
				require.NotContains(t, got, webOTP)
			}
		})
	}

	// With a 16-bit reference free of zero octets, no octet of the
	// submitted short messages is 0x00 at all.
	m, err := gsm.Split(long, gsm.Options{AvoidNUL: true, NULFallback: gsm.Latin1, Reference16: true, Reference: 0x0101})
	require.NoError(t, err)
	require.Greater(t, m.Segments, 1)
	for _, p := range m.Parts {
		require.NotContains(t, p.Bytes(), byte(0))
	}
}

func BenchmarkSplit(b *testing.B) {
	for _, bc := range []struct {
		name string
		text string
	}{
		{"otp-gsm7", "Your Acme code is 123456. It expires in 10 minutes.\n\n@acme.example #123456"},
		{"otp-ucs2", "رمز التحقق الخاص بك هو 123456. لا تشاركه مع أي شخص."},
		{"long-gsm7", strings.Repeat("Your code is 123456 {ok} ", 40)},
		{"long-ucs2", strings.Repeat("您的验证码是123456😀", 40)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.text)))
			for b.Loop() {
				if _, err := gsm.Split(bc.text, gsm.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCount(b *testing.B) {
	text := "Your Acme code is 123456. It expires in 10 minutes.\n\n@acme.example #123456"
	b.ReportAllocs()
	for b.Loop() {
		gsm.Count(text)
	}
}
