package otpd_test

import (
	"encoding/base64"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

// fixedKeyring returns a keyring with a known secret, so statistical tests
// are deterministic: they fail only if derivation is biased, never by chance.
func fixedKeyring(t testing.TB) *otpd.Keyring {
	t.Helper()
	secret := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	k, err := otpd.ParseKeyring([]byte(`{"current":"k1","keys":[{"id":"k1","secret":"` + secret + `","created_at":"2026-01-01T00:00:00Z"}]}`))
	require.NoError(t, err)
	return k
}

// chiSquareCritical approximates the chi-square quantile for p = 0.0001
// (Wilson–Hilferty), loose enough that an unbiased generator passes and
// tight enough that modulo bias (4 % on digits) fails by orders of magnitude.
func chiSquareCritical(df int) float64 {
	const z = 3.719 // upper 0.0001 quantile of the standard normal
	k := float64(df)
	return k * math.Pow(1-2/(9*k)+z*math.Sqrt(2/(9*k)), 3)
}

func chiSquare(counts map[string]int, bins, n int) float64 {
	want := float64(n) / float64(bins)
	var sum float64
	seen := 0
	for _, c := range counts {
		d := float64(c) - want
		sum += d * d / want
		seen++
	}
	sum += float64(bins-seen) * want // bins never hit
	return sum
}

func TestDeriveCodeUniform(t *testing.T) {
	t.Parallel()
	k := fixedKeyring(t)
	const n = 100_000
	for _, tc := range []struct {
		alphabet otpd.Alphabet
		length   int
	}{
		{otpd.AlphabetDigits, 6},
		{otpd.AlphabetAlphanumeric, 8},
	} {
		t.Run(string(tc.alphabet), func(t *testing.T) {
			t.Parallel()
			symbols := tc.alphabet.Symbols()
			perPosition := make([]map[string]int, tc.length)
			for i := range perPosition {
				perPosition[i] = map[string]int{}
			}
			all := map[string]int{}
			prefix := map[string]int{} // first two symbols: catches correlation between positions
			for i := range n {
				code, err := k.DeriveCode("k1", fmt.Sprintf("ver_%026d", i), []byte{byte(i), byte(i >> 8), byte(i >> 16)}, tc.alphabet, tc.length)
				require.NoError(t, err)
				require.Len(t, code, tc.length)
				for p, r := range code {
					require.Contains(t, symbols, string(r))
					perPosition[p][string(r)]++
					all[string(r)]++
				}
				prefix[code[:2]]++
			}
			bins := len(symbols)
			for p, counts := range perPosition {
				require.Less(t, chiSquare(counts, bins, n), chiSquareCritical(bins-1), "position %d is not uniform", p)
			}
			require.Less(t, chiSquare(all, bins, n*tc.length), chiSquareCritical(bins-1), "symbols are not uniform")
			require.Less(t, chiSquare(prefix, bins*bins, n), chiSquareCritical(bins*bins-1), "symbol pairs are not uniform")
		})
	}
}

func TestDeriveCodeStable(t *testing.T) {
	t.Parallel()
	k := fixedKeyring(t)
	salt := []byte("0123456789abcdef")
	a, err := k.DeriveCode("k1", "ver_a", salt, otpd.AlphabetDigits, 6)
	require.NoError(t, err)
	b, err := k.DeriveCode("k1", "ver_a", salt, otpd.AlphabetDigits, 6)
	require.NoError(t, err)
	require.Equal(t, a, b, "a resend must carry the same code")
	c, err := k.DeriveCode("k1", "ver_b", salt, otpd.AlphabetDigits, 6)
	require.NoError(t, err)
	require.NotEqual(t, a, c)
	other := otpd.NewKeyring(time.Now())
	_, err = other.DeriveCode("k1", "ver_a", salt, otpd.AlphabetDigits, 6)
	require.NoError(t, err)
	_, err = k.DeriveCode("nope", "ver_a", salt, otpd.AlphabetDigits, 6)
	require.Error(t, err)
}

func TestHashCodeBindsEverything(t *testing.T) {
	t.Parallel()
	k := fixedKeyring(t)
	txn := &otpd.Transaction{Amount: "125.00", Currency: "EUR", Payee: "ACME Shop"}
	base, err := k.HashCode("k1", "svc_1", "ver_1", "123456", txn)
	require.NoError(t, err)
	same, err := k.HashCode("k1", "svc_1", "ver_1", "123456", &otpd.Transaction{Amount: "125.0", Currency: "EUR", Payee: "ACME Shop"})
	require.NoError(t, err)
	require.Equal(t, base, same, "125.0 and 125.00 are the same amount")
	for name, args := range map[string]struct {
		svc, ver, code string
		txn            *otpd.Transaction
	}{
		"service":  {"svc_2", "ver_1", "123456", txn},
		"id":       {"svc_1", "ver_2", "123456", txn},
		"code":     {"svc_1", "ver_1", "123457", txn},
		"amount":   {"svc_1", "ver_1", "123456", &otpd.Transaction{Amount: "125.01", Currency: "EUR", Payee: "ACME Shop"}},
		"currency": {"svc_1", "ver_1", "123456", &otpd.Transaction{Amount: "125.00", Currency: "USD", Payee: "ACME Shop"}},
		"payee":    {"svc_1", "ver_1", "123456", &otpd.Transaction{Amount: "125.00", Currency: "EUR", Payee: "ACME Shop2"}},
		"no txn":   {"svc_1", "ver_1", "123456", nil},
		// Length-prefixing stops fields from bleeding into each other.
		"shifted": {"svc_1", "ver_11", "23456", txn},
	} {
		h, err := k.HashCode("k1", args.svc, args.ver, args.code, args.txn)
		require.NoError(t, err)
		require.NotEqual(t, base, h, name)
	}
}

func TestKeyringRoundTripAndRotate(t *testing.T) {
	t.Parallel()
	k := otpd.NewKeyring(time.Now())
	salt := []byte("salt")
	code, err := k.DeriveCode(k.CurrentID(), "ver_x", salt, otpd.AlphabetDigits, 6)
	require.NoError(t, err)
	oldID := k.CurrentID()
	oldIndex := k.DestinationKeys("svc_1", "+447700900123")[0]

	newID := k.Rotate(time.Now())
	require.NotEqual(t, oldID, newID)
	require.Equal(t, newID, k.CurrentID())

	data, err := k.MarshalJSON()
	require.NoError(t, err)
	k2, err := otpd.ParseKeyring(data)
	require.NoError(t, err)
	require.Equal(t, newID, k2.CurrentID())
	again, err := k2.DeriveCode(oldID, "ver_x", salt, otpd.AlphabetDigits, 6)
	require.NoError(t, err)
	require.Equal(t, code, again, "old keys keep deriving the codes they derived")
	require.Contains(t, k2.DestinationKeys("svc_1", "+447700900123"), oldIndex, "look-ups still find rows indexed with the old key")
	require.NotEqual(t, oldIndex, k2.DestinationKeys("svc_1", "+447700900123")[0], "new rows use the current key")
	require.NotEqual(t, k2.DestinationKeys("svc_1", "+447700900123"), k2.DestinationKeys("svc_2", "+447700900123"), "indexes differ per service")

	for name, bad := range map[string]string{
		"not json":      `{`,
		"no keys":       `{"current":"k1","keys":[]}`,
		"short secret":  `{"current":"k1","keys":[{"id":"k1","secret":"c2hvcnQ="}]}`,
		"missing curr":  `{"current":"k9","keys":[{"id":"k1","secret":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"}]}`,
		"bad id":        `{"current":"k 1","keys":[{"id":"k 1","secret":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"}]}`,
		"duplicate ids": `{"current":"k1","keys":[{"id":"k1","secret":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"},{"id":"k1","secret":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"}]}`,
	} {
		_, err := otpd.ParseKeyring([]byte(bad))
		require.Error(t, err, name)
	}
}

func BenchmarkDeriveCode(b *testing.B) {
	k := fixedKeyring(b)
	salt := make([]byte, 16)
	for b.Loop() {
		_, _ = k.DeriveCode("k1", "ver_01jx0000000000000000000000", salt, otpd.AlphabetDigits, 6)
	}
}

func BenchmarkHashCode(b *testing.B) {
	k := fixedKeyring(b)
	txn := &otpd.Transaction{Amount: "125.00", Currency: "EUR", Payee: "ACME Shop"}
	for b.Loop() {
		_, _ = k.HashCode("k1", "svc_01jx0000000000000000000000", "ver_01jx0000000000000000000000", "123456", txn)
	}
}
