package message_test

import (
	"flag"
	"html"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/message"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const code = "123456"

var textChannels = []otpd.ChannelName{otpd.ChannelSMS, otpd.ChannelWhatsApp, otpd.ChannelRCS, otpd.ChannelPush}

func payment() *otpd.Transaction {
	return &otpd.Transaction{Amount: "125.00", Currency: "EUR", Payee: "ACME Shop"}
}

// request is a render request with the fields every test needs set.
func request(ch otpd.ChannelName, locale, purpose string) otpd.RenderRequest {
	req := otpd.RenderRequest{
		Channel: ch,
		Locale:  locale,
		Purpose: purpose,
		Brand:   "Acme Bank",
		Code:    code,
		TTL:     10 * time.Minute,
	}
	switch purpose {
	case message.PurposeTransaction:
		req.Transaction = payment()
	case message.PurposeDelivery:
		req.TTL = 72 * time.Hour
	}
	return req
}

func setup(t *testing.T) *message.Catalog {
	t.Helper()
	return message.New()
}

func TestRenderText(t *testing.T) {
	t.Parallel()
	c := setup(t)

	tests := []struct {
		locale, purpose, want string
	}{
		{"en", message.PurposeLogin, "Your Acme Bank code is 123456. It expires in 10 minutes. Don't share it."},
		{"en", message.PurposeTransaction, "Your Acme Bank code to pay €125.00 to ACME Shop is 123456. It expires in 10 minutes. Don't share it."},
		{"en", message.PurposePasswordReset, "Your Acme Bank password reset code is 123456. It expires in 10 minutes. Don't share it."},
		{"en", message.PurposeDelivery, "Your Acme Bank delivery code is 123456. Only give it to the courier when you receive your order. It expires in 3 days."},

		{"de", message.PurposeLogin, "Ihr Code für Acme Bank lautet 123456. Er ist 10 Minuten gültig. Geben Sie ihn nicht weiter."},
		{"de", message.PurposeTransaction, "Ihr Code für Acme Bank zur Zahlung von 125,00\u00a0€ an ACME Shop lautet 123456. Er ist 10 Minuten gültig. Geben Sie ihn nicht weiter."},
		{"de", message.PurposePasswordReset, "Ihr Code zum Zurücksetzen des Passworts für Acme Bank lautet 123456. Er ist 10 Minuten gültig. Geben Sie ihn nicht weiter."},
		{"de", message.PurposeDelivery, "Ihr Zustellcode für Acme Bank lautet 123456. Nennen Sie ihn dem Zusteller erst bei der Übergabe. Er ist 3 Tage gültig."},

		{"fr", message.PurposeLogin, "Votre code Acme Bank est 123456. Il expire dans 10 minutes. Ne le communiquez à personne."},
		{"fr", message.PurposeTransaction, "Votre code Acme Bank pour payer 125,00\u00a0€ à ACME Shop est 123456. Il expire dans 10 minutes. Ne le communiquez à personne."},
		{"fr", message.PurposePasswordReset, "Votre code Acme Bank pour réinitialiser votre mot de passe est 123456. Il expire dans 10 minutes. Ne le communiquez à personne."},
		{"fr", message.PurposeDelivery, "Votre code de livraison Acme Bank est 123456. Ne le donnez au livreur qu'à la remise de votre commande. Il expire dans 3 jours."},

		{"es", message.PurposeLogin, "Tu clave de Acme Bank es 123456. Caduca en 10 minutos. No la compartas."},
		{"es", message.PurposeTransaction, "Tu clave de Acme Bank para pagar 125,00\u00a0€ a ACME Shop es 123456. Caduca en 10 minutos. No la compartas."},
		{"es", message.PurposePasswordReset, "Tu clave de Acme Bank para restablecer tu contraseña es 123456. Caduca en 10 minutos. No la compartas."},
		{"es", message.PurposeDelivery, "Tu clave de entrega de Acme Bank es 123456. Entrégasela al repartidor solo cuando recibas tu pedido. Caduca en 3 días."},
	}
	for _, tt := range tests {
		for _, ch := range textChannels {
			t.Run(tt.locale+"/"+tt.purpose+"/"+string(ch), func(t *testing.T) {
				t.Parallel()
				got, err := c.Render(request(ch, tt.locale, tt.purpose))
				require.NoError(t, err)
				want := tt.want
				if ch == otpd.ChannelSMS {
					// No-break spaces are outside GSM-7.
					want = strings.ReplaceAll(want, "\u00a0", " ")
				}
				require.Equal(t, otpd.Rendered{Text: want, Locale: tt.locale}, got)
			})
		}
	}
}

func TestRenderEmail(t *testing.T) {
	t.Parallel()
	c := setup(t)

	tests := []struct {
		locale, purpose, subject, text string
	}{
		{"en", message.PurposeLogin, "Your Acme Bank verification code",
			"Your Acme Bank verification code is:\n\n123456\n\nIt expires in 10 minutes. Don't share it with anyone.\n\nDidn't request this? You can ignore this e-mail."},
		{"en", message.PurposeTransaction, "Your Acme Bank payment confirmation code",
			"Your Acme Bank code to pay €125.00 to ACME Shop is:\n\n123456\n\nCheck the amount and payee before you use it. It expires in 10 minutes. Don't share it with anyone.\n\nDidn't start this payment? Don't use the code, and contact Acme Bank."},
		{"en", message.PurposePasswordReset, "Your Acme Bank password reset code",
			"Your Acme Bank password reset code is:\n\n123456\n\nIt expires in 10 minutes. Don't share it with anyone.\n\nDidn't ask to reset your password? You can ignore this e-mail. Your password won't change."},
		{"en", message.PurposeDelivery, "Your Acme Bank delivery code",
			"Your Acme Bank delivery code is:\n\n123456\n\nOnly give it to the courier when you receive your order. It expires in 3 days.\n\nNot expecting a delivery? You can ignore this e-mail."},

		{"de", message.PurposeLogin, "Ihr Bestätigungscode für Acme Bank",
			"Ihr Bestätigungscode für Acme Bank lautet:\n\n123456\n\nEr ist 10 Minuten gültig. Geben Sie ihn an niemanden weiter.\n\nSie haben diesen Code nicht angefordert? Dann können Sie diese E-Mail ignorieren."},
		{"de", message.PurposeTransaction, "Ihr Code für Acme Bank zur Bestätigung einer Zahlung",
			"Ihr Code für Acme Bank zur Zahlung von 125,00\u00a0€ an ACME Shop lautet:\n\n123456\n\nPrüfen Sie Betrag und Empfänger, bevor Sie ihn verwenden. Er ist 10 Minuten gültig. Geben Sie ihn an niemanden weiter.\n\nSie haben diese Zahlung nicht veranlasst? Dann verwenden Sie den Code nicht und wenden Sie sich an Acme Bank."},
		{"de", message.PurposePasswordReset, "Ihr Code zum Zurücksetzen des Passworts für Acme Bank",
			"Ihr Code zum Zurücksetzen des Passworts für Acme Bank lautet:\n\n123456\n\nEr ist 10 Minuten gültig. Geben Sie ihn an niemanden weiter.\n\nSie haben das Zurücksetzen nicht angefordert? Dann können Sie diese E-Mail ignorieren. Ihr Passwort bleibt unverändert."},
		{"de", message.PurposeDelivery, "Ihr Zustellcode für Acme Bank",
			"Ihr Zustellcode für Acme Bank lautet:\n\n123456\n\nNennen Sie ihn dem Zusteller erst bei der Übergabe Ihrer Sendung. Er ist 3 Tage gültig.\n\nSie erwarten keine Sendung? Dann können Sie diese E-Mail ignorieren."},

		{"fr", message.PurposeLogin, "Votre code de vérification Acme Bank",
			"Votre code de vérification Acme Bank est\u00a0:\n\n123456\n\nIl expire dans 10 minutes. Ne le communiquez à personne.\n\nVous n'êtes pas à l'origine de cette demande\u00a0? Vous pouvez ignorer cet e-mail."},
		{"fr", message.PurposeTransaction, "Votre code Acme Bank pour confirmer un paiement",
			"Votre code Acme Bank pour payer 125,00\u00a0€ à ACME Shop est\u00a0:\n\n123456\n\nVérifiez le montant et le bénéficiaire avant de l'utiliser. Il expire dans 10 minutes. Ne le communiquez à personne.\n\nVous n'êtes pas à l'origine de ce paiement\u00a0? N'utilisez pas ce code et contactez Acme Bank."},
		{"fr", message.PurposePasswordReset, "Votre code Acme Bank de réinitialisation du mot de passe",
			"Votre code Acme Bank pour réinitialiser votre mot de passe est\u00a0:\n\n123456\n\nIl expire dans 10 minutes. Ne le communiquez à personne.\n\nVous n'avez pas demandé à réinitialiser votre mot de passe\u00a0? Vous pouvez ignorer cet e-mail\u00a0: votre mot de passe ne changera pas."},
		{"fr", message.PurposeDelivery, "Votre code de livraison Acme Bank",
			"Votre code de livraison Acme Bank est\u00a0:\n\n123456\n\nNe le donnez au livreur qu'à la remise de votre commande. Il expire dans 3 jours.\n\nVous n'attendez pas de livraison\u00a0? Vous pouvez ignorer cet e-mail."},

		{"es", message.PurposeLogin, "Tu código de verificación de Acme Bank",
			"Tu código de verificación de Acme Bank es:\n\n123456\n\nCaduca en 10 minutos. No lo compartas con nadie.\n\n¿No lo has solicitado? Puedes ignorar este correo."},
		{"es", message.PurposeTransaction, "Tu código de Acme Bank para confirmar un pago",
			"Tu código de Acme Bank para pagar 125,00\u00a0€ a ACME Shop es:\n\n123456\n\nComprueba el importe y el beneficiario antes de usarlo. Caduca en 10 minutos. No lo compartas con nadie.\n\n¿No has iniciado este pago? No uses el código y ponte en contacto con Acme Bank."},
		{"es", message.PurposePasswordReset, "Tu código de Acme Bank para restablecer tu contraseña",
			"Tu código de Acme Bank para restablecer tu contraseña es:\n\n123456\n\nCaduca en 10 minutos. No lo compartas con nadie.\n\n¿No has pedido restablecer tu contraseña? Puedes ignorar este correo: tu contraseña no cambiará."},
		{"es", message.PurposeDelivery, "Tu código de entrega de Acme Bank",
			"Tu código de entrega de Acme Bank es:\n\n123456\n\nDáselo al repartidor solo cuando recibas tu pedido. Caduca en 3 días.\n\n¿No esperas ningún pedido? Puedes ignorar este correo."},
	}
	for _, tt := range tests {
		t.Run(tt.locale+"/"+tt.purpose, func(t *testing.T) {
			t.Parallel()
			got, err := c.Render(request(otpd.ChannelEmail, tt.locale, tt.purpose))
			require.NoError(t, err)
			require.Equal(t, tt.subject, got.Subject)
			require.Equal(t, tt.text, got.Text)
			require.Equal(t, tt.locale, got.Locale)

			require.Contains(t, got.HTML, `<html lang="`+tt.locale+`" dir="ltr">`)
			require.Contains(t, got.HTML, "<title>"+tt.subject+"</title>")
			require.Contains(t, got.HTML, `font-size:32px;font-weight:700;letter-spacing:6px;">123456</p>`)
			require.Contains(t, got.HTML, `font-size:20px;font-weight:600;">Acme Bank</p>`)
			require.Equal(t, 1, strings.Count(got.HTML, code))
		})
	}
}

// TestRenderEmailHTMLGolden pins the whole HTML part; run with -update to
// rewrite the files after a deliberate change, and look at them.
func TestRenderEmailHTMLGolden(t *testing.T) {
	t.Parallel()
	c := setup(t)

	tests := []struct {
		file            string
		locale, purpose string
	}{
		{"email_en_login.html", "en", message.PurposeLogin},
		{"email_de_transaction.html", "de", message.PurposeTransaction},
		{"email_ar_login.html", "ar", message.PurposeLogin},
		{"email_ar_transaction.html", "ar", message.PurposeTransaction},
		{"email_ja_login.html", "ja", message.PurposeLogin},
		{"email_ja_transaction.html", "ja", message.PurposeTransaction},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := c.Render(request(otpd.ChannelEmail, tt.locale, tt.purpose))
			require.NoError(t, err)
			path := filepath.Join("testdata", tt.file)
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(got.HTML), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, string(want), got.HTML)
		})
	}
}

