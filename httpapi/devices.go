package httpapi

import (
	"context"
	"net/http"

	"github.com/otpd/otpd"
)

// deviceRequest registers a push device.
type deviceRequest struct {
	Platform otpd.Platform `json:"platform"`
	Token    string        `json:"token"`
	Label    string        `json:"label"`
}

// deviceJSON is a device as the API shows it: never its token, which is
// the push service's address of a person's phone.
type deviceJSON struct {
	ID         string        `json:"id"`
	Platform   otpd.Platform `json:"platform"`
	Label      *string       `json:"label"`
	Status     string        `json:"status"` // "active" or "dead"
	DeadReason *string       `json:"dead_reason"`
	CreatedAt  string        `json:"created_at"`
	DeadAt     *string       `json:"dead_at"`
}

func toDeviceJSON(d *otpd.Device) deviceJSON {
	status := "active"
	if d.Dead() {
		status = "dead"
	}
	return deviceJSON{
		ID:         d.ID,
		Platform:   d.Platform,
		Label:      optString(d.Label),
		Status:     status,
		DeadReason: optString(d.DeadReason),
		CreatedAt:  formatTime(d.CreatedAt),
		DeadAt:     optTime(d.DeadAt),
	}
}

// POST /v1/services/{sid}/devices
func (s *Server) registerDevice(ctx context.Context, c *call) (int, any, error) {
	var req deviceRequest
	if err := decode(c.body, &req); err != nil {
		return 0, nil, err
	}
	d, err := s.engine.RegisterDevice(ctx, c.sid, req.Platform, req.Token, req.Label)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, toDeviceJSON(d), nil
}

// GET /v1/services/{sid}/devices, oldest first.
func (s *Server) listDevices(ctx context.Context, c *call) (int, any, error) {
	p, err := parsePage(c.r, otpd.PrefixDevice)
	if err != nil {
		return 0, nil, err
	}
	ds, err := s.engine.ListDevices(ctx, c.sid, p.after, p.limit+1)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, paginate(ds, p, func(d *otpd.Device) string { return d.ID }, toDeviceJSON), nil
}

// GET /v1/services/{sid}/devices/{did}
func (s *Server) getDevice(ctx context.Context, c *call) (int, any, error) {
	did, err := pathID(c.r, "did", otpd.PrefixDevice)
	if err != nil {
		return 0, nil, err
	}
	d, err := s.engine.Device(ctx, c.sid, did)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toDeviceJSON(d), nil
}

// DELETE /v1/services/{sid}/devices/{did}
func (s *Server) deleteDevice(ctx context.Context, c *call) (int, any, error) {
	did, err := pathID(c.r, "did", otpd.PrefixDevice)
	if err != nil {
		return 0, nil, err
	}
	if err := s.engine.DeleteDevice(ctx, c.sid, did); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
