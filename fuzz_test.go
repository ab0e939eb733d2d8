package otpd_test

import (
	"testing"

	"github.com/otpd/otpd"
)

func FuzzParseDestination(f *testing.F) {
	for _, s := range []string{"+447700900123", "+14155552671", "ana@example.com", "dev_01jx", "", "+", "@", "a@b.c", "+999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := otpd.ParseDestination(s)
		if err != nil {
			return
		}
		// What parses must parse again to itself: look-ups depend on it.
		again, err := otpd.ParseDestination(d.Address)
		if err != nil || again != d {
			t.Fatalf("%q → %+v, re-parsed → %+v, %v", s, d, again, err)
		}
		if m := otpd.MaskDestination(d.Address); len(d.Address) > 8 && m == d.Address {
			t.Fatalf("mask of %q shows it whole", d.Address)
		}
	})
}

func FuzzParseKeyring(f *testing.F) {
	f.Add([]byte(`{"current":"k1","keys":[{"id":"k1","secret":"a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=","created_at":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := otpd.ParseKeyring(data)
		if err != nil {
			return
		}
		out, err := k.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		k2, err := otpd.ParseKeyring(out)
		if err != nil || k2.CurrentID() != k.CurrentID() {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzTransactionNormalize(f *testing.F) {
	f.Add("125.00", "EUR", "ACME Shop")
	f.Add("0", "usd", " x ")
	f.Fuzz(func(t *testing.T, amount, currency, payee string) {
		txn := &otpd.Transaction{Amount: amount, Currency: currency, Payee: payee}
		if txn.Normalize() != nil {
			return
		}
		again := *txn
		if err := again.Normalize(); err != nil || again != *txn {
			t.Fatalf("normalize is not idempotent: %+v → %+v, %v", *txn, again, err)
		}
	})
}
