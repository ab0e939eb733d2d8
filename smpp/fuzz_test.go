package smpp_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/otpd/otpd/smpp"
)

// FuzzDecode feeds arbitrary bytes to Decode and ReadPDU. Neither may panic;
// every failure must be a DecodeError with a status to answer; and whatever
// decodes must encode and decode again to the same PDU, or the SMSC
// simulator and the session would disagree about what was said.
func FuzzDecode(f *testing.F) {
	for _, v := range vectors {
		f.Add(unhex(f, v.hex))
	}
	for _, p := range publishedCases(f) {
		f.Add(unhex(f, p.hex))
	}
	for _, m := range malformedCases() {
		f.Add(m.in)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := smpp.Decode(b)

		// A stream holding the same bytes frames and decodes them the same.
		rh, rp, rerr := smpp.ReadPDU(bytes.NewReader(b), len(b)+smpp.HeaderLen)
		if err == nil && (rerr != nil || rh != h) {
			t.Fatalf("Decode ok, ReadPDU: %v %v", rh, rerr)
		}

		if err != nil {
			var de *smpp.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error is not a *DecodeError: %v", err)
			}
			if de.Status == smpp.StatusOK {
				t.Fatalf("DecodeError without a status: %v", err)
			}
			if de.Header != h {
				t.Fatalf("DecodeError header %v, returned %v", de.Header, h)
			}
			if _, unknown := p.(*smpp.Unknown); unknown != errors.Is(err, smpp.ErrUnknownCommand) {
				t.Fatalf("Unknown %v with error %v", p, err)
			}
			if !unknown(p) && p != nil {
				t.Fatalf("PDU %#v beside error %v", p, err)
			}
			return
		}
		if rp == nil {
			t.Fatal("ReadPDU returned no PDU")
		}
		if p.CommandID() != h.CommandID {
			t.Fatalf("decoded %T for %s", p, h.CommandID)
		}
		out, err := smpp.Encode(p, h.Sequence, h.Status)
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", p, err)
		}
		h2, p2, err := smpp.Decode(out)
		if err != nil {
			t.Fatalf("re-decode of %x: %v", out, err)
		}
		if h2.CommandID != h.CommandID || h2.Status != h.Status || h2.Sequence != h.Sequence {
			t.Fatalf("header %v became %v", h, h2)
		}
		requireEqualPDU(t, p, p2)
		requireEqualPDU(t, p, rp)
		// One round makes the encoding canonical.
		again, err := smpp.Encode(p2, h.Sequence, h.Status)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second encoding differs: %x vs %x (%v)", again, out, err)
		}
		if d, ok := p.(*smpp.DeliverSM); ok {
			_, _ = smpp.ParseReceipt(d) // must not panic
		}
	})
}

func unknown(p smpp.PDU) bool {
	_, ok := p.(*smpp.Unknown)
	return ok
}

func requireEqualPDU(t *testing.T, want, got smpp.PDU) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("PDUs differ:\n%#v\n%#v", want, got)
	}
}

// FuzzParseReceipt checks that receipt parsing never panics and that what it
// reads survives FormatReceipt: the dev SMSC writes receipts with
// FormatReceipt and the session reads them with ParseReceipt.
func FuzzParseReceipt(f *testing.F) {
	for _, r := range receiptTexts {
		f.Add(r.in)
	}
	f.Add("id:1 stat:DELIVRD text:")
	f.Add("id:\x00 stat:\xff")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = smpp.ParseReceipt(&smpp.DeliverSM{ESMClass: smpp.ESMDeliveryReceipt, ShortMessage: []byte(s)})
		r, err := smpp.ParseReceiptText(s)
		if err != nil {
			return
		}
		text := smpp.FormatReceipt(r)
		r2, err := smpp.ParseReceiptText(text)
		if err != nil {
			t.Fatalf("%q parsed to %+v, formatted to %q, which does not parse: %v", s, r, text, err)
		}
		if r2.MessageID != r.MessageID || r2.State != r.State || r2.Submitted != r.Submitted || r2.Delivered != r.Delivered {
			t.Fatalf("%q → %+v → %q → %+v", s, r, text, r2)
		}
		if r.Err != "" && r2.Err != r.Err {
			t.Fatalf("err %q became %q via %q", r.Err, r2.Err, text)
		}
		for _, d := range [][2]time.Time{{r.SubmitDate, r2.SubmitDate}, {r.DoneDate, r2.DoneDate}} {
			// Receipts write two-digit years; other centuries cannot survive.
			if y := d[0].Year(); y >= 2000 && y < 2100 && !d[0].Truncate(time.Minute).Equal(d[1]) {
				t.Fatalf("date %v became %v via %q", d[0], d[1], text)
			}
		}
	})
}