func TestRenderPurpose(t *testing.T) {
	t.Parallel()
	c := setup(t)

	login := "Your Acme Bank code is 123456. It expires in 10 minutes. Don't share it."
	paid := "Your Acme Bank code to pay €125.00 to ACME Shop is 123456. It expires in 10 minutes. Don't share it."
	tests := []struct {
		name        string
		purpose     string
		transaction bool
		want        string
	}{
		{"empty is login", "", false, login},
		{"unknown is login", "signup", false, login},
		{"case and space", "  Password_Reset ", false, "Your Acme Bank password reset code is 123456. It expires in 10 minutes. Don't share it."},
		{"transaction without one", message.PurposeTransaction, false, login},
		{"transaction with one", message.PurposeTransaction, true, paid},
		{"login with a transaction", message.PurposeLogin, true, paid},
		{"unknown with a transaction", "checkout", true, paid},
		{"delivery with a transaction", message.PurposeDelivery, true, paid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := request(otpd.ChannelSMS, "en", "")
			req.Purpose = tt.purpose
			if tt.transaction {
				req.Transaction = payment()
			}
			got, err := c.Render(req)
			require.NoError(t, err)
			require.Equal(t, tt.want, got.Text)
		})
	}
}

func TestRenderSMSExtras(t *testing.T) {
	t.Parallel()
	c := setup(t)

	const text = "Your Acme Bank code is 123456. It expires in 10 minutes. Don't share it."
	tests := []struct {
		name            string
		channel         otpd.ChannelName
		appHash, domain string
		want            string
		codeOccurrences int
	}{
		{"none", otpd.ChannelSMS, "", "", text, 1},
		{"app hash", otpd.ChannelSMS, "FA+9qCX9VSu", "", text + "\nFA+9qCX9VSu", 1},
		{"webotp", otpd.ChannelSMS, "", "example.com", text + "\n@example.com #123456", 2},
		{"webotp host is lower-cased", otpd.ChannelSMS, "", "Login.Example.COM", text + "\n@login.example.com #123456", 2},
		{"both: hash above the webotp line", otpd.ChannelSMS, "FA+9qCX9VSu", "example.com", text + "\nFA+9qCX9VSu\n@example.com #123456", 2},
		{"SMS only: whatsapp", otpd.ChannelWhatsApp, "FA+9qCX9VSu", "example.com", text, 1},
		{"SMS only: push", otpd.ChannelPush, "FA+9qCX9VSu", "example.com", text, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := request(tt.channel, "en", "")
			req.AppHash, req.WebOTPDomain = tt.appHash, tt.domain
			got, err := c.Render(req)
			require.NoError(t, err)
			require.Equal(t, tt.want, got.Text)
			require.Equal(t, tt.codeOccurrences, strings.Count(got.Text, code))
			require.NotContains(t, got.Text, "\n\n")
			if tt.domain != "" && tt.channel == otpd.ChannelSMS {
				lines := strings.Split(got.Text, "\n")
				require.Equal(t, "@"+strings.ToLower(tt.domain)+" #"+code, lines[len(lines)-1])
			}
		})
	}

	t.Run("e-mail ignores them", func(t *testing.T) {
		t.Parallel()
		req := request(otpd.ChannelEmail, "en", "")
		req.AppHash, req.WebOTPDomain = "FA+9qCX9VSu", "example.com"
		got, err := c.Render(req)
		require.NoError(t, err)
		require.NotContains(t, got.Text, "example.com")
		require.NotContains(t, got.HTML, "FA+9qCX9VSu")
	})
}

