// Package fcm pushes verification codes to Android devices through
// Firebase Cloud Messaging's HTTP v1 API. A [Sender] is the Android half
// of a push.Channel.
//
// # Sending
//
// Each code is one data message, as projects.messages.send documents it:
//
//	POST {BaseURL}/v1/projects/{ProjectID}/messages:send
//	Authorization: Bearer {OAuth 2.0 access token}
//	Content-Type: application/json; charset=utf-8
//
//	{"message":{
//	  "token":"{registration token}",
//	  "data":{"code":"123456","text":"Your Acme Bank code is 123456","brand":"Acme Bank",
//	          "verification_id":"ver_…","expires_at":"2025-01-02T15:04:05Z"},
//	  "android":{"priority":"HIGH","ttl":"540s"}}}
//
// and the reply is the Message, whose name
// ("projects/{ProjectID}/messages/{id}") is the provider id. A data
// message leaves the notification to the app, which can show the code or
// fill it in. HIGH priority lets FCM wake a device in Doze; ttl is the
// time the code has left (a protobuf Duration, whole seconds, at most
// four weeks), so FCM stops trying to reach an offline device when the
// code expires. Data values are strings, and FCM refuses keys such as
// "from" or ones starting with "google"; these are not.
//
// # Access tokens
//
// The access token comes from the service account's key file through
// internal/googleauth (the JWT bearer grant, scope
// https://www.googleapis.com/auth/firebase.messaging), cached until five
// minutes before it expires and shared by all sends. The token endpoint's
// refusal of the key (invalid_grant, ...) fails the send permanently;
// rate limits, server errors and network failures are temporary.
//
// # Refusals
//
// UNREGISTERED, and INVALID_ARGUMENT about the registration token, mean
// the token will not work again: the send fails permanently and the error
// matches push.ErrDeadToken, so the channel marks the device dead.
// QUOTA_EXCEEDED, UNAVAILABLE, INTERNAL, any 429 or 5xx, and 401 are
// temporary, with FCM's Retry-After in the error (push.RetryAfter);
// everything else is permanent. See errors.go. Errors carry FCM's code
// and otpd's description of it, never FCM's message, which can quote the
// values sent (the code among them), nor the registration token.
//
// FCM does not deduplicate: a send whose response was lost is retried and
// may reach the device twice, with the same code and verification_id.
package fcm
