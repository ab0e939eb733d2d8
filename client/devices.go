package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Platforms of push devices.
const (
	PlatformAndroid = "android" // sent through FCM
	PlatformIOS     = "ios"     // sent through APNs
)

// Device is a registered push device: start a verification with
// Channel ChannelPush and To set to its ID. Its token is never shown.
type Device struct {
	ID         string     `json:"id"`
	Platform   string     `json:"platform"`
	Label      *string    `json:"label"`
	Status     string     `json:"status"` // "active", or "dead" once the push service refused its token
	DeadReason *string    `json:"dead_reason"`
	CreatedAt  time.Time  `json:"created_at"`
	DeadAt     *time.Time `json:"dead_at"`
}

// RegisterDeviceParams registers a push device.
type RegisterDeviceParams struct {
	Platform string `json:"platform"`        // PlatformAndroid or PlatformIOS
	Token    string `json:"token"`           // the FCM registration token or APNs device token
	Label    string `json:"label,omitempty"` // your own name for it, e.g. a user id
}

// DeviceList is a page of devices.
type DeviceList struct {
	Data []Device `json:"data"`
	// NextCursor is the Cursor of the next page; empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// RegisterDevice registers a push device of the service.
func (c *Client) RegisterDevice(ctx context.Context, sid string, p RegisterDeviceParams) (*Device, error) {
	var out Device
	err := c.do(ctx, request{method: http.MethodPost, path: servicePath(sid) + "/devices", body: p,
		idempotencyKey: idempotencyKey(ctx, "", true)}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListDevices returns a page of the service's devices, oldest first.
func (c *Client) ListDevices(ctx context.Context, sid string, opts ListOptions) (*DeviceList, error) {
	var out DeviceList
	if err := c.do(ctx, request{method: http.MethodGet, path: servicePath(sid) + "/devices", query: opts.values()}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetDevice returns a device of the service.
func (c *Client) GetDevice(ctx context.Context, sid, did string) (*Device, error) {
	var out Device
	if err := c.do(ctx, request{method: http.MethodGet, path: servicePath(sid) + "/devices/" + url.PathEscape(did)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteDevice deletes a device of the service and its token.
func (c *Client) DeleteDevice(ctx context.Context, sid, did string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: servicePath(sid) + "/devices/" + url.PathEscape(did)}, nil)
}
