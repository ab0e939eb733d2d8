package otpd_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

func TestParseDestination(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		kind     otpd.DestinationKind
		region   string
		ok       bool
	}{
		{"+447700900123", "+447700900123", otpd.DestinationPhone, "GB", true},
		{" +14155552671 ", "+14155552671", otpd.DestinationPhone, "US", true},
		{"+4915123456789", "+4915123456789", otpd.DestinationPhone, "DE", true},
		{"447700900123", "", 0, "", false},      // no '+'
		{"+44 7700 900123", "", 0, "", false},   // spaces are not E.164
		{"+44770", "", 0, "", false},            // too short for its country
		{"+1234567890123456", "", 0, "", false}, // 16 digits
		{"+44abc", "", 0, "", false},
		{"Ana@Example.COM", "Ana@example.com", otpd.DestinationEmail, "", true},
		{"ana@example", "", 0, "", false},
		{"Ana <ana@example.com>", "", 0, "", false},
		{"dev_01jx0000000000000000000000", "dev_01jx0000000000000000000000", otpd.DestinationDevice, "", true},
		{"", "", 0, "", false},
		{"hello", "", 0, "", false},
	} {
		d, err := otpd.ParseDestination(tc.in)
		if !tc.ok {
			require.Error(t, err, tc.in)
			require.ErrorIs(t, err, otpd.ErrInvalid, tc.in)
			var oe *otpd.Error
			require.True(t, errors.As(err, &oe))
			require.Equal(t, "to", oe.Param)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, d.Address)
		require.Equal(t, tc.kind, d.Kind)
		require.Equal(t, tc.region, d.Region)
	}
}

func TestMaskDestination(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"+447700900123":                  "+44*******123",
		"ana@example.com":                "a***@example.com",
		"x@example.com":                  "x***@example.com",
		"dev_01jx0000000000000000000000": "dev_01…",
		"abc":                            "***",
	} {
		got := otpd.MaskDestination(in)
		require.Equal(t, want, got, in)
		if len(in) > 8 {
			require.NotContains(t, got, in)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	ok := otpd.DefaultPolicy()
	require.NoError(t, ok.Validate())
	require.Equal(t, ok.TTL, ok.MaxTTL, "MaxTTL defaults to TTL")
	for param, mutate := range map[string]func(*otpd.Policy){
		"code_length":             func(p *otpd.Policy) { p.CodeLength = 3 },
		"code_alphabet":           func(p *otpd.Policy) { p.Alphabet = "hex" },
		"ttl_seconds":             func(p *otpd.Policy) { p.TTL = 59 * time.Second },
		"max_check_attempts":      func(p *otpd.Policy) { p.MaxCheckAttempts = 21 },
		"max_sends":               func(p *otpd.Policy) { p.MaxSends = 0 },
		"resend_cooldown_seconds": func(p *otpd.Policy) { p.ResendCooldown = -time.Second },
		"max_ttl_seconds":         func(p *otpd.Policy) { p.MaxTTL = time.Minute },
	} {
		p := otpd.DefaultPolicy()
		mutate(&p)
		err := p.Validate()
		var oe *otpd.Error
		require.True(t, errors.As(err, &oe), param)
		require.Equal(t, param, oe.Param)
	}
	long := otpd.DefaultPolicy()
	long.TTL = 72 * time.Hour
	long.CodeLength = 10
	require.NoError(t, long.Validate())
}

func TestServiceValidate(t *testing.T) {
	t.Parallel()
	s := &otpd.Service{Name: " Acme ", Policy: otpd.DefaultPolicy(), Countries: []string{"gb", "de"}, Locale: "de-at"}
	require.NoError(t, s.Validate())
	require.Equal(t, "Acme", s.Name)
	require.Equal(t, []string{"GB", "DE"}, s.Countries)
	require.Equal(t, "de-AT", s.Locale)
	require.Equal(t, []otpd.ChannelName{otpd.ChannelSMS}, s.Channels)
	require.True(t, s.AllowsRegion("GB"))
	require.False(t, s.AllowsRegion("FR"))

	for param, svc := range map[string]otpd.Service{
		"name":              {Name: "  "},
		"channels":          {Name: "a", Channels: []otpd.ChannelName{"fax"}},
		"allowed_countries": {Name: "a", Countries: []string{"GBR"}},
		"default_locale":    {Name: "a", Locale: "not a locale!"},
		"webhook_url":       {Name: "a", WebhookURL: "ftp://x"},
		"app_hash":          {Name: "a", AppHash: "short"},
		"webotp_domain":     {Name: "a", WebOTPDomain: "https://example.com"},
	} {
		svc.Policy = otpd.DefaultPolicy()
		err := svc.Validate()
		var oe *otpd.Error
		require.True(t, errors.As(err, &oe), param)
		require.Equal(t, param, oe.Param, param)
	}
}

func TestTransactionNormalize(t *testing.T) {
	t.Parallel()
	txn := &otpd.Transaction{Amount: " 125.00 ", Currency: "eur", Payee: " ACME Shop "}
	require.NoError(t, txn.Normalize())
	require.Equal(t, otpd.Transaction{Amount: "125.00", Currency: "EUR", Payee: "ACME Shop"}, *txn)
	for param, bad := range map[string]otpd.Transaction{
		"transaction.amount":   {Amount: "-1", Currency: "EUR", Payee: "x"},
		"transaction.currency": {Amount: "1", Currency: "EURO", Payee: "x"},
		"transaction.payee":    {Amount: "1", Currency: "EUR", Payee: strings.Repeat("x", 141)},
	} {
		err := bad.Normalize()
		var oe *otpd.Error
		require.True(t, errors.As(err, &oe), param)
		require.Equal(t, param, oe.Param)
	}
}

func TestNewIDOrdered(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := otpd.NewID(otpd.PrefixVerification, t0)
	b := otpd.NewID(otpd.PrefixVerification, t0.Add(time.Millisecond))
	require.Less(t, a, b)
	require.True(t, otpd.HasPrefix(a, otpd.PrefixVerification))
	require.False(t, otpd.HasPrefix(a, otpd.PrefixService))
	require.NotEqual(t, a, otpd.NewID(otpd.PrefixVerification, t0))
}
