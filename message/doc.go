// Package message renders verification messages: it implements
// [otpd.Renderer] with built-in wording per locale, per kind of channel and
// per purpose.
//
// # Templates
//
// A [Template] is plain text with named placeholders in braces: {brand},
// {code}, {expiry}, {amount} and {payee}. They are not Go templates: a
// renderer replaces each known placeholder with its value in one left-to-right
// pass and never looks at the values again, so a brand or payee that
// contains "{code}" or "{{.}}" is shown as it is and cannot pull the code, or
// anything else, into the message. [Validate] and [ValidateTemplate] hold
// templates to stricter rules (every brace must belong to a known placeholder,
// {code} appears exactly once) so a typo like "{Code}" is caught when a
// template is saved, not when a customer reads it.
//
// Templates are looked up by [Key]: the kind of channel ([KindText] for SMS,
// WhatsApp, RCS and push; [KindEmail]), the purpose and the locale. Every
// built-in locale has a template for every kind and purpose, so a lookup
// never falls back to another language halfway through.
//
// # Services' own templates
//
// A service may replace a built-in text for one channel, purpose and locale
// ([otpd.MessageTemplate], set through the API). [Catalog.CanonicalTemplateKey]
// and [Catalog.CheckTemplate] check it when it is saved: [ValidateTemplate]'s
// rules, and the message it makes in the worst case must fit its channel
// (MaxSMSSegments and the other limits). [Catalog.Render] uses the template
// the request carries (RenderRequest.Templates) for the channel, the purpose
// it picks and the locale it matches, with the same values, cleaning and
// escaping as a built-in.
//
// # Purposes
//
// "login" (and ""), "transaction", "password_reset" and "delivery" have their
// own wording; any other purpose uses the login wording. A request that
// carries a transaction always uses the transaction wording, whatever its
// purpose: a code bound to an amount and a payee must say so (PSD2 dynamic
// linking — what you see is what you sign).
//
// # Locales
//
// English (the fallback), German, French, Spanish, Brazilian and European
// Portuguese ("pt-BR", "pt-PT"), Italian, Dutch, Polish, Turkish, Russian,
// Arabic, Hindi, Indonesian, Japanese, and Simplified and Traditional
// Chinese ("zh-Hans", "zh-Hant"). A request's locale is matched with
// golang.org/x/text/language against these, as CLDR sees the languages
// people understand: "de-AT" gets German, "pt" Brazilian Portuguese, "pt-AO"
// European, "zh-TW" and "zh-HK" Traditional Chinese, "ms" Indonesian;
// anything that does not match, or does not parse, gets English.
// [otpd.Rendered]'s Locale reports the locale used, as [Catalog.Locales]
// names it. When neither the request nor the service names a language,
// [LocaleForRegion] guesses one from the phone number's country.
//
// Every locale words each purpose for both kinds of channel. The wording
// of each is explained next to it (locale_*.go): the form of address, the
// words chosen to keep an SMS short or in the GSM 7-bit alphabet, and the
// plural forms of the expiry, which follow CLDR's rules (three for Polish
// and Russian, six for Arabic).
//
// # SMS length and alphabet
//
// A text template is written so that an SMS is as cheap as its language
// allows. In Latin script it keeps to the GSM 7-bit alphabet (160
// characters an SMS) with words that need no letter outside it, and never by
// misspelling: English, German, French, Spanish, Italian, Dutch, Polish and
// Indonesian are GSM-7 for a login code. Portuguese and Turkish cannot be
// written naturally without "ã", "ó", "ş", "ı"; they, and the other scripts,
// go as UCS-2 (70 characters an SMS), and their login texts are kept within
// one UCS-2 SMS for a 6-digit code and a brand of about ten letters. The
// no-break spaces CLDR puts into amounts become plain spaces in an SMS.
// testdata/sms_segments.txt lists what each text costs.
//
// # Amounts
//
// A transaction's amount is written as the locale writes money, with CLDR's
// separators, symbol and its place: "€125.00", "125,00 €", "R$ 1.250,00",
// "1 234,50 €" (a narrow no-break space between French groups), "₹1,25,000.00",
// "1,500円", "125.00元". A symbol several currencies share ("$", "¥") is never
// shown bare: a reader in Canada must not take US dollars for their own, so
// it is "US$", "JP¥" or the ISO code. Digits are ASCII in every locale and
// never rounded.
//
// # Right-to-left text
//
// Arabic texts hold no bidirectional controls, like every other message:
// each is written so that the Unicode bidirectional algorithm alone keeps
// the code, amounts and names in order (see locale_ar.go for how and why).
// The e-mail HTML carries dir="rtl" for Arabic and, in every language,
// isolates the brand, payee and amount in <bdi>.
//
// # SMS layout for WebOTP and the SMS Retriever
//
// Two platform features read one-time codes out of an SMS, and they constrain
// its layout differently:
//
//   - WebOTP (navigator.credentials.get({otp}) in browsers) and the
//     origin-bound one-time code format it implements only look at the LAST
//     line of the message, which must be "@<host> #<code>" (optionally
//     followed by " @<embedded host>", which otpd does not use).
//   - Android's SMS Retriever API needs the app's 11-character hash somewhere
//     in the message (older documentation said the message had to end with
//     it) and the whole message within 140 bytes.
//
// Both cannot be last. The browser format is strict and positional, while
// current Play services match the hash anywhere in the body, so the WebOTP
// line wins the last position and the hash goes on its own line just above
// it:
//
//	Your Acme Bank code is 123456. It expires in 10 minutes. Don't share it.
//	FA+9qCX9VSu
//	@example.com #123456
//
// No blank lines: each part is one line, the message text first. Either extra
// line is left out when the service does not configure it. The extras apply
// to SMS only. The 140-byte limit of the SMS Retriever is not enforced here:
// the wording plus a long brand can exceed it, and only the SMS encoder knows
// the final size.
//
// # Safety of values
//
// Brand and payee come from API callers. Before they are placed, control
// characters (including line breaks, which could forge an extra WebOTP line or
// an e-mail header) become spaces, Unicode bidirectional controls (which could
// make "ACME Shop" display as something else next to an amount) are removed,
// and runs of white space collapse. In the e-mail HTML every value, and the
// template's own text, is HTML-escaped.
//
// The code appears only where the template puts {code} (and in the WebOTP
// line). Errors from [Catalog.Render] never contain it.
package message
