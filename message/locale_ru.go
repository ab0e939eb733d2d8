package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// russian needs CLDR's three integer plural forms: one (1, 21, 31 ...), few
// (2–4, 22–24 ...) and many (0, 5–20, 25–30 ...); "other" is for fractions.
// The units follow "действует" (is valid), which takes the accusative:
// "действует 1 минуту", "2 минуты", "5 минут", "21 минуту".
//
// Cyrillic is UCS-2, so the short texts are kept within one UCS-2 SMS (70
// characters) for a login code with a brand of about ten letters:
// "Код {brand}: {code}." and "Никому не сообщайте." (tell no one) rather than
// longer, more formal sentences. The brand is never declined.
var russian = &locale{
	tag:         language.Russian,
	decimal:     ",",
	group:       "\u00a0",
	minGrouping: 1,
	currency:    "#\u00a0¤",
	units: map[unit]map[plural.Form]string{
		minute: {plural.One: "# минуту", plural.Few: "# минуты", plural.Many: "# минут", plural.Other: "# минуты"},
		hour:   {plural.One: "# час", plural.Few: "# часа", plural.Many: "# часов", plural.Other: "# часа"},
		day:    {plural.One: "# день", plural.Few: "# дня", plural.Many: "# дней", plural.Other: "# дня"},
	},
	text: map[string]string{
		PurposeLogin:         "Код {brand}: {code}. Действует {expiry}. Никому не сообщайте.",
		PurposeTransaction:   "Код {brand}: {code}. Оплата {amount}, получатель: {payee}. Действует {expiry}. Никому не сообщайте.",
		PurposePasswordReset: "Код {brand} для сброса пароля: {code}. Действует {expiry}. Никому не сообщайте.",
		PurposeDelivery:      "Код доставки {brand}: {code}. Назовите его курьеру только при получении заказа. Действует {expiry}.",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "Ваш код подтверждения {brand}",
			Text: "Ваш код подтверждения {brand}:\n\n{code}\n\n" +
				"Код действует {expiry}. Никому его не сообщайте.\n\n" +
				"Если вы не запрашивали код, просто проигнорируйте это письмо.",
		},
		PurposeTransaction: {
			Subject: "Ваш код {brand} для подтверждения платежа",
			Text: "Ваш код {brand} для оплаты {amount} получателю {payee}:\n\n{code}\n\n" +
				"Перед тем как ввести код, проверьте сумму и получателя. Код действует {expiry}. Никому его не сообщайте.\n\n" +
				"Если вы не совершали этот платёж, не используйте код и свяжитесь с {brand}.",
		},
		PurposePasswordReset: {
			Subject: "Ваш код {brand} для сброса пароля",
			Text: "Ваш код {brand} для сброса пароля:\n\n{code}\n\n" +
				"Код действует {expiry}. Никому его не сообщайте.\n\n" +
				"Если вы не запрашивали сброс пароля, просто проигнорируйте это письмо. Ваш пароль останется прежним.",
		},
		PurposeDelivery: {
			Subject: "Ваш код доставки {brand}",
			Text: "Ваш код доставки {brand}:\n\n{code}\n\n" +
				"Назовите его курьеру только при получении заказа. Код действует {expiry}.\n\n" +
				"Если вы не ждёте доставку, просто проигнорируйте это письмо.",
		},
	},
}
