// Package rcs delivers one-time codes as RCS text messages through Google's
// RCS Business Messaging (RBM) API: a [Channel] is an otpd.Channel, and
// its [Channel.Handler] serves the agent's webhook, where RBM reports
// delivery.
//
// References (RBM REST reference and guides,
// https://developers.google.com/business-communications/rcs-business-messaging):
// phones.getCapabilities, phones.agentMessages.create, the AgentMessage,
// UserEvent and ServerEvent resources, "Send messages" (errors, message
// expiration, traffic types) and "Webhooks" (verification and signatures).
//
// # Authorization
//
// Every request carries "Authorization: Bearer <token>", an OAuth 2.0
// access token for the agent's service account with the scope
// https://www.googleapis.com/auth/rcsbusinessmessaging. Package
// internal/googleauth gets it with the JWT bearer grant (RFC 7523) and
// caches it until shortly before it expires, so a busy channel asks for a
// token about once an hour. A failure to get one is a temporary send
// error, and Ready reports it.
//
// # Sending
//
// Each message is two requests. First the capability check,
//
//	GET {BaseURL}/v1/phones/+447700900123/capabilities?agentId={AgentID}&requestId={random UUID}
//
// which answers 404 NOT_FOUND when RBM cannot reach the number (no RCS on
// the phone, RCS off, a network where the agent is not launched, or a
// non-tester while the agent is unlaunched). That is a permanent error
// wrapping [ErrNotCapable]: retrying cannot help, and the next channel
// should take over at once. Then the message,
//
//	POST {BaseURL}/v1/phones/+447700900123/agentMessages?agentId={AgentID}&messageId={uuid}
//	Content-Type: application/json
//
//	{"contentMessage":{"text":"Your Acme code is 123456"},
//	 "messageTrafficType":"AUTHENTICATION","ttl":"599s"}
//
// The messageId is a UUID derived from the otpd message id ([MessageID]),
// the same on every attempt. RBM ignores a message whose id it has seen
// (answering 409 ALREADY_EXISTS), so a send retried after a timeout or a
// crash does not reach the phone twice, and 409 counts as success: unlike
// the SMS routes, this channel is effectively exactly-once.
//
// The ttl is the time the code has left, in whole seconds rounded down
// (RBM takes at most 15 days). If RBM has not delivered the message by
// then it withdraws it and reports TTL_EXPIRATION_REVOKED: a phone that
// comes online later never shows a dead code. RBM recommends a ttl of at
// least 10 seconds, to make a revocation racing a delivery unlikely.
//
// messageTrafficType AUTHENTICATION is RBM's type for one-time passwords;
// Config.TrafficType changes it.
//
// Errors (Google's error.status and error.message are kept in the error,
// with the destination number masked): 404 → ErrNotCapable, permanent;
// 400 INVALID_ARGUMENT and 403 PERMISSION_DENIED → permanent; 429, 5xx,
// UNAVAILABLE, 401 and transport errors → temporary, retried with backoff.
//
// # Delivery reports
//
// Configure the agent webhook (Developer Console, Integrations, Webhook)
// with the public URL where Handler is mounted, and put its clientToken
// in Config.ClientToken. The console first posts
// {"clientToken":"...","secret":"..."} and expects the secret back; then
// each event arrives as {"message":{"data":"<base64 JSON>"}} with
// X-Goog-Signature: base64(HMAC-SHA512(clientToken, decoded data)).
// DELIVERED and READ become delivered receipts; TTL_EXPIRATION_REVOKED
// and TTL_EXPIRATION_REVOKE_FAILED become undelivered ones. See Handler.
//
// Google Cloud Pub/Sub delivery of agent events (pull or push
// subscriptions, authenticated with OIDC tokens rather than a signature)
// is not supported: use the webhook.
package rcs
