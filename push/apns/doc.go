// Package apns pushes verification codes to iOS devices through the Apple
// Push Notification service's HTTP/2 provider API, with token-based
// authentication. A [Sender] is the iOS half of a push.Channel.
//
// # Sending
//
// Each code is one request, as Apple's "Sending notification requests to
// APNs" describes it:
//
//	POST {BaseURL}/3/device/{device token}        (HTTP/2 over TLS 1.2+)
//	authorization: bearer {provider token}
//	apns-topic: {bundle id}
//	apns-push-type: alert
//	apns-priority: 10
//	apns-expiration: {the code's expiry, Unix seconds}
//	apns-id: {UUID derived from the otpd message id}
//	apns-collapse-id: {verification id}
//
//	{"aps":{"alert":{"title":"Acme Bank","body":"Your Acme Bank code is 123456"},
//	        "sound":"default","interruption-level":"time-sensitive"},
//	 "code":"123456","verification_id":"ver_…","expires_at":"2025-01-02T15:04:05Z"}
//
// 200 is success, and the response's apns-id (the one sent) is the
// provider id. apns-priority 10 delivers at once; apns-expiration makes
// APNs keep the notification for an offline device only while the code
// is valid. apns-id is a name-based UUID of the message id ([MessageID]),
// so a retry carries the id of the first attempt, and the collapse id
// makes a retry or a resend that reaches the device twice replace the
// first alert. The time-sensitive interruption level lets the alert
// through a Focus and the scheduled summary; the app needs the Time
// Sensitive Notifications capability (Config.InterruptionLevel = Active
// does without).
//
// # Provider tokens
//
// The authorization is a JWT, as "Establishing a token-based connection
// to APNs" specifies: header {"alg":"ES256","kid":KeyID}, claims
// {"iss":TeamID,"iat":now}, signed with the .p8 key (ECDSA P-256,
// SHA-256). APNs refuses a token older than an hour (403
// ExpiredProviderToken) and tokens replaced more often than every 20
// minutes (429 TooManyProviderTokenUpdates), so one token is signed and
// shared by all requests for Config.RefreshAfter (40 minutes by default,
// 20 to 50 allowed), then replaced on the next send. Age is counted on the
// wall clock, so a machine that was suspended signs a new token on waking.
// An ExpiredProviderToken refusal drops the token (once, however many
// requests were refused with it) and the send is retried with a new one.
//
// # Refusals
//
// A 410 (Unregistered, ExpiredToken), BadDeviceToken and
// DeviceTokenNotForTopic mean the token will not work again: the send
// fails permanently and the error matches push.ErrDeadToken, so the
// channel marks the device dead. Note that a Sandbox or Topic setting
// that does not match the app draws those same refusals for every device.
// 429, 5xx, IdleTimeout and ExpiredProviderToken are temporary; every
// other refusal is permanent with Apple's reason (InvalidProviderToken for
// a wrong KeyID or TeamID, TopicDisallowed, PayloadTooLarge, ...). Errors
// carry Apple's reason and otpd's description of it; the device token
// and the payload never appear in them.
//
// Connection failures and timeouts are temporary. A push whose response
// was lost may have been delivered; the retry then shows as the same
// alert (same apns-id and collapse id), not a second one.
package apns
