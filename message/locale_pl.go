package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// polish needs CLDR's three integer plural forms: one (1), few (2–4, 22–24,
// 32–34 ...) and many (0, 5–21, 25–31 ...); "other" is for fractions, which
// an expiry never is, but the mechanism requires it. The units are in the
// accusative, which "za" (in) takes: "za 1 minutę", "za 2 minuty", "za 5
// minut", "za 22 minuty".
//
// Polish letters (ą, ć, ę, ł, ń, ó, ś, ź, ż) are all outside the GSM 7-bit
// alphabet, and Polish banks often drop them from SMS. These texts keep the
// spelling correct and choose words without them instead: "Kod {brand}:
// {code}. Wygasa za 10 minut. Nie podawaj go nikomu." is GSM-7 as it stands.
// Where no such word exists ("hasła", password; "minutę" and "godzinę" for
// 1) the SMS goes as UCS-2. Money is "125,00 PLN", as Polish banks write it
// in SMS: "zł" has an "ł".
var polish = &locale{
	tag:         language.Polish,
	decimal:     ",",
	group:       "\u00a0",
	minGrouping: 2, // 1250,00 but 12 500,00
	currency:    "#\u00a0¤",
	currencies:  map[string]string{"PLN": "#\u00a0PLN"},
	units: map[unit]map[plural.Form]string{
		minute: {plural.One: "# minutę", plural.Few: "# minuty", plural.Many: "# minut", plural.Other: "# minuty"},
		hour:   {plural.One: "# godzinę", plural.Few: "# godziny", plural.Many: "# godzin", plural.Other: "# godziny"},
		day:    {plural.One: "# dzień", plural.Few: "# dni", plural.Many: "# dni", plural.Other: "# dnia"},
	},
	text: map[string]string{
		PurposeLogin:         "Kod {brand}: {code}. Wygasa za {expiry}. Nie podawaj go nikomu.",
		PurposeTransaction:   "Kod {brand}: {code}. Transakcja: {amount} dla {payee}. Wygasa za {expiry}. Nie podawaj go nikomu.",
		PurposePasswordReset: "Kod {brand} do zmiany hasła: {code}. Wygasa za {expiry}. Nie podawaj go nikomu.",
		PurposeDelivery:      "Kod odbioru {brand}: {code}. Podaj go kurierowi dopiero przy odbiorze paczki. Wygasa za {expiry}.",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "Twój kod weryfikacyjny {brand}",
			Text: "Twój kod weryfikacyjny {brand} to:\n\n{code}\n\n" +
				"Kod wygasa za {expiry}. Nie podawaj go nikomu.\n\n" +
				"Jeśli to nie Ty prosisz o kod, zignoruj tę wiadomość.",
		},
		PurposeTransaction: {
			Subject: "Twój kod {brand} do potwierdzenia płatności",
			Text: "Twój kod {brand} do płatności {amount} dla {payee} to:\n\n{code}\n\n" +
				"Zanim go użyjesz, sprawdź kwotę i odbiorcę. Kod wygasa za {expiry}. Nie podawaj go nikomu.\n\n" +
				"Jeśli to nie Ty zlecasz tę płatność, nie używaj kodu i skontaktuj się z {brand}.",
		},
		PurposePasswordReset: {
			Subject: "Twój kod {brand} do zmiany hasła",
			Text: "Twój kod {brand} do zmiany hasła to:\n\n{code}\n\n" +
				"Kod wygasa za {expiry}. Nie podawaj go nikomu.\n\n" +
				"Jeśli to nie Ty prosisz o zmianę hasła, zignoruj tę wiadomość. Twoje hasło pozostanie bez zmian.",
		},
		PurposeDelivery: {
			Subject: "Twój kod odbioru {brand}",
			Text: "Twój kod odbioru {brand} to:\n\n{code}\n\n" +
				"Podaj go kurierowi dopiero przy odbiorze przesyłki. Kod wygasa za {expiry}.\n\n" +
				"Nie spodziewasz się przesyłki? Zignoruj tę wiadomość.",
		},
	},
}
