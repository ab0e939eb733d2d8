package push

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/otpd/otpd"
)

// ErrPlatformNotConfigured is matched by the error of a send to a device
// whose platform has no sender (no FCM credentials for an Android device,
// no APNs key for an iOS one). The error is permanent: the code cannot
// reach the device on this node.
var ErrPlatformNotConfigured = errors.New("push: no sender is configured for the device's platform")

// markDeadTimeout bounds the registry write after a dead-token refusal.
const markDeadTimeout = 5 * time.Second

// Config is what a push channel is made of.
type Config struct {
	// Devices looks devices up and marks dead ones. Required.
	Devices Devices
	// Android sends to PlatformAndroid devices (an *fcm.Sender); nil when
	// FCM is not configured.
	Android Sender
	// IOS sends to PlatformIOS devices (an *apns.Sender); nil when APNs
	// is not configured.
	IOS Sender
}

// Channel is the push channel: it looks the verification's device up,
// sends through the provider of the device's platform, and marks the
// device dead when the provider refuses its token for good.
type Channel struct {
	devices Devices
	senders map[string]Sender // by platform; only configured ones
}

var _ otpd.Channel = (*Channel)(nil)

// New returns a channel for cfg. At least one of Android and IOS must be
// set.
func New(cfg Config) (*Channel, error) {
	if cfg.Devices == nil {
		return nil, errors.New("push: Devices is required")
	}
	if cfg.Android == nil && cfg.IOS == nil {
		return nil, errors.New("push: configure FCM (Android), APNs (iOS) or both")
	}
	c := &Channel{devices: cfg.Devices, senders: map[string]Sender{}}
	if cfg.Android != nil {
		c.senders[PlatformAndroid] = cfg.Android
	}
	if cfg.IOS != nil {
		c.senders[PlatformIOS] = cfg.IOS
	}
	return c, nil
}

// Send pushes msg to the device msg.To names. An unknown or dead device,
// a platform without a sender, and a token the provider refuses for good
// are permanent failures; in the last case the device is also marked
// dead (Devices.MarkDead), so later verifications fail at once instead of
// being sent to a token that cannot work.
func (c *Channel) Send(ctx context.Context, msg *otpd.Outbound) (otpd.SendResult, error) {
	dev, err := c.devices.Device(ctx, msg.ServiceID, msg.To)
	if errors.Is(err, otpd.ErrNotFound) {
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Code: "device_not_found",
			Err: fmt.Errorf("push: device %s is not registered (or its token was refused for good)", msg.To)}
	}
	if err != nil {
		return otpd.SendResult{}, fmt.Errorf("push: look up device %s: %w", msg.To, err)
	}
	// The registry answers for the ids asked about; these are the ones
	// used from here on, whatever it filled in.
	dev.ID, dev.ServiceID = msg.To, msg.ServiceID
	sender := c.senders[dev.Platform]
	if sender == nil {
		what := fmt.Errorf("push: device %s: platform %q: %w", dev.ID, dev.Platform, ErrPlatformNotConfigured)
		switch dev.Platform {
		case PlatformAndroid:
			what = fmt.Errorf("push: device %s is an Android device and FCM is not configured: %w", dev.ID, ErrPlatformNotConfigured)
		case PlatformIOS:
			what = fmt.Errorf("push: device %s is an iOS device and APNs is not configured: %w", dev.ID, ErrPlatformNotConfigured)
		}
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Code: "platform_not_configured", Err: what}
	}
	if dev.Token == "" {
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Code: "no_token",
			Err: fmt.Errorf("push: device %s has no token", dev.ID)}
	}
	res, err := sender.Send(ctx, dev, msg)
	if err == nil {
		return res, nil
	}
	if !errors.Is(err, ErrDeadToken) {
		return otpd.SendResult{}, err
	}
	if !otpd.IsPermanent(err) {
		// A dead token is final whatever the sender said.
		err = &otpd.SendError{Permanent: true, Err: err}
	}
	// The refusal has arrived: record it even if the send's time is up
	// (the next send would only be refused again).
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markDeadTimeout)
	defer cancel()
	if merr := c.devices.MarkDead(mctx, msg.ServiceID, msg.To, deadReason(err)); merr != nil {
		return otpd.SendResult{}, fmt.Errorf("%w (marking device %s dead failed: %v)", err, msg.To, merr)
	}
	return otpd.SendResult{}, err
}

// deadReason is the provider and its code, for Devices.MarkDead.
func deadReason(err error) string {
	var pe *ProviderError
	if errors.As(err, &pe) {
		if pe.Reason != "" {
			return pe.Provider + ": " + pe.Reason
		}
		return fmt.Sprintf("%s: HTTP %d", pe.Provider, pe.Status)
	}
	var se *otpd.SendError
	if errors.As(err, &se) && se.Code != "" {
		return se.Code
	}
	return "token refused"
}

// Ready returns nil when at least one platform's sender is ready: a node
// that serves only Android (or only iOS) devices is working as
// configured, and /readyz must not fail for it. Readiness tells each
// platform apart, for /readyz details.
func (c *Channel) Ready(ctx context.Context) error {
	var errs []error
	for _, p := range []string{PlatformAndroid, PlatformIOS} {
		s := c.senders[p]
		if s == nil {
			continue
		}
		err := s.Ready(ctx)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", p, err))
	}
	return errors.Join(errs...)
}

// Readiness returns each platform's readiness: nil when its sender can
// send, else why not, including an error matching
// ErrPlatformNotConfigured for a platform without a sender (its devices'
// verifications fail at once).
func (c *Channel) Readiness(ctx context.Context) map[string]error {
	out := map[string]error{}
	for _, p := range []string{PlatformAndroid, PlatformIOS} {
		s := c.senders[p]
		switch {
		case s != nil:
			out[p] = s.Ready(ctx)
		case p == PlatformAndroid:
			out[p] = fmt.Errorf("FCM is not configured; Android devices cannot be reached: %w", ErrPlatformNotConfigured)
		default:
			out[p] = fmt.Errorf("APNs is not configured; iOS devices cannot be reached: %w", ErrPlatformNotConfigured)
		}
	}
	return out
}