func TestRenderLocale(t *testing.T) {
	t.Parallel()
	c := setup(t)

	tests := []struct {
		requested, want string
	}{
		{"", "en"},
		{"en", "en"},
		{"en-GB", "en"},
		{"en-IN", "en"},
		{"de", "de"},
		{"de-AT", "de"},
		{"de-CH", "de"},
		{"de_at", "de"},
		{"fr-CA", "fr"},
		{"fr-BE", "fr"},
		{"es-MX", "es"},
		{"es-419", "es"},
		{"pt", "pt-BR"},
		{"pt-BR", "pt-BR"},
		{"pt-PT", "pt-PT"},
		{"pt-AO", "pt-PT"},
		{"pt-MZ", "pt-PT"},
		{"it-CH", "it"},
		{"nl-BE", "nl"},
		{"pl-PL", "pl"},
		{"tr", "tr"},
		{"ru-RU", "ru"},
		{"ar", "ar"},
		{"ar-EG", "ar"},
		{"ar-MA", "ar"},
		{"hi-IN", "hi"},
		{"id", "id"},
		{"in", "id"}, // the deprecated code Android still sends
		{"ms", "id"}, // CLDR: Malay readers read Indonesian
		{"ja-JP", "ja"},
		{"zh", "zh-Hans"},
		{"zh-CN", "zh-Hans"},
		{"zh-SG", "zh-Hans"},
		{"zh-TW", "zh-Hant"},
		{"zh-HK", "zh-Hant"},
		{"zh-MO", "zh-Hant"},
		{"zh-Hant", "zh-Hant"},
		{"uk", "en"}, // never Russian
		{"ko", "en"},
		{"und", "en"},
		{"not a locale", "en"},
	}
	for _, tt := range tests {
		t.Run(tt.requested, func(t *testing.T) {
			t.Parallel()
			for _, ch := range []otpd.ChannelName{otpd.ChannelSMS, otpd.ChannelEmail} {
				got, err := c.Render(request(ch, tt.requested, ""))
				require.NoError(t, err)
				require.Equal(t, tt.want, got.Locale)
			}
		})
	}
	require.Equal(t, []string{
		"en", "de", "fr", "es", "pt-BR", "pt-PT", "it", "nl", "pl", "tr", "ru", "ar", "hi", "id", "ja", "zh-Hans", "zh-Hant",
	}, c.Locales())
}

