package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// Chinese comes in two locales, Simplified ("zh-Hans": mainland China,
// Singapore; what a request for plain "zh" gets) and Traditional
// ("zh-Hant": Taiwan, Hong Kong, Macau, which CLDR's matching sends there),
// because the script differs and so do words: 邮件 and 郵件, 联系 and 聯絡.
//
// The short texts start with the brand in 【】, the sender signature Chinese
// SMS carry (operators in mainland China require one), and give the code
// early. Chinese has no plural and no space between a number and its unit
// ("10分钟"). Money: the yuan as running text writes it, "125.00元"; the New
// Taiwan dollar as "NT$125.00", which no Hong Kong reader can take for
// HK$; other currencies with CLDR's symbol in front ("US$125.00").
// Chinese is UCS-2, and the texts are short enough to need no trimming.

// simplifiedChinese is "zh-Hans".
var simplifiedChinese = &locale{
	tag:         language.SimplifiedChinese,
	decimal:     ".",
	group:       ",",
	minGrouping: 1,
	currency:    "¤#",
	currencies:  map[string]string{"CNY": "#元"},
	units: map[unit]map[plural.Form]string{
		minute: {plural.Other: "#分钟"},
		hour:   {plural.Other: "#小时"},
		day:    {plural.Other: "#天"},
	},
	text: map[string]string{
		PurposeLogin:         "【{brand}】您的验证码是{code}，{expiry}内有效。请勿告诉他人。",
		PurposeTransaction:   "【{brand}】您正在向{payee}支付{amount}，验证码是{code}，{expiry}内有效。请勿告诉他人。",
		PurposePasswordReset: "【{brand}】您正在重置密码，验证码是{code}，{expiry}内有效。请勿告诉他人。",
		PurposeDelivery:      "【{brand}】您的收货码是{code}，请仅在收到商品时告诉配送员。{expiry}内有效。",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "您的{brand}验证码",
			Text: "您的{brand}验证码是：\n\n{code}\n\n" +
				"验证码{expiry}内有效。请勿告诉任何人。\n\n" +
				"如果这不是您本人的操作，请忽略此邮件。",
		},
		PurposeTransaction: {
			Subject: "您的{brand}付款确认验证码",
			Text: "您正在向{payee}支付{amount}，{brand}验证码是：\n\n{code}\n\n" +
				"使用前请核对金额和收款方。验证码{expiry}内有效。请勿告诉任何人。\n\n" +
				"如果这笔付款不是您本人发起的，请不要使用此验证码，并联系{brand}。",
		},
		PurposePasswordReset: {
			Subject: "您的{brand}密码重置验证码",
			Text: "您正在重置{brand}密码，验证码是：\n\n{code}\n\n" +
				"验证码{expiry}内有效。请勿告诉任何人。\n\n" +
				"如果您没有申请重置密码，请忽略此邮件，您的密码不会改变。",
		},
		PurposeDelivery: {
			Subject: "您的{brand}收货码",
			Text: "您的{brand}收货码是：\n\n{code}\n\n" +
				"请仅在收到商品时告诉配送员。收货码{expiry}内有效。\n\n" +
				"如果您没有在等待配送，请忽略此邮件。",
		},
	},
}

// traditionalChinese is "zh-Hant", worded as Taiwan writes it.
var traditionalChinese = &locale{
	tag:         language.TraditionalChinese,
	decimal:     ".",
	group:       ",",
	minGrouping: 1,
	currency:    "¤#",
	currencies:  map[string]string{"TWD": "NT$#"},
	units: map[unit]map[plural.Form]string{
		minute: {plural.Other: "#分鐘"},
		hour:   {plural.Other: "#小時"},
		day:    {plural.Other: "#天"},
	},
	text: map[string]string{
		PurposeLogin:         "【{brand}】您的驗證碼是{code}，{expiry}內有效。請勿告訴他人。",
		PurposeTransaction:   "【{brand}】您正在向{payee}支付{amount}，驗證碼是{code}，{expiry}內有效。請勿告訴他人。",
		PurposePasswordReset: "【{brand}】您正在重設密碼，驗證碼是{code}，{expiry}內有效。請勿告訴他人。",
		PurposeDelivery:      "【{brand}】您的收貨驗證碼是{code}，請僅在收到商品時告訴配送人員。{expiry}內有效。",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "您的{brand}驗證碼",
			Text: "您的{brand}驗證碼是：\n\n{code}\n\n" +
				"驗證碼{expiry}內有效。請勿告訴任何人。\n\n" +
				"如果這不是您本人的操作，請忽略此郵件。",
		},
		PurposeTransaction: {
			Subject: "您的{brand}付款確認驗證碼",
			Text: "您正在向{payee}支付{amount}，{brand}驗證碼是：\n\n{code}\n\n" +
				"使用前請核對金額與收款人。驗證碼{expiry}內有效。請勿告訴任何人。\n\n" +
				"如果這筆付款不是您本人發起的，請勿使用此驗證碼，並與{brand}聯絡。",
		},
		PurposePasswordReset: {
			Subject: "您的{brand}密碼重設驗證碼",
			Text: "您正在重設{brand}密碼，驗證碼是：\n\n{code}\n\n" +
				"驗證碼{expiry}內有效。請勿告訴任何人。\n\n" +
				"如果您沒有申請重設密碼，請忽略此郵件，您的密碼不會變更。",
		},
		PurposeDelivery: {
			Subject: "您的{brand}收貨驗證碼",
			Text: "您的{brand}收貨驗證碼是：\n\n{code}\n\n" +
				"請僅在收到商品時告訴配送人員。驗證碼{expiry}內有效。\n\n" +
				"如果您沒有在等待配送，請忽略此郵件。",
		},
	},
}
