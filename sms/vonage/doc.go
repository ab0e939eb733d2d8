// Package vonage is an SMS route over Vonage's SMS API (formerly Nexmo):
// a [Route] is an otpd.Channel to place in an sms.Router, and its
// [Route.CallbackHandler] records the delivery receipts Vonage sends back.
//
// # Sending
//
// Each message is one request, as the SMS API reference documents it:
//
//	POST {BaseURL}/sms/json
//	Content-Type: application/x-www-form-urlencoded
//
//	api_key=...&api_secret=...&from=AcmeBank&to=447700900123&text=...&type=text
//	&status-report-req=1&callback=https://...&client-ref=msg_...&ttl=600000
//
// to and a numeric from go without '+'. type is text when every character
// is in the GSM-7 alphabet or its extension table (gsm.Count), unicode
// otherwise. ttl is the time the code has left in milliseconds, within the
// API's 20000 to 604800000: Vonage stops trying when the code dies.
// client-ref is the otpd message id (echoed in receipts; the SMS API has no
// idempotency key, so delivery is at least once, like the SMPP route).
//
// With APISecret empty, requests are signed instead: timestamp and sig
// (see [Signature]) replace api_secret, for accounts that require signed
// requests. Vonage refuses a request with both (status 32).
//
// Vonage splits long texts and answers with one entry per part; the first
// part's message-id is the provider id and every part's is a ref, since
// each part gets its own receipt. Refusals come inside the 200 as a
// non-zero status: those about the number or text (invalid or barred
// number, message too long) are permanent; those about the account
// (credentials, credit, sender id, demo mode), throttling (1) and internal
// errors are temporary, so the router tries the next route and nothing is
// lost while the operator fixes the account. Non-2xx replies (401, 429,
// 5xx) and timeouts are temporary. See errors.go. Stored errors carry
// Vonage's status and otpd's description, never Vonage's error-text.
//
// # Delivery receipts
//
// Set Config.StatusCallbackURL to the public URL where otpd serves this
// route's handler, e.g. https://otp.example.com/v1/callbacks/vonage/primary
// (with ?t=<token> when receipts are not signed, see below);
// it is sent as each message's callback, which overrides the dashboard's
// delivery receipt URL. The SMS API takes at most 100 characters. In the
// dashboard's API settings, the receipts' HTTP method may be GET, POST or
// POST-JSON: the handler takes all three.
//
// Vonage signs webhooks only when support enables it for the account
// ("Signing messages"): each receipt then carries timestamp, nonce and sig,
// and with Config.SignatureSecret and SignatureMethod set (as in the
// dashboard) the handler refuses any receipt whose sig does not match.
// Without signing, the callback URL must carry a secret token in its query
// (at least 16 characters, e.g. ?t=<random>), which the handler requires
// on every request; Validate refuses an unsigned configuration without
// one. Either way a replayed receipt is harmless, since a receipt for a
// message already final is ignored; so the signed timestamp is not checked
// against the clock, which would only refuse Vonage's late retries.
//
// Statuses: delivered is delivered; expired and failed are undelivered;
// rejected is failed; unknown with a non-zero err-code is undelivered;
// accepted, buffered and unknown with err-code 0 are not final. The reason
// stored is the status with its err-code (2 absent subscriber, 6 anti-spam
// rejection, 9 illegal number, ...).
//
// # Limits
//
// The account's throughput (Vonage answers status 1 when it is exceeded;
// temporary) and the destination country's sender-id rules apply. Not all
// networks return receipts; a message without one stays sent.
package vonage
