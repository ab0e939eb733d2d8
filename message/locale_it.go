package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// italian uses "tu", as Italian apps and most banks now do in their
// messages. Its accented letters à, è, é, ì, ò and ù are all in the GSM
// 7-bit alphabet, so the short texts are GSM-7 as they stand; a capital "È"
// is not, and no text starts a sentence with it.
var italian = &locale{
	tag:         language.Italian,
	decimal:     ",",
	group:       ".",
	minGrouping: 1,
	currency:    "#\u00a0¤",
	units: map[unit]map[plural.Form]string{
		minute: {plural.One: "# minuto", plural.Other: "# minuti"},
		hour:   {plural.One: "# ora", plural.Other: "# ore"},
		day:    {plural.One: "# giorno", plural.Other: "# giorni"},
	},
	text: map[string]string{
		PurposeLogin:         "Il tuo codice {brand} è {code}. Scade tra {expiry}. Non comunicarlo a nessuno.",
		PurposeTransaction:   "Il tuo codice {brand} per pagare {amount} a {payee} è {code}. Scade tra {expiry}. Non comunicarlo a nessuno.",
		PurposePasswordReset: "Il tuo codice {brand} per reimpostare la password è {code}. Scade tra {expiry}. Non comunicarlo a nessuno.",
		PurposeDelivery:      "Il tuo codice di consegna {brand} è {code}. Comunicalo al corriere solo quando ricevi il tuo ordine. Scade tra {expiry}.",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "Il tuo codice di verifica {brand}",
			Text: "Il tuo codice di verifica {brand} è:\n\n{code}\n\n" +
				"Scade tra {expiry}. Non comunicarlo a nessuno.\n\n" +
				"Non l'hai richiesto tu? Puoi ignorare questa e-mail.",
		},
		PurposeTransaction: {
			Subject: "Il tuo codice {brand} per confermare un pagamento",
			Text: "Il tuo codice {brand} per pagare {amount} a {payee} è:\n\n{code}\n\n" +
				"Controlla l'importo e il beneficiario prima di usarlo. Scade tra {expiry}. Non comunicarlo a nessuno.\n\n" +
				"Non hai avviato tu questo pagamento? Non usare il codice e contatta {brand}.",
		},
		PurposePasswordReset: {
			Subject: "Il tuo codice {brand} per reimpostare la password",
			Text: "Il tuo codice {brand} per reimpostare la password è:\n\n{code}\n\n" +
				"Scade tra {expiry}. Non comunicarlo a nessuno.\n\n" +
				"Non hai chiesto di reimpostare la password? Puoi ignorare questa e-mail: la tua password non cambierà.",
		},
		PurposeDelivery: {
			Subject: "Il tuo codice di consegna {brand}",
			Text: "Il tuo codice di consegna {brand} è:\n\n{code}\n\n" +
				"Comunicalo al corriere solo quando ricevi il tuo ordine. Scade tra {expiry}.\n\n" +
				"Non aspetti nessuna consegna? Puoi ignorare questa e-mail.",
		},
	},
}
