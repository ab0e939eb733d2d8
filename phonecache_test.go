package otpd

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPhoneCacheAgreesWithTheParser(t *testing.T) {
	t.Parallel()
	tests := []string{"+447700900123", "+14155552671", "+4915112345678", "+919876543210", "+33612345678",
		"+442071838750", "+448001111111", "+44909876543", "+12", "+4901511234567", "+99912345678"}
	for _, to := range tests {
		t.Run(to, func(t *testing.T) {
			t.Parallel()
			want, wantErr := parsePhone(to)
			for range 3 { // a miss, then hits
				got, err := parsePhoneCached(to)
				require.Equal(t, wantErr, err)
				require.Equal(t, want, got)
			}
		})
	}
}

func TestPhoneCacheHoldsNoNumberAndIsBounded(t *testing.T) {
	t.Parallel()
	c := newPhoneCache()
	for i := range 3*phoneCacheSize + 7 {
		to := fmt.Sprintf("+44770090%04d", i%10000) + fmt.Sprint(i/10000)
		f, ok := factsOf(Destination{Kind: DestinationPhone, Region: "GB", Type: NumberMobile})
		require.True(t, ok)
		c.put(c.key(to), f)
	}
	require.LessOrEqual(t, len(c.cur)+len(c.old), 2*phoneCacheSize)

	// A number of the previous generation is moved to the current one
	// when used, so numbers in use outlive a turnover.
	k := c.key("+447700900001")
	c.put(k, phoneFacts{region: [2]byte{'G', 'B'}})
	for i := range phoneCacheSize {
		c.put(c.key(fmt.Sprintf("+1415555%04d", i)), phoneFacts{region: [2]byte{'U', 'S'}})
	}
	_, inCur := c.cur[k]
	require.False(t, inCur)
	d, ok := c.get(k)
	require.True(t, ok)
	require.Equal(t, "GB", d.destination("+447700900001").Region)
	_, inCur = c.cur[k]
	require.True(t, inCur)
}

// What the cache keeps of a number — three bytes, no part of the number —
// gives back every region and type the parser can find.
func TestPhoneFactsRoundTrip(t *testing.T) {
	t.Parallel()
	types := []NumberType{NumberUnknown}
	for _, typ := range numberTypes {
		types = append(types, typ)
	}
	for _, typ := range types {
		for _, region := range []string{"GB", "US", "DE", "IN", "ZA"} {
			d := Destination{Address: "+447700900123", Kind: DestinationPhone, Region: region, Type: typ}
			f, ok := factsOf(d)
			require.True(t, ok, "%s %s", region, typ)
			require.Equal(t, d, f.destination(d.Address))
		}
	}
	_, ok := factsOf(Destination{Address: "a@example.com", Kind: DestinationEmail})
	require.False(t, ok, "only phone numbers")
}
