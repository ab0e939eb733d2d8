package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

// NewTemplate returns a template of svc for k, set at now.
func NewTemplate(svc *otpd.Service, k otpd.TemplateKey, now time.Time) *otpd.MessageTemplate {
	t := &otpd.MessageTemplate{ServiceID: svc.ID, TemplateKey: k, Text: "{brand}: {code} (" + string(k.Channel) + ")", CreatedAt: now, UpdatedAt: now}
	if k.Channel == otpd.ChannelEmail {
		t.Subject = "Your {brand} code"
	}
	return t
}

func normTemplate(t *otpd.MessageTemplate) *otpd.MessageTemplate {
	c := *t
	c.CreatedAt, c.UpdatedAt = ms(t.CreatedAt), ms(t.UpdatedAt)
	return &c
}

func testTemplates(t *testing.T, newStore func(t *testing.T) Store) {
	b := setup(t, newStore)
	svc, other := b.service(t), b.service(t)
	keys := []otpd.TemplateKey{ // deliberately out of order
		{Channel: otpd.ChannelSMS, Purpose: "login", Locale: "pt-BR"},
		{Channel: otpd.ChannelEmail, Purpose: "transaction", Locale: "en"},
		{Channel: otpd.ChannelSMS, Purpose: "login", Locale: "de"},
		{Channel: otpd.ChannelSMS, Purpose: "delivery", Locale: "zh-Hant"},
	}
	var want []*otpd.MessageTemplate
	for _, k := range keys {
		tm := NewTemplate(svc, k, b.now)
		created, err := b.s.PutTemplate(b.ctx, tm)
		require.NoError(t, err)
		require.True(t, created)
		want = append(want, normTemplate(tm))
	}
	otm := NewTemplate(other, keys[0], b.now)
	otm.Text = "other {code}"
	_, err := b.s.PutTemplate(b.ctx, otm)
	require.NoError(t, err)

	got, err := b.s.GetTemplate(b.ctx, svc.ID, keys[1])
	require.NoError(t, err)
	require.Equal(t, want[1], normTemplate(got))
	_, err = b.s.GetTemplate(b.ctx, svc.ID, otpd.TemplateKey{Channel: otpd.ChannelSMS, Purpose: "login", Locale: "en"})
	require.ErrorIs(t, err, otpd.ErrNotFound)

	list, err := b.s.ListTemplates(b.ctx, svc.ID)
	require.NoError(t, err)
	slices.SortFunc(want, func(a, b *otpd.MessageTemplate) int { return otpd.CompareTemplateKeys(a.TemplateKey, b.TemplateKey) })
	require.Len(t, list, len(want))
	for i := range want {
		require.Equal(t, want[i], normTemplate(list[i]), "in channel, purpose, locale order")
	}
	none, err := b.s.ListTemplates(b.ctx, "svc_01jd0000000000000000000000")
	require.NoError(t, err)
	require.Empty(t, none)

	// Putting again replaces the text, keeps the creation time.
	later := b.now.Add(time.Minute)
	again := NewTemplate(svc, keys[0], later)
	again.Text = "{code} is your code"
	created, err := b.s.PutTemplate(b.ctx, again)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, ms(b.now), ms(again.CreatedAt), "PutTemplate sets the kept creation time")
	got, err = b.s.GetTemplate(b.ctx, svc.ID, keys[0])
	require.NoError(t, err)
	require.Equal(t, "{code} is your code", got.Text)
	require.Equal(t, ms(b.now), got.CreatedAt)
	require.Equal(t, ms(later), got.UpdatedAt)
	got, err = b.s.GetTemplate(b.ctx, other.ID, keys[0])
	require.NoError(t, err)
	require.Equal(t, "other {code}", got.Text, "another service's template of the same key is its own")

	_, err = b.s.PutTemplate(b.ctx, NewTemplate(&otpd.Service{ID: "svc_01jd0000000000000000000000"}, keys[0], b.now))
	require.ErrorIs(t, err, otpd.ErrNotFound, "a template of a service that does not exist")

	require.NoError(t, b.s.DeleteTemplate(b.ctx, svc.ID, keys[0]))
	require.ErrorIs(t, b.s.DeleteTemplate(b.ctx, svc.ID, keys[0]), otpd.ErrNotFound)
	_, err = b.s.GetTemplate(b.ctx, svc.ID, keys[0])
	require.ErrorIs(t, err, otpd.ErrNotFound)
	_, err = b.s.GetTemplate(b.ctx, other.ID, keys[0])
	require.NoError(t, err, "deleting one service's template leaves another's")

	require.NoError(t, b.s.DeleteService(b.ctx, svc.ID))
	list, err = b.s.ListTemplates(b.ctx, svc.ID)
	require.NoError(t, err)
	require.Empty(t, list, "deleting a service deletes its templates")
}
