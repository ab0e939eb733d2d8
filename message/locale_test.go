package message_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/gsm"
	"github.com/otpd/otpd/message"
)

var allChannels = []otpd.ChannelName{otpd.ChannelSMS, otpd.ChannelWhatsApp, otpd.ChannelRCS, otpd.ChannelPush, otpd.ChannelEmail}

// TestRenderEveryLocale renders every purpose of every locale on every
// channel and holds each message to what all of them must do.
func TestRenderEveryLocale(t *testing.T) {
	t.Parallel()
	c := setup(t)

	for _, locale := range c.Locales() {
		for _, purpose := range message.Purposes() {
			for _, ch := range allChannels {
				t.Run(locale+"/"+purpose+"/"+string(ch), func(t *testing.T) {
					t.Parallel()
					got, err := c.Render(request(ch, locale, purpose))
					require.NoError(t, err)
					require.Equal(t, locale, got.Locale)
					require.Equal(t, 1, strings.Count(got.Text, code), got.Text)
					require.NotContains(t, got.Text, "{")
					require.NotContains(t, got.Text, "}")
					for _, r := range got.Text + got.Subject {
						require.False(t, unicode.Is(unicode.Bidi_Control, r), "%U in %q", r, got.Text)
						require.False(t, unicode.IsControl(r) && r != '\n', "%U in %q", r, got.Text)
					}
					if purpose == message.PurposeTransaction {
						require.Contains(t, got.Text, "ACME Shop")
						require.Contains(t, got.Text, "125")
					}

					if ch != otpd.ChannelEmail {
						require.Empty(t, got.Subject)
						require.Empty(t, got.HTML)
						require.NotContains(t, got.Text, "\n")
						if ch == otpd.ChannelSMS {
							require.NotContains(t, got.Text, "\u00a0")
							require.NotContains(t, got.Text, "\u202f")
						}
						return
					}
					require.NotEmpty(t, got.Subject)
					require.NotContains(t, got.Subject, code)
					require.Contains(t, got.Subject, "Acme Bank")
					require.Equal(t, 1, strings.Count(got.HTML, code))
					dir := "ltr"
					if locale == "ar" {
						dir = "rtl"
					}
					require.Contains(t, got.HTML, `<html lang="`+locale+`" dir="`+dir+`">`)
					require.Contains(t, got.HTML, `<div dir="`+dir+`" style=`)
					require.Contains(t, got.HTML, `font-size:32px;font-weight:700;letter-spacing:6px;">123456</p>`)
				})
			}
		}
	}
}

// gsm7Locales are the locales whose login SMS is GSM 7-bit: those whose
// language can be written naturally in that alphabet.
var gsm7Locales = []string{"en", "de", "fr", "es", "it", "nl", "pl", "id"}

// TestSMSSegments pins what every built-in SMS costs, in
// testdata/sms_segments.txt, and holds every login SMS to one segment: a
// 6-digit code, 10 minutes and the brand "Acme Bank". Run with -update to
// rewrite the file after a deliberate change, and read the diff.
func TestSMSSegments(t *testing.T) {
	t.Parallel()
	c := setup(t)

	var b strings.Builder
	b.WriteString("# What each built-in SMS costs: brand \"Acme Bank\", code 123456, valid 10 minutes\n")
	b.WriteString("# (delivery: 3 days), transaction EUR 125.00 to \"ACME Shop\"; no app hash, no WebOTP line.\n")
	b.WriteString("# One SMS holds 160 GSM-7 septets or 70 UCS-2 units.\n")
	b.WriteString("# Regenerate: go test ./message -run TestSMSSegments -update\n")
	fmt.Fprintf(&b, "%-8s %-15s %-6s %-8s %-5s %s\n", "locale", "purpose", "coding", "segments", "units", "text")
	for _, locale := range c.Locales() {
		for _, purpose := range message.Purposes() {
			got, err := c.Render(request(otpd.ChannelSMS, locale, purpose))
			require.NoError(t, err)
			coding, segments, units := gsm.Count(got.Text)
			fmt.Fprintf(&b, "%-8s %-15s %-6s %-8d %-5d %s\n", locale, purpose, coding, segments, units, got.Text)
			if purpose != message.PurposeLogin {
				continue
			}
			require.Equal(t, 1, segments, "%s login SMS: %s", locale, got.Text)
			want := gsm.UCS2
			if slices.Contains(gsm7Locales, locale) {
				want = gsm.GSM7
			}
			require.Equal(t, want, coding, "%s login SMS: %s", locale, got.Text)
		}
	}
	t.Log("\n" + b.String())

	path := filepath.Join("testdata", "sms_segments.txt")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), b.String())
}

