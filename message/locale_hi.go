package message

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// hindi says "OTP", as Indian banks, apps and the Hindi press do: it is
// shorter than "एक बार का पासवर्ड" and every reader knows it. Devanagari is
// UCS-2, so the short texts are kept within one UCS-2 SMS (70 characters) for
// a login code with a brand of about ten letters.
//
// The units are in the oblique case that the postposition "के लिए" (for)
// takes, so "घंटे" is right for one hour too ("1 घंटे के लिए"); a "#
// घंटा" for a text without a postposition would need another unit set.
// Numbers are ASCII digits, which is CLDR's default for Hindi, grouped the
// Indian way: "₹1,25,000.00".
//
// LocaleForRegion does not pick Hindi for India; see there.
var hindi = &locale{
	tag:         language.Hindi,
	decimal:     ".",
	group:       ",",
	minGrouping: 1,
	lakh:        true,
	currency:    "¤#",
	units: map[unit]map[plural.Form]string{
		minute: {plural.Other: "# मिनट"},
		hour:   {plural.Other: "# घंटे"},
		day:    {plural.Other: "# दिन"},
	},
	text: map[string]string{
		PurposeLogin:         "{brand} OTP: {code}। {expiry} के लिए मान्य। किसी से साझा न करें।",
		PurposeTransaction:   "{payee} को {amount} के भुगतान के लिए {brand} OTP: {code}। {expiry} के लिए मान्य। किसी से साझा न करें।",
		PurposePasswordReset: "पासवर्ड रीसेट के लिए {brand} OTP: {code}। {expiry} के लिए मान्य। किसी से साझा न करें।",
		PurposeDelivery:      "{brand} डिलीवरी कोड: {code}। ऑर्डर मिलने पर ही डिलीवरी एजेंट को बताएं। {expiry} के लिए मान्य।",
	},
	email: map[string]Template{
		PurposeLogin: {
			Subject: "आपका {brand} सत्यापन कोड",
			Text: "आपका {brand} सत्यापन कोड है:\n\n{code}\n\n" +
				"यह {expiry} के लिए मान्य है। इसे किसी के साथ साझा न करें।\n\n" +
				"अगर आपने यह कोड नहीं मांगा है, तो इस ईमेल को अनदेखा करें।",
		},
		PurposeTransaction: {
			Subject: "भुगतान की पुष्टि के लिए आपका {brand} कोड",
			Text: "{payee} को {amount} के भुगतान के लिए आपका {brand} कोड है:\n\n{code}\n\n" +
				"इसका उपयोग करने से पहले राशि और प्राप्तकर्ता की जांच कर लें। यह {expiry} के लिए मान्य है। इसे किसी के साथ साझा न करें।\n\n" +
				"अगर यह भुगतान आपने शुरू नहीं किया है, तो कोड का उपयोग न करें और {brand} से संपर्क करें।",
		},
		PurposePasswordReset: {
			Subject: "पासवर्ड रीसेट करने के लिए आपका {brand} कोड",
			Text: "पासवर्ड रीसेट करने के लिए आपका {brand} कोड है:\n\n{code}\n\n" +
				"यह {expiry} के लिए मान्य है। इसे किसी के साथ साझा न करें।\n\n" +
				"अगर आपने पासवर्ड रीसेट करने का अनुरोध नहीं किया है, तो इस ईमेल को अनदेखा करें। आपका पासवर्ड नहीं बदलेगा।",
		},
		PurposeDelivery: {
			Subject: "आपका {brand} डिलीवरी कोड",
			Text: "आपका {brand} डिलीवरी कोड है:\n\n{code}\n\n" +
				"इसे डिलीवरी एजेंट को केवल अपना ऑर्डर मिलने पर ही बताएं। यह {expiry} के लिए मान्य है।\n\n" +
				"अगर आप किसी डिलीवरी की उम्मीद नहीं कर रहे हैं, तो इस ईमेल को अनदेखा करें।",
		},
	},
}
