// Package push is the push notification channel: a verification whose
// channel is "push" is sent to a registered device (its To is the
// device's id, "dev_…"), through Firebase Cloud Messaging for Android and
// the Apple Push Notification service for iOS.
//
// # Pieces
//
// [Channel] is the otpd.Channel. For each message it looks the device up
// in [Devices] (the device registry, which the store implements), picks
// the [Sender] of the device's platform — an fcm.Sender (package
// push/fcm) for Android, an apns.Sender (package push/apns) for iOS —
// and hands it the message. Either sender may be left out: devices of
// that platform then fail at once, permanently, with an error matching
// [ErrPlatformNotConfigured], while Ready stays nil as long as the other
// platform can send ([Channel.Readiness] tells the platforms apart for
// /readyz details).
//
// # Dead tokens
//
// Device tokens die: the app is uninstalled, the provider rotates the
// token, a token was never valid. When a provider says so (APNs 410
// Unregistered, BadDeviceToken, DeviceTokenNotForTopic; FCM UNREGISTERED,
// or INVALID_ARGUMENT about the token), the sender's error matches
// [ErrDeadToken], the send fails permanently, and the channel calls
// Devices.MarkDead with the provider's reason, so that later
// verifications for the device fail at once rather than each being
// refused by the provider. The app registers again (with a fresh token)
// on its next start.
//
// # Errors
//
// Senders return *otpd.SendError, permanent or not as otpd.Channel
// defines, wrapping a [ProviderError] with the provider's code, otpd's
// description of it and, when the provider sent one, its Retry-After
// ([RetryAfter]). Error texts are stored with messages and logged: they
// never contain the code, the text, the device token or the provider's
// free-text message.
//
// # Delivery
//
// Push delivery is at least once, like the other channels: a send whose
// response is lost is retried and may reach the device twice. APNs
// retries carry the same apns-id and collapse id, so the device shows one
// alert; FCM data messages carry verification_id for the app to tell.
// Neither provider reports delivery to the device, so messages stay
// "sent".
package push
