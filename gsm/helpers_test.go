package gsm_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/gsm"
)

// requireWellFormed checks what the SMPP route relies on: every part fits
// one SMS, carries a header exactly when the message has several parts, and
// decodes on its own (ends on a whole character).
func requireWellFormed(t testing.TB, m gsm.Message, o gsm.Options) {
	t.Helper()
	require.NotEqual(t, gsm.Auto, m.Coding)
	require.NotEmpty(t, m.Parts)
	require.GreaterOrEqual(t, m.Segments, 1)
	require.LessOrEqual(t, m.Segments, 255)
	if o.MaxSegments > 0 {
		require.LessOrEqual(t, m.Segments, o.MaxSegments)
	}
	if m.Payload {
		require.Len(t, m.Parts, 1)
		require.False(t, m.Parts[0].UDHI())
		require.Equal(t, m.Units, m.Parts[0].Units)
		return
	}
	require.Len(t, m.Parts, m.Segments)
	total := 0
	for i, p := range m.Parts {
		total += p.Units
		require.Equal(t, m.Segments > 1, p.UDHI(), "part %d", i+1)
		bits := 8 * len(p.UDH)
		text := p.Text
		switch m.Coding {
		case gsm.GSM7:
			bits += gsm.FillBits(len(p.UDH)) + 7*p.Units
			if p.Packed {
				var err error
				text, err = gsm.Unpack7(p.Text, p.Units, gsm.FillBits(len(p.UDH)))
				require.NoError(t, err)
				require.Len(t, p.Text, (gsm.FillBits(len(p.UDH))+7*p.Units+7)/8)
			}
			require.Len(t, text, p.Units)
			// Strict decoding fails on a trailing escape: whole characters.
			_, err := gsm.Decode7(text)
			require.NoError(t, err, "part %d decodes on its own", i+1)
		case gsm.UCS2:
			bits += 16 * p.Units
			require.Len(t, text, 2*p.Units)
			_, err := gsm.DecodeUCS2(text)
			require.NoError(t, err, "part %d decodes on its own", i+1)
		case gsm.Latin1:
			bits += 8 * p.Units
			require.Len(t, text, p.Units)
		}
		require.LessOrEqual(t, bits, 140*8, "part %d of %d exceeds 140 octets", i+1, m.Segments)
	}
	require.Equal(t, m.Units, total)
}
