package message_test

import (
	"strings"
	"time"

	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/message"
)

// TestBuiltinsPassCheckTemplate: a copy of any built-in text is accepted as
// a service's own, for every channel of its kind, with the SMS extras on
// and a brand in the locale's script, so the limits are no stricter than
// otpd's own wording.
func TestBuiltinsPassCheckTemplate(t *testing.T) {
	t.Parallel()
	c := message.New()
	for _, name := range []string{"Acme Bank", "Банк Акме", "銀行"} {
		svc := &otpd.Service{Name: name, AppHash: "FA+9qCX9VSu", WebOTPDomain: "login.acme-bank.example"}
		for _, loc := range c.Locales() {
			for _, p := range message.Purposes() {
				for _, ch := range []otpd.ChannelName{otpd.ChannelSMS, otpd.ChannelWhatsApp, otpd.ChannelRCS, otpd.ChannelPush, otpd.ChannelEmail} {
					kind, _ := message.KindOf(ch)
					bt, ok := c.Template(message.Key{Kind: kind, Purpose: p, Locale: loc})
					require.True(t, ok)
					mt := &otpd.MessageTemplate{TemplateKey: otpd.TemplateKey{Channel: ch, Purpose: p, Locale: loc}, Subject: bt.Subject, Text: bt.Text}
					require.NoError(t, c.CheckTemplate(svc, mt), "%s %s %s %s", name, loc, p, ch)
				}
			}
		}
	}
}

func TestCanonicalTemplateKey(t *testing.T) {
	t.Parallel()
	c := message.New()
	tests := []struct {
		in    otpd.TemplateKey
		want  otpd.TemplateKey
		param string
	}{
		{in: otpd.TemplateKey{Channel: "sms", Locale: "en"}, want: otpd.TemplateKey{Channel: "sms", Purpose: "login", Locale: "en"}},
		{in: otpd.TemplateKey{Channel: "email", Purpose: "transaction", Locale: "pt-br"}, want: otpd.TemplateKey{Channel: "email", Purpose: "transaction", Locale: "pt-BR"}},
		{in: otpd.TemplateKey{Channel: "push", Locale: "ZH-hant"}, want: otpd.TemplateKey{Channel: "push", Purpose: "login", Locale: "zh-Hant"}},
		{in: otpd.TemplateKey{Channel: "auto", Locale: "en"}, param: "channel"},
		{in: otpd.TemplateKey{Channel: "fax", Locale: "en"}, param: "channel"},
		{in: otpd.TemplateKey{Channel: "sms", Purpose: "signup", Locale: "en"}, param: "purpose"},
		{in: otpd.TemplateKey{Channel: "sms", Locale: "pt"}, param: "locale"},
		{in: otpd.TemplateKey{Channel: "sms", Locale: "sv"}, param: "locale"},
		{in: otpd.TemplateKey{Channel: "sms", Locale: "not a tag"}, param: "locale"},
		{in: otpd.TemplateKey{Channel: "sms", Locale: ""}, param: "locale"},
	}
	for _, tt := range tests {
		got, err := c.CanonicalTemplateKey(tt.in)
		if tt.param != "" {
			requireInvalid(t, err, tt.param)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
	}
}

func requireInvalid(t *testing.T, err error, param string) {
	t.Helper()
	require.ErrorIs(t, err, otpd.ErrInvalid)
	var oe *otpd.Error
	require.ErrorAs(t, err, &oe)
	require.Equal(t, param, oe.Param, "%v", err)
}

func TestCheckTemplate(t *testing.T) {
	t.Parallel()
	c := message.New()
	svc := &otpd.Service{Name: "Acme Bank"}
	withExtras := &otpd.Service{Name: "Acme Bank", AppHash: "FA+9qCX9VSu", WebOTPDomain: "acme.example"}
	long := strings.Repeat("x", 120)
	tests := []struct {
		name    string
		svc     *otpd.Service
		ch      otpd.ChannelName
		purpose string
		subject string
		text    string
		param   string // "" when valid
	}{
		{name: "ok", ch: "sms", text: "{brand}: {code} ({expiry})"},
		{name: "no code", ch: "sms", text: "{brand}: your code", param: "text"},
		{name: "code twice", ch: "sms", text: "{code} {code}", param: "text"},
		{name: "unknown placeholder", ch: "sms", text: "{code} for {name}", param: "text"},
		{name: "wrong case", ch: "sms", text: "{Code}", param: "text"},
		{name: "go template", ch: "sms", text: "{code} {{.Brand}}", param: "text"},
		{name: "unmatched brace", ch: "sms", text: "{code} }", param: "text"},
		{name: "control character", ch: "sms", text: "{code}\x07", param: "text"},
		{name: "bidi control", ch: "sms", text: "{code}\u202e", param: "text"},
		{name: "blank", ch: "sms", text: "  ", param: "text"},
		{name: "subject on sms", ch: "sms", subject: "Hi", text: "{code}", param: "subject"},
		{name: "amount outside transaction", ch: "sms", text: "{code} {amount}", param: "text"},
		{name: "transaction without payee", ch: "sms", purpose: "transaction", text: "{code} {amount}", param: "text"},
		{name: "transaction", ch: "sms", purpose: "transaction", text: "Pay {amount} to {payee}: {code}"},
		// 3 × 120 + a 64-character brand + the rest: 3 GSM-7 SMS, fine;
		// 5 × 120 is over 4.
		{name: "sms at the limit", ch: "sms", text: "{brand} {code} " + long + long + long},
		{name: "too long for sms", ch: "sms", text: "{brand} {code} " + long + long + long + long + long, param: "text"},
		// UCS-2 halves what fits: the same text with one Cyrillic letter is over.
		{name: "too long for sms in ucs2", ch: "sms", text: "Ж {brand} {code} " + long + long, param: "text"},
		// The service's WebOTP line and app hash count.
		{name: "extras tip it over", svc: withExtras, ch: "sms", text: "{brand} {code} " + long + long + long + long + strings.Repeat("x", 36)},
		{name: "too long for whatsapp", ch: "whatsapp", text: "{code}" + strings.Repeat(long, 9), param: "text"},
		{name: "rcs takes more", ch: "rcs", text: "{code}" + strings.Repeat(long, 9)},
		{name: "too long for push", ch: "push", text: "{code}" + strings.Repeat("<", 400), param: "text"},
		{name: "email", ch: "email", subject: "{brand} code", text: "Hello\n\n{code}\n\nBye"},
		{name: "email without subject", ch: "email", text: "{code}", param: "subject"},
		{name: "code in subject", ch: "email", subject: "{code}", text: "{code}", param: "subject"},
		{name: "subject too long", ch: "email", subject: "{brand} " + long + long, text: "{code}", param: "subject"},
		{name: "multi-line subject", ch: "email", subject: "a\nb", text: "{code}", param: "subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.svc
			if s == nil {
				s = svc
			}
			purpose := tt.purpose
			if purpose == "" {
				purpose = message.PurposeLogin
			}
			mt := &otpd.MessageTemplate{TemplateKey: otpd.TemplateKey{Channel: tt.ch, Purpose: purpose, Locale: "en"}, Subject: tt.subject, Text: tt.text}
			err := c.CheckTemplate(s, mt)
			if tt.param == "" && tt.name == "extras tip it over" {
				requireInvalid(t, err, "text")
				require.NoError(t, c.CheckTemplate(svc, mt), "without the extras it fits")
				return
			}
			if tt.param == "" {
				require.NoError(t, err)
				return
			}
			requireInvalid(t, err, tt.param)
		})
	}
}

