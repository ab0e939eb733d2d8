package smpp_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/smpp"
)

func date(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

// receiptTexts are receipts as SMSCs write them; FuzzParseReceipt seeds
// from them too.
var receiptTexts = []struct {
	name string
	in   string
	want smpp.Receipt
}{
	{
		name: "spec format",
		in:   "id:0123456789 sub:001 dlvrd:001 submit date:2601021504 done date:2601021505 stat:DELIVRD err:000 text:Your code is 123456",
		want: smpp.Receipt{MessageID: "0123456789", Submitted: 1, Delivered: 1,
			SubmitDate: date(2026, 1, 2, 15, 4, 0), DoneDate: date(2026, 1, 2, 15, 5, 0),
			State: smpp.StateDelivered, Stat: "DELIVRD", Err: "000", Text: "Your code is 123456"},
	},
	{
		// As logged from a live SMSC (e-com-net.com article on SMPP receipts).
		name: "undeliverable with text",
		in:   "id:0911897980 sub:001 dlvrd:000 submit date:1201121551 done date:1201121551 stat:UNDELIV err:075 text:-PROFILE",
		want: smpp.Receipt{MessageID: "0911897980", Submitted: 1,
			SubmitDate: date(2012, 1, 12, 15, 51, 0), DoneDate: date(2012, 1, 12, 15, 51, 0),
			State: smpp.StateUndeliverable, Stat: "UNDELIV", Err: "075", Text: "-PROFILE"},
	},
	{
		name: "12-digit dates, long decimal id",
		in:   "id:64567564356765435676 sub:001 dlvrd:001 submit date:190608165232 done date:190608165237 stat:DELIVRD err:000 text:Hello World",
		want: smpp.Receipt{MessageID: "64567564356765435676", Submitted: 1, Delivered: 1,
			SubmitDate: date(2019, 6, 8, 16, 52, 32), DoneDate: date(2019, 6, 8, 16, 52, 37),
			State: smpp.StateDelivered, Stat: "DELIVRD", Err: "000", Text: "Hello World"},
	},
	{
		name: "spec's capital Text",
		in:   "id:7 sub:001 dlvrd:000 submit date:2601021504 done date:2601021604 stat:EXPIRED err:000 Text:Code 9",
		want: smpp.Receipt{MessageID: "7", Submitted: 1, SubmitDate: date(2026, 1, 2, 15, 4, 0), DoneDate: date(2026, 1, 2, 16, 4, 0),
			State: smpp.StateExpired, Stat: "EXPIRED", Err: "000", Text: "Code 9"},
	},
	{
		name: "upper-case keys, hex id",
		in:   "ID:7F3A2B1C SUB:001 DLVRD:001 SUBMIT DATE:2601021504 DONE DATE:2601021505 STAT:DELIVRD ERR:000 TEXT:",
		want: smpp.Receipt{MessageID: "7F3A2B1C", Submitted: 1, Delivered: 1,
			SubmitDate: date(2026, 1, 2, 15, 4, 0), DoneDate: date(2026, 1, 2, 15, 5, 0),
			State: smpp.StateDelivered, Stat: "DELIVRD", Err: "000"},
	},
	{
		name: "extra spaces and a space after each colon",
		in:   "  id: 4c1e5a34-9c31-4f0e-9a55-0d7b3c2a1e9f   sub: 001  dlvrd: 000 submit date: 2601021504   done date: 2601021505 stat: REJECTD  err: 011 text:  blocked  ",
		want: smpp.Receipt{MessageID: "4c1e5a34-9c31-4f0e-9a55-0d7b3c2a1e9f", Submitted: 1,
			SubmitDate: date(2026, 1, 2, 15, 4, 0), DoneDate: date(2026, 1, 2, 15, 5, 0),
			State: smpp.StateRejected, Stat: "REJECTD", Err: "011", Text: "blocked"},
	},
	{
		name: "underscored date keys, lower-case stat",
		in:   "id:55 sub:1 dlvrd:1 submit_date:2601021504 done_date:2601021505 stat:delivrd err:0",
		want: smpp.Receipt{MessageID: "55", Submitted: 1, Delivered: 1,
			SubmitDate: date(2026, 1, 2, 15, 4, 0), DoneDate: date(2026, 1, 2, 15, 5, 0),
			State: smpp.StateDelivered, Stat: "delivrd", Err: "0"},
	},
	{
		name: "only id and stat",
		in:   "id:abc stat:ACCEPTD",
		want: smpp.Receipt{MessageID: "abc", State: smpp.StateAccepted, Stat: "ACCEPTD"},
	},
	{
		name: "fields out of order",
		in:   "stat:DELETED err:000 id:99 done date:2601021505",
		want: smpp.Receipt{MessageID: "99", DoneDate: date(2026, 1, 2, 15, 5, 0), State: smpp.StateDeleted, Stat: "DELETED", Err: "000"},
	},
	{
		name: "text that looks like fields is text",
		in:   "id:1 sub:001 dlvrd:001 submit date:2601021504 done date:2601021505 stat:DELIVRD err:000 text:id:2 stat:REJECTD",
		want: smpp.Receipt{MessageID: "1", Submitted: 1, Delivered: 1,
			SubmitDate: date(2026, 1, 2, 15, 4, 0), DoneDate: date(2026, 1, 2, 15, 5, 0),
			State: smpp.StateDelivered, Stat: "DELIVRD", Err: "000", Text: "id:2 stat:REJECTD"},
	},
	{
		name: "stat spelt out",
		in:   "id:1 stat:UNDELIVERABLE err:001",
		want: smpp.Receipt{MessageID: "1", State: smpp.StateUndeliverable, Stat: "UNDELIVERABLE", Err: "001"},
	},
	{
		name: "numeric stat",
		in:   "id:1 stat:2",
		want: smpp.Receipt{MessageID: "1", State: smpp.StateDelivered, Stat: "2"},
	},
	{
		name: "enroute",
		in:   "id:1 sub:001 dlvrd:000 submit date:2601021504 done date:2601021504 stat:ENROUTE err:000 text:",
		want: smpp.Receipt{MessageID: "1", Submitted: 1, SubmitDate: date(2026, 1, 2, 15, 4, 0), DoneDate: date(2026, 1, 2, 15, 4, 0),
			State: smpp.StateEnroute, Stat: "ENROUTE", Err: "000"},
	},
	{
		name: "unrecognised stat is UNKNOWN",
		in:   "id:1 stat:WEIRD",
		want: smpp.Receipt{MessageID: "1", State: smpp.StateUnknown, Stat: "WEIRD"},
	},
	{
		name: "status key, FAILED",
		in:   "id:1 status:FAILED",
		want: smpp.Receipt{MessageID: "1", State: smpp.StateUndeliverable, Stat: "FAILED"},
	},
	{
		name: "14-digit dates",
		in:   "id:1 submit date:20260102150405 done date:20260102150506 stat:DELIVRD",
		want: smpp.Receipt{MessageID: "1", SubmitDate: date(2026, 1, 2, 15, 4, 5), DoneDate: date(2026, 1, 2, 15, 5, 6),
			State: smpp.StateDelivered, Stat: "DELIVRD"},
	},
	{
		name: "impossible and malformed dates are zero",
		in:   "id:1 submit date:2602301504 done date:26010215 stat:DELIVRD",
		want: smpp.Receipt{MessageID: "1", State: smpp.StateDelivered, Stat: "DELIVRD"},
	},
	{
		name: "trailing NUL, CRLF",
		in:   "id:1 stat:DELIVRD err:000\r\n\x00",
		want: smpp.Receipt{MessageID: "1", State: smpp.StateDelivered, Stat: "DELIVRD", Err: "000"},
	},
	{
		name: "the first of repeated keys wins",
		in:   "id:1 stat:DELIVRD id:2 stat:REJECTD",
		want: smpp.Receipt{MessageID: "1", State: smpp.StateDelivered, Stat: "DELIVRD"},
	},
	{
		name: "dates with separators are not read",
		in:   "id:1 submit date:26-01-02 done date:2026/01/02 stat:DELIVRD",
		want: smpp.Receipt{MessageID: "1", State: smpp.StateDelivered, Stat: "DELIVRD"},
	},
	{
		name: "msgid is not id",
		in:   "msgid:5 id:6 stat:DELIVRD",
		want: smpp.Receipt{MessageID: "6", State: smpp.StateDelivered, Stat: "DELIVRD"},
	},
	{
		name: "non-numeric counts are zero",
		in:   "id:1 sub:x dlvrd:-1 stat:DELIVRD",
		want: smpp.Receipt{MessageID: "1", State: smpp.StateDelivered, Stat: "DELIVRD"},
	},
}

func TestParseReceiptText(t *testing.T) {
	t.Parallel()
	for _, tc := range receiptTexts {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := smpp.ParseReceiptText(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, r)
		})
	}
}

func TestParseReceiptTextInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"",
		"Your code is 123456",
		"id:1 sub:001 dlvrd:001",     // no stat
		"stat:DELIVRD err:000",       // no id
		"id: stat:DELIVRD",           // empty id
		"id:1 stat:",                 // empty stat
		"text:id:1 stat:DELIVRD",     // all of it is text
		"sub:001 dlvrd:001 err:000 ", // neither
	} {
		_, err := smpp.ParseReceiptText(in)
		require.ErrorIs(t, err, smpp.ErrInvalidReceipt, "%q", in)
	}
}

func TestParseReceipt(t *testing.T) {
	t.Parallel()
	text := []byte("id:12345 sub:001 dlvrd:000 submit date:2601021504 done date:2601021505 stat:UNDELIV err:001 text:Your code")
	t.Run("text only", func(t *testing.T) {
		t.Parallel()
		r, err := smpp.ParseReceipt(&smpp.DeliverSM{ESMClass: smpp.ESMDeliveryReceipt, ShortMessage: text})
		require.NoError(t, err)
		require.Equal(t, "12345", r.MessageID)
		require.Equal(t, smpp.StateUndeliverable, r.State)
		require.Nil(t, r.NetworkError)
	})
	t.Run("TLVs win over text", func(t *testing.T) {
		t.Parallel()
		d := &smpp.DeliverSM{ESMClass: smpp.ESMDeliveryReceipt, ShortMessage: text}
		d.TLVs.SetCString(smpp.TagReceiptedMessageID, "3039") // 12345 in hex: SMSCs do this
		d.TLVs.SetUint8(smpp.TagMessageState, uint8(smpp.StateDelivered))
		d.TLVs.SetNetworkErrorCode(smpp.NetworkErrorCode{Type: smpp.NetworkTypeGSM, Code: 0})
		r, err := smpp.ParseReceipt(d)
		require.NoError(t, err)
		require.Equal(t, smpp.Receipt{MessageID: "3039", Submitted: 1, State: smpp.StateDelivered, Stat: "UNDELIV", Err: "001",
			SubmitDate: date(2026, 1, 2, 15, 4, 0), DoneDate: date(2026, 1, 2, 15, 5, 0), Text: "Your code",
			NetworkError: &smpp.NetworkErrorCode{Type: 3}}, r)
	})
	t.Run("TLVs only", func(t *testing.T) {
		t.Parallel()
		d := &smpp.DeliverSM{ESMClass: smpp.ESMDeliveryReceipt}
		d.TLVs.SetCString(smpp.TagReceiptedMessageID, "abc")
		d.TLVs.SetUint8(smpp.TagMessageState, uint8(smpp.StateExpired))
		r, err := smpp.ParseReceipt(d)
		require.NoError(t, err)
		require.Equal(t, smpp.Receipt{MessageID: "abc", State: smpp.StateExpired}, r)
	})
	t.Run("an invalid message_state TLV falls back to the text", func(t *testing.T) {
		t.Parallel()
		d := &smpp.DeliverSM{ESMClass: smpp.ESMDeliveryReceipt, ShortMessage: text}
		d.TLVs.SetUint8(smpp.TagMessageState, 0)
		r, err := smpp.ParseReceipt(d)
		require.NoError(t, err)
		require.Equal(t, smpp.StateUndeliverable, r.State)
	})
	t.Run("text in message_payload", func(t *testing.T) {
		t.Parallel()
		d := &smpp.DeliverSM{ESMClass: smpp.ESMDeliveryReceipt}
		d.TLVs.Set(smpp.TagMessagePayload, text)
		r, err := smpp.ParseReceipt(d)
		require.NoError(t, err)
		require.Equal(t, "12345", r.MessageID)
	})
	t.Run("intermediate notification", func(t *testing.T) {
		t.Parallel()
		r, err := smpp.ParseReceipt(&smpp.DeliverSM{ESMClass: smpp.ESMIntermediateReceipt, ShortMessage: []byte("id:1 stat:ENROUTE")})
		require.NoError(t, err)
		require.False(t, r.State.Final())
	})
	t.Run("receipted_message_id marks a receipt whatever esm_class says", func(t *testing.T) {
		t.Parallel()
		d := &smpp.DeliverSM{ShortMessage: text}
		d.TLVs.SetCString(smpp.TagReceiptedMessageID, "12345")
		_, err := smpp.ParseReceipt(d)
		require.NoError(t, err)
	})
	t.Run("a subscriber's SMS that looks like a receipt is not one", func(t *testing.T) {
		t.Parallel()
		_, err := smpp.ParseReceipt(&smpp.DeliverSM{ShortMessage: text})
		require.ErrorIs(t, err, smpp.ErrNotReceipt)
		_, err = smpp.ParseReceipt(&smpp.DeliverSM{ESMClass: smpp.ESMUDHI, ShortMessage: text})
		require.ErrorIs(t, err, smpp.ErrNotReceipt)
		_, err = smpp.ParseReceipt(nil)
		require.ErrorIs(t, err, smpp.ErrNotReceipt)
	})
	t.Run("receipt without id", func(t *testing.T) {
		t.Parallel()
		_, err := smpp.ParseReceipt(&smpp.DeliverSM{ESMClass: smpp.ESMDeliveryReceipt, ShortMessage: []byte("stat:DELIVRD")})
		require.ErrorIs(t, err, smpp.ErrInvalidReceipt)
	})
}

