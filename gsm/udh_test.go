package gsm_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/gsm"
)

func TestParsePart(t *testing.T) {
	t.Parallel()
	p, err := gsm.ParsePart([]byte("hello"), false)
	require.NoError(t, err)
	require.Equal(t, gsm.Part{Text: []byte("hello")}, p)

	p, err = gsm.ParsePart([]byte{0x05, 0x00, 0x03, 0x01, 0x02, 0x01, 'h', 'i'}, true)
	require.NoError(t, err)
	require.Equal(t, []byte{0x05, 0x00, 0x03, 0x01, 0x02, 0x01}, p.UDH)
	require.Equal(t, []byte("hi"), p.Text)
	require.True(t, p.UDHI())
	c, ok, err := p.Concat()
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, gsm.Concat{Ref: 1, Total: 2, Seq: 1}, c)

	p, err = gsm.ParsePart([]byte{0x00}, true)
	require.NoError(t, err, "an empty header is allowed")
	_, ok, err = p.Concat()
	require.NoError(t, err)
	require.False(t, ok)

	for _, sm := range [][]byte{nil, {}, {0x05, 0x00, 0x03}} {
		_, err := gsm.ParsePart(sm, true)
		require.ErrorIs(t, err, gsm.ErrInvalidUDH)
	}
}

func TestConcat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		udh  []byte
		want gsm.Concat
		ok   bool
		err  error
	}{
		{"none", nil, gsm.Concat{}, false, nil},
		{"8-bit", []byte{5, 0x00, 3, 0xAB, 3, 2}, gsm.Concat{Ref: 0xAB, Total: 3, Seq: 2}, true, nil},
		{"16-bit", []byte{6, 0x08, 4, 0xAB, 0xCD, 3, 3}, gsm.Concat{Ref: 0xABCD, Ref16: true, Total: 3, Seq: 3}, true, nil},
		{"after another element", []byte{8, 0x0A, 1, 0xFF, 0x00, 3, 7, 2, 1}, gsm.Concat{Ref: 7, Total: 2, Seq: 1}, true, nil},
		{"other element only", []byte{4, 0x24, 2, 1, 2}, gsm.Concat{}, false, nil},
		{"length octet wrong", []byte{6, 0x00, 3, 1, 2, 1}, gsm.Concat{}, false, gsm.ErrInvalidUDH},
		{"element past the end", []byte{4, 0x00, 3, 1, 2}, gsm.Concat{}, false, gsm.ErrInvalidUDH},
		{"element without length", []byte{1, 0x00}, gsm.Concat{}, false, gsm.ErrInvalidUDH},
		{"8-bit of wrong size", []byte{4, 0x00, 2, 1, 2}, gsm.Concat{}, false, gsm.ErrInvalidUDH},
		{"zero total", []byte{5, 0x00, 3, 1, 0, 0}, gsm.Concat{}, false, gsm.ErrInvalidUDH},
		{"zero sequence", []byte{5, 0x00, 3, 1, 2, 0}, gsm.Concat{}, false, gsm.ErrInvalidUDH},
		{"sequence beyond total", []byte{5, 0x00, 3, 1, 2, 3}, gsm.Concat{}, false, gsm.ErrInvalidUDH},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, ok, err := gsm.Part{UDH: tt.udh}.Concat()
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, c)
		})
	}
}

func TestReassembleErrors(t *testing.T) {
	t.Parallel()
	m, err := gsm.Split(strings.Repeat("abc", 200), gsm.Options{Reference: 1}) // 4 parts
	require.NoError(t, err)
	other, err := gsm.Split(strings.Repeat("abc", 200), gsm.Options{Reference: 2})
	require.NoError(t, err)
	p := m.Parts

	tests := []struct {
		name   string
		coding gsm.Coding
		parts  []gsm.Part
		err    error
	}{
		{"no parts", gsm.GSM7, nil, gsm.ErrIncomplete},
		{"auto", gsm.Auto, p, gsm.ErrInvalidOptions},
		{"missing", gsm.GSM7, p[:3], gsm.ErrIncomplete},
		{"repeated", gsm.GSM7, []gsm.Part{p[0], p[1], p[1], p[3]}, gsm.ErrIncomplete},
		{"another reference", gsm.GSM7, []gsm.Part{p[0], p[1], other.Parts[2], p[3]}, gsm.ErrIncomplete},
		{"one without header", gsm.GSM7, []gsm.Part{p[0], {Text: []byte("x")}}, gsm.ErrIncomplete},
		{"bad header", gsm.GSM7, []gsm.Part{p[0], p[1], p[2], {UDH: []byte{9}}}, gsm.ErrInvalidUDH},
		{"not septets", gsm.GSM7, []gsm.Part{{Text: []byte{0x80}}}, gsm.ErrInvalidSeptet},
		{"odd UCS-2", gsm.UCS2, []gsm.Part{{Text: []byte{0x00}}}, gsm.ErrInvalidUCS2},
		{"packed too short", gsm.GSM7, []gsm.Part{{Text: []byte{0x61}, Units: 5, Packed: true}}, gsm.ErrInvalidPacking},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := gsm.Reassemble(tt.coding, tt.parts...)
			require.ErrorIs(t, err, tt.err)
		})
	}
}

func TestReassembleLenient(t *testing.T) {
	t.Parallel()
	// A sender that cuts an escape, or a surrogate pair, across parts.
	udh := func(seq byte) []byte { return []byte{5, 0x00, 3, 9, 2, seq} }
	got, err := gsm.Reassemble(gsm.GSM7,
		gsm.Part{UDH: udh(2), Text: []byte{0x65, 'x'}},
		gsm.Part{UDH: udh(1), Text: []byte{'a', gsm.Esc}},
	)
	require.NoError(t, err)
	require.Equal(t, "a€x", got)

	got, err = gsm.Reassemble(gsm.UCS2,
		gsm.Part{UDH: udh(1), Text: []byte{0xD8, 0x3D}},
		gsm.Part{UDH: udh(2), Text: []byte{0xDE, 0x00}},
	)
	require.NoError(t, err)
	require.Equal(t, "😀", got)

	// Packed without a septet count: the count comes from the length.
	septets, _ := gsm.Encode7("hello")
	got, err = gsm.Reassemble(gsm.GSM7, gsm.Part{Text: gsm.Pack7(septets, 0), Packed: true})
	require.NoError(t, err)
	require.Equal(t, "hello", got)

	// A single part may carry a header of one.
	got, err = gsm.Reassemble(gsm.Latin1, gsm.Part{UDH: []byte{5, 0x00, 3, 9, 1, 1}, Text: []byte{0xE9}})
	require.NoError(t, err)
	require.Equal(t, "é", got)
}
