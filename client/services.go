package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Services and keys need the admin token.

// CreateService creates a service. The result carries its WebhookSecret,
// which the server shows only this once.
func (c *Client) CreateService(ctx context.Context, p CreateServiceParams) (*Service, error) {
	var out Service
	err := c.do(ctx, request{
		method: http.MethodPost, path: "/v1/services", body: p,
		idempotencyKey: idempotencyKey(ctx, p.IdempotencyKey, true),
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListServices returns a page of services, oldest first.
func (c *Client) ListServices(ctx context.Context, opts ListOptions) (*ServiceList, error) {
	var out ServiceList
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/services", query: opts.values()}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetService returns a service.
func (c *Client) GetService(ctx context.Context, sid string) (*Service, error) {
	var out Service
	if err := c.do(ctx, request{method: http.MethodGet, path: servicePath(sid)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateService changes the fields of a service that p sets and returns
// the service as it now is.
func (c *Client) UpdateService(ctx context.Context, sid string, p UpdateServiceParams) (*Service, error) {
	var out Service
	if err := c.do(ctx, request{method: http.MethodPatch, path: servicePath(sid), body: p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteService deletes a service with its keys and verifications.
//
// DELETE is retried after a lost answer, so a delete that succeeded on a
// first attempt whose answer never arrived reports not_found.
func (c *Client) DeleteService(ctx context.Context, sid string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: servicePath(sid)}, nil)
}

// CreateKey creates a service key named name. The result carries its
// Secret, the bearer token, which the server shows only this once. To
// choose the Idempotency-Key, see [ContextWithIdempotencyKey].
func (c *Client) CreateKey(ctx context.Context, sid, name string) (*Key, error) {
	var out Key
	err := c.do(ctx, request{
		method: http.MethodPost, path: servicePath(sid) + "/keys",
		body: struct {
			Name string `json:"name"`
		}{name},
		idempotencyKey: idempotencyKey(ctx, "", true),
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListKeys returns a page of a service's keys, oldest first, without
// their secrets.
func (c *Client) ListKeys(ctx context.Context, sid string, opts ListOptions) (*KeyList, error) {
	var out KeyList
	err := c.do(ctx, request{method: http.MethodGet, path: servicePath(sid) + "/keys", query: opts.values()}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeKey deletes a service key; requests with it fail from then on.
// Like DeleteService, a retry after a lost answer may report not_found
// for a key that the first attempt revoked.
func (c *Client) RevokeKey(ctx context.Context, sid, kid string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: servicePath(sid) + "/keys/" + url.PathEscape(kid)}, nil)
}

func servicePath(sid string) string { return "/v1/services/" + url.PathEscape(sid) }

func (o ListOptions) values() url.Values {
	return pageValues(url.Values{}, o.Limit, o.Cursor)
}

func pageValues(q url.Values, limit int, cursor string) url.Values {
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q
}
