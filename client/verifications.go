package client

import (
	"context"
	"net/http"
	"net/url"
)

// Verification calls take a key of the service or the admin token.

// StartVerification starts a verification: the server creates it pending
// and queues its first message.
func (c *Client) StartVerification(ctx context.Context, sid string, p StartParams) (*Verification, error) {
	var out Verification
	err := c.do(ctx, request{
		method: http.MethodPost, path: servicePath(sid) + "/verifications", body: p,
		idempotencyKey: idempotencyKey(ctx, p.IdempotencyKey, true),
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetVerification returns a verification; its status reflects expiry at
// the time of the call.
func (c *Client) GetVerification(ctx context.Context, sid, vid string) (*Verification, error) {
	var out Verification
	if err := c.do(ctx, request{method: http.MethodGet, path: verificationPath(sid, vid)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListVerifications returns a page of a service's verifications, newest
// first.
func (c *Client) ListVerifications(ctx context.Context, sid string, opts ListVerificationsOptions) (*VerificationList, error) {
	q := url.Values{}
	if opts.Status != "" {
		q.Set("status", opts.Status)
	}
	if opts.To != "" {
		q.Set("to", opts.To)
	}
	var out VerificationList
	err := c.do(ctx, request{
		method: http.MethodGet, path: servicePath(sid) + "/verifications",
		query: pageValues(q, opts.Limit, opts.Cursor),
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CheckVerification checks a code against a verification. A wrong code
// is a result with Valid false; a verification that is no longer pending
// is an [*Error] with Code verification_closed and its VerificationStatus.
func (c *Client) CheckVerification(ctx context.Context, sid, vid string, p CheckParams) (*CheckResult, error) {
	var out CheckResult
	err := c.do(ctx, request{
		method: http.MethodPost, path: verificationPath(sid, vid) + "/check", body: p,
		idempotencyKey: idempotencyKey(ctx, p.IdempotencyKey, false),
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CheckByDestination checks a code against the newest pending
// verification for p.To; not_found when there is none.
func (c *Client) CheckByDestination(ctx context.Context, sid string, p CheckByDestinationParams) (*CheckResult, error) {
	var out CheckResult
	err := c.do(ctx, request{
		method: http.MethodPost, path: servicePath(sid) + "/verification-checks", body: p,
		idempotencyKey: idempotencyKey(ctx, p.IdempotencyKey, false),
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ResendVerification sends the code again, on channel, or on the
// verification's channel when channel is "". Within the service's resend
// cooldown, or past its max_sends, the server answers rate_limited: a
// cooldown of up to a minute is waited out (within the retry budget),
// longer waits are returned as an [*Error] with RetryAfter. To choose the
// Idempotency-Key, see [ContextWithIdempotencyKey].
func (c *Client) ResendVerification(ctx context.Context, sid, vid, channel string) (*Verification, error) {
	r := request{
		method: http.MethodPost, path: verificationPath(sid, vid) + "/resend",
		idempotencyKey: idempotencyKey(ctx, "", true),
	}
	if channel != "" {
		r.body = struct {
			Channel string `json:"channel"`
		}{channel}
	}
	var out Verification
	if err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelVerification cancels a pending verification: its code stops
// working and queued messages are not sent. It sends no Idempotency-Key
// unless one is set with [ContextWithIdempotencyKey], and without one it
// is not retried after a lost answer (a repeat would report
// verification_closed for a cancel that worked).
func (c *Client) CancelVerification(ctx context.Context, sid, vid string) (*Verification, error) {
	var out Verification
	err := c.do(ctx, request{
		method: http.MethodPost, path: verificationPath(sid, vid) + "/cancel",
		idempotencyKey: idempotencyKey(ctx, "", false),
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func verificationPath(sid, vid string) string {
	return servicePath(sid) + "/verifications/" + url.PathEscape(vid)
}

// Erasure says what EraseDestination deleted.
type Erasure struct {
	Verifications int `json:"verifications"` // with their messages
	Events        int `json:"events"`
	Responses     int `json:"responses"` // remembered for idempotent retries
	Devices       int `json:"devices"`   // 1 when to was a push device id
}

// EraseDestination deletes everything the service keeps about one
// destination (an E.164 number, e-mail address or push device id): its
// verifications whatever their status, their messages and events, the
// responses remembered about it, and a push device with its token. It is
// how a business honours a person's request for erasure.
func (c *Client) EraseDestination(ctx context.Context, sid, to string) (*Erasure, error) {
	var out Erasure
	err := c.do(ctx, request{method: http.MethodDelete, path: servicePath(sid) + "/destinations/" + url.PathEscape(to)}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}
