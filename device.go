package otpd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// PrefixDevice is the id prefix of registered push devices.
const PrefixDevice = "dev_"

// Platform is a push device's operating system, which picks the push
// service: FCM for Android, APNs for iOS.
type Platform string

// Platforms.
const (
	PlatformAndroid Platform = "android"
	PlatformIOS     Platform = "ios"
)

// Device is an app installation registered to receive codes by push: a
// verification with channel push is sent to its id ("to": "dev_…").
type Device struct {
	ID        string
	ServiceID string
	Platform  Platform
	// Token is the push service's address of the installation (an FCM
	// registration token, an APNs device token). It is personal data and is
	// never shown by the API.
	Token     string
	Label     string // the business's own name for it, e.g. a user id
	CreatedAt time.Time
	// DeadAt is when the push service said the token is no longer valid
	// (app uninstalled, token rotated); a dead device is not sent to.
	DeadAt     time.Time
	DeadReason string
}

// Dead reports whether the push service has refused the device's token.
func (d *Device) Dead() bool { return !d.DeadAt.IsZero() }

// RegisterDevice registers a push device of the service.
func (e *Engine) RegisterDevice(ctx context.Context, serviceID string, platform Platform, token, label string) (*Device, error) {
	if _, err := e.service(ctx, serviceID); err != nil {
		return nil, err
	}
	switch platform {
	case PlatformAndroid, PlatformIOS:
	default:
		return nil, invalid("platform", `must be "android" or "ios"`)
	}
	token = strings.TrimSpace(token)
	if token == "" || len(token) > 4096 || !printableASCII(token) {
		return nil, invalid("token", "must be the push service's token: printable ASCII, at most 4096 characters")
	}
	if utf8.RuneCountInString(label) > 128 || !utf8.ValidString(label) {
		return nil, invalid("label", "must be at most 128 characters")
	}
	now := e.Now()
	d := &Device{ID: NewID(PrefixDevice, now), ServiceID: serviceID, Platform: platform, Token: token, Label: label, CreatedAt: now}
	if err := e.store.CreateDevice(ctx, d); err != nil {
		return nil, fmt.Errorf("register device: %w", err)
	}
	return d, nil
}

func printableASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Device returns a registered device of the service.
func (e *Engine) Device(ctx context.Context, serviceID, id string) (*Device, error) {
	return e.store.GetDevice(ctx, serviceID, id)
}

// ListDevices returns the service's devices, oldest first, after the
// cursor (a device id; "" starts at the beginning), at most limit.
func (e *Engine) ListDevices(ctx context.Context, serviceID, after string, limit int) ([]*Device, error) {
	if _, err := e.service(ctx, serviceID); err != nil {
		return nil, err
	}
	return e.store.ListDevices(ctx, serviceID, after, limit)
}

// DeleteDevice removes a device of the service; pending verifications to
// it can no longer be sent.
func (e *Engine) DeleteDevice(ctx context.Context, serviceID, id string) error {
	return e.store.DeleteDevice(ctx, serviceID, id)
}

// MarkDeviceDead records that the push service refused the device's token,
// so no more codes are sent to it. Marking a device already dead, or one
// deleted meanwhile, is not an error.
func (e *Engine) MarkDeviceDead(ctx context.Context, serviceID, id, reason string) error {
	err := e.store.MarkDeviceDead(ctx, serviceID, id, reason, e.Now())
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// usableDevice checks that a verification may be sent to device id.
func (e *Engine) usableDevice(ctx context.Context, serviceID, id string) error {
	d, err := e.store.GetDevice(ctx, serviceID, id)
	if errors.Is(err, ErrNotFound) {
		return &Error{Kind: ErrChannelUnavailable, Param: "to", Detail: "no push device with this id is registered for the service"}
	}
	if err != nil {
		return err
	}
	if d.Dead() {
		return &Error{Kind: ErrChannelUnavailable, Param: "to", Detail: "the push service no longer accepts this device's token (" + d.DeadReason + "); register the device again"}
	}
	return nil
}
