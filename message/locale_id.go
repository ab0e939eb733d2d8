package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// indonesian uses the polite "Anda", as Indonesian banks and apps do. It is
// written in plain Latin letters, so every short text is GSM 7-bit. A noun
// after a number has no plural ("10 menit"). The rupiah has no minor unit in
// CLDR: "Rp 125.000".
var indonesian = &locale{
	tag:         language.Indonesian,
	decimal:     ",",
	group:       ".",
	minGrouping: 1,
	currency:    "¤#",
	units: map[unit]map[plural.Form]string{
		minute: {plural.Other: "# menit"},
		hour:   {plural.Other: "# jam"},
		day:    {plural.Other: "# hari"},
	},
	text: map[string]string{
		PurposeLogin:         "Kode {brand} Anda adalah {code}. Berlaku selama {expiry}. Jangan berikan kepada siapa pun.",
		PurposeTransaction:   "Kode {brand} Anda untuk membayar {amount} kepada {payee} adalah {code}. Berlaku selama {expiry}. Jangan berikan kepada siapa pun.",
		PurposePasswordReset: "Kode {brand} Anda untuk mengatur ulang kata sandi adalah {code}. Berlaku selama {expiry}. Jangan berikan kepada siapa pun.",
		PurposeDelivery:      "Kode pengiriman {brand} Anda adalah {code}. Berikan kepada kurir hanya saat Anda menerima pesanan. Berlaku selama {expiry}.",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "Kode verifikasi {brand} Anda",
			Text: "Kode verifikasi {brand} Anda adalah:\n\n{code}\n\n" +
				"Kode ini berlaku selama {expiry}. Jangan berikan kepada siapa pun.\n\n" +
				"Jika Anda tidak memintanya, abaikan email ini.",
		},
		PurposeTransaction: {
			Subject: "Kode {brand} Anda untuk mengonfirmasi pembayaran",
			Text: "Kode {brand} Anda untuk membayar {amount} kepada {payee} adalah:\n\n{code}\n\n" +
				"Periksa jumlah dan penerima sebelum menggunakannya. Kode ini berlaku selama {expiry}. Jangan berikan kepada siapa pun.\n\n" +
				"Jika Anda tidak melakukan pembayaran ini, jangan gunakan kode ini dan hubungi {brand}.",
		},
		PurposePasswordReset: {
			Subject: "Kode {brand} Anda untuk mengatur ulang kata sandi",
			Text: "Kode {brand} Anda untuk mengatur ulang kata sandi adalah:\n\n{code}\n\n" +
				"Kode ini berlaku selama {expiry}. Jangan berikan kepada siapa pun.\n\n" +
				"Jika Anda tidak meminta pengaturan ulang kata sandi, abaikan email ini. Kata sandi Anda tidak akan berubah.",
		},
		PurposeDelivery: {
			Subject: "Kode pengiriman {brand} Anda",
			Text: "Kode pengiriman {brand} Anda adalah:\n\n{code}\n\n" +
				"Berikan kepada kurir hanya saat Anda menerima pesanan. Kode ini berlaku selama {expiry}.\n\n" +
				"Jika Anda tidak sedang menunggu pesanan, abaikan email ini.",
		},
	},
}
