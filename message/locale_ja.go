package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// japanese is polite (です・ください) without the honorifics of a letter, as
// Japanese services word their SMS. Japanese has no plural and no space
// between a number and its unit ("10分"). The yen is written as Japanese
// text writes it, "1,500円"; other currencies take CLDR's symbol in front
// ("€125.00", "US$125.00"). Japanese is UCS-2, and its texts are short
// enough to need no trimming.
var japanese = &locale{
	tag:         language.Japanese,
	decimal:     ".",
	group:       ",",
	minGrouping: 1,
	currency:    "¤#",
	currencies:  map[string]string{"JPY": "#円"},
	units: map[unit]map[plural.Form]string{
		minute: {plural.Other: "#分"},
		hour:   {plural.Other: "#時間"},
		day:    {plural.Other: "#日"},
	},
	text: map[string]string{
		PurposeLogin:         "{brand}の認証コードは{code}です。有効期限は{expiry}です。誰にも教えないでください。",
		PurposeTransaction:   "{payee}への{amount}のお支払いを承認する{brand}の認証コードは{code}です。有効期限は{expiry}です。誰にも教えないでください。",
		PurposePasswordReset: "{brand}のパスワード再設定用コードは{code}です。有効期限は{expiry}です。誰にも教えないでください。",
		PurposeDelivery:      "{brand}の配達用コードは{code}です。商品のお受け取り時にのみ配達員にお伝えください。有効期限は{expiry}です。",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "{brand}の認証コード",
			Text: "{brand}の認証コードは次のとおりです。\n\n{code}\n\n" +
				"有効期限は{expiry}です。このコードは誰にも教えないでください。\n\n" +
				"お心当たりのない場合は、このメールを無視してください。",
		},
		PurposeTransaction: {
			Subject: "{brand}のお支払い承認用コード",
			Text: "{payee}への{amount}のお支払いを承認する{brand}の認証コードは次のとおりです。\n\n{code}\n\n" +
				"ご利用の前に、金額と支払先をご確認ください。有効期限は{expiry}です。このコードは誰にも教えないでください。\n\n" +
				"このお支払いにお心当たりのない場合は、コードを使用せず、{brand}にお問い合わせください。",
		},
		PurposePasswordReset: {
			Subject: "{brand}のパスワード再設定用コード",
			Text: "{brand}のパスワード再設定用コードは次のとおりです。\n\n{code}\n\n" +
				"有効期限は{expiry}です。このコードは誰にも教えないでください。\n\n" +
				"パスワードの再設定をリクエストしていない場合は、このメールを無視してください。パスワードは変更されません。",
		},
		PurposeDelivery: {
			Subject: "{brand}の配達用コード",
			Text: "{brand}の配達用コードは次のとおりです。\n\n{code}\n\n" +
				"商品のお受け取り時にのみ配達員にお伝えください。有効期限は{expiry}です。\n\n" +
				"お届けの予定がない場合は、このメールを無視してください。",
		},
	},
}