func TestRenderExpiry(t *testing.T) {
	t.Parallel()
	c := setup(t)

	tests := []struct {
		ttl        time.Duration
		en, de, fr string
	}{
		{time.Second, "1 minute", "1 Minute", "1 minute"},
		{30 * time.Second, "1 minute", "1 Minute", "1 minute"},
		{time.Minute, "1 minute", "1 Minute", "1 minute"},
		{time.Minute + time.Second, "2 minutes", "2 Minuten", "2 minutes"},
		{10*time.Minute - 300*time.Millisecond, "10 minutes", "10 Minuten", "10 minutes"},
		{10 * time.Minute, "10 minutes", "10 Minuten", "10 minutes"},
		{90 * time.Minute, "90 minutes", "90 Minuten", "90 minutes"},
		{119 * time.Minute, "119 minutes", "119 Minuten", "119 minutes"},
		{119*time.Minute + time.Second, "2 hours", "2 Stunden", "2 heures"},
		{2 * time.Hour, "2 hours", "2 Stunden", "2 heures"},
		{2*time.Hour + time.Minute, "3 hours", "3 Stunden", "3 heures"},
		{24 * time.Hour, "24 hours", "24 Stunden", "24 heures"},
		{47 * time.Hour, "47 hours", "47 Stunden", "47 heures"},
		{47*time.Hour + time.Minute, "2 days", "2 Tage", "2 jours"},
		{48 * time.Hour, "2 days", "2 Tage", "2 jours"},
		{72 * time.Hour, "3 days", "3 Tage", "3 jours"},
		{72*time.Hour + time.Second, "4 days", "4 Tage", "4 jours"},
	}
	for _, tt := range tests {
		t.Run(tt.ttl.String(), func(t *testing.T) {
			t.Parallel()
			for locale, phrase := range map[string]string{
				"en": "It expires in " + tt.en + ".",
				"de": "Er ist " + tt.de + " gültig.",
				"fr": "Il expire dans " + tt.fr + ".",
			} {
				req := request(otpd.ChannelSMS, locale, "")
				req.TTL = tt.ttl
				got, err := c.Render(req)
				require.NoError(t, err)
				require.Contains(t, got.Text, phrase)
			}
		})
	}

	t.Run("spanish singular", func(t *testing.T) {
		t.Parallel()
		for ttl, phrase := range map[time.Duration]string{
			time.Minute:    "Caduca en 1 minuto.",
			time.Hour * 25: "Caduca en 25 horas.",
			time.Hour * 96: "Caduca en 4 días.",
		} {
			req := request(otpd.ChannelSMS, "es", "")
			req.TTL = ttl
			got, err := c.Render(req)
			require.NoError(t, err)
			require.Contains(t, got.Text, phrase)
		}
	})
}

