package message_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/message"
)

func TestValidate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		channel otpd.ChannelName
		text    string
		wantErr string // "" means valid
	}{
		{"built-in style", otpd.ChannelSMS, "Your {brand} code is {code}. It expires in {expiry}.", ""},
		{"code only", otpd.ChannelPush, "{code}", ""},
		{"transaction placeholders", otpd.ChannelWhatsApp, "{code}: pay {amount} to {payee}", ""},
		{"several lines", otpd.ChannelRCS, "{brand}\n{code}", ""},
		{"e-mail paragraphs", otpd.ChannelEmail, "Your code:\n\n{code}\n\nBye.", ""},
		{"non-ASCII", otpd.ChannelSMS, "Ihr Code für {brand} lautet {code}. Er ist {expiry} gültig.", ""},

		{"no code", otpd.ChannelSMS, "Your {brand} code.", "must contain {code} exactly once, has it 0 times"},
		{"code twice", otpd.ChannelSMS, "{code} {code}", "must contain {code} exactly once, has it 2 times"},
		{"unknown placeholder", otpd.ChannelSMS, "{code} {name}", "unknown placeholder {name}"},
		{"placeholders are case-sensitive", otpd.ChannelSMS, "{Code}", "unknown placeholder {Code}"},
		{"go template syntax", otpd.ChannelSMS, "{{.Code}} {code}", "unmatched {"},
		{"unclosed brace", otpd.ChannelSMS, "{code} {brand", "unmatched {"},
		{"stray closing brace", otpd.ChannelSMS, "{code} :}", "unmatched }"},
		{"empty", otpd.ChannelSMS, "", "text is empty"},
		{"blank", otpd.ChannelEmail, " \n ", "text is empty"},
		{"carriage return", otpd.ChannelSMS, "{code}\r\n", "control character U+000D"},
		{"bidi override", otpd.ChannelSMS, "{code} \u202e", "control character U+202E"},
		{"invalid UTF-8", otpd.ChannelSMS, "{code} \xff", "not valid UTF-8"},
		{"auto is no channel", otpd.ChannelAuto, "{code}", `no templates for channel "auto"`},
		{"unknown channel", "fax", "{code}", `no templates for channel "fax"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := message.Validate(tt.channel, tt.text)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, message.ErrInvalidTemplate)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestValidateTemplate(t *testing.T) {
	t.Parallel()

	text := func(p string) message.Key { return message.Key{Kind: message.KindText, Purpose: p, Locale: "en"} }
	email := func(p string) message.Key { return message.Key{Kind: message.KindEmail, Purpose: p, Locale: "en"} }
	tests := []struct {
		name    string
		key     message.Key
		tmpl    message.Template
		wantErr string
	}{
		{"text", text(""), message.Template{Text: "{brand}: {code}"}, ""},
		{"transaction text", text(message.PurposeTransaction), message.Template{Text: "{code} pays {amount} to {payee}"}, ""},
		{"e-mail", email(message.PurposeLogin), message.Template{Subject: "{brand} code", Text: "{code}"}, ""},
		{"transaction e-mail", email(message.PurposeTransaction), message.Template{Subject: "Pay {payee}", Text: "{code} pays {amount} to {payee}"}, ""},

		{"unknown kind", message.Key{Kind: "fax"}, message.Template{Text: "{code}"}, `unknown kind "fax"`},
		{"unknown purpose", text("signup"), message.Template{Text: "{code}"}, `unknown purpose "signup"`},
		{"text with a subject", text(""), message.Template{Subject: "x", Text: "{code}"}, "a text template has no subject"},
		{"bad text", text(""), message.Template{Text: "{brand}"}, "exactly once"},
		{"transaction without amount", text(message.PurposeTransaction), message.Template{Text: "{code} to {payee}"}, "must show {amount} and {payee}"},
		{"transaction with payee in the subject only", email(message.PurposeTransaction),
			message.Template{Subject: "Pay {payee}", Text: "{code} {amount}"}, "must show {amount} and {payee}"},
		{"amount outside a transaction", text(message.PurposeLogin), message.Template{Text: "{code} {amount}"}, "only a transaction template"},
		{"payee in a login subject", email(message.PurposeLogin), message.Template{Subject: "{payee}", Text: "{code}"}, "only a transaction template"},
		{"e-mail without subject", email(""), message.Template{Text: "{code}"}, "subject is empty"},
		{"code in the subject", email(""), message.Template{Subject: "Code {code}", Text: "{code}"}, "subject must not contain {code}"},
		{"two-line subject", email(""), message.Template{Subject: "a\nb", Text: "{code}"}, "control character U+000A"},
		{"unknown placeholder in subject", email(""), message.Template{Subject: "{name}", Text: "{code}"}, "subject: unknown placeholder {name}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := message.ValidateTemplate(tt.key, tt.tmpl)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, message.ErrInvalidTemplate)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestCatalogTemplates(t *testing.T) {
	t.Parallel()

	t.Run("every built-in template is valid and present", func(t *testing.T) {
		t.Parallel()
		c := message.New()
		for _, locale := range c.Locales() {
			for _, kind := range []message.Kind{message.KindText, message.KindEmail} {
				for _, p := range message.Purposes() {
					k := message.Key{Kind: kind, Purpose: p, Locale: locale}
					tmpl, ok := c.Template(k)
					require.True(t, ok, "%+v", k)
					require.NoError(t, message.ValidateTemplate(k, tmpl), "%+v", k)
				}
			}
		}
		_, ok := c.Template(message.Key{Kind: message.KindText, Purpose: message.PurposeLogin, Locale: "pt"})
		require.False(t, ok)
	})

	t.Run("WithTemplate overrides one key", func(t *testing.T) {
		t.Parallel()
		c := message.New(message.WithTemplate(
			message.Key{Kind: message.KindText, Locale: "de"},
			message.Template{Text: "{brand}: {code} ({expiry})"},
		))
		req := request(otpd.ChannelSMS, "de-AT", "")
		got, err := c.Render(req)
		require.NoError(t, err)
		require.Equal(t, "Acme Bank: 123456 (10 Minuten)", got.Text)

		// Other keys keep the built-in wording.
		got, err = c.Render(request(otpd.ChannelSMS, "en", ""))
		require.NoError(t, err)
		require.Equal(t, "Your Acme Bank code is 123456. It expires in 10 minutes. Don't share it.", got.Text)
		got, err = c.Render(request(otpd.ChannelEmail, "de", ""))
		require.NoError(t, err)
		require.Equal(t, "Ihr Bestätigungscode für Acme Bank", got.Subject)
	})

	t.Run("WithTemplate e-mail with inline code", func(t *testing.T) {
		t.Parallel()
		c := message.New(message.WithTemplate(
			message.Key{Kind: message.KindEmail, Purpose: message.PurposeLogin, Locale: "en"},
			message.Template{Subject: "{brand} <sign-in>", Text: "Use <{code}> to sign in to {brand}."},
		))
		got, err := c.Render(request(otpd.ChannelEmail, "en", ""))
		require.NoError(t, err)
		require.Equal(t, "Acme Bank <sign-in>", got.Subject)
		require.Equal(t, "Use <123456> to sign in to Acme Bank.", got.Text)
		require.Contains(t, got.HTML, `<title>Acme Bank &lt;sign-in&gt;</title>`)
		require.Contains(t, got.HTML, `Use &lt;<strong style="font-family:Menlo,Consolas,'Courier New',monospace;letter-spacing:2px;">123456</strong>&gt; to sign in to <bdi>Acme Bank</bdi>.`)
	})

	t.Run("WithTemplate panics on an invalid template", func(t *testing.T) {
		t.Parallel()
		require.PanicsWithError(t,
			"message: invalid template: text must contain {code} exactly once, has it 0 times (template text/login/en)",
			func() {
				message.New(message.WithTemplate(message.Key{Kind: message.KindText, Locale: "en"}, message.Template{Text: "hi"}))
			})
	})

	t.Run("WithTemplate panics on an unknown locale", func(t *testing.T) {
		t.Parallel()
		require.Panics(t, func() {
			message.New(message.WithTemplate(message.Key{Kind: message.KindText, Locale: "pt"}, message.Template{Text: "{code}"}))
		})
	})
}

func TestKindOf(t *testing.T) {
	t.Parallel()

	tests := []struct {
		channel otpd.ChannelName
		kind    message.Kind
		ok      bool
	}{
		{otpd.ChannelSMS, message.KindText, true},
		{otpd.ChannelWhatsApp, message.KindText, true},
		{otpd.ChannelRCS, message.KindText, true},
		{otpd.ChannelPush, message.KindText, true},
		{otpd.ChannelEmail, message.KindEmail, true},
		{otpd.ChannelAuto, "", false},
		{"fax", "", false},
	}
	for _, tt := range tests {
		kind, ok := message.KindOf(tt.channel)
		require.Equal(t, tt.kind, kind, tt.channel)
		require.Equal(t, tt.ok, ok, tt.channel)
	}
}
