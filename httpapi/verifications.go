package httpapi

import (
	"context"
	"net/http"

	"github.com/otpd/otpd"
)

type startRequest struct {
	To          string                      `json:"to"`
	Channel     otpd.ChannelName            `json:"channel"`
	Fallback    []otpd.ChannelName          `json:"fallback"`
	FallbackTo  map[otpd.ChannelName]string `json:"fallback_to"`
	Locale      string                      `json:"locale"`
	Purpose     string                      `json:"purpose"`
	Transaction *transactionJSON            `json:"transaction"`
	TTLSeconds  *int64                      `json:"ttl_seconds"`
	ClientIP    string                      `json:"client_ip"`
	Reference   string                      `json:"reference"`
}

// POST /v1/services/{sid}/verifications
func (s *Server) startVerification(ctx context.Context, c *call) (int, any, error) {
	var req startRequest
	if err := decode(c.body, &req); err != nil {
		return 0, nil, err
	}
	sr := otpd.StartRequest{
		To:          req.To,
		Channel:     req.Channel,
		Fallback:    req.Fallback,
		FallbackTo:  req.FallbackTo,
		Locale:      req.Locale,
		Purpose:     req.Purpose,
		Transaction: req.Transaction.domain(),
		ClientIP:    req.ClientIP,
		Reference:   req.Reference,
	}
	if req.TTLSeconds != nil {
		if *req.TTLSeconds <= 0 {
			// The domain reads 0 as "the service's TTL"; the API says so by
			// leaving the member out.
			return 0, nil, invalidParam("ttl_seconds", "must be between %d and the service's max_ttl_seconds", int(otpd.MinTTL.Seconds()))
		}
		sr.TTL = fromSeconds(*req.TTLSeconds)
	}
	if w := otpd.IdempotentWriteFrom(ctx); w != nil {
		// The response remembered for the Idempotency-Key, rendered when
		// the store writes the verification, is the one this returns.
		w.Render = func(v *otpd.Verification) (int, []byte, []byte, error) {
			res := jsonResponse(http.StatusCreated, toVerificationJSON(v, s.now()))
			return res.status, encodeHeader(res.header), res.body, nil
		}
	}
	v, err := s.engine.Start(ctx, c.sid, sr)
	if err != nil {
		return 0, nil, err
	}
	c.subject = v.ToKey
	return http.StatusCreated, toVerificationJSON(v, s.now()), nil
}

// GET /v1/services/{sid}/verifications?status=&to=&limit=&cursor=, newest first.
func (s *Server) listVerifications(ctx context.Context, c *call) (int, any, error) {
	p, err := parsePage(c.r, otpd.PrefixVerification)
	if err != nil {
		return 0, nil, err
	}
	q := c.r.URL.Query()
	vs, err := s.engine.ListVerifications(ctx, c.sid, otpd.ListRequest{
		Status: otpd.VerificationStatus(q.Get("status")),
		To:     q.Get("to"),
		Before: p.after,
		Limit:  p.limit + 1,
	})
	if err != nil {
		return 0, nil, err
	}
	now := s.now()
	return http.StatusOK, paginate(vs, p, func(v *otpd.Verification) string { return v.ID },
		func(v *otpd.Verification) verificationJSON { return toVerificationJSON(v, now) }), nil
}

// GET /v1/services/{sid}/verifications/{vid}
func (s *Server) getVerification(ctx context.Context, c *call) (int, any, error) {
	vid, err := pathID(c.r, "vid", otpd.PrefixVerification)
	if err != nil {
		return 0, nil, err
	}
	v, err := s.engine.GetVerification(ctx, c.sid, vid)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toVerificationJSON(v, s.now()), nil
}

type checkRequest struct {
	Code        string           `json:"code"`
	Transaction *transactionJSON `json:"transaction"`
}

// POST /v1/services/{sid}/verifications/{vid}/check
func (s *Server) checkVerification(ctx context.Context, c *call) (int, any, error) {
	vid, err := pathID(c.r, "vid", otpd.PrefixVerification)
	if err != nil {
		return 0, nil, err
	}
	var req checkRequest
	if err := decode(c.body, &req); err != nil {
		return 0, nil, err
	}
	res, err := s.engine.Check(ctx, c.sid, vid, req.Code, req.Transaction.domain())
	if err != nil {
		return 0, nil, err
	}
	c.subject = res.Verification.ToKey
	return http.StatusOK, s.checkResult(res), nil
}

type destinationCheckRequest struct {
	To          string           `json:"to"`
	Code        string           `json:"code"`
	Transaction *transactionJSON `json:"transaction"`
}

// POST /v1/services/{sid}/verification-checks
func (s *Server) checkDestination(ctx context.Context, c *call) (int, any, error) {
	var req destinationCheckRequest
	if err := decode(c.body, &req); err != nil {
		return 0, nil, err
	}
	res, err := s.engine.CheckDestination(ctx, c.sid, req.To, req.Code, req.Transaction.domain())
	if err != nil {
		return 0, nil, err
	}
	c.subject = res.Verification.ToKey
	return http.StatusOK, s.checkResult(res), nil
}

func (s *Server) checkResult(res otpd.CheckResult) checkJSON {
	v := toVerificationJSON(res.Verification, s.now())
	return checkJSON{Valid: res.Valid, Status: v.Status, AttemptsRemaining: v.AttemptsRemaining, Verification: v}
}

type resendRequest struct {
	Channel otpd.ChannelName `json:"channel"`
}

// POST /v1/services/{sid}/verifications/{vid}/resend; the body is optional.
func (s *Server) resendVerification(ctx context.Context, c *call) (int, any, error) {
	vid, err := pathID(c.r, "vid", otpd.PrefixVerification)
	if err != nil {
		return 0, nil, err
	}
	var req resendRequest
	if err := decode(c.body, &req); err != nil {
		return 0, nil, err
	}
	v, err := s.engine.Resend(ctx, c.sid, vid, req.Channel)
	if err != nil {
		return 0, nil, err
	}
	c.subject = v.ToKey
	return http.StatusOK, toVerificationJSON(v, s.now()), nil
}

// POST /v1/services/{sid}/verifications/{vid}/cancel; the body, if any,
// must be an empty object.
func (s *Server) cancelVerification(ctx context.Context, c *call) (int, any, error) {
	vid, err := pathID(c.r, "vid", otpd.PrefixVerification)
	if err != nil {
		return 0, nil, err
	}
	if err := decode(c.body, &struct{}{}); err != nil {
		return 0, nil, err
	}
	v, err := s.engine.Cancel(ctx, c.sid, vid)
	if err != nil {
		return 0, nil, err
	}
	c.subject = v.ToKey
	return http.StatusOK, toVerificationJSON(v, s.now()), nil
}

// erasureJSON says what erasing a destination deleted.
type erasureJSON struct {
	Verifications int `json:"verifications"`
	Events        int `json:"events"`
	Responses     int `json:"responses"`
	Devices       int `json:"devices"`
}

// DELETE /v1/services/{sid}/destinations/{to}: everything the service
// keeps about one destination (the right to erasure). {to} is the
// destination as a verification names it, percent-encoded where needed
// ("%2B447700900123" and "+447700900123" both work).
func (s *Server) eraseDestination(ctx context.Context, c *call) (int, any, error) {
	out, err := s.engine.EraseDestination(ctx, c.sid, c.r.PathValue("to"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, erasureJSON{Verifications: out.Verifications, Events: out.Events,
		Responses: out.Responses, Devices: out.Devices}, nil
}
