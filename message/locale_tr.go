package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// turkish SMS go as UCS-2. "ş", "ğ", "ı", "İ" and "ç" are outside the GSM
// 7-bit default alphabet (the Turkish national language shift table, which
// has them, is not something every SMSC and phone supports), and Turkish
// cannot be written naturally without them; dropping the dots and cedillas
// is common in bulk SMS but reads as careless. The short texts are kept
// within one UCS-2 SMS (70 characters) for a login code with a brand of
// about ten letters, which is why they say "10 dakika geçerli" where an
// e-mail says "geçerlidir".
//
// Turkish attaches case suffixes to names, and their vowels follow the name
// ("ACME Shop'a", "Acme Bank'a"), which a template cannot know. So the
// texts never suffix {brand} or {payee}: "{brand} kodunuz" (a bare noun
// before a possessed one), "{brand} ile", and "Alıcı: {payee}". A noun
// after a number stays singular ("10 dakika"). Money is "125,00 TL", as
// Turkish banks write the lira.
var turkish = &locale{
	tag:         language.Turkish,
	decimal:     ",",
	group:       ".",
	minGrouping: 1,
	currency:    "¤#",
	currencies:  map[string]string{"TRY": "#\u00a0TL"},
	units: map[unit]map[plural.Form]string{
		minute: {plural.Other: "# dakika"},
		hour:   {plural.Other: "# saat"},
		day:    {plural.Other: "# gün"},
	},
	text: map[string]string{
		PurposeLogin:         "{brand} kodunuz: {code}. {expiry} geçerli. Kimseyle paylaşmayın.",
		PurposeTransaction:   "{brand} ödeme kodunuz: {code}. Tutar: {amount}, alıcı: {payee}. {expiry} geçerli. Kimseyle paylaşmayın.",
		PurposePasswordReset: "{brand} şifre sıfırlama kodunuz: {code}. {expiry} geçerli. Kimseyle paylaşmayın.",
		PurposeDelivery:      "{brand} teslimat kodunuz: {code}. Kuryeye yalnızca siparişinizi teslim alırken söyleyin. {expiry} geçerli.",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "{brand} doğrulama kodunuz",
			Text: "{brand} doğrulama kodunuz:\n\n{code}\n\n" +
				"Kod {expiry} geçerlidir. Kimseyle paylaşmayın.\n\n" +
				"Bu kodu siz istemediyseniz bu e-postayı dikkate almayabilirsiniz.",
		},
		PurposeTransaction: {
			Subject: "{brand} ödeme onay kodunuz",
			Text: "{brand} ödeme onay kodunuz:\n\n{code}\n\n" +
				"Tutar: {amount}\nAlıcı: {payee}\n\n" +
				"Kullanmadan önce tutarı ve alıcıyı kontrol edin. Kod {expiry} geçerlidir. Kimseyle paylaşmayın.\n\n" +
				"Bu ödemeyi siz başlatmadıysanız kodu kullanmayın ve {brand} ile iletişime geçin.",
		},
		PurposePasswordReset: {
			Subject: "{brand} şifre sıfırlama kodunuz",
			Text: "{brand} şifre sıfırlama kodunuz:\n\n{code}\n\n" +
				"Kod {expiry} geçerlidir. Kimseyle paylaşmayın.\n\n" +
				"Şifre sıfırlama talebinde bulunmadıysanız bu e-postayı dikkate almayabilirsiniz. Şifreniz değişmeyecek.",
		},
		PurposeDelivery: {
			Subject: "{brand} teslimat kodunuz",
			Text: "{brand} teslimat kodunuz:\n\n{code}\n\n" +
				"Kodu kuryeye yalnızca siparişinizi teslim alırken söyleyin. Kod {expiry} geçerlidir.\n\n" +
				"Bir teslimat beklemiyorsanız bu e-postayı dikkate almayabilirsiniz.",
		},
	},
}
