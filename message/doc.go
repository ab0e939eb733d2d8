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
// English, German, French and Spanish. A request's locale is matched with
// golang.org/x/text/language against these ("de-AT" gets German); anything
// that does not match, or does not parse, gets English. [otpd.Rendered]'s
// Locale reports the base language used ("de").
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
