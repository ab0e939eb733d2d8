package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Healthz reports whether the server process is up (GET /healthz). It is
// not retried: a probe reports the state now.
func (c *Client) Healthz(ctx context.Context) error {
	return c.do(ctx, request{method: http.MethodGet, path: "/healthz", noRetry: true}, nil)
}

// Readyz reports whether the server's store and channels are ready (GET
// /readyz). When they are not, the [*Error] has HTTPStatus 503 and a
// Detail naming each failing check, e.g. "sms: dial tcp: connection
// refused". It is not retried: a probe reports the state now.
func (c *Client) Readyz(ctx context.Context) error {
	err := c.do(ctx, request{method: http.MethodGet, path: "/readyz", noRetry: true}, nil)
	if e, ok := errors.AsType[*Error](err); ok && e.Detail == "" {
		var report struct {
			Checks map[string]string `json:"checks"`
		}
		if json.Unmarshal(e.Body, &report) == nil {
			var failing []string
			for name, result := range report.Checks {
				if result != "ok" {
					failing = append(failing, name+": "+result)
				}
			}
			slices.Sort(failing)
			e.Detail = strings.Join(failing, "; ")
		}
	}
	return err
}

// OpenAPI returns the server's OpenAPI document (GET /openapi.json).
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	var out []byte
	if err := c.do(ctx, request{method: http.MethodGet, path: "/openapi.json"}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// DevMessages returns the messages in the dev inbox for the destination to
// (every destination when to is ""), newest last. The dev inbox exists
// only on a server started with --dev; otherwise this is not_found.
func (c *Client) DevMessages(ctx context.Context, to string) ([]DevMessage, error) {
	q := url.Values{}
	if to != "" {
		q.Set("to", to)
	}
	var out []DevMessage
	if err := c.do(ctx, request{method: http.MethodGet, path: "/dev/messages", query: q}, &out); err != nil {
		return nil, err
	}
	if out == nil {
		out = []DevMessage{}
	}
	return out, nil
}