// amountCatalog shows the amount alone: "{amount}|{payee}|{code}".
func amountCatalog(t *testing.T) *message.Catalog {
	t.Helper()
	var opts []message.Option
	for _, l := range message.New().Locales() {
		opts = append(opts, message.WithTemplate(
			message.Key{Kind: message.KindText, Purpose: message.PurposeTransaction, Locale: l},
			message.Template{Text: "{amount}|{payee}|{code}"}))
	}
	return message.New(opts...)
}

func TestRenderAmount(t *testing.T) {
	t.Parallel()
	c := amountCatalog(t)

	const nb, nnb = "\u00a0", "\u202f" // no-break space, narrow no-break space
	tests := []struct {
		locale, amount, currency, want string
	}{
		// Digits are shown as bound: leading zeros and zeros beyond the
		// minor unit go, other digits are never rounded away.
		{"en", "125.00", "EUR", "€125.00"},
		{"en", "125", "eur", "€125.00"},
		{"en", "0.5", "USD", "US$0.50"},
		{"en", "007.10", "GBP", "£7.10"},
		{"en", "125.000", "EUR", "€125.00"},
		{"en", "125.001", "EUR", "€125.001"},
		{"en", "1234567.89", "CHF", "CHF" + nb + "1,234,567.89"}, // a symbol in letters keeps its distance
		{"en", "1500", "JPY", "JP¥1,500"},                        // minor units come from the currency
		{"en", "1.5", "BHD", "BHD" + nb + "1.500"},
		{"en", "42", "XYZ", "XYZ" + nb + "42.00"}, // unknown to CLDR: ISO code, two decimals
		{"en", "125", "INR", "₹125.00"},
		{"en", "125", "CNY", "CN¥125.00"},
		{"en", "125", "CAD", "CA$125.00"},

		{"de", "125", "EUR", "125,00" + nb + "€"},
		{"de", "1234.5", "EUR", "1.234,50" + nb + "€"},
		{"de", "125", "USD", "125,00" + nb + "US$"}, // CLDR's "$" is ambiguous
		{"de", "1500", "JPY", "1.500" + nb + "JP¥"},
		{"de", "1234567.89", "CHF", "1.234.567,89" + nb + "CHF"},

		{"fr", "125", "EUR", "125,00" + nb + "€"},
		{"fr", "1234.5", "EUR", "1" + nnb + "234,50" + nb + "€"},
		{"fr", "1234567.89", "EUR", "1" + nnb + "234" + nnb + "567,89" + nb + "€"},
		{"fr", "125", "USD", "125,00" + nb + "$US"},

		{"es", "125", "EUR", "125,00" + nb + "€"},
		{"es", "1234.5", "EUR", "1234,50" + nb + "€"}, // minimumGroupingDigits 2
		{"es", "12345", "EUR", "12.345,00" + nb + "€"},
		{"es", "125", "USD", "125,00" + nb + "US$"},
		{"es", "125", "MXN", "125,00" + nb + "MXN"},

		{"pt-BR", "1234.5", "BRL", "R$" + nb + "1.234,50"},
		{"pt-BR", "125", "EUR", "€" + nb + "125,00"},
		{"pt-BR", "125", "USD", "US$" + nb + "125,00"},
		{"pt-PT", "125", "EUR", "125,00" + nb + "€"},
		{"pt-PT", "1234.5", "EUR", "1234,50" + nb + "€"},
		{"pt-PT", "12345", "EUR", "12" + nb + "345,00" + nb + "€"},

		{"it", "1234.5", "EUR", "1.234,50" + nb + "€"},
		{"it", "125", "USD", "125,00" + nb + "USD"},
		{"nl", "1234.5", "EUR", "€" + nb + "1.234,50"},
		{"nl", "125", "USD", "US$" + nb + "125,00"},

		{"pl", "125", "EUR", "125,00" + nb + "€"},
		{"pl", "1234.5", "PLN", "1234,50" + nb + "PLN"},
		{"pl", "12345", "PLN", "12" + nb + "345,00" + nb + "PLN"},
		{"pl", "125", "USD", "125,00" + nb + "USD"},

		{"tr", "1234.5", "TRY", "1.234,50" + nb + "TL"},
		{"tr", "125", "EUR", "€125,00"},
		{"tr", "125", "USD", "US$125,00"},

		{"ru", "1234.5", "RUB", "1" + nb + "234,50" + nb + "₽"},
		{"ru", "125", "EUR", "125,00" + nb + "€"},
		{"ru", "125", "USD", "125,00" + nb + "US$"},

		// Arabic: ASCII digits and ISO codes.
		{"ar", "125", "EUR", "125.00" + nb + "EUR"},
		{"ar", "1234.5", "SAR", "1,234.50" + nb + "SAR"},
		{"ar", "1.5", "KWD", "1.500" + nb + "KWD"},
		{"ar", "1234567", "EGP", "1,234,567.00" + nb + "EGP"},

		{"hi", "125000", "INR", "₹1,25,000.00"}, // lakh grouping
		{"hi", "1234567.89", "INR", "₹12,34,567.89"},
		{"hi", "1234", "INR", "₹1,234.00"},
		{"hi", "125", "USD", "US$125.00"},

		{"id", "125000", "IDR", "Rp" + nb + "125.000"},
		{"id", "125", "EUR", "€125,00"},
		{"id", "125", "USD", "US$125,00"},

		{"ja", "1500", "JPY", "1,500円"},
		{"ja", "125", "USD", "US$125.00"},
		{"ja", "125", "EUR", "€125.00"},
		{"ja", "125", "CNY", "CN¥125.00"}, // CLDR's "元" before a number reads wrong

		{"zh-Hans", "125", "CNY", "125.00元"},
		{"zh-Hans", "1234.5", "CNY", "1,234.50元"},
		{"zh-Hans", "125", "USD", "US$125.00"},
		{"zh-Hans", "1500", "JPY", "JP¥1,500"},
		{"zh-Hant", "1250", "TWD", "NT$1,250.00"},
		{"zh-Hant", "125", "HKD", "HK$125.00"},
		{"zh-Hant", "125", "CNY", "CN¥125.00"},
		{"zh-Hant", "1500", "JPY", "JP¥1,500"},
	}
	for _, tt := range tests {
		t.Run(tt.locale+"/"+tt.amount+tt.currency, func(t *testing.T) {
			t.Parallel()
			req := request(otpd.ChannelPush, tt.locale, message.PurposeTransaction)
			req.Transaction.Amount, req.Transaction.Currency = tt.amount, tt.currency
			got, err := c.Render(req)
			require.NoError(t, err)
			require.Equal(t, tt.locale, got.Locale)
			amount, _, _ := strings.Cut(got.Text, "|")
			require.Equal(t, tt.want, amount)

			// An SMS has plain spaces.
			req.Channel = otpd.ChannelSMS
			got, err = c.Render(req)
			require.NoError(t, err)
			amount, _, _ = strings.Cut(got.Text, "|")
			require.Equal(t, strings.NewReplacer(nb, " ", nnb, " ").Replace(tt.want), amount)
		})
	}
}

