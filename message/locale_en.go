package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// english is the fallback locale: it must stay first in builtinLocales.
// Being the fallback for the whole world, it has no home currency: the US
// dollar is "US$", never a bare "$" an Australian or Canadian reader would
// take for their own.
var english = &locale{
	tag:         language.English,
	decimal:     ".",
	group:       ",",
	minGrouping: 1,
	currency:    "¤#",
	units: map[unit]map[plural.Form]string{
		minute: {plural.One: "# minute", plural.Other: "# minutes"},
		hour:   {plural.One: "# hour", plural.Other: "# hours"},
		day:    {plural.One: "# day", plural.Other: "# days"},
	},
	text: map[string]string{
		PurposeLogin:         "Your {brand} code is {code}. It expires in {expiry}. Don't share it.",
		PurposeTransaction:   "Your {brand} code to pay {amount} to {payee} is {code}. It expires in {expiry}. Don't share it.",
		PurposePasswordReset: "Your {brand} password reset code is {code}. It expires in {expiry}. Don't share it.",
		// A hand-over code is meant to be shared, with the courier, at the door.
		PurposeDelivery: "Your {brand} delivery code is {code}. Only give it to the courier when you receive your order. It expires in {expiry}.",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "Your {brand} verification code",
			Text: "Your {brand} verification code is:\n\n{code}\n\n" +
				"It expires in {expiry}. Don't share it with anyone.\n\n" +
				"Didn't request this? You can ignore this e-mail.",
		},
		PurposeTransaction: {
			Subject: "Your {brand} payment confirmation code",
			Text: "Your {brand} code to pay {amount} to {payee} is:\n\n{code}\n\n" +
				"Check the amount and payee before you use it. It expires in {expiry}. Don't share it with anyone.\n\n" +
				"Didn't start this payment? Don't use the code, and contact {brand}.",
		},
		PurposePasswordReset: {
			Subject: "Your {brand} password reset code",
			Text: "Your {brand} password reset code is:\n\n{code}\n\n" +
				"It expires in {expiry}. Don't share it with anyone.\n\n" +
				"Didn't ask to reset your password? You can ignore this e-mail. Your password won't change.",
		},
		PurposeDelivery: {
			Subject: "Your {brand} delivery code",
			Text: "Your {brand} delivery code is:\n\n{code}\n\n" +
				"Only give it to the courier when you receive your order. It expires in {expiry}.\n\n" +
				"Not expecting a delivery? You can ignore this e-mail.",
		},
	},
}
