package otpd_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

// TestAuditRecordsAdminActions: every admin change to services and keys is
// in the audit log with who made it and which fields changed, and nothing
// secret.
func TestAuditRecordsAdminActions(t *testing.T) {
	t.Parallel()
	b := setup(t) // creates b.svc with no principal: the system did it
	admin := otpd.WithPrincipal(context.Background(), otpd.Principal{Admin: true})

	_, err := b.engine.UpdateService(admin, b.svc.ID, func(s *otpd.Service) error {
		s.Name, s.Policy.TTL, s.WebhookURL, s.WebhookSecret = "Acme", 5*time.Minute, "https://example.com/hook", "whsec_new-secret"
		return nil
	})
	require.NoError(t, err)
	_, err = b.engine.UpdateService(admin, b.svc.ID, func(*otpd.Service) error { return nil })
	require.NoError(t, err)
	k, secret, err := b.engine.CreateKey(admin, b.svc.ID, "backend")
	require.NoError(t, err)
	require.NoError(t, b.engine.RevokeKey(admin, b.svc.ID, k.ID))
	// A refused change is not recorded.
	_, err = b.engine.UpdateService(admin, b.svc.ID, func(s *otpd.Service) error { s.Policy.CodeLength = 99; return nil })
	require.Error(t, err)
	require.Error(t, b.engine.RevokeKey(admin, b.svc.ID, k.ID))
	require.NoError(t, b.engine.DeleteService(admin, b.svc.ID))

	// The hook others call, with the actor from the context or given.
	byKey := otpd.WithPrincipal(context.Background(), otpd.Principal{ServiceID: "svc_x", KeyID: "key_x"})
	require.NoError(t, b.engine.Audit(byKey, otpd.AuditEntry{Action: "template.update", ServiceID: "svc_x", Target: "login"}))
	require.NoError(t, b.engine.Audit(context.Background(), otpd.AuditEntry{Action: "fraud.block", Target: "+4477009", Details: map[string]any{"rule": "pumping"}}))
	require.Error(t, b.engine.Audit(admin, otpd.AuditEntry{Action: "Bad Action"}))

	got, err := b.engine.ListAudit(context.Background(), otpd.AuditFilter{})
	require.NoError(t, err)
	type row struct{ actor, action, service, target string }
	var rows []row
	for _, e := range got {
		rows = append(rows, row{e.Actor, e.Action, e.ServiceID, e.Target})
		require.True(t, otpd.HasPrefix(e.ID, otpd.PrefixAudit))
		require.Equal(t, b.clock.now(), e.At)
	}
	sid := b.svc.ID
	require.Equal(t, []row{
		{otpd.ActorSystem, "fraud.block", "", "+4477009"},
		{"key_x", "template.update", "svc_x", "login"},
		{otpd.ActorAdmin, otpd.AuditServiceDelete, sid, sid},
		{otpd.ActorAdmin, otpd.AuditKeyRevoke, sid, k.ID},
		{otpd.ActorAdmin, otpd.AuditKeyCreate, sid, k.ID},
		{otpd.ActorAdmin, otpd.AuditServiceUpdate, sid, sid},
		{otpd.ActorAdmin, otpd.AuditServiceUpdate, sid, sid},
		{otpd.ActorSystem, otpd.AuditServiceCreate, sid, sid},
	}, rows)
	require.Equal(t, []any{"name", "ttl_seconds", "webhook_url", "webhook_secret"}, got[6].Details["fields"])
	require.Equal(t, []any{}, got[5].Details["fields"], "an update that changed nothing says so")

	all, err := json.Marshal(got)
	require.NoError(t, err)
	for _, s := range []string{"whsec_", secret, b.svc.WebhookSecret, "https://example.com/hook"} {
		require.NotContains(t, string(all), s, "the audit log holds no secret and no new value")
	}

	only, err := b.engine.ListAudit(context.Background(), otpd.AuditFilter{Action: otpd.AuditKeyCreate})
	require.NoError(t, err)
	require.Len(t, only, 1)
	_, err = b.engine.ListAudit(context.Background(), otpd.AuditFilter{Action: "nope"})
	requireKind(t, err, otpd.ErrInvalid)
}

// TestAuditRecordsTemplateChanges: setting a template the first time, again,
// and deleting it are three entries naming the template, not its text.
func TestAuditRecordsTemplateChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := otpd.WithPrincipal(context.Background(), otpd.Principal{Admin: true})
	k := otpd.TemplateKey{Channel: otpd.ChannelSMS, Locale: "en"}
	for _, text := range []string{"{brand} sign-in: {code}", "{brand}: {code} (valid {expiry})"} {
		_, _, err := b.engine.SetTemplate(admin, b.svc.ID, &otpd.MessageTemplate{TemplateKey: k, Text: text})
		require.NoError(t, err)
	}
	require.NoError(t, b.engine.DeleteTemplate(admin, b.svc.ID, k))

	got, err := b.engine.ListAudit(context.Background(), otpd.AuditFilter{ServiceID: b.svc.ID})
	require.NoError(t, err)
	require.Len(t, got, 4) // and the service's creation
	for i, action := range []string{otpd.AuditTemplateDelete, otpd.AuditTemplateUpdate, otpd.AuditTemplateCreate} {
		require.Equal(t, action, got[i].Action)
		require.Equal(t, otpd.ActorAdmin, got[i].Actor)
		require.Equal(t, "sms/login/en", got[i].Target, "the canonical key")
		require.Nil(t, got[i].Details, "never the text")
	}
}
