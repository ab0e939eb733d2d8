package otpd_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

func TestDevices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, func(s *otpd.Service) { s.Channels = []otpd.ChannelName{otpd.ChannelPush, otpd.ChannelSMS} })
	push := &recorder{}
	e, err := otpd.NewEngine(otpd.Config{Store: b.store, Keyring: otpd.NewKeyring(b.clock.now()), Renderer: noRenderer{}, Now: b.clock.now,
		Channels: map[otpd.ChannelName]otpd.Channel{otpd.ChannelPush: push, otpd.ChannelSMS: b.sms}})
	require.NoError(t, err)

	for name, tc := range map[string]struct {
		platform     otpd.Platform
		token, label string
		param        string
	}{
		"platform":     {"windows", "t", "", "platform"},
		"empty token":  {otpd.PlatformIOS, " ", "", "token"},
		"token spaces": {otpd.PlatformIOS, "a b", "", "token"},
		"long token":   {otpd.PlatformIOS, strings.Repeat("a", 4097), "", "token"},
		"long label":   {otpd.PlatformAndroid, "t", strings.Repeat("é", 129), "label"},
	} {
		_, err := e.RegisterDevice(ctx, b.svc.ID, tc.platform, tc.token, tc.label)
		require.Equal(t, tc.param, requireKind(t, err, otpd.ErrInvalid).Param, name)
	}
	_, err = e.RegisterDevice(ctx, "svc_nope", otpd.PlatformIOS, "t", "")
	require.ErrorIs(t, err, otpd.ErrNotFound)

	d, err := e.RegisterDevice(ctx, b.svc.ID, otpd.PlatformIOS, "a1b2c3", "user-42")
	require.NoError(t, err)
	require.True(t, otpd.HasPrefix(d.ID, otpd.PrefixDevice))

	v, err := e.Start(ctx, b.svc.ID, otpd.StartRequest{To: d.ID, Channel: otpd.ChannelPush})
	require.NoError(t, err)
	require.Equal(t, otpd.ChannelPush, v.Channel)
	v, err = e.Start(ctx, b.svc.ID, otpd.StartRequest{To: d.ID})
	require.NoError(t, err)
	require.Equal(t, otpd.ChannelPush, v.Channel, "auto finds push for a device")
	require.Empty(t, v.Fallback, "SMS cannot reach a device")

	_, err = e.Start(ctx, b.svc.ID, otpd.StartRequest{To: "dev_06h1ez0000000000000000000", Channel: otpd.ChannelPush})
	require.Equal(t, "to", requireKind(t, err, otpd.ErrChannelUnavailable).Param, "an unknown device")

	require.NoError(t, e.MarkDeviceDead(ctx, b.svc.ID, d.ID, "Unregistered"))
	_, err = e.Start(ctx, b.svc.ID, otpd.StartRequest{To: d.ID, Channel: otpd.ChannelPush})
	oe := requireKind(t, err, otpd.ErrChannelUnavailable)
	require.Contains(t, oe.Detail, "Unregistered")

	require.NoError(t, e.DeleteDevice(ctx, b.svc.ID, d.ID))
	require.ErrorIs(t, e.DeleteDevice(ctx, b.svc.ID, d.ID), otpd.ErrNotFound)
	require.NoError(t, e.MarkDeviceDead(ctx, b.svc.ID, d.ID, "late"), "marking a deleted device is not an error")
}

func TestLocaleFromTheNumbersCountry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, func(s *otpd.Service) { s.Locale = otpd.LocaleAuto })
	require.Equal(t, otpd.LocaleAuto, b.svc.Locale)
	e, err := otpd.NewEngine(otpd.Config{Store: b.store, Keyring: otpd.NewKeyring(b.clock.now()), Renderer: noRenderer{}, Now: b.clock.now,
		Channels:     map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: b.sms, otpd.ChannelEmail: b.email},
		RegionLocale: func(r string) string { return map[string]string{"BR": "pt-BR", "DE": "de"}[r] }})
	require.NoError(t, err)
	for to, want := range map[string]string{
		"+5511987654321":  "pt-BR",
		"+4915123456789":  "de",
		"+447700900123":   "en", // nothing better than the fallback
		"ana@example.com": "en", // not a phone number
	} {
		v, err := e.Start(ctx, b.svc.ID, otpd.StartRequest{To: to})
		require.NoError(t, err)
		require.Equal(t, want, v.Locale, to)
	}
	v, err := e.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+5511987654321", Locale: "fr"})
	require.NoError(t, err)
	require.Equal(t, "fr", v.Locale, "the request's locale wins")
}
