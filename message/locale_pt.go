package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// Portuguese comes in two locales because the texts differ in more than
// spelling: "senha" and "palavra-passe" (password), "entregador" and
// "estafeta" (courier), "compartilhe" and "partilhe" (share), "você" and
// "o seu", and in how money is written ("R$ 1.250,00", "1250,00 €").
//
// Neither SMS can be GSM 7-bit: "código" and "não" have letters outside the
// alphabet, and spelling them without accents reads as careless, which is
// the last impression a security message should give. The short texts are
// instead kept within one UCS-2 SMS (70 characters) for a login code with
// a brand of about ten letters, hence "Código {brand}: {code}." rather than
// "Seu código {brand} é {code}.".

// brazilianPortuguese is "pt-BR", which a request for plain "pt" gets too,
// as CLDR makes Brazil the default for Portuguese.
var brazilianPortuguese = &locale{
	tag:         language.BrazilianPortuguese,
	decimal:     ",",
	group:       ".",
	minGrouping: 1,
	currency:    "¤\u00a0#",
	units: map[unit]map[plural.Form]string{
		minute: {plural.One: "# minuto", plural.Other: "# minutos"},
		hour:   {plural.One: "# hora", plural.Other: "# horas"},
		day:    {plural.One: "# dia", plural.Other: "# dias"},
	},
	text: map[string]string{
		PurposeLogin:         "Código {brand}: {code}. Expira em {expiry}. Não compartilhe.",
		PurposeTransaction:   "Código {brand} para pagar {amount} a {payee}: {code}. Expira em {expiry}. Não compartilhe.",
		PurposePasswordReset: "Código {brand} para redefinir sua senha: {code}. Expira em {expiry}. Não compartilhe.",
		PurposeDelivery:      "Código de entrega {brand}: {code}. Informe-o ao entregador só quando receber seu pedido. Expira em {expiry}.",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "Seu código de verificação {brand}",
			Text: "Seu código de verificação {brand} é:\n\n{code}\n\n" +
				"Ele expira em {expiry}. Não o compartilhe com ninguém.\n\n" +
				"Não foi você que pediu este código? Ignore este e-mail.",
		},
		PurposeTransaction: {
			Subject: "Seu código {brand} para confirmar um pagamento",
			Text: "Seu código {brand} para pagar {amount} a {payee} é:\n\n{code}\n\n" +
				"Confira o valor e o destinatário antes de usá-lo. Ele expira em {expiry}. Não o compartilhe com ninguém.\n\n" +
				"Não foi você que iniciou este pagamento? Não use o código e entre em contato com {brand}.",
		},
		PurposePasswordReset: {
			Subject: "Seu código {brand} para redefinir a senha",
			Text: "Seu código {brand} para redefinir a senha é:\n\n{code}\n\n" +
				"Ele expira em {expiry}. Não o compartilhe com ninguém.\n\n" +
				"Não pediu para redefinir sua senha? Ignore este e-mail. Sua senha não será alterada.",
		},
		PurposeDelivery: {
			Subject: "Seu código de entrega {brand}",
			Text: "Seu código de entrega {brand} é:\n\n{code}\n\n" +
				"Informe-o ao entregador só quando receber seu pedido. Ele expira em {expiry}.\n\n" +
				"Não está esperando uma entrega? Ignore este e-mail.",
		},
	},
}

// europeanPortuguese is "pt-PT", for Portugal and, through CLDR's matching,
// Angola, Mozambique, Cape Verde and the other countries that write
// European Portuguese.
var europeanPortuguese = &locale{
	tag:         language.EuropeanPortuguese,
	decimal:     ",",
	group:       "\u00a0",
	minGrouping: 2, // 1250,00 but 12 500,00
	currency:    "#\u00a0¤",
	units: map[unit]map[plural.Form]string{
		minute: {plural.One: "# minuto", plural.Other: "# minutos"},
		hour:   {plural.One: "# hora", plural.Other: "# horas"},
		day:    {plural.One: "# dia", plural.Other: "# dias"},
	},
	text: map[string]string{
		PurposeLogin:         "Código {brand}: {code}. Expira em {expiry}. Não o partilhe.",
		PurposeTransaction:   "Código {brand} para pagar {amount} a {payee}: {code}. Expira em {expiry}. Não o partilhe.",
		PurposePasswordReset: "Código {brand} para repor a palavra-passe: {code}. Expira em {expiry}. Não o partilhe.",
		PurposeDelivery:      "Código de entrega {brand}: {code}. Indique-o ao estafeta só quando receber a encomenda. Expira em {expiry}.",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "O seu código de verificação {brand}",
			Text: "O seu código de verificação {brand} é:\n\n{code}\n\n" +
				"Expira em {expiry}. Não o partilhe com ninguém.\n\n" +
				"Não pediu este código? Pode ignorar este e-mail.",
		},
		PurposeTransaction: {
			Subject: "O seu código {brand} para confirmar um pagamento",
			Text: "O seu código {brand} para pagar {amount} a {payee} é:\n\n{code}\n\n" +
				"Confirme o montante e o beneficiário antes de o utilizar. Expira em {expiry}. Não o partilhe com ninguém.\n\n" +
				"Não iniciou este pagamento? Não utilize o código e contacte {brand}.",
		},
		PurposePasswordReset: {
			Subject: "O seu código {brand} para repor a palavra-passe",
			Text: "O seu código {brand} para repor a palavra-passe é:\n\n{code}\n\n" +
				"Expira em {expiry}. Não o partilhe com ninguém.\n\n" +
				"Não pediu para repor a palavra-passe? Pode ignorar este e-mail. A sua palavra-passe não será alterada.",
		},
		PurposeDelivery: {
			Subject: "O seu código de entrega {brand}",
			Text: "O seu código de entrega {brand} é:\n\n{code}\n\n" +
				"Indique-o ao estafeta só quando receber a sua encomenda. Expira em {expiry}.\n\n" +
				"Não está à espera de uma encomenda? Pode ignorar este e-mail.",
		},
	},
}
