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
		c.put(c.key(to), Destination{Kind: DestinationPhone, Region: "GB", Type: NumberMobile})
	}
	require.LessOrEqual(t, len(c.cur)+len(c.old), 2*phoneCacheSize)
	for _, gen := range []map[[2]uint64]Destination{c.cur, c.old} {
		for _, d := range gen {
			require.Empty(t, d.Address, "only what the parse found out, never the number")
		}
	}

	// A number of the previous generation is moved to the current one
	// when used, so numbers in use outlive a turnover.
	k := c.key("+447700900001")
	c.put(k, Destination{Kind: DestinationPhone, Region: "GB"})
	for i := range phoneCacheSize {
		c.put(c.key(fmt.Sprintf("+1415555%04d", i)), Destination{Kind: DestinationPhone, Region: "US"})
	}
	_, inCur := c.cur[k]
	require.False(t, inCur)
	d, ok := c.get(k)
	require.True(t, ok)
	require.Equal(t, "GB", d.Region)
	_, inCur = c.cur[k]
	require.True(t, inCur)
}
