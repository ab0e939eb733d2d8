package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/otpd/otpd"
)

// POST /v1/services
func (s *Server) createService(ctx context.Context, c *call) (int, any, error) {
	var req serviceRequest
	if err := decode(c.body, &req); err != nil {
		return 0, nil, err
	}
	svc := &otpd.Service{Policy: otpd.DefaultPolicy()}
	if err := req.apply(svc); err != nil {
		return 0, nil, err
	}
	svc, err := s.engine.CreateService(ctx, svc)
	if err != nil {
		return 0, nil, err
	}
	out := toServiceJSON(svc)
	out.WebhookSecret = svc.WebhookSecret
	return http.StatusCreated, out, nil
}

// GET /v1/services
func (s *Server) listServices(ctx context.Context, c *call) (int, any, error) {
	p, err := parsePage(c.r, otpd.PrefixService)
	if err != nil {
		return 0, nil, err
	}
	svcs, err := s.engine.ListServices(ctx, p.after, p.limit+1)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, paginate(svcs, p, func(s *otpd.Service) string { return s.ID }, toServiceJSON), nil
}

// GET /v1/services/{sid}
func (s *Server) getService(ctx context.Context, c *call) (int, any, error) {
	svc, err := s.engine.GetService(ctx, c.sid)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toServiceJSON(svc), nil
}

// PATCH /v1/services/{sid}: members present in the body are changed, the
// others kept; null clears webhook_url, app_hash and webotp_domain.
func (s *Server) updateService(ctx context.Context, c *call) (int, any, error) {
	var req serviceRequest
	if err := decode(c.body, &req); err != nil {
		return 0, nil, err
	}
	svc, err := s.engine.UpdateService(ctx, c.sid, req.apply)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toServiceJSON(svc), nil
}

// DELETE /v1/services/{sid}
func (s *Server) deleteService(ctx context.Context, c *call) (int, any, error) {
	if err := s.engine.DeleteService(ctx, c.sid); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

type keyRequest struct {
	Name string `json:"name"`
}

// POST /v1/services/{sid}/keys
func (s *Server) createKey(ctx context.Context, c *call) (int, any, error) {
	var req keyRequest
	if err := decode(c.body, &req); err != nil {
		return 0, nil, err
	}
	k, secret, err := s.engine.CreateKey(ctx, c.sid, req.Name)
	if err != nil {
		return 0, nil, err
	}
	out := toKeyJSON(k)
	out.Secret = secret
	return http.StatusCreated, out, nil
}

// GET /v1/services/{sid}/keys: the store returns all of a service's keys
// (there are few), so paging happens here, over ids, oldest first.
func (s *Server) listKeys(ctx context.Context, c *call) (int, any, error) {
	p, err := parsePage(c.r, otpd.PrefixKey)
	if err != nil {
		return 0, nil, err
	}
	keys, err := s.engine.ListKeys(ctx, c.sid)
	if err != nil {
		return 0, nil, err
	}
	// Ids are time-ordered, so id order is creation order and a cursor
	// (the last id shown) stays valid when keys are added or revoked.
	slices.SortFunc(keys, func(a, b *otpd.Key) int { return strings.Compare(a.ID, b.ID) })
	if p.after != "" {
		i, _ := slices.BinarySearchFunc(keys, p.after, func(k *otpd.Key, id string) int { return strings.Compare(k.ID, id) })
		for i < len(keys) && keys[i].ID <= p.after {
			i++
		}
		keys = keys[i:]
	}
	return http.StatusOK, paginate(keys, p, func(k *otpd.Key) string { return k.ID }, toKeyJSON), nil
}

// DELETE /v1/services/{sid}/keys/{kid}
func (s *Server) revokeKey(ctx context.Context, c *call) (int, any, error) {
	kid, err := pathID(c.r, "kid", otpd.PrefixKey)
	if err != nil {
		return 0, nil, err
	}
	if err := s.engine.RevokeKey(ctx, c.sid, kid); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