// TestGSM7Wording: in the locales whose SMS are GSM-7, the wording of every
// text template is, so only a value (a brand, a payee, "días") can make an
// SMS UCS-2. The exceptions are the words the language has no GSM-7
// equivalent for.
func TestGSM7Wording(t *testing.T) {
	t.Parallel()
	c := setup(t)

	exceptions := map[string]bool{"pl/" + message.PurposePasswordReset: true} // "hasła"
	placeholders := regexp.MustCompile(`\{[a-z]+\}`)
	for _, locale := range gsm7Locales {
		for _, purpose := range message.Purposes() {
			tmpl, ok := c.Template(message.Key{Kind: message.KindText, Purpose: purpose, Locale: locale})
			require.True(t, ok)
			coding, _, _ := gsm.Count(placeholders.ReplaceAllString(tmpl.Text, ""))
			want := gsm.GSM7
			if exceptions[locale+"/"+purpose] {
				want = gsm.UCS2
			}
			require.Equal(t, want, coding, "%s/%s: %s", locale, purpose, tmpl.Text)
		}
	}
}

// TestRightToLeftTemplates holds the Arabic templates to the rules that keep
// them in order without bidirectional controls: every line starts with an
// Arabic word (which makes it right to left), and an Arabic word stands
// between any two values, so no two can be reordered against each other.
func TestRightToLeftTemplates(t *testing.T) {
	t.Parallel()
	c := setup(t)

	arabicLetter := func(s string) bool {
		return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Arabic, r) && unicode.IsLetter(r) }) >= 0
	}
	between := regexp.MustCompile(`\}([^{]*)\{`)
	for _, kind := range []message.Kind{message.KindText, message.KindEmail} {
		for _, purpose := range message.Purposes() {
			tmpl, ok := c.Template(message.Key{Kind: kind, Purpose: purpose, Locale: "ar"})
			require.True(t, ok)
			for _, line := range append(strings.Split(tmpl.Text, "\n"), tmpl.Subject) {
				if line == "" || line == "{code}" {
					continue
				}
				first := strings.IndexFunc(line, func(r rune) bool { return unicode.IsLetter(r) || r == '{' })
				require.True(t, first >= 0 && line[first] != '{' && unicode.Is(unicode.Arabic, []rune(line[first:])[0]),
					"%s/%s: %q does not start with an Arabic word", kind, purpose, line)
				for _, m := range between.FindAllStringSubmatch(line, -1) {
					require.True(t, arabicLetter(m[1]), "%s/%s: no Arabic word between two values in %q", kind, purpose, line)
				}
			}
		}
	}
}