// TestRenderServiceTemplate: a service's template replaces the built-in for
// its channel, purpose and locale only; a request in a locale the catalog
// matches to the template's gets it too; values are values, never template
// text; and the e-mail HTML escapes the template and the values.
func TestRenderServiceTemplate(t *testing.T) {
	t.Parallel()
	c := message.New()
	templates := []otpd.MessageTemplate{
		{TemplateKey: otpd.TemplateKey{Channel: "sms", Purpose: "login", Locale: "pt-BR"}, Text: "{brand} <b>: {code}"},
		{TemplateKey: otpd.TemplateKey{Channel: "email", Purpose: "login", Locale: "en"}, Subject: "{brand} & co", Text: "Hi <b>there</b>,\n\n{code}\n\nUntil {expiry}."},
	}
	req := otpd.RenderRequest{Channel: "sms", Locale: "pt", Brand: "Acme {code} {{.Code}}", Code: "123456", TTL: 10 * time.Minute, Templates: templates}

	r, err := c.Render(req)
	require.NoError(t, err)
	require.Equal(t, "Acme {code} {{.Code}} <b>: 123456", r.Text, "pt matches pt-BR; the brand is shown as it is")
	require.Equal(t, "pt-BR", r.Locale)

	for _, other := range []otpd.RenderRequest{
		{Channel: "sms", Locale: "en"},
		{Channel: "push", Locale: "pt-BR"},
		{Channel: "sms", Locale: "pt-BR", Purpose: "password_reset"},
	} {
		other.Brand, other.Code, other.TTL, other.Templates = "Acme", "123456", 10*time.Minute, templates
		r, err := c.Render(other)
		require.NoError(t, err)
		require.NotContains(t, r.Text, "<b>", "%+v uses the built-in", other)
	}

	req.Channel, req.Locale, req.Brand = "email", "en-GB", `Acme <script>"`
	r, err = c.Render(req)
	require.NoError(t, err)
	require.Equal(t, `Acme <script>" & co`, r.Subject)
	require.Contains(t, r.Text, "Hi <b>there</b>,")
	require.Contains(t, r.HTML, "Hi &lt;b&gt;there&lt;/b&gt;,")
	require.Contains(t, r.HTML, "<title>Acme &lt;script&gt;&#34; &amp; co</title>")
	require.NotContains(t, r.HTML, "<script>")
	require.NotContains(t, r.HTML, "<b>")
	require.Contains(t, r.HTML, "123456")
}
