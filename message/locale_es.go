package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// spanish uses "tú", as most banks and apps in Spain and Latin America now
// do in their messages, and "caduca" for expiry.
//
// The short texts say "clave", not "código": "ó", like "á", "í" and "ú", is
// outside the GSM 7-bit alphabet, and one of them made every Spanish SMS
// UCS-2 and, at 72 characters, two SMS. "Clave" is what banks on both sides
// of the Atlantic call a one-time code ("clave SMS", "clave dinámica"), and
// the texts stay correctly spelled: the only accented letter left is the "í"
// of "días", so only a code that lasts days goes as UCS-2. E-mails, with no
// such limits, say "código de verificación".
var spanish = &locale{
	tag:         language.Spanish,
	decimal:     ",",
	group:       ".",
	minGrouping: 2, // 1250,00 but 12.500,00
	currency:    "#\u00a0¤",
	units: map[unit]map[plural.Form]string{
		minute: {plural.One: "# minuto", plural.Other: "# minutos"},
		hour:   {plural.One: "# hora", plural.Other: "# horas"},
		day:    {plural.One: "# día", plural.Other: "# días"},
	},
	text: map[string]string{
		PurposeLogin:         "Tu clave de {brand} es {code}. Caduca en {expiry}. No la compartas.",
		PurposeTransaction:   "Tu clave de {brand} para pagar {amount} a {payee} es {code}. Caduca en {expiry}. No la compartas.",
		PurposePasswordReset: "Tu clave de {brand} para restablecer tu contraseña es {code}. Caduca en {expiry}. No la compartas.",
		PurposeDelivery:      "Tu clave de entrega de {brand} es {code}. Entrégasela al repartidor solo cuando recibas tu pedido. Caduca en {expiry}.",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "Tu código de verificación de {brand}",
			Text: "Tu código de verificación de {brand} es:\n\n{code}\n\n" +
				"Caduca en {expiry}. No lo compartas con nadie.\n\n" +
				"¿No lo has solicitado? Puedes ignorar este correo.",
		},
		PurposeTransaction: {
			Subject: "Tu código de {brand} para confirmar un pago",
			Text: "Tu código de {brand} para pagar {amount} a {payee} es:\n\n{code}\n\n" +
				"Comprueba el importe y el beneficiario antes de usarlo. Caduca en {expiry}. No lo compartas con nadie.\n\n" +
				"¿No has iniciado este pago? No uses el código y ponte en contacto con {brand}.",
		},
		PurposePasswordReset: {
			Subject: "Tu código de {brand} para restablecer tu contraseña",
			Text: "Tu código de {brand} para restablecer tu contraseña es:\n\n{code}\n\n" +
				"Caduca en {expiry}. No lo compartas con nadie.\n\n" +
				"¿No has pedido restablecer tu contraseña? Puedes ignorar este correo: tu contraseña no cambiará.",
		},
		PurposeDelivery: {
			Subject: "Tu código de entrega de {brand}",
			Text: "Tu código de entrega de {brand} es:\n\n{code}\n\n" +
				"Dáselo al repartidor solo cuando recibas tu pedido. Caduca en {expiry}.\n\n" +
				"¿No esperas ningún pedido? Puedes ignorar este correo.",
		},
	},
}
