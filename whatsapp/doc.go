// Package whatsapp is the WhatsApp channel over Meta's WhatsApp Business
// Cloud API: a [Channel] is an otpd.Channel that sends each code as an
// authentication template message, and its [Channel.Handler] serves the
// app's webhook, which reports what became of those messages.
//
// # Templates
//
// WhatsApp lets a business start a conversation only with an approved
// template, and codes must go in an authentication template: Meta's preset
// text "<code> is your verification code." with an optional security
// disclaimer and expiry note, and a copy-code or one-tap autofill button.
// Create one per language (WhatsApp Manager or the message_templates API,
// category AUTHENTICATION, button type OTP with otp_type COPY_CODE or
// ONE_TAP) and set message_send_ttl_seconds (see Time-to-live).
// Config.Template names it; Config.Templates may give a service its own
// (another name, another language), e.g. one without the security
// disclaimer.
//
// # Sending
//
// Each message is one request (Cloud API messages endpoint; sending
// authentication templates,
// https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/authentication-templates/copy-code-button-authentication-templates/):
//
//	POST {BaseURL}/{APIVersion}/{PhoneNumberID}/messages
//	Authorization: Bearer {AccessToken}
//	Content-Type: application/json
//
//	{"messaging_product": "whatsapp", "recipient_type": "individual",
//	 "to": "447700900123", "type": "template",
//	 "template": {"name": "otp_copy_code", "language": {"code": "en_US"},
//	   "components": [
//	     {"type": "body", "parameters": [{"type": "text", "text": "123456"}]},
//	     {"type": "button", "sub_type": "url", "index": "0",
//	      "parameters": [{"type": "text", "text": "123456"}]}]}}
//
// The code is both the body's only parameter and the parameter of the
// button, which WhatsApp turns into a URL button at index 0 whether it
// was created as copy code or one tap (a one-tap message whose handshake
// with the app did not happen shows a copy-code button instead). The
// answer names the message,
//
//	{"messaging_product": "whatsapp", "contacts": [{"input": "447700900123", "wa_id": "447700900123"}],
//	 "messages": [{"id": "wamid.HBgL..."}]}
//
// and the wamid is both the provider id and the one ref its status
// notifications quote. The Cloud API has no idempotency key, so delivery
// is at least once: a request that times out after Meta accepted it is
// retried and the person may get the message twice, with the same code.
//
// # Languages
//
// A template has one translation per language, and WhatsApp does not
// translate: the request must name a language the template has. A
// message's locale (BCP 47, the renderer's) is mapped to a WhatsApp
// language code, trying in order: the exact language and region (en-US:
// en_US, pt-BR: pt_BR), for Chinese the region its script implies
// (zh-Hant: zh_TW, zh-Hans: zh_CN), the base language (en-AU: en, de-AT:
// de), and the first listed variant of that language (pt: pt_BR). The
// codes tried are Config.Languages, the translations the template has;
// when that is empty, WhatsApp's long-standing supported languages
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/supported-languages;
// regional variants Meta added later must be listed in Languages to be
// used). A locale that maps to nothing, or an empty one, uses
// Config.Language (or the service's language, when Config.Templates gives
// one; a language given there is used as it is, without mapping).
//
// When Languages is empty the mapped language may be one the template has
// no translation in: WhatsApp refuses with 132001, and Send sends again at
// once in the fallback language (Config.Language). List Languages to save
// that request.
//
// # Time-to-live
//
// When WhatsApp cannot deliver a message at once it keeps trying for the
// template's time-to-live (message_send_ttl_seconds, 30 to 900 seconds for
// authentication templates; 10 minutes when unset, 30 days for
// authentication templates created before 23 October 2024), then drops it
// with a failed status
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/time-to-live).
// The TTL is a property of the template, not of a message: the per-message
// ttl_seconds exists only in the Direct Send beta, not for template
// messages. So otpd cannot bound each message by its code's remaining
// lifetime as the SMS routes do. Instead:
//   - Config.TemplateTTL states the template's TTL, and
//     [Channel.CheckTemplateTTL] reports a TTL longer than a service's code
//     lifetime, which Meta recommends against: such a message can arrive
//     with a dead code. Set message_send_ttl_seconds to at most the
//     shortest code lifetime of the services using the template.
//     [Channel.CheckService] applies it when a service that sends on
//     WhatsApp (in its channels, or with a whatsapp_template of its own,
//     which shares Config.TemplateTTL) is created or changed: the engine
//     refuses a ttl_seconds shorter than the template's TTL.
//   - Send refuses a code that has already expired (permanent error).
//   - Send does not refuse a code whose remaining lifetime is shorter than
//     the TTL: with the TTL equal to the code lifetime, as recommended,
//     that is every code, since some time passes between issue and send.
//     A message held by WhatsApp past the code's expiry shows a dead code;
//     the person asks for another.
//
// # Errors
//
// Refusals carry a Graph API error object; otpd branches on its code, as
// Meta recommends (see errors.go and
// https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes).
// Throttling (4, 80007, 130429, 131048, 131056), server errors (1, 2,
// 131000, 131016, 133004, HTTP 5xx), timeouts and unknown codes are
// temporary: the delivery queue retries with backoff. Refusals of the
// recipient or the request (100, 131026 not on WhatsApp, 131030 not in a
// test number's allowed list, 131047, ...) and template errors (132000 to
// 132099) are permanent: the message fails and the verification falls back
// to its next channel. Refusals of the account (0 and 190 bad or expired
// token, 3, 10 and 200 to 299 permissions, 368, 131031 locked, 131042
// payment, 131045, 133010) are permanent too, and make Ready fail until a
// send succeeds. Errors carry the code, otpd's description, the subcode
// and the fbtrace_id for Meta's support, never Meta's message text, which
// may quote the recipient.
//
// # Webhook
//
// In the app dashboard (WhatsApp > Configuration), set the callback URL to
// where otpd serves Handler, e.g. https://otp.example.com/v1/callbacks/whatsapp,
// with the verify token Config.VerifyToken, and subscribe to the messages
// field. Meta verifies the URL with a GET
// (?hub.mode=subscribe&hub.challenge=...&hub.verify_token=...) that must
// echo the challenge, and signs every POST with X-Hub-Signature-256:
// "sha256=" and the hex HMAC-SHA256 of the raw body keyed with the app
// secret (Config.AppSecret)
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/create-webhook-endpoint).
// Meta retries notifications not answered with 200. A signed notification
// may be replayed (the signature has no timestamp); that is harmless,
// since a receipt for a message already final is ignored.
//
// Statuses (entry[].changes[].value.statuses[]): sent is not final and is
// ignored; delivered is delivered; read is delivered too (Meta sends read
// without delivered when the message was read at once); failed is failed,
// with errors[0].code and title in the receipt's error, e.g.
// "failed (131026 Message undeliverable)". Notifications come in no
// guaranteed order; the first final status of a message wins. The webhook
// is per app, so it may carry statuses of the app's other phone numbers;
// they name messages otpd does not know and are acknowledged.
package whatsapp
