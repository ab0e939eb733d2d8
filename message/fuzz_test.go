package message_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/message"
)

// fuzzCodes returns two codes of one length drawn from seed that differ in
// every position (digits against letters), so that comparing what each
// renders shows exactly where the code went.
func fuzzCodes(seed uint64) (digits, letters string) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	n := 4 + rng.IntN(7)
	a, b := make([]byte, n), make([]byte, n)
	for i := range n {
		a[i] = "0123456789"[rng.IntN(10)]
		b[i] = "ABCDEFGHJKLMNPQRSTUVWXYZ"[rng.IntN(24)]
	}
	return string(a), string(b)
}

// requireCodeOnce checks that outA and outB, the same message rendered with
// codes a and b, differ in exactly one place, which holds a in one and b in
// the other: the code appears once, where {code} was, and nothing else
// depends on it.
func requireCodeOnce(t *testing.T, what, outA, outB, a, b string) {
	t.Helper()
	if len(outA) != len(outB) {
		t.Fatalf("%s: codes of one length give lengths %d and %d:\n%s\n%s", what, len(outA), len(outB), outA, outB)
	}
	first, last := -1, -1
	for i := range len(outA) {
		if outA[i] != outB[i] {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 || last-first+1 != len(a) || outA[first:last+1] != a || outB[first:last+1] != b {
		t.Fatalf("%s: the code is not shown exactly once:\n%s\n%s", what, outA, outB)
	}
}

var placeholderNames = strings.NewReplacer("{brand}", "", "{code}", "", "{expiry}", "", "{amount}", "", "{payee}", "")

// FuzzValidate holds Validate to its contract — what it accepts is valid
// UTF-8 with {code} exactly once and no brace outside a known placeholder —
// and renders what it accepts: with a random code, the message shows the
// code once, where {code} was, and no brace at all.
func FuzzValidate(f *testing.F) {
	for _, text := range []string{
		"Your {brand} code is {code}. It expires in {expiry}.",
		"{code}", "{code}: pay {amount} to {payee}", "{brand}\n{code}", "Your code:\n\n{code}\n\nBye.",
		"Ihr Code für {brand} lautet {code}.", "{code} {amount}", "{code} {code}", "{code} {name}", "{{.Code}} {code}",
		"{code} {brand", "{code} :}", "", " \n ", "{code}\r\n", "{code} \u202e", "{code} \xff", "{co{code}de}",
		"{code}\n", "\n\n{code}\n\n{brand}\n\n{expiry}", "<b>{brand}</b> & {code}",
	} {
		f.Add(text, false, uint64(1))
		f.Add(text, true, uint64(2))
	}
	f.Fuzz(func(t *testing.T, text string, email bool, seed uint64) {
		ch, kind := otpd.ChannelSMS, message.KindText
		if email {
			ch, kind = otpd.ChannelEmail, message.KindEmail
		}
		err := message.Validate(ch, text)
		for _, other := range []otpd.ChannelName{otpd.ChannelPush, otpd.ChannelEmail} {
			// The checks are the text's, whatever the channel.
			if (message.Validate(other, text) == nil) != (err == nil) {
				t.Fatalf("%q: Validate(%s) = %v, Validate(%s) disagrees", text, ch, err, other)
			}
		}
		if err != nil {
			require.ErrorIs(t, err, message.ErrInvalidTemplate)
			return
		}
		if !utf8.ValidString(text) || strings.Count(text, "{code}") != 1 || strings.ContainsAny(placeholderNames.Replace(text), "{}") {
			t.Fatalf("accepted %q", text)
		}

		purpose := message.PurposeLogin
		amount, payee := strings.Contains(text, "{amount}"), strings.Contains(text, "{payee}")
		subject := "{brand} code"
		switch {
		case amount && payee:
			purpose = message.PurposeTransaction
		case amount || payee:
			// Valid as a text, but no purpose can use it whole.
			tmpl := message.Template{Text: text}
			if email {
				tmpl.Subject = subject
			}
			for _, p := range message.Purposes() {
				k := message.Key{Kind: kind, Purpose: p, Locale: "en"}
				if message.ValidateTemplate(k, tmpl) == nil {
					t.Fatalf("%q accepted as a %s template", text, p)
				}
			}
			return
		}
		key := message.Key{Kind: kind, Purpose: purpose, Locale: "en"}
		tmpl := message.Template{Text: text}
		if email {
			tmpl.Subject = subject
		}
		require.NoError(t, message.ValidateTemplate(key, tmpl), "%q", text)
		cat := message.New(message.WithTemplate(key, tmpl))

		a, b := fuzzCodes(seed)
		req := otpd.RenderRequest{Channel: ch, Locale: "en", Purpose: purpose, Brand: "Acme Bank", TTL: 10 * time.Minute}
		if purpose == message.PurposeTransaction {
			req.Transaction = &otpd.Transaction{Amount: "125.00", Currency: "EUR", Payee: "ACME Shop"}
		}
		req.Code = a
		outA, err := cat.Render(req)
		require.NoError(t, err, "%q", text)
		req.Code = b
		outB, err := cat.Render(req)
		require.NoError(t, err, "%q", text)

		requireCodeOnce(t, "text", outA.Text, outB.Text, a, b)
		if strings.ContainsAny(outA.Text, "{}") {
			t.Fatalf("%q rendered with a brace left: %q", text, outA.Text)
		}
		if email {
			requireCodeOnce(t, "HTML", outA.HTML, outB.HTML, a, b)
			if strings.ContainsAny(outA.HTML+outA.Subject, "{}") || strings.Contains(outA.Subject, a) {
				t.Fatalf("%q rendered as %q / %q", text, outA.Subject, outA.HTML)
			}
		}
	})
}

var fuzzChannels = []otpd.ChannelName{otpd.ChannelSMS, otpd.ChannelWhatsApp, otpd.ChannelRCS, otpd.ChannelPush, otpd.ChannelEmail}

var fuzzPurposes = []string{"", message.PurposeLogin, message.PurposeTransaction, message.PurposePasswordReset, message.PurposeDelivery, " Password_Reset ", "signup"}

// visible reports whether s has a letter or digit, which no cleaning removes.
func visible(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
}

// FuzzRender renders the built-in templates with an arbitrary brand, payee
// and locale. A brand and payee with something visible in them always
// render; what renders shows the code, in a locale of the catalog, and a
// brand or payee changes neither the number of lines nor, in the HTML, the
// markup: it cannot break a line, add a tag or hide the code.
func FuzzRender(f *testing.F) {
	cat := message.New()
	for _, c := range []struct{ brand, payee, locale string }{
		{"Acme Bank", "ACME Shop", "en"},
		{"<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "de-AT"},
		{"Acme\nBank", "Shop\r\nTo: evil@example.com", "fr"},
		{"\u202eknaB emcA", "\u2028Shop\u2029", "es-419"},
		{"  ", "", "zz"}, {"", "Shop", ""}, {"\xff\xfe", "\x00", "en-u-nu-arab"},
		{"A & B \"Q\" 'S'", "{code}", "*"}, {"{code}", "{brand}", "de-CH-1996"},
		{"Ω\u0301", "e\u0301", "x-private"},
		{"بنك أكمي", "متجر \u200f123", "ar-SA"}, {"Acme Bank", "ACME Shop", "pl"}, {"アクメ銀行", "ショップ", "ja"},
		{"Acme\u00a0Bank", "Shop\u202f1", "zh-TW"}, {"Acme Bank", "ACME Shop", "pt"}, {"Acme", "Shop", "hi-IN"},
	} {
		for _, sel := range []uint8{0, 4, 8 + 4, 8 + 1, 0x20 + 4, 0x50 + 2} {
			f.Add(c.brand, c.payee, c.locale, sel, uint64(sel))
		}
	}
	f.Fuzz(func(t *testing.T, brand, payee, locale string, sel uint8, seed uint64) {
		ch := fuzzChannels[int(sel&7)%len(fuzzChannels)]
		withTxn := sel&8 != 0
		purpose := fuzzPurposes[int(sel>>4)%len(fuzzPurposes)]
		code, _ := fuzzCodes(seed)
		req := otpd.RenderRequest{Channel: ch, Locale: locale, Purpose: purpose, Brand: brand, Code: code, TTL: 10 * time.Minute}
		if withTxn {
			req.Transaction = &otpd.Transaction{Amount: "125.00", Currency: "EUR", Payee: payee}
		}
		out, err := cat.Render(req)
		if err != nil {
			if visible(brand) && (!withTxn || visible(payee)) {
				t.Fatalf("brand %q payee %q: %v", brand, payee, err)
			}
			if strings.Contains(err.Error(), code) {
				t.Fatalf("the error shows the code: %v", err)
			}
			return
		}
		if !strings.Contains(out.Text, code) || !slices.Contains(cat.Locales(), out.Locale) {
			t.Fatalf("%+v rendered as %+v", req, out)
		}
		for _, r := range out.Text + out.Subject {
			if (unicode.IsControl(r) && r != '\n') || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("%U in %q / %q", r, out.Subject, out.Text)
			}
		}

		// The same message with a plain brand and payee: only the values may differ.
		plain := req
		plain.Brand = "Acme"
		if withTxn {
			plain.Transaction = &otpd.Transaction{Amount: "125.00", Currency: "EUR", Payee: "Shop"}
		}
		base, err := cat.Render(plain)
		require.NoError(t, err)
		require.Equal(t, base.Locale, out.Locale)
		if strings.Count(out.Text, "\n") != strings.Count(base.Text, "\n") || strings.Contains(out.Subject, "\n") {
			t.Fatalf("brand %q payee %q changed the lines:\n%s", brand, payee, out.Text)
		}
		if ch == otpd.ChannelEmail {
			inValues := strings.Contains(brand, code) || strings.Contains(payee, code)
			if !strings.Contains(out.HTML, code) || (strings.Contains(out.Subject, code) && !inValues) {
				t.Fatalf("code %s in subject %q or missing from HTML", code, out.Subject)
			}
			for _, c := range []string{"<", ">"} {
				if strings.Count(out.HTML, c) != strings.Count(base.HTML, c) {
					t.Fatalf("brand %q payee %q put markup in the HTML:\n%s", brand, payee, out.HTML)
				}
			}
		}
	})
}

// FuzzServiceTemplate holds CheckTemplate and the rendering of services'
// templates together: whatever CheckTemplate accepts renders for any
// brand, with the code shown once where {code} was, and a brand is never
// read as a template (its braces are shown, nothing is pulled in).
func FuzzServiceTemplate(f *testing.F) {
	channels := []otpd.ChannelName{otpd.ChannelSMS, otpd.ChannelWhatsApp, otpd.ChannelRCS, otpd.ChannelPush, otpd.ChannelEmail}
	for i, text := range []string{
		"{brand}: {code} ({expiry})", "Pay {amount} to {payee}: {code}", "{code}", "{code} {code}", "{code} {x}",
		"<b>{brand}</b>\n\n{code}\n\n{expiry}", strings.Repeat("long ", 200) + "{code}", "{{.Code}}",
	} {
		f.Add(text, "{brand} code", uint8(i), uint8(i), "Acme {code} {{.Brand}}", uint64(i))
	}
	c := message.New()
	f.Fuzz(func(t *testing.T, text, subject string, chIdx, pIdx uint8, brand string, seed uint64) {
		ch := channels[int(chIdx)%len(channels)]
		purposes := message.Purposes()
		purpose := purposes[int(pIdx)%len(purposes)]
		if ch != otpd.ChannelEmail {
			subject = ""
		}
		svc := &otpd.Service{Name: brand}
		mt := &otpd.MessageTemplate{TemplateKey: otpd.TemplateKey{Channel: ch, Purpose: purpose, Locale: "de"}, Subject: subject, Text: text}
		if err := c.CheckTemplate(svc, mt); err != nil {
			require.ErrorIs(t, err, otpd.ErrInvalid)
			return
		}
		brand = "Acme " + brand // never empty once cleaned, which Render refuses
		a, b := fuzzCodes(seed)
		req := otpd.RenderRequest{Channel: ch, Locale: "de-AT", Purpose: purpose, Brand: brand, TTL: 10 * time.Minute,
			Templates: []otpd.MessageTemplate{*mt}}
		if purpose == message.PurposeTransaction {
			req.Transaction = &otpd.Transaction{Amount: "125.00", Currency: "EUR", Payee: "Shop {code}"}
		}
		req.Code = a
		outA, err := c.Render(req)
		require.NoError(t, err)
		req.Code = b
		outB, err := c.Render(req)
		require.NoError(t, err)
		requireCodeOnce(t, "text", outA.Text, outB.Text, a, b)
		if ch == otpd.ChannelEmail {
			requireCodeOnce(t, "HTML", outA.HTML, outB.HTML, a, b)
		}
	})
}
