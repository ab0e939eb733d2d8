package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// french keeps to the GSM 7-bit alphabet in its SMS wording (no "ç", "ê"
// or "ô", ASCII apostrophes) so a message stays one cheap segment; the
// no-break spaces of amounts become plain spaces in an SMS. E-mails use the
// no-break space French puts before ":" and "?". Numbers follow CLDR: a
// narrow no-break space between groups, a no-break space before the
// currency: "1 234,50 €".
var french = &locale{
	tag:         language.French,
	decimal:     ",",
	group:       "\u202f",
	minGrouping: 1,
	currency:    "#\u00a0¤",
	units: map[unit]map[plural.Form]string{
		minute: {plural.One: "# minute", plural.Other: "# minutes"},
		hour:   {plural.One: "# heure", plural.Other: "# heures"},
		day:    {plural.One: "# jour", plural.Other: "# jours"},
	},
	text: map[string]string{
		PurposeLogin:         "Votre code {brand} est {code}. Il expire dans {expiry}. Ne le communiquez à personne.",
		PurposeTransaction:   "Votre code {brand} pour payer {amount} à {payee} est {code}. Il expire dans {expiry}. Ne le communiquez à personne.",
		PurposePasswordReset: "Votre code {brand} pour réinitialiser votre mot de passe est {code}. Il expire dans {expiry}. Ne le communiquez à personne.",
		PurposeDelivery:      "Votre code de livraison {brand} est {code}. Ne le donnez au livreur qu'à la remise de votre commande. Il expire dans {expiry}.",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "Votre code de vérification {brand}",
			Text: "Votre code de vérification {brand} est\u00a0:\n\n{code}\n\n" +
				"Il expire dans {expiry}. Ne le communiquez à personne.\n\n" +
				"Vous n'êtes pas à l'origine de cette demande\u00a0? Vous pouvez ignorer cet e-mail.",
		},
		PurposeTransaction: {
			Subject: "Votre code {brand} pour confirmer un paiement",
			Text: "Votre code {brand} pour payer {amount} à {payee} est\u00a0:\n\n{code}\n\n" +
				"Vérifiez le montant et le bénéficiaire avant de l'utiliser. Il expire dans {expiry}. Ne le communiquez à personne.\n\n" +
				"Vous n'êtes pas à l'origine de ce paiement\u00a0? N'utilisez pas ce code et contactez {brand}.",
		},
		PurposePasswordReset: {
			Subject: "Votre code {brand} de réinitialisation du mot de passe",
			Text: "Votre code {brand} pour réinitialiser votre mot de passe est\u00a0:\n\n{code}\n\n" +
				"Il expire dans {expiry}. Ne le communiquez à personne.\n\n" +
				"Vous n'avez pas demandé à réinitialiser votre mot de passe\u00a0? Vous pouvez ignorer cet e-mail\u00a0: votre mot de passe ne changera pas.",
		},
		PurposeDelivery: {
			Subject: "Votre code de livraison {brand}",
			Text: "Votre code de livraison {brand} est\u00a0:\n\n{code}\n\n" +
				"Ne le donnez au livreur qu'à la remise de votre commande. Il expire dans {expiry}.\n\n" +
				"Vous n'attendez pas de livraison\u00a0? Vous pouvez ignorer cet e-mail.",
		},
	},
}
