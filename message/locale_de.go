package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// german says "Code für {brand}" rather than "{brand}-Code": a compound with
// an arbitrary brand ("Acme Bank-Code") is wrong more often than not.
// Durations are accusative ("10 Minuten gültig"), which needs no case change
// for "Tage", unlike "in 3 Tagen".
var german = &locale{
	tag:         language.German,
	decimal:     ",",
	group:       ".",
	minGrouping: 1,
	currency:    "#\u00a0¤",
	units: map[unit]map[plural.Form]string{
		minute: {plural.One: "# Minute", plural.Other: "# Minuten"},
		hour:   {plural.One: "# Stunde", plural.Other: "# Stunden"},
		day:    {plural.One: "# Tag", plural.Other: "# Tage"},
	},
	text: map[string]string{
		PurposeLogin:         "Ihr Code für {brand} lautet {code}. Er ist {expiry} gültig. Geben Sie ihn nicht weiter.",
		PurposeTransaction:   "Ihr Code für {brand} zur Zahlung von {amount} an {payee} lautet {code}. Er ist {expiry} gültig. Geben Sie ihn nicht weiter.",
		PurposePasswordReset: "Ihr Code zum Zurücksetzen des Passworts für {brand} lautet {code}. Er ist {expiry} gültig. Geben Sie ihn nicht weiter.",
		PurposeDelivery:      "Ihr Zustellcode für {brand} lautet {code}. Nennen Sie ihn dem Zusteller erst bei der Übergabe. Er ist {expiry} gültig.",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "Ihr Bestätigungscode für {brand}",
			Text: "Ihr Bestätigungscode für {brand} lautet:\n\n{code}\n\n" +
				"Er ist {expiry} gültig. Geben Sie ihn an niemanden weiter.\n\n" +
				"Sie haben diesen Code nicht angefordert? Dann können Sie diese E-Mail ignorieren.",
		},
		PurposeTransaction: {
			Subject: "Ihr Code für {brand} zur Bestätigung einer Zahlung",
			Text: "Ihr Code für {brand} zur Zahlung von {amount} an {payee} lautet:\n\n{code}\n\n" +
				"Prüfen Sie Betrag und Empfänger, bevor Sie ihn verwenden. Er ist {expiry} gültig. Geben Sie ihn an niemanden weiter.\n\n" +
				"Sie haben diese Zahlung nicht veranlasst? Dann verwenden Sie den Code nicht und wenden Sie sich an {brand}.",
		},
		PurposePasswordReset: {
			Subject: "Ihr Code zum Zurücksetzen des Passworts für {brand}",
			Text: "Ihr Code zum Zurücksetzen des Passworts für {brand} lautet:\n\n{code}\n\n" +
				"Er ist {expiry} gültig. Geben Sie ihn an niemanden weiter.\n\n" +
				"Sie haben das Zurücksetzen nicht angefordert? Dann können Sie diese E-Mail ignorieren. Ihr Passwort bleibt unverändert.",
		},
		PurposeDelivery: {
			Subject: "Ihr Zustellcode für {brand}",
			Text: "Ihr Zustellcode für {brand} lautet:\n\n{code}\n\n" +
				"Nennen Sie ihn dem Zusteller erst bei der Übergabe Ihrer Sendung. Er ist {expiry} gültig.\n\n" +
				"Sie erwarten keine Sendung? Dann können Sie diese E-Mail ignorieren.",
		},
	},
}
