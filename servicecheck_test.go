package otpd_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/sqlite"
	"github.com/otpd/otpd/whatsapp"
)

// TestServiceCheckedByChannels: a configured channel that constrains
// services (the WhatsApp template's time-to-live) is asked on every create
// and update, and a refusal leaves the stored service as it was.
func TestServiceCheckedByChannels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "otpd.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	wa, err := whatsapp.New(whatsapp.Config{PhoneNumberID: "1234567890", AccessToken: "token", Template: "otp_login", TemplateTTL: 10 * time.Minute})
	require.NoError(t, err)
	e, err := otpd.NewEngine(otpd.Config{Store: store, Keyring: otpd.NewKeyring(time.Now()), Renderer: message.New(),
		Channels: map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: &recorder{}, otpd.ChannelWhatsApp: wa}})
	require.NoError(t, err)

	service := func(ttl time.Duration, channels ...otpd.ChannelName) *otpd.Service {
		p := otpd.DefaultPolicy()
		p.TTL = ttl
		return &otpd.Service{Name: "Acme", Policy: p, Channels: channels}
	}
	_, err = e.CreateService(ctx, service(5*time.Minute, otpd.ChannelSMS, otpd.ChannelWhatsApp))
	require.Equal(t, "ttl_seconds", requireKind(t, err, otpd.ErrInvalid).Param)

	svc, err := e.CreateService(ctx, service(5*time.Minute, otpd.ChannelSMS))
	require.NoError(t, err, "a service that does not send on WhatsApp")
	for name, change := range map[string]func(*otpd.Service) error{
		"whatsapp added": func(s *otpd.Service) error { s.Channels = append(s.Channels, otpd.ChannelWhatsApp); return nil },
		"own template":   func(s *otpd.Service) error { s.WhatsAppTemplate = "acme_otp"; return nil },
		"shorter ttl as well": func(s *otpd.Service) error {
			s.Channels, s.Policy.TTL = []otpd.ChannelName{otpd.ChannelWhatsApp}, 2*time.Minute
			return nil
		},
	} {
		_, err := e.UpdateService(ctx, svc.ID, change)
		require.Equal(t, "ttl_seconds", requireKind(t, err, otpd.ErrInvalid).Param, name)
	}
	got, err := e.GetService(ctx, svc.ID)
	require.NoError(t, err)
	require.Equal(t, []otpd.ChannelName{otpd.ChannelSMS}, got.Channels)
	require.Empty(t, got.WhatsAppTemplate)

	_, err = e.UpdateService(ctx, svc.ID, func(s *otpd.Service) error {
		s.Channels, s.Policy.TTL, s.Policy.MaxTTL = []otpd.ChannelName{otpd.ChannelWhatsApp, otpd.ChannelSMS}, 10*time.Minute, time.Hour
		return nil
	})
	require.NoError(t, err, "with codes that live as long as WhatsApp may hold them")
}
