// Package twilio is an SMS route over Twilio's Programmable Messaging API:
// a [Route] is an otpd.Channel to place in an sms.Router, and its
// [Route.CallbackHandler] records the status callbacks Twilio sends back.
//
// # Sending
//
// Each message is one request, as the Message resource documents it:
//
//	POST {BaseURL}/2010-04-01/Accounts/{AccountSID}/Messages.json
//	Authorization: Basic base64(AccountSID:AuthToken)
//	Content-Type: application/x-www-form-urlencoded
//	I-Twilio-Idempotency-Token: {otpd message id}
//
//	To=+447700900123&From=AcmeBank&Body=...&StatusCallback=https://...&ValidityPeriod=600
//
// (MessagingServiceSid instead of From when a Messaging Service picks the
// sender.) Twilio chooses GSM-7 or UCS-2 and splits long texts itself, so a
// message has one sid, and that is both the provider id and the one ref
// receipts quote. ValidityPeriod is the time the code has left, 1 to 36000
// seconds: Twilio drops a message still queued after it rather than
// deliver a dead code. It bounds Twilio's queue only, not the carrier's.
//
// Twilio documents the I-Twilio-Idempotency-Token header on the webhooks
// it sends, for receivers to spot retries; nothing we found says the
// Messages API deduplicates requests on it. The route sends it with the
// otpd message id (stable across retries) in case it does, and is
// otherwise at least once, like the SMPP route: a request that times out
// after Twilio accepted it is retried and the person may get the SMS twice,
// with the same code.
//
// Refusals are mapped for the delivery queue: HTTP 429, 5xx, timeouts and
// connection errors are temporary; so are refusals that concern this
// account rather than the message (bad credentials, a region not enabled,
// an unusable sender, trial restrictions), so that the router tries the
// next route and nothing is lost while the operator fixes the account.
// Refusals of the destination or text itself (invalid, landline,
// unsubscribed, body too long) are permanent. See errors.go for the codes.
// Stored errors carry Twilio's code and otpd's description of it, never
// Twilio's message text, which may quote the phone number.
//
// # Status callbacks
//
// Set Config.StatusCallbackURL to the public https URL where otpd serves
// this route's handler, e.g. https://otp.example.com/v1/callbacks/twilio/primary
// (the path is the wiring's choice). It goes with every message, so nothing
// needs configuring in the Twilio console; a Messaging Service's own
// callback URL is overridden by it.
//
// Twilio signs each callback with X-Twilio-Signature: base64 of
// HMAC-SHA1(AuthToken, URL + each POST parameter name and value sorted by
// name). The handler checks it against StatusCallbackURL, not the URL it
// was reached at, so a TLS-terminating proxy does not matter, but the
// configured URL must be exactly the public one. Rotating the auth token
// makes callbacks for messages sent before the rotation fail verification
// once the old token is revoked: Twilio signs with the current token.
// A signed callback may be replayed (the scheme has no timestamp); that is
// harmless, because a receipt for a message already final is ignored.
//
// Statuses: delivered and read are delivered; undelivered is undelivered;
// failed and canceled are failed, with Twilio's ErrorCode (30003
// unreachable handset, 30005 unknown handset, 30006 landline, 30007
// carrier filtering, ...). queued, sending, sent and the rest are not final
// and are acknowledged without recording: some carriers never report past
// sent, and such a message simply stays sent.
//
// # Limits
//
// A Body may have 1600 characters (Twilio refuses longer ones with 21617,
// a permanent error). Twilio's own queue and per-sender throughput apply;
// HTTP 429 is temporary and the delivery queue backs off.
package twilio
