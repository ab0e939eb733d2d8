package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Audited actions that otpd records itself; others (template.update,
// fraud.block, ...) follow the same "<object>.<verb>" form.
const (
	AuditServiceCreate = "service.create"
	AuditServiceUpdate = "service.update"
	AuditServiceDelete = "service.delete"
	AuditKeyCreate     = "key.create"
	AuditKeyRevoke     = "key.revoke"
)

// AuditEntry is one admin action in the audit log. It never holds a
// secret: an update lists the names of the fields it changed (Details
// "fields"), not their values.
type AuditEntry struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
	// Actor is "admin", a service key id, or "system" (otpd itself).
	Actor     string         `json:"actor"`
	Action    string         `json:"action"`     // one of the Audit constants, or another action
	ServiceID *string        `json:"service_id"` // nil for actions outside any one service
	Target    *string        `json:"target"`     // what was acted on: the service, the key, ...
	Details   map[string]any `json:"details"`
}

// AuditList is a page of audit entries, newest first.
type AuditList struct {
	Data []AuditEntry `json:"data"`
	// NextCursor is the Cursor of the next page; empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// AuditListParams filter and page ListAudit. Zero values are left out.
type AuditListParams struct {
	ServiceID string    // only entries of this service (also once it is deleted)
	Action    string    // only this action
	Since     time.Time // only entries recorded at or after it
	Limit     int       // 1..500; the server's default is 50
	Cursor    string    // the NextCursor of the previous page
}

// ListAudit returns a page of the audit log of admin actions, newest
// first. It takes the admin token.
func (c *Client) ListAudit(ctx context.Context, p AuditListParams) (*AuditList, error) {
	q := url.Values{}
	if p.ServiceID != "" {
		q.Set("service_id", p.ServiceID)
	}
	if p.Action != "" {
		q.Set("action", p.Action)
	}
	if !p.Since.IsZero() {
		q.Set("since", p.Since.UTC().Format(time.RFC3339Nano))
	}
	var out AuditList
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/audit", query: pageValues(q, p.Limit, p.Cursor)}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}