// TestRenderInjection: caller-supplied values are data, never template
// syntax or layout.
func TestRenderInjection(t *testing.T) {
	t.Parallel()
	c := setup(t)

	tests := []struct {
		name         string
		brand, payee string
		want         string
	}{
		{"payee with placeholders", "Acme Bank", "{code} {brand} {expiry}",
			"Your Acme Bank code to pay €125.00 to {code} {brand} {expiry} is 123456. It expires in 10 minutes. Don't share it."},
		{"brand with placeholders", "{payee}{code}", "ACME Shop",
			"Your {payee}{code} code to pay €125.00 to ACME Shop is 123456. It expires in 10 minutes. Don't share it."},
		{"go template syntax", "{{.Code}}", "{{template \"x\"}}",
			"Your {{.Code}} code to pay €125.00 to {{template \"x\"}} is 123456. It expires in 10 minutes. Don't share it."},
		{"line breaks cannot forge a WebOTP line", "Acme\r\nBank", "Shop\n@evil.example #999999",
			"Your Acme Bank code to pay €125.00 to Shop @evil.example #999999 is 123456. It expires in 10 minutes. Don't share it."},
		{"bidi controls are removed", "Acme Bank", "\u202eACME\u202c Shop\u2066",
			"Your Acme Bank code to pay €125.00 to ACME Shop is 123456. It expires in 10 minutes. Don't share it."},
		{"white space collapses", "  Acme \t Bank ", "ACME\u2028Shop",
			"Your Acme Bank code to pay €125.00 to ACME Shop is 123456. It expires in 10 minutes. Don't share it."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := request(otpd.ChannelSMS, "en", message.PurposeTransaction)
			req.Brand, req.Transaction.Payee = tt.brand, tt.payee
			got, err := c.Render(req)
			require.NoError(t, err)
			require.Equal(t, tt.want, got.Text)
			require.Equal(t, 1, strings.Count(got.Text, code))
			require.NotContains(t, got.Text, "\r")

			req.Channel = otpd.ChannelEmail
			got, err = c.Render(req)
			require.NoError(t, err)
			require.Equal(t, 1, strings.Count(got.Text, code))
			require.Equal(t, 1, strings.Count(got.HTML, code))
			require.NotContains(t, got.Subject, "\n")
		})
	}
}

