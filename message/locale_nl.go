package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// dutch uses "je", as Dutch and Flemish apps and most banks now do. Like
// German it says "code voor {brand}" rather than "{brand}-code", a
// compound that an arbitrary brand too often breaks. "Uur" has no plural
// after a number ("2 uur").
var dutch = &locale{
	tag:         language.Dutch,
	decimal:     ",",
	group:       ".",
	minGrouping: 1,
	currency:    "¤\u00a0#",
	units: map[unit]map[plural.Form]string{
		minute: {plural.One: "# minuut", plural.Other: "# minuten"},
		hour:   {plural.One: "# uur", plural.Other: "# uur"},
		day:    {plural.One: "# dag", plural.Other: "# dagen"},
	},
	text: map[string]string{
		PurposeLogin:         "Je code voor {brand} is {code}. Hij is {expiry} geldig. Deel hem met niemand.",
		PurposeTransaction:   "Je code voor {brand} om {amount} te betalen aan {payee} is {code}. Hij is {expiry} geldig. Deel hem met niemand.",
		PurposePasswordReset: "Je code voor {brand} om je wachtwoord opnieuw in te stellen is {code}. Hij is {expiry} geldig. Deel hem met niemand.",
		PurposeDelivery:      "Je bezorgcode voor {brand} is {code}. Geef hem pas aan de bezorger als je je bestelling ontvangt. Hij is {expiry} geldig.",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "Je verificatiecode voor {brand}",
			Text: "Je verificatiecode voor {brand} is:\n\n{code}\n\n" +
				"Deze code is {expiry} geldig. Deel hem met niemand.\n\n" +
				"Heb je deze code niet aangevraagd? Dan kun je deze e-mail negeren.",
		},
		PurposeTransaction: {
			Subject: "Je code voor {brand} om een betaling te bevestigen",
			Text: "Je code voor {brand} om {amount} te betalen aan {payee} is:\n\n{code}\n\n" +
				"Controleer het bedrag en de ontvanger voordat je hem gebruikt. Deze code is {expiry} geldig. Deel hem met niemand.\n\n" +
				"Heb je deze betaling niet zelf gestart? Gebruik de code dan niet en neem contact op met {brand}.",
		},
		PurposePasswordReset: {
			Subject: "Je code voor {brand} om je wachtwoord opnieuw in te stellen",
			Text: "Je code voor {brand} om je wachtwoord opnieuw in te stellen is:\n\n{code}\n\n" +
				"Deze code is {expiry} geldig. Deel hem met niemand.\n\n" +
				"Heb je niet gevraagd om je wachtwoord opnieuw in te stellen? Dan kun je deze e-mail negeren. Je wachtwoord blijft ongewijzigd.",
		},
		PurposeDelivery: {
			Subject: "Je bezorgcode voor {brand}",
			Text: "Je bezorgcode voor {brand} is:\n\n{code}\n\n" +
				"Geef hem pas aan de bezorger als je je bestelling ontvangt. Deze code is {expiry} geldig.\n\n" +
				"Verwacht je geen bestelling? Dan kun je deze e-mail negeren.",
		},
	},
}