func TestRenderPlural(t *testing.T) {
	t.Parallel()
	c := setup(t)

	const m, h, d = time.Minute, time.Hour, 24 * time.Hour
	tests := []struct {
		locale string
		ttl    time.Duration
		want   string
	}{
		// Polish: one, few (2–4, 22–24 ...), many (5–21, 25–31 ...), in the accusative.
		{"pl", 1 * m, "Wygasa za 1 minutę."},
		{"pl", 2 * m, "Wygasa za 2 minuty."},
		{"pl", 4 * m, "Wygasa za 4 minuty."},
		{"pl", 5 * m, "Wygasa za 5 minut."},
		{"pl", 12 * m, "Wygasa za 12 minut."},
		{"pl", 14 * m, "Wygasa za 14 minut."},
		{"pl", 21 * m, "Wygasa za 21 minut."},
		{"pl", 22 * m, "Wygasa za 22 minuty."},
		{"pl", 25 * m, "Wygasa za 25 minut."},
		{"pl", 102 * m, "Wygasa za 102 minuty."},
		{"pl", 112 * m, "Wygasa za 112 minut."},
		{"pl", 2 * h, "Wygasa za 2 godziny."},
		{"pl", 5 * h, "Wygasa za 5 godzin."},
		{"pl", 22 * h, "Wygasa za 22 godziny."},
		{"pl", 2 * d, "Wygasa za 2 dni."},
		{"pl", 5 * d, "Wygasa za 5 dni."},

		// Russian: one (1, 21, 101 ...), few (2–4, 22–24 ...), many.
		{"ru", 1 * m, "Действует 1 минуту."},
		{"ru", 2 * m, "Действует 2 минуты."},
		{"ru", 5 * m, "Действует 5 минут."},
		{"ru", 11 * m, "Действует 11 минут."},
		{"ru", 21 * m, "Действует 21 минуту."},
		{"ru", 22 * m, "Действует 22 минуты."},
		{"ru", 101 * m, "Действует 101 минуту."},
		{"ru", 111 * m, "Действует 111 минут."},
		{"ru", 2 * h, "Действует 2 часа."},
		{"ru", 5 * h, "Действует 5 часов."},
		{"ru", 21 * h, "Действует 21 час."},
		{"ru", 2 * d, "Действует 2 дня."},
		{"ru", 5 * d, "Действует 5 дней."},
		{"ru", 21 * d, "Действует 21 день."},

		// Arabic: one and two as words, few (3–10), many (11–99), other (100–102 ...).
		{"ar", 1 * m, "صالح لمدة دقيقة واحدة."},
		{"ar", 2 * m, "صالح لمدة دقيقتين."},
		{"ar", 3 * m, "صالح لمدة 3 دقائق."},
		{"ar", 10 * m, "صالح لمدة 10 دقائق."},
		{"ar", 11 * m, "صالح لمدة 11 دقيقة."},
		{"ar", 99 * m, "صالح لمدة 99 دقيقة."},
		{"ar", 100 * m, "صالح لمدة 100 دقيقة."},
		{"ar", 102 * m, "صالح لمدة 102 دقيقة."},
		{"ar", 103 * m, "صالح لمدة 103 دقائق."},
		{"ar", 111 * m, "صالح لمدة 111 دقيقة."},
		{"ar", 2 * h, "صالح لمدة ساعتين."},
		{"ar", 3 * h, "صالح لمدة 3 ساعات."},
		{"ar", 11 * h, "صالح لمدة 11 ساعة."},
		{"ar", 2 * d, "صالح لمدة يومين."},
		{"ar", 3 * d, "صالح لمدة 3 أيام."},
		{"ar", 11 * d, "صالح لمدة 11 يومًا."},
		{"ar", 100 * d, "صالح لمدة 100 يوم."},
		{"ar", 103 * d, "صالح لمدة 103 أيام."},

		// One and other.
		{"pt-BR", 1 * m, "Expira em 1 minuto."},
		{"pt-BR", 2 * h, "Expira em 2 horas."},
		{"pt-PT", 3 * d, "Expira em 3 dias."},
		{"it", 1 * m, "Scade tra 1 minuto."},
		{"it", 2 * h, "Scade tra 2 ore."},
		{"it", 3 * d, "Scade tra 3 giorni."},
		{"nl", 1 * m, "Hij is 1 minuut geldig."},
		{"nl", 2 * h, "Hij is 2 uur geldig."},
		{"nl", 3 * d, "Hij is 3 dagen geldig."},
		{"es", 1 * m, "Caduca en 1 minuto."},

		// No plural.
		{"tr", 1 * m, "1 dakika geçerli."},
		{"tr", 3 * d, "3 gün geçerli."},
		{"hi", 1 * m, "1 मिनट के लिए मान्य।"},
		{"hi", 2 * h, "2 घंटे के लिए मान्य।"},
		{"id", 2 * h, "Berlaku selama 2 jam."},
		{"ja", 2 * h, "有効期限は2時間です。"},
		{"zh-Hans", 2 * h, "2小时内有效。"},
		{"zh-Hant", 10 * m, "10分鐘內有效。"},
	}
	for _, tt := range tests {
		t.Run(tt.locale+"/"+tt.ttl.String(), func(t *testing.T) {
			t.Parallel()
			req := request(otpd.ChannelPush, tt.locale, message.PurposeLogin)
			req.TTL = tt.ttl
			got, err := c.Render(req)
			require.NoError(t, err)
			require.Contains(t, got.Text, tt.want)
		})
	}
}

func TestLocaleForRegion(t *testing.T) {
	t.Parallel()

	tests := []struct {
		region, want string
	}{
		{"US", "en"},
		{"GB", "en"},
		{"IN", "en"}, // not Hindi: see LocaleForRegion
		{"SG", "en"},
		{"MY", "en"},
		{"CA", "en"},
		{"DE", "de"},
		{"AT", "de"},
		{"CH", "de"},
		{"FR", "fr"},
		{"MA", "fr"},
		{"SN", "fr"},
		{"ES", "es"},
		{"MX", "es"},
		{"AR", "es"},
		{"BR", "pt-BR"},
		{"PT", "pt-PT"},
		{"AO", "pt-PT"},
		{"IT", "it"},
		{"NL", "nl"},
		{"BE", "nl"},
		{"PL", "pl"},
		{"TR", "tr"},
		{"RU", "ru"},
		{"KZ", "ru"},
		{"UA", ""}, // never Russian
		{"EG", "ar"},
		{"SA", "ar"},
		{"AE", "ar"},
		{"ID", "id"},
		{"JP", "ja"},
		{"CN", "zh-Hans"},
		{"TW", "zh-Hant"},
		{"HK", "zh-Hant"},
		{"MO", "zh-Hant"},
		{"KR", ""},
		{"SE", ""},
		{"br", "pt-BR"},
		{" jp ", "ja"},
		{"", ""},
		{"ZZ", ""},
		{"USA", ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, message.LocaleForRegion(tt.region), "%q", tt.region)
	}

	// Whatever it returns, the catalog renders in.
	c := message.New()
	for r1 := 'A'; r1 <= 'Z'; r1++ {
		for r2 := 'A'; r2 <= 'Z'; r2++ {
			locale := message.LocaleForRegion(string([]rune{r1, r2}))
			if locale == "" {
				continue
			}
			require.Contains(t, c.Locales(), locale)
			got, err := c.Render(request(otpd.ChannelSMS, locale, ""))
			require.NoError(t, err)
			require.Equal(t, locale, got.Locale)
		}
	}
}
