package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// arabic is written right to left, with every number in ASCII digits.
//
// Digits. The code must be ASCII: phones and browsers only autofill ASCII
// digits, and a customer types what they read into a form that may not
// accept Arabic-Indic ones. Amounts and durations use ASCII digits too,
// although CLDR's default for "ar" is Arabic-Indic (١٢٥٫٠٠): one message
// should not mix two sets of digits, the merchant's page the customer
// compares the amount with shows ASCII digits, and banks in the Gulf and
// the Maghreb write them in their own SMS. The separators are CLDR's for
// Arabic with ASCII digits: "1,234.50".
//
// Currencies are ISO codes ("125.00 SAR", "125.00 EUR"), as Gulf banks write
// them: CLDR's Arabic symbols ("ر.س.") end in a right-to-left mark to keep
// their last dot in place, and no value in a message may carry a
// bidirectional control.
//
// Bidirectional text. No template or message contains bidirectional
// controls (U+2066–U+2069 isolates included): older phones show them as
// boxes, each costs a character of a 70-character UCS-2 SMS, and codes
// wrapped in them are not reliably picked up by OTP autofill. Instead every
// text starts with an Arabic word, which makes the paragraph right to left
// in every renderer, and every value (code, brand, amount, payee, expiry)
// sits between Arabic words, never next to another value with only spaces
// or punctuation between: the Unicode bidirectional algorithm then keeps
// each in its logical place, and two numbers can never swap. The e-mail
// HTML is dir="rtl" and isolates values in <bdi>.
//
// Plurals follow CLDR's six forms after "لمدة" (for), in the genitive: one
// and two are words without a digit ("دقيقة واحدة", "دقيقتين"), few (3–10)
// takes the plural ("10 دقائق"), many (11–99) and other (100–102 ...) the
// singular ("15 دقيقة", "100 دقيقة"; "15 يومًا" with its accusative
// ending). Zero never occurs.
var arabic = &locale{
	tag:         language.Arabic,
	rtl:         true,
	decimal:     ".",
	group:       ",",
	minGrouping: 1,
	currency:    "#\u00a0¤",
	isoCodes:    true,
	units: map[unit]map[plural.Form]string{
		minute: {plural.Zero: "# دقيقة", plural.One: "دقيقة واحدة", plural.Two: "دقيقتين", plural.Few: "# دقائق", plural.Many: "# دقيقة", plural.Other: "# دقيقة"},
		hour:   {plural.Zero: "# ساعة", plural.One: "ساعة واحدة", plural.Two: "ساعتين", plural.Few: "# ساعات", plural.Many: "# ساعة", plural.Other: "# ساعة"},
		day:    {plural.Zero: "# يوم", plural.One: "يوم واحد", plural.Two: "يومين", plural.Few: "# أيام", plural.Many: "# يومًا", plural.Other: "# يوم"},
	},
	text: map[string]string{
		PurposeLogin:         "رمز {brand} هو {code}. صالح لمدة {expiry}. لا تشاركه مع أحد.",
		PurposeTransaction:   "رمز {brand} لدفع {amount} إلى {payee} هو {code}. صالح لمدة {expiry}. لا تشاركه مع أحد.",
		PurposePasswordReset: "رمز {brand} لإعادة تعيين كلمة المرور هو {code}. صالح لمدة {expiry}. لا تشاركه مع أحد.",
		PurposeDelivery:      "رمز التسليم من {brand} هو {code}. لا تعطه لمندوب التوصيل إلا عند استلام طلبك. صالح لمدة {expiry}.",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "رمز التحقق الخاص بك من {brand}",
			Text: "رمز التحقق الخاص بك من {brand} هو:\n\n{code}\n\n" +
				"الرمز صالح لمدة {expiry}. لا تشاركه مع أي شخص.\n\n" +
				"إذا لم تطلب هذا الرمز، يمكنك تجاهل هذه الرسالة.",
		},
		PurposeTransaction: {
			Subject: "رمز {brand} لتأكيد عملية دفع",
			Text: "رمز {brand} لدفع {amount} إلى {payee} هو:\n\n{code}\n\n" +
				"تحقق من المبلغ والمستفيد قبل استخدام الرمز. الرمز صالح لمدة {expiry}. لا تشاركه مع أي شخص.\n\n" +
				"إذا لم تكن أنت من بدأ عملية الدفع هذه، فلا تستخدم الرمز وتواصل مع {brand}.",
		},
		PurposePasswordReset: {
			Subject: "رمز {brand} لإعادة تعيين كلمة المرور",
			Text: "رمز {brand} لإعادة تعيين كلمة المرور هو:\n\n{code}\n\n" +
				"الرمز صالح لمدة {expiry}. لا تشاركه مع أي شخص.\n\n" +
				"إذا لم تطلب إعادة تعيين كلمة المرور، يمكنك تجاهل هذه الرسالة، ولن تتغير كلمة المرور.",
		},
		PurposeDelivery: {
			Subject: "رمز التسليم من {brand}",
			Text: "رمز التسليم من {brand} هو:\n\n{code}\n\n" +
				"لا تعطه لمندوب التوصيل إلا عند استلام طلبك. الرمز صالح لمدة {expiry}.\n\n" +
				"إذا كنت لا تنتظر أي طلب، يمكنك تجاهل هذه الرسالة.",
		},
	},
}