func TestFormatReceipt(t *testing.T) {
	t.Parallel()
	r := smpp.Receipt{MessageID: "1a2b3c", Submitted: 1, Delivered: 1,
		SubmitDate: date(2026, 1, 2, 15, 4, 59), DoneDate: time.Date(2026, 1, 2, 16, 5, 0, 0, time.FixedZone("CET", 3600)),
		State: smpp.StateDelivered, Text: "Your otpd code is 123456. Do not share it."}
	require.Equal(t,
		"id:1a2b3c sub:001 dlvrd:001 submit date:2601021504 done date:2601021505 stat:DELIVRD err:000 text:Your otpd code is 12",
		smpp.FormatReceipt(r))

	require.Equal(t,
		"id:x sub:000 dlvrd:000 submit date:0000000000 done date:0000000000 stat:UNKNOWN err:000 text:",
		smpp.FormatReceipt(smpp.Receipt{MessageID: "x"}))

	// Text is cut by characters, not octets.
	require.Contains(t, smpp.FormatReceipt(smpp.Receipt{MessageID: "x", State: smpp.StateRejected, Err: "0x0B", Text: "Ваш код 123456, никому не говорите"}),
		"stat:REJECTD err:0x0B text:Ваш код 123456, нико")

	// What the dev SMSC sends, otpd reads back.
	for st := smpp.StateEnroute; st <= smpp.StateRejected; st++ {
		in := r
		in.State = st
		in.Err = "042"
		in.NetworkError = &smpp.NetworkErrorCode{Type: smpp.NetworkTypeSMPP, Code: 0x42}
		b, err := smpp.Encode(in.DeliverSM(), 1, 0)
		require.NoError(t, err)
		_, p, err := smpp.Decode(b)
		require.NoError(t, err)
		out, err := smpp.ParseReceipt(p.(*smpp.DeliverSM))
		require.NoError(t, err)
		require.Equal(t, st, out.State)
		require.Equal(t, st.Stat(), out.Stat)
		require.Equal(t, in.MessageID, out.MessageID)
		require.Equal(t, in.SubmitDate.Truncate(time.Minute), out.SubmitDate)
		require.Equal(t, in.DoneDate.UTC(), out.DoneDate)
		require.Equal(t, "042", out.Err)
		require.Equal(t, "Your otpd code is 12", out.Text)
		require.Equal(t, in.NetworkError, out.NetworkError)
	}
}

