package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/otpd/otpd"
)

// auditJSON is an audit log entry as GET /v1/audit shows it.
type auditJSON struct {
	ID        string         `json:"id"`
	At        string         `json:"at"`
	Actor     string         `json:"actor"`
	Action    string         `json:"action"`
	ServiceID *string        `json:"service_id"`
	Target    *string        `json:"target"`
	Details   map[string]any `json:"details"`
}

func toAuditJSON(e *otpd.AuditEntry) auditJSON {
	out := auditJSON{ID: e.ID, At: formatTime(e.At), Actor: e.Actor, Action: e.Action,
		ServiceID: optString(e.ServiceID), Target: optString(e.Target), Details: e.Details}
	if out.Details == nil {
		out.Details = map[string]any{}
	}
	return out
}

// GET /v1/audit?service_id=&action=&since=&limit=&cursor= (admin token):
// the audit log of admin actions, newest first. It spans every service, so
// a service key may not read it, not even for its own service: the admin
// changed that service's settings and keys, not the key.
func (s *Server) listAudit(ctx context.Context, c *call) (int, any, error) {
	p, err := parsePage(c.r, otpd.PrefixAudit)
	if err != nil {
		return 0, nil, err
	}
	q := c.r.URL.Query()
	f := otpd.AuditFilter{Action: q.Get("action"), Before: p.after, Limit: p.limit + 1}
	if v := q.Get("service_id"); v != "" {
		if !otpd.HasPrefix(v, otpd.PrefixService) {
			return 0, nil, invalidParam("service_id", "must be a service id (svc_…)")
		}
		f.ServiceID = v
	}
	if v := q.Get("since"); v != "" {
		if f.Since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return 0, nil, invalidParam("since", "must be an RFC 3339 time such as 2025-03-01T10:00:00Z (a + in an offset must be sent as %%2B)")
		}
	}
	entries, err := s.engine.ListAudit(ctx, f)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, paginate(entries, p, func(e *otpd.AuditEntry) string { return e.ID }, toAuditJSON), nil
}
