package push

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/otpd/otpd"
)

// Platforms a device may be registered for. The platform picks the
// provider: FCM for Android, APNs for iOS.
const (
	PlatformAndroid = "android"
	PlatformIOS     = "ios"
)

// Device is a registered app installation that codes can be pushed to.
type Device struct {
	ID        string // "dev_…", the verification's To
	ServiceID string // the service the device was registered with
	Platform  string // PlatformAndroid or PlatformIOS
	// Token is the provider's address for the app on the device: an FCM
	// registration token or an APNs device token (hex). It is a
	// credential of sorts (with the provider key it reaches the device)
	// and never appears in errors.
	Token string
}

// Devices is the device registry as the channel needs it. The store
// implements it; it must be safe for concurrent use.
type Devices interface {
	// Device returns the device deviceID registered with serviceID. It
	// returns an error wrapping otpd.ErrNotFound when there is none: an
	// unknown id, a device of another service, or one marked dead
	// (MarkDead) and not registered again since. Other errors are taken
	// as temporary (the store being unreachable) and the send is retried.
	Device(ctx context.Context, serviceID, deviceID string) (Device, error)
	// MarkDead records that the provider has refused the device's token
	// for good (the app was uninstalled, the token was rotated or never
	// valid), so Device stops returning it until the app registers again.
	// reason is the provider and its code, e.g. "apns: Unregistered" or
	// "fcm: UNREGISTERED", for operators. It must be idempotent: two
	// sends to the same device may both find the token dead.
	//
	// The call says nothing about which token was refused. A device that
	// re-registered with a fresh token while a send with the old one was
	// under way would lose the fresh one; the window is one provider
	// round trip, and the app registers again on its next start.
	MarkDead(ctx context.Context, serviceID, deviceID, reason string) error
}

// Sender delivers one message to one device through one provider. The
// apns and fcm packages implement it. It must be safe for concurrent use.
type Sender interface {
	// Send pushes msg to dev's token. Errors follow otpd.Channel's
	// contract (a *otpd.SendError with Permanent set when retrying cannot
	// help); a refusal that means the token will never work again also
	// matches ErrDeadToken, and the Channel then marks the device dead.
	Send(ctx context.Context, dev Device, msg *otpd.Outbound) (otpd.SendResult, error)
	// Ready reports whether the sender can send now.
	Ready(ctx context.Context) error
}

// ErrDeadToken is matched (errors.Is) by a Sender's error when the
// provider refused the device token for good.
var ErrDeadToken = errors.New("push: the provider refused the device token for good")

// ProviderError is a provider's refusal of a push, as the Err of the
// *otpd.SendError a Sender returns. Its text is stored with the message
// and logged, so it holds the provider's code and otpd's description of
// it, never the provider's free text (which may quote what was sent).
type ProviderError struct {
	Provider   string        // "apns" or "fcm"
	Status     int           // the HTTP status; 0 for a refusal made before sending
	Reason     string        // the provider's code: "Unregistered", "UNREGISTERED", "QUOTA_EXCEEDED", ...
	Detail     string        // otpd's description of Reason
	DeadToken  bool          // the device token will never work again
	RetryAfter time.Duration // the provider's Retry-After, when it sent one
}

func (e *ProviderError) Error() string {
	s := e.Provider
	if e.Status != 0 {
		s += fmt.Sprintf(": HTTP %d", e.Status)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf("; retry after %s", e.RetryAfter)
	}
	return s
}

// Is makes a ProviderError for a dead token match ErrDeadToken.
func (e *ProviderError) Is(target error) bool {
	return target == ErrDeadToken && e.DeadToken
}

// RetryAfter returns the wait a provider asked for before the next
// attempt (its Retry-After header), or 0 when err carries none. The
// delivery queue's own backoff applies either way; this is for a caller
// that wants to wait longer.
func RetryAfter(err error) time.Duration {
	var pe *ProviderError
	if errors.As(err, &pe) {
		return pe.RetryAfter
	}
	return 0
}