func TestRenderHTMLEscaping(t *testing.T) {
	t.Parallel()
	c := setup(t)

	const brand, payee = `<script>alert("x")</script> & Co`, `"><img src=x onerror=alert(1)>`
	for _, locale := range c.Locales() {
		t.Run(locale, func(t *testing.T) {
			t.Parallel()
			req := request(otpd.ChannelEmail, locale, message.PurposeTransaction)
			req.Brand, req.Transaction.Payee = brand, payee
			got, err := c.Render(req)
			require.NoError(t, err)

			require.NotContains(t, got.HTML, "<script")
			require.NotContains(t, got.HTML, "<img")
			require.Contains(t, got.HTML, `<bdi>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co</bdi>`)
			require.Contains(t, got.HTML, `<bdi>&#34;&gt;&lt;img src=x onerror=alert(1)&gt;</bdi>`)
			require.Contains(t, got.HTML, `<title>`+html.EscapeString(got.Subject)+`</title>`)
			// Plain text and subject are not HTML: they keep the value as it is.
			require.Contains(t, got.Subject, brand)
			require.Contains(t, got.Text, payee)
		})
	}

	req := request(otpd.ChannelEmail, "en", message.PurposeTransaction)
	req.Brand, req.Transaction.Payee = brand, payee
	got, err := c.Render(req)
	require.NoError(t, err)
	require.Equal(t, `Your <script>alert("x")</script> & Co payment confirmation code`, got.Subject)
	require.Contains(t, got.Text, `to pay €125.00 to "><img src=x onerror=alert(1)> is:`)
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	c := setup(t)

	tests := []struct {
		name   string
		modify func(*otpd.RenderRequest)
		want   string
	}{
		{"auto channel", func(r *otpd.RenderRequest) { r.Channel = otpd.ChannelAuto }, `no templates for channel "auto"`},
		{"unknown channel", func(r *otpd.RenderRequest) { r.Channel = "fax" }, `no templates for channel "fax"`},
		{"empty code", func(r *otpd.RenderRequest) { r.Code = "" }, "code is empty"},
		{"code with a space", func(r *otpd.RenderRequest) { r.Code = "123 456" }, "code must be ASCII letters and digits"},
		{"code with a hash", func(r *otpd.RenderRequest) { r.Code = "123456#" }, "code must be ASCII letters and digits"},
		{"empty brand", func(r *otpd.RenderRequest) { r.Brand = " \n\u202e" }, "brand is empty"},
		{"zero TTL", func(r *otpd.RenderRequest) { r.TTL = 0 }, "TTL must be positive"},
		{"bad amount", func(r *otpd.RenderRequest) { r.Transaction = payment(); r.Transaction.Amount = "1e3" }, "amount is not a decimal number"},
		{"bad currency", func(r *otpd.RenderRequest) { r.Transaction = payment(); r.Transaction.Currency = "EURO" }, "currency is not an ISO 4217 code"},
		{"empty payee", func(r *otpd.RenderRequest) { r.Transaction = payment(); r.Transaction.Payee = "\t" }, "payee is empty"},
		{"short app hash", func(r *otpd.RenderRequest) { r.AppHash = "FA+9qCX9VS" }, "app hash must be 11 characters"},
		{"app hash with a newline", func(r *otpd.RenderRequest) { r.AppHash = "FA+9qCX9VS\n" }, "app hash must be 11 characters"},
		{"webotp with scheme", func(r *otpd.RenderRequest) { r.WebOTPDomain = "https://example.com" }, "is not a host name"},
		{"webotp with space", func(r *otpd.RenderRequest) { r.WebOTPDomain = "example.com #1" }, "is not a host name"},
		{"webotp with port", func(r *otpd.RenderRequest) { r.WebOTPDomain = "example.com:443" }, "is not a host name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := request(otpd.ChannelSMS, "en", "")
			tt.modify(&req)
			got, err := c.Render(req)
			require.ErrorContains(t, err, tt.want)
			require.Equal(t, otpd.Rendered{}, got)
			if req.Code != "" {
				require.NotContains(t, err.Error(), req.Code)
			}
			require.NotContains(t, err.Error(), code)
		})
	}
}

func TestRenderConcurrent(t *testing.T) {
	t.Parallel()
	c := setup(t)

	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			locale := c.Locales()[i%len(c.Locales())]
			for _, ch := range []otpd.ChannelName{otpd.ChannelSMS, otpd.ChannelEmail} {
				_, err := c.Render(request(ch, locale, message.PurposeTransaction))
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