func TestMessageState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		state      smpp.MessageState
		value      uint8
		name, stat string
		final      bool
	}{
		{smpp.StateEnroute, 1, "ENROUTE", "ENROUTE", false},
		{smpp.StateDelivered, 2, "DELIVERED", "DELIVRD", true},
		{smpp.StateExpired, 3, "EXPIRED", "EXPIRED", true},
		{smpp.StateDeleted, 4, "DELETED", "DELETED", true},
		{smpp.StateUndeliverable, 5, "UNDELIVERABLE", "UNDELIV", true},
		{smpp.StateAccepted, 6, "ACCEPTED", "ACCEPTD", false},
		{smpp.StateUnknown, 7, "UNKNOWN", "UNKNOWN", false},
		{smpp.StateRejected, 8, "REJECTED", "REJECTD", true},
		{smpp.MessageState(0), 0, "MessageState(0)", "", false},
		{smpp.MessageState(9), 9, "MessageState(9)", "", false},
	} {
		require.Equal(t, tc.value, uint8(tc.state))
		require.Equal(t, tc.name, tc.state.String())
		require.Equal(t, tc.stat, tc.state.Stat())
		require.Equal(t, tc.final, tc.state.Final(), tc.name)
	}
}

func TestSameMessageID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"12345", "12345", true},
		{"abcDEF", "ABCdef", true},
		{"0000012345", "12345", true},            // zero-padded decimal
		{"3039", "12345", false},                 // both all digits: decimals, and different
		{"1a2b3c", "1715004", true},              // hex answer, decimal receipt
		{"1715004", "1A2B3C", true},              // and the reverse
		{"0x3039", "12345", true},                // explicit hex
		{"00ff", "FF", true},                     // hex, zero-padded
		{"10", "16", false},                      // never across bases when both look decimal
		{"4c1e5a34-9c31", "4C1E5A34-9C31", true}, // not numbers, but equal ignoring case
		{"4c1e5a34-9c31", "4c1e5a34-9c32", false},
		{"", "", false},
		{" 7 ", "7", true},
		{"99999999999999999999999", "99999999999999999999998", false}, // beyond uint64
	} {
		require.Equal(t, tc.want, smpp.SameMessageID(tc.a, tc.b), "%q vs %q", tc.a, tc.b)
	}
}
